"""A stateful Magento 2.4 (Adobe Commerce) REST simulator for tests and demos.

In memory, one asyncio lock, state on ``app.state.magento``. Modules: ``state``
(configuration, faults, errors), ``search`` (``searchCriteria`` and ``fields``),
``generator`` (orders that obey Magento's totals), ``documents`` (invoice, ship, comments),
``app`` (routes), ``runner`` (subprocess runner and command line).

Magento endpoints (under ``/rest/<store>/V1``, ``/rest/V1`` or ``/V1``; every one needs
``Authorization: Bearer <integration token>``, else 401 ``The consumer isn't authorized to
access %resources.`` with the route's ACL resource)::

    GET  /V1/orders?searchCriteria…[&fields=…]   GET /V1/orders/{id}
    POST /V1/order/{orderId}/invoice  -> invoice id    GET /V1/invoices?…  /V1/invoices/{id}
    POST /V1/order/{orderId}/ship     -> shipment id   GET /V1/shipments?… /V1/shipment/{id}
    POST /V1/orders/{id}/comments     -> true          GET /V1/orders/{id}/comments
    PUT  /V1/products/{sku}/stockItems/{itemId} -> item id   GET /V1/stockItems/{sku}

Control endpoints (no authentication, not Magento)::

    GET /_sim/health   GET /_sim/state   GET|PUT /_sim/faults   POST /_sim/reset
    POST /_sim/orders/generate {count, seed, same_updated_at_every}   POST /_sim/orders
"""

from adapters.magento.simulator.app import create_simulator
from adapters.magento.simulator.runner import main, run_simulator, serve
from adapters.magento.simulator.state import Faults, MagentoState, SimulatorConfig

__all__ = [
    "Faults",
    "MagentoState",
    "SimulatorConfig",
    "create_simulator",
    "main",
    "run_simulator",
    "serve",
]
