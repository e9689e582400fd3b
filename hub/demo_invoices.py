"""The demo's proof that an invoice is one amount everywhere: hub, SAP ledger and shop.

For every invoice the hub issued, the SAP journal entry posted for it (found by its
``DocumentReferenceID``, the invoice number) must carry the gross amount on the customer
line, and the shop's invoice (found through the delivery's target reference) must have
the same grand total, both to the cent.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

__all__ = ["InvoiceCheck", "check_invoices"]


@dataclass
class InvoiceCheck:
    issued: int = 0
    credit_notes: int = 0
    in_sap: int = 0
    in_shop: int = 0
    gross_total: Decimal = Decimal(0)
    first: str | None = None
    last: str | None = None
    mismatches: list[str] = field(default_factory=list)


def _issued(database: Path) -> list[tuple[str, str, str, str, str]]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 2000")
        rows = db.execute(
            "SELECT number, kind, gross_total, currency, order_number FROM issued_invoice "
            "ORDER BY series, seq"
        ).fetchall()
        return [tuple(str(v) for v in row) for row in rows]  # type: ignore[misc]


def _shop_references(database: Path, route: str) -> dict[str, str]:
    """Invoice number → the shop's invoice id, from the deliveries of ``route``."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 2000")
        rows = db.execute(
            "SELECT m.external_id, d.target_reference FROM delivery d "
            "JOIN message m ON m.id = d.message_id "
            "WHERE d.route = ? AND d.status = 'delivered'",
            (route,),
        ).fetchall()
    return {str(number): str(reference) for number, reference in rows if reference}


def check_invoices(
    database: Path, journal: dict[str, Any], shop: httpx.Client, *, shop_route: str
) -> InvoiceCheck:
    """Compare every issued invoice with its journal entry and its shop invoice."""
    check = InvoiceCheck()
    entries = {str(e.get("reference")): e for e in journal.get("entries", [])}
    references = _shop_references(database, shop_route)
    for number, kind, gross_text, currency, order in _issued(database):
        gross = Decimal(gross_text)
        if kind == "credit_note":
            check.credit_notes += 1
            continue
        check.issued += 1
        check.gross_total += gross
        check.first = check.first or number
        check.last = number
        entry = entries.get(number)
        if entry is not None:
            check.in_sap += 1
            debtor = sum(
                (Decimal(line["amount"]) for line in entry["lines"] if line["kind"] == "customer"),
                Decimal(0),
            )
            if debtor != gross:
                check.mismatches.append(f"{number}: SAP customer line {debtor}, hub {gross}")
        reference = references.get(number)
        if reference is not None:
            response = shop.get(f"/invoices/{reference}")
            response.raise_for_status()
            grand = Decimal(str(response.json()["grand_total"]))
            check.in_shop += 1
            if grand != gross:
                check.mismatches.append(
                    f"{number} (order {order}): shop invoice {reference} {grand} {currency}, "
                    f"hub {gross}"
                )
    return check
