"""Delivery targets: where the worker sends a routed document.

A target receives one delivery at a time and either returns a :class:`DeliveryResult`
(the target's own reference, e.g. an SAP order number) or raises a typed
:class:`~hub.errors.DeliveryError`; the disposition table decides what happens next.
Adapters (issue 5 onwards) implement this same protocol.
"""

from hub.targets.base import Delivery, DeliveryResult, Target

__all__ = ["Delivery", "DeliveryResult", "Target"]
