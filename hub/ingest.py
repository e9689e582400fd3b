"""Ingest: parse → map → validate → de-duplicate → store message and deliveries at once.

One function behind the API and the CLI. The message, its references and one delivery per
matching route are written in ONE transaction (transactional outbox, ``hub.outbox``), so
a document the hub acknowledged is never without its deliveries, and a crash never
leaves half of it. Mapping runs in the caller's thread; commits are grouped.
A document that cannot be parsed or mapped is kept whole in quarantine and the caller
gets every problem, with the quarantine id to replay it once the mapping is fixed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, Engine

from hub.clock import utcnow
from hub.errors import HubError, Issue, MappingApplyError
from hub.logs import redact_personal
from hub.mapping import CompiledMapping, registry
from hub.outbox import OutboxWrite, OutboxWriter
from hub.queue.states import DeliveryStatus
from hub.routing import RouteTable
from hub.store.tables import (
    message_table,
    quarantined_table,
)

M = message_table.c


EXTERNAL_ID_FIELD: dict[str, str] = {
    "order": "order_number",
    "shipment": "shipment_number",
    "invoice": "invoice_number",
    "credit_note": "invoice_number",
    "payment": "payment_id",
    "product": "sku",
    "stock_level": "sku",
    "party": "legal_name",
}
"""The canonical field that identifies a document of each kind (a party is identified by
its id in the source system, ``external_ids.<system>``, and only without one by name)."""

ENTITY_FIELD: dict[str, str] = {
    "order": "order_number",
    "shipment": "order_number",
    "invoice": "order_reference",
    "credit_note": "order_reference",
}
"""The field naming the business entity whose documents must arrive in order."""

JSON_TYPES = ("application/json", "text/json")


class IngestRejected(HubError):
    """The document could not be parsed or mapped; it is kept in quarantine."""

    status = 422

    def __init__(self, quarantine_id: str, issues: list[Issue], message: str | None = None) -> None:
        self.quarantine_id = quarantine_id
        self.issues = issues
        text = message or "; ".join(str(i) for i in issues)
        super().__init__(f"quarantined as {quarantine_id}: {text}")


@dataclass(frozen=True)
class IngestResult:
    message_id: str
    created: bool
    """False when the same document was already stored (nothing new was created)."""
    version: int
    external_id: str
    deliveries: int
    flagged: bool
    correlation_id: str
    discrepancies: list[str] = field(default_factory=list)


Unwrapper = Callable[[str, dict[str, Any]], dict[str, Any]]
"""``(kind, body) -> source document``: takes a webhook/event envelope off (see
:meth:`hub.adapter.Adapter.unwrap_inbound`)."""


def adapter_unwrappers() -> dict[str, Unwrapper]:
    """Each installed adapter's ``unwrap_inbound``, by system name."""
    from hub.plugins import plugins

    return {cls.name: cls.unwrap_inbound for cls in plugins().adapters}


def external_id_of(system: str, kind: str, document: dict[str, Any]) -> tuple[str, str | None]:
    """The document's identifying value, and the canonical field it was read from."""
    if kind == "party":
        own = (document.get("external_ids") or {}).get(system)
        if own:
            return str(own), f"external_ids.{system}"
    id_field = EXTERNAL_ID_FIELD.get(kind)
    return (str(document.get(id_field) or "") if id_field else ""), id_field


