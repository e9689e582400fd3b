"""A stateful SAP S/4HANA OData V2 simulator (API_SALES_ORDER_SRV, API_BUSINESS_PARTNER).

In memory, one asyncio lock, state on ``app.state.sap``; driven by the services'
``$metadata``: by default the project's own EDMX in ``adapters/sap/metadata`` (the subset of
SAP's interface the hub and the simulator use, see ``NOTICE``), or SAP's complete EDMX from
a local folder (``SimulatorConfig.metadata_dir``; same behaviour, more entity sets and
properties in ``$metadata`` and answers). Modules: ``edm`` (the EDMX model and
OData V2 JSON values), ``query`` (key predicates, ``$filter``, ``$orderby``, ``$select``,
``$expand``), ``errors`` (SAP messages and Gateway's error body), ``state`` (configuration,
master data, CSRF sessions, sales orders), ``odata`` (one service: reads, deep insert,
changes), ``batch`` (``$batch``), ``app`` (routes and the gate), ``runner`` (subprocess
runner and command line: ``python -m adapters.sap.simulator --port 8081``).

Service roots ``/sap/opu/odata/sap/API_SALES_ORDER_SRV`` and
``/sap/opu/odata/sap/API_BUSINESS_PARTNER`` (any other name under ``/sap/opu/odata/sap``
is Gateway's 403 ``/IWFND/MED/170``)::

    GET  <root>/                    service document {"d": {"EntitySets": [...]}}
    GET  <root>/$metadata           the EDMX (application/xml)
    GET  <root>/<Set>[?$filter&$orderby&$top&$skip&$select&$expand&$inlinecount=allpages]
    GET  <root>/<Set>/$count        GET <root>/<Set>(<key>)[/<nav>[(<key>)]…][/<Property>]
    POST <root>/A_SalesOrder        deep insert: to_Item (with to_PricingElement), to_Partner
    PATCH|MERGE|PUT|DELETE <root>/A_SalesOrder(…) (If-Match: the ETag) and A_SalesOrderItem(…)
    POST <root>/$batch              multipart/mixed; changesets are atomic

Every entity set of the EDMX can be read (most are empty); A_BusinessPartner, A_Customer
and A_CustomerSalesArea hold the configured customers. Answers are SAP's V2 JSON:
``{"d": {...}}`` / ``{"d": {"results": [...], "__count": "N"}}``, ``__metadata`` with
``id``, ``uri``, ``type`` (and ``etag`` for A_SalesOrder), every property in EDMX order
(unset strings "", decimals "0"), navigations ``{"__deferred": {"uri"}}`` unless expanded;
Edm.Decimal as strings (amounts with the currency's decimals, quantities with the unit's),
Edm.DateTime ``/Date(ms)/``, Edm.DateTimeOffset ``/Date(ms+0000)/``, Edm.Time
``PT12H00M00S``.

Every call needs HTTP Basic (``SimulatorConfig.users``; names case-insensitive), else 401
``Logon failed`` with ``WWW-Authenticate: Basic realm=…``. A GET/HEAD with ``x-csrf-token:
Fetch`` returns the session's token in ``x-csrf-token`` and, for a new session, the cookies
``SAP_SESSIONID_<SID>_<client>`` and ``sap-usercontext=sap-client=<client>``. A POST,
PUT, PATCH, MERGE, DELETE (or ``$batch``) needs that token *and* the session cookie of the
same user, unexpired (``csrf_token_seconds``), else 403 ``CSRF token validation failed``
with ``x-csrf-token: Required``. Errors are Gateway's body ``{"error": {"code", "message":
{"lang", "value"}, "innererror": {"application", "transactionid", "timestamp",
"Error_Resolution", "errordetails": [...]}}}`` (see :mod:`.errors`).

Deep insert (:meth:`SapState.create_sales_order`, a plain function an RFC stand-in can call
for BAPI_SALESORDER_CREATEFROMDAT2; ``simulate=True`` for BAPI_SALESORDER_SIMULATE and
:meth:`SapState.find_sales_orders` for BAPI_SALESORDER_GETLIST): the body is checked
against the EDMX (unknown property, value longer than ``MaxLength``, too many digits, wrong
JSON type: 400 ``/IWBEP/CX_MGW_BUSI_EXCEPTION`` naming the property; a body that is not
JSON: ``/IWFND/CM_MGW_RT/028``; properties with ``sap:creatable="false"`` are ignored), then
the business checks, all reported at once in ``errordetails``: sold-to party and partners
must be customers in the order's sales area (``VS/406`` "Customer &1 is not created in
sales area &2 &3 &4"), every material must exist (``M3/305`` "The material &1 does not
exist or is not activated"), condition types must be in the pricing procedure
(``PRC_MESSAGES/206``); ``ZSIM/…`` for checks whose SAP message is not confirmed. The order
gets the next number as a string ("1", "2", …; ``first_sales_order``), items without a
number 10, 20, …; CreationDate, CreatedByUser, LastChangeDateTime, SalesOrderDate,
PricingDate, RequestedDeliveryDate (today), OverallSDProcessStatus "A"; partners AG, RE,
RG, WE default to the sold-to party. Pricing: quantity conditions (PR00, PPR0: rate ×
quantity / ConditionQuantity), fixed amounts (RB00: the amount as given, discounts
negative), percentages (RA00, K007: of the gross); an item without a price condition uses
the material's ``price`` as an automatic PPR0; NetAmount per item and TotalNetAmount are
rounded to the currency. The answer is 201 with ``Location``, ``ETag`` and the order with
the navigations of the request expanded. Material numbers are kept upper case and
all-digit numbers (orders, customers, items) without leading zeros (SAP's conversions).

Control endpoints (no authentication, not SAP)::

    GET /_sim/health   GET /_sim/state   GET|PUT /_sim/faults   POST /_sim/reset[?keep_faults=true]
    POST /_sim/customers {customer, name, country, currency, payment_terms, sales_areas:
                          [{sales_organization, distribution_channel, division}]} -> 201
    POST /_sim/materials {material, description, base_unit, price} -> 201
    POST /_sim/csrf/expire  -> {"expired": N}   (every session and token ends now)

``/_sim/state`` has request and fault counters, entity counts per set and every sales
order with its PurchaseOrderByCustomer, SoldToParty and TotalNetAmount. Faults
(:class:`Faults`): ``error_rate``/``error_statuses`` (429/503 with ``retry_after``),
``slow_rate``/``slow_seconds``, ``land_then_timeout_rate``/``_seconds`` for ``create``,
``batch``, ``update``, ``delete`` (committed, then the answer is held back) and
``expire_csrf_rate``.

Simplified compared with a real S/4HANA system: JSON only (no Atom XML, whatever the
``Accept``); no server-side paging (``__next``) or ``$skiptoken``; ``$filter`` has
comparisons, and/or/not and a few string functions, no arithmetic or navigation paths;
creates only for A_SalesOrder (deep insert of to_Item, to_Item/to_PricingElement,
to_Partner; other navigations and entity sets answer 501 "not implemented in data
provider class"), changes only for A_SalesOrder and A_SalesOrderItem (PUT merges like
PATCH), API_BUSINESS_PARTNER is read-only; no currency conversion, taxes, availability
check, credit check, schedule lines, texts or incompletion log; an ISO date
(``2025-03-11``) is accepted for Edm.DateTime besides ``/Date(ms)/``; the session cookie
does not replace Basic authentication; function imports (in SAP's metadata) answer 501;
message texts are English only.
"""

from adapters.sap.simulator.app import create_simulator
from adapters.sap.simulator.errors import SalesOrderError, SapMessage
from adapters.sap.simulator.runner import main, run_simulator, serve
from adapters.sap.simulator.state import (
    CustomerSeed,
    Faults,
    MaterialSeed,
    SalesArea,
    SapState,
    SimulatorConfig,
    User,
)

__all__ = [
    "CustomerSeed",
    "Faults",
    "MaterialSeed",
    "SalesArea",
    "SalesOrderError",
    "SapMessage",
    "SapState",
    "SimulatorConfig",
    "User",
    "create_simulator",
    "main",
    "run_simulator",
    "serve",
]
