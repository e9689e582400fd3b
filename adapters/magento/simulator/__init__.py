"""A stateful Magento 2.4 (Adobe Commerce) REST simulator for tests and demos.

In memory, one asyncio lock, state on ``app.state.magento``. Modules: ``state``
(configuration, faults, errors, clock), ``search`` (``searchCriteria`` and ``fields``),
``generator`` (orders that obey Magento's totals), ``customers`` (the generator's customers,
B2B companies and company credit), ``documents`` (invoice, ship, comments), ``webhooks``
(order events pushed as Adobe Commerce's webhooks module does), ``app`` (routes),
``runner`` (subprocess runner and command line).

Magento endpoints (under ``/rest/<store>/V1``, ``/rest/V1`` or ``/V1``). Every one needs
``Authorization: Bearer <integration token>`` (``SimulatorConfig.tokens``) or an OAuth 1.0a
signed ``Authorization: OAuth ...`` (HMAC-SHA256, ``SimulatorConfig.oauth_integrations``;
the signature covers the URL exactly as the client addressed it, query included). A wrong
OAuth signature is 401 ``The signature is invalid. Verify and try again.``; anything else
is 401 ``The consumer isn't authorized to access %resources.`` with the route's ACL
resource::

    GET  /V1/orders?searchCriteria…[&fields=…]   GET /V1/orders/{id}
    POST /V1/order/{orderId}/invoice  -> invoice id    GET /V1/invoices?…  /V1/invoices/{id}
    POST /V1/order/{orderId}/ship     -> shipment id   GET /V1/shipments?… /V1/shipment/{id}
    POST /V1/orders/{id}/comments     -> true          GET /V1/orders/{id}/comments
    PUT  /V1/products/{sku}/stockItems/{itemId} -> item id   GET /V1/stockItems/{sku}
    GET  /V1/customers/{customerId}    GET /V1/customers/search?searchCriteria…
    GET  /V1/company/{companyId}       GET /V1/company/?searchCriteria… (also without "/")
    GET  /V1/companyCredits/company/{companyId}
    GET  /V1/store/storeConfigs[?storeCodes[]=…]   (one entry per store view)

Missing customers and companies are Magento's 404 ``No such entity with %fieldName =
%fieldValue`` (``customerId`` / ``id``). Every response carries the simulated clock as its
HTTP ``Date``: the virtual clock plus the wall-clock seconds since start or reset (unless
``clock_follows_wall_time`` is off), moved on by each change and by ``POST /_sim/clock``.

Control endpoints (no authentication, not Magento)::

    GET /_sim/health   GET /_sim/state   GET|PUT /_sim/faults   POST /_sim/reset
    POST /_sim/orders/generate {count, seed, same_updated_at_every}   POST /_sim/orders
    POST /_sim/customers <customer or {"customer": …}>  -> id
    POST /_sim/companies <company or {"company": …, "credit": …}>  -> id
    GET  /_sim/clock   POST /_sim/clock {"advance_seconds": N}  -> {"clock", "http_date"}
    GET|PUT /_sim/webhooks {url, private_key_pem, headers, events, timeout, retries,
                            backoff_seconds}   ({"url": null} stops pushing)
    POST /_sim/webhooks/flush?timeout=S  -> {"flushed", webhooks_sent, webhooks_failed, …}
                                            (504 when the queue did not empty in time)

With webhooks configured, each order generated, stored, invoiced, shipped or commented is
POSTed, one call at a time in order, as ``{"eventName": "sales_order_save_after", "data":
{"order": <GET /V1/orders/{id} body>}}``, signed in ``x-adobe-commerce-webhook-signature``.
"""

from adapters.magento.simulator.app import create_simulator
from adapters.magento.simulator.runner import main, run_simulator, serve
from adapters.magento.simulator.state import (
    Faults,
    MagentoState,
    OAuthIntegration,
    SimulatorConfig,
    WebhookConfig,
)

__all__ = [
    "Faults",
    "MagentoState",
    "OAuthIntegration",
    "SimulatorConfig",
    "WebhookConfig",
    "create_simulator",
    "main",
    "run_simulator",
    "serve",
]
