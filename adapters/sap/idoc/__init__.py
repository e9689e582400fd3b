"""SAP IDoc-XML for partners that exchange IDocs over files or HTTP.

* :func:`build_orders05` / :func:`parse_orders05`: canonical Order ⇄ ORDERS05 (ORDERS).
* :func:`build_invoic02` / :func:`parse_invoic02`: canonical Invoice or CreditNote ⇄
  INVOIC02 (INVOIC).
* :class:`ControlRecord` (EDI_DC40), :class:`Segment` (the segment tree),
  :func:`write_idoc` / :func:`read_idoc` (the XML codec), :data:`ORDERS05` /
  :data:`INVOIC02` (the structures), :func:`docnum_for` (a stable 16-digit DOCNUM).

Which canonical field goes into which segment, field and qualifier, with the public SAP
source of each qualifier, is written in :mod:`.orders` and :mod:`.invoices`; field
lengths and segment order in :mod:`.structure`. Builders take SAP partner numbers, the
sales area and the control record settings as arguments: looking them up (customer
master, partner profiles) is the caller's job.

Values never get cut to fit, except the E1EDKA1 name, street and city texts that SAP's own
outbound cuts the same way; everything else too long for its field is an
:class:`IdocError` naming segment, field and maximum length. Reading uses lxml with entity
resolution, DTD loading and network access off and refuses any DOCTYPE.
"""

from __future__ import annotations

from adapters.sap.idoc.codec import read_idoc, write_idoc
from adapters.sap.idoc.errors import IdocError
from adapters.sap.idoc.invoices import build_invoic02, parse_invoic02
from adapters.sap.idoc.model import (
    ControlRecord,
    IdocDocument,
    IdocEnvelope,
    IdocOptions,
    InvoicePartners,
    OrderPartners,
    SalesArea,
    Segment,
    docnum_for,
)
from adapters.sap.idoc.orders import build_orders05, parse_orders05
from adapters.sap.idoc.structure import INVOIC02, ORDERS05, IdocType

__all__ = [
    "INVOIC02",
    "ORDERS05",
    "ControlRecord",
    "IdocDocument",
    "IdocEnvelope",
    "IdocError",
    "IdocOptions",
    "IdocType",
    "InvoicePartners",
    "OrderPartners",
    "SalesArea",
    "Segment",
    "build_invoic02",
    "build_orders05",
    "docnum_for",
    "parse_invoic02",
    "parse_orders05",
    "read_idoc",
    "write_idoc",
]