class Ingestor:
    """Holds the compiled mappings and routes; ``ingest`` is safe to call concurrently."""

    def __init__(
        self,
        engine: Engine,
        routes: RouteTable,
        mapping_dirs: list[Path],
        *,
        on_mismatch: Literal["reject", "flag"] = "reject",
        tolerance: Decimal | None = None,
        unwrappers: Mapping[str, Unwrapper] | None = None,
    ) -> None:
        self.engine = engine
        self.tolerance = tolerance
        self.routes = routes
        self.mapping_dirs = mapping_dirs
        self.on_mismatch: Literal["reject", "flag"] = on_mismatch
        self._mappings: dict[tuple[str, str], CompiledMapping] = {}
        self.writer = OutboxWriter(engine)
        self.unwrappers: Mapping[str, Unwrapper] = (
            adapter_unwrappers() if unwrappers is None else unwrappers
        )

    def mapping_for(self, system: str, kind: str) -> CompiledMapping:
        key = (system, kind)
        if key not in self._mappings:
            self._mappings[key] = registry.find(system, kind, "inbound", self.mapping_dirs)
        return self._mappings[key]

    def ingest(
        self,
        system: str,
        kind: str,
        raw: bytes,
        *,
        content_type: str = "application/json",
        correlation_id: str | None = None,
    ) -> IngestResult:
        correlation = correlation_id or uuid.uuid4().hex
        mapping = self.mapping_for(system, kind)
        source = self._parse(system, kind, raw, content_type, correlation, mapping)
        try:
            result = mapping.apply(source, on_mismatch=self.on_mismatch, tolerance=self.tolerance)
        except MappingApplyError as exc:
            qid = self.quarantine(
                system, kind, raw, content_type, exc.issues, correlation, mapping.version
            )
            raise IngestRejected(qid, exc.issues) from None
        return self._store(
            system,
            kind,
            result.document,
            raw=raw,
            content_type=content_type,
            correlation=correlation,
            mapping_name=mapping.name,
            mapping_version=mapping.version,
            flagged=result.flagged,
            discrepancies=[str(d) for d in result.discrepancies],
            unmapped=result.unmapped,
            quarantine_on_missing_id=True,
        )

    def ingest_canonical(
        self,
        system: str,
        kind: str,
        document: BaseModel,
        *,
        correlation_id: str | None = None,
        conn: Connection | None = None,
    ) -> IngestResult:
        """Store a canonical document the hub made itself (an issued invoice) and route it,
        like any inbound document: same de-duplication, versions and outbox. With ``conn``
        it is written in the caller's transaction (an invoice and its postings commit
        together, or neither does)."""
        raw = document.model_dump_json(exclude_computed_fields=True).encode("utf-8")
        return self._store(
            system,
            kind,
            document,
            raw=raw,
            content_type="application/json",
            correlation=correlation_id or uuid.uuid4().hex,
            mapping_name=f"{system}/{kind}.canonical",
            mapping_version="canonical",
            flagged=False,
            discrepancies=[],
            unmapped=[],
            quarantine_on_missing_id=False,
            conn=conn,
        )

    def _store(
        self,
        system: str,
        kind: str,
        document: BaseModel,
        *,
        raw: bytes,
        content_type: str,
        correlation: str,
        mapping_name: str,
        mapping_version: str,
        flagged: bool,
        discrepancies: list[str],
        unmapped: list[str],
        quarantine_on_missing_id: bool,
        conn: Connection | None = None,
    ) -> IngestResult:
        # Stored without computed fields (totals, line net amounts): the document is the
        # source of truth and re-validates as is; totals are recomputed when shown.
        canonical_json = document.model_dump_json(exclude_computed_fields=True)
        python_doc = document.model_dump(mode="python")
        external_id, id_field = external_id_of(system, kind, python_doc)
        if not external_id:
            issue = Issue("(document)", f"the canonical {kind} has no {id_field}", field=id_field)
            if not quarantine_on_missing_id:
                raise HubError(f"the canonical {kind} has no {id_field}")
            qid = self.quarantine(
                system, kind, raw, content_type, [issue], correlation, mapping_version
            )
            raise IngestRejected(qid, [issue])
        # The canonical document is what is hashed: the same order pushed by webhook (in an
        # event envelope, with its own field set) and found by polling is one message, and
        # a change that matters to the hub (a status, a line) is a new version; a new
        # source timestamp alone (VOLATILE_FIELDS) is not.
        volatile: frozenset[str] = getattr(type(document), "VOLATILE_FIELDS", frozenset())
        hashed = (
            document.model_dump_json(exclude_computed_fields=True, exclude=set(volatile))
            if volatile
            else canonical_json
        )
        digest = hashlib.sha256(hashed.encode("utf-8")).hexdigest()
        routes = self.routes.for_document(system, kind, python_doc)
        entity_field = ENTITY_FIELD.get(kind)
        default_key = (
            str(python_doc.get(entity_field) or external_id) if entity_field else external_id
        )
        now = utcnow()
        refs = _references(system, python_doc, external_id)
        deliveries = []
        for route in routes:
            deliveries.append(
                {
                    "route": route.name,
                    "target": route.target,
                    "mapping_name": route.mapping.name if route.mapping else None,
                    "ordering_key": route.ordering_key_for(python_doc, default_key),
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "reclaims": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        message_row = {
            "system": system,
            "kind": kind,
            "external_id": external_id,
            "content_hash": digest,
            "raw": raw,
            "content_type": content_type,
            "canonical": canonical_json,
            "mapping_name": mapping_name,
            "mapping_version": mapping_version,
            "flagged": flagged,
            "discrepancies": json.dumps(discrepancies) if discrepancies else None,
            "unmapped": json.dumps(unmapped) if unmapped else None,
            "correlation_id": correlation,
            "received_at": now,
        }
        item = OutboxWrite(
            system=system,
            kind=kind,
            external_id=external_id,
            content_hash=digest,
            message_row=message_row,
            refs=refs,
            deliveries=deliveries,
        )
        if conn is not None:
            ((message_id, created, version),) = self.writer.insert(conn, [item])
        else:
            message_id, created, version = self.writer.write(item)
        return IngestResult(
            message_id,
            created,
            version,
            external_id,
            len(deliveries) if created else 0,
            flagged,
            correlation,
            discrepancies,
        )

    def _parse(
        self,
        system: str,
        kind: str,
        raw: bytes,
        content_type: str,
        correlation: str,
        mapping: CompiledMapping,
    ) -> Any:
        problem: str | None = None
        base_type = content_type.split(";", maxsplit=1)[0].strip().lower()
        source: Any = None
        if base_type not in JSON_TYPES and not base_type.endswith("+json"):
            problem = f"content type {content_type!r} is not JSON"
        else:
            try:
                text = raw.decode("utf-8")
                source = json.loads(text, parse_float=Decimal)
            except UnicodeDecodeError as exc:
                problem = f"body is not valid UTF-8 (byte {exc.start})"
            except json.JSONDecodeError as exc:
                problem = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        if problem is None and not isinstance(source, dict):
            problem = f"expected a JSON object, got {type(source).__name__}"
        unwrap = self.unwrappers.get(system)
        if problem is None and unwrap is not None:
            try:
                source = unwrap(kind, source)
            except ValueError as exc:
                problem = f"not a {system} {kind} document or event: {exc}"
        if problem is not None:
            issue = Issue("(body)", problem, rule="parse")
            qid = self.quarantine(
                system, kind, raw, content_type, [issue], correlation, mapping.version
            )
            raise IngestRejected(qid, [issue])
        return source

    def quarantine(
        self,
        system: str,
        kind: str,
        raw: bytes,
        content_type: str,
        issues: list[Issue],
        correlation: str,
        mapping_version: str | None,
    ) -> str:
        """Keep a document that could not be ingested, with every problem found."""
        qid = str(uuid.uuid4())
        errors = [
            {
                "where": i.where,
                "message": redact_personal(i.message),  # the raw body keeps the data
                "field": i.field,
                "source": i.source,
                "rule": i.rule,
            }
            for i in issues
        ]
        with self.engine.begin() as conn:
            conn.execute(
                quarantined_table.insert().values(
                    id=qid,
                    system=system,
                    kind=kind,
                    raw=raw,
                    content_type=content_type,
                    errors=json.dumps(errors),
                    mapping_version=mapping_version,
                    status="open",
                    correlation_id=correlation,
                    received_at=utcnow(),
                )
            )
        return qid


def _references(system: str, doc: dict[str, Any], external_id: str) -> list[tuple[str, str]]:
    refs = {(system, external_id)}
    if doc.get("kind") in ("shipment", "invoice", "credit_note"):
        order = doc.get("order_number") or doc.get("order_reference")
        if order:  # shipments and invoices are found by their order
            refs.add(("order", str(order)))
    for ref_system, value in (doc.get("external_ids") or {}).items():
        if value:
            refs.add((str(ref_system), str(value)))
    buyer_reference = doc.get("buyer_reference")
    if buyer_reference:
        refs.add(("buyer", str(buyer_reference)))
    return sorted(refs)
