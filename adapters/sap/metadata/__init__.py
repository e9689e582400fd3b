"""OData V2 service metadata (``$metadata`` EDMX) of the SAP services the hub uses.

* ``sales_order_service.edmx``: API_SALES_ORDER_SRV, Sales Order (A2X).
* ``business_partner_service.edmx``: API_BUSINESS_PARTNER, Business Partner (A2X).

Both were written by the O2C Hub project (Apache-2.0, see the top-level ``NOTICE``): they
describe the subset of SAP's public service interface that the hub and its SAP simulator
(``adapters.sap.simulator``) use, with SAP's names, types and facets (interface facts) and
no SAP text. SAP's own, complete metadata is not shipped; where a copy is at hand (a folder
holding ``API_SALES_ORDER_SRV.edmx`` and ``API_BUSINESS_PARTNER.edmx``, named like SAP's
services), pass it as ``metadata_dir`` to read that instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["EDMX_FILES", "METADATA_DIR", "SERVICES", "edmx_bytes", "edmx_path"]

METADATA_DIR: Final = Path(__file__).resolve().parent
EDMX_FILES: Final = {
    "API_SALES_ORDER_SRV": "sales_order_service.edmx",
    "API_BUSINESS_PARTNER": "business_partner_service.edmx",
}
"""The project's EDMX file of each service."""
SERVICES: Final = tuple(EDMX_FILES)


def edmx_path(service: str, metadata_dir: str | Path | None = None) -> Path:
    """The EDMX file of ``service`` (one of :data:`SERVICES`): the project's own, or
    ``<metadata_dir>/<service>.edmx`` when a folder of SAP's metadata is given."""
    if service not in EDMX_FILES:
        raise KeyError(f"no metadata for {service!r}; known: {', '.join(SERVICES)}")
    if metadata_dir is not None:
        return Path(metadata_dir) / f"{service}.edmx"
    return METADATA_DIR / EDMX_FILES[service]


def edmx_bytes(service: str, metadata_dir: str | Path | None = None) -> bytes:
    """The EDMX document of ``service``, exactly as stored (see :func:`edmx_path`)."""
    return edmx_path(service, metadata_dir).read_bytes()
