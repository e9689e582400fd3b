"""Canonical documents: the hub's own language between shops, ERPs, CRMs and WMSs.

``KINDS`` maps each document kind's name (as used in mappings, routes and the CLI) to
its model.
"""

from __future__ import annotations

from pydantic import BaseModel

from hub.canonical.common import Address, Contact, PartyRef, PaymentTerms, TaxCategory
from hub.canonical.invoice import CreditNote, Invoice, InvoiceLine, VatBreakdown
from hub.canonical.order import Order, OrderLine, OrderStatus
from hub.canonical.party import Party
from hub.canonical.payment import Payment
from hub.canonical.product import Product, StockLevel
from hub.canonical.shipment import Shipment
from hub.errors import UnknownNameError

KINDS: dict[str, type[BaseModel]] = {
    "party": Party,
    "product": Product,
    "stock_level": StockLevel,
    "order": Order,
    "shipment": Shipment,
    "invoice": Invoice,
    "credit_note": CreditNote,
    "payment": Payment,
}


def model_for(kind: str) -> type[BaseModel]:
    """The canonical model of ``kind``; an unknown name lists the known ones."""
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise UnknownNameError(f"unknown canonical kind {kind!r}; known kinds: {known}") from None


__all__ = [
    "KINDS",
    "Address",
    "Contact",
    "CreditNote",
    "Invoice",
    "InvoiceLine",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Party",
    "PartyRef",
    "Payment",
    "PaymentTerms",
    "Product",
    "Shipment",
    "StockLevel",
    "TaxCategory",
    "VatBreakdown",
    "model_for",
]
