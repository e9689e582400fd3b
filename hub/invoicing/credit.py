"""Credit limits: an invoice that would take a customer over its limit is held, never
issued silently, until an authorised user releases the order.

The limit and its currency come from the customer's canonical Party (e.g. Adobe Commerce
B2B company credit, through ``mappings/magento/party.inbound.yaml``). Exposure is what the
hub has invoiced the customer in that currency, less its credit notes; payments are not
matched yet (that is the payments issue), so exposure errs on the side of holding.
A hold records the figures and the reason; ``o2c credit release ORDER`` records who
released it and why (audit trail), after which the order's invoices are issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from hub.canonical.common import PartyRef
from hub.canonical.party import Party
from hub.clock import utcnow
from hub.errors import HubError, NotFoundError
from hub.store.tables import credit_hold_table, issued_invoice_table, message_table

__all__ = ["CreditControl", "CreditHeld", "Hold"]

H = credit_hold_table.c
IV = issued_invoice_table.c
M = message_table.c
ZERO = Decimal(0)


class CreditHeld(HubError):
    """The order is on credit hold; the message gives the figures."""

    status = 409


@dataclass(frozen=True)
class Hold:
    order_number: str
    customer: str
    currency: str
    credit_limit: Decimal
    exposure: Decimal
    amount: Decimal
    reason: str
    held_at: datetime
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None

    @property
    def released(self) -> bool:
        return self.released_at is not None


def _hold(row: object) -> Hold:
    r = row._mapping  # type: ignore[attr-defined]
    return Hold(
        order_number=r["order_number"],
        customer=r["customer"],
        currency=r["currency"],
        credit_limit=Decimal(r["credit_limit"]),
        exposure=Decimal(r["exposure"]),
        amount=Decimal(r["amount"]),
        reason=r["reason"],
        held_at=r["held_at"],
        released_at=r["released_at"],
        released_by=r["released_by"],
        release_reason=r["release_reason"],
    )


class CreditControl:
    """Checks invoices against credit limits; keeps holds and their releases."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def party(self, buyer: PartyRef) -> Party | None:
        """The newest canonical Party known under any of the buyer's ids."""
        keys = [str(v) for v in buyer.external_ids.values() if v]
        if not keys:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(M.canonical)
                .where(M.kind == "party", M.external_id.in_(keys))
                .order_by(M.received_at.desc(), M.version.desc())
                .limit(1)
            ).first()
        return Party.model_validate_json(row.canonical) if row else None

    def exposure(self, customer: str, currency: str) -> Decimal:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(IV.kind, IV.gross_total).where(
                    IV.customer == customer, IV.currency == currency
                )
            ).all()
        return sum(
            (Decimal(r.gross_total) * (-1 if r.kind == "credit_note" else 1) for r in rows), ZERO
        )

    def get(self, order_number: str) -> Hold | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(credit_hold_table).where(H.order_number == order_number)
            ).first()
        return _hold(row) if row else None

    def holds(self, *, open_only: bool = True) -> list[Hold]:
        query = select(credit_hold_table).order_by(H.held_at)
        if open_only:
            query = query.where(H.released_at.is_(None))
        with self.engine.connect() as conn:
            return [_hold(r) for r in conn.execute(query)]

    def check(
        self, *, order_number: str, customer: str, buyer: PartyRef, amount: Decimal, currency: str
    ) -> None:
        """Raise :class:`CreditHeld` (recording the hold) when ``amount`` would exceed the
        customer's limit and the order has not been released."""
        party = self.party(buyer)
        if party is None or party.credit_limit is None or party.currency != currency:
            return
        existing = self.get(order_number)
        if existing is not None and existing.released:
            return
        exposure = self.exposure(customer, currency)
        limit = party.credit_limit
        if exposure + amount <= limit:
            return
        reason = (
            f"order {order_number}: invoicing {amount:f} {currency} would take "
            f"{party.legal_name} to {exposure + amount:f} {currency}, over its credit limit "
            f"of {limit:f} {currency} (open {exposure:f})"
        )
        if existing is None:
            with self.engine.begin() as conn:
                conn.execute(
                    credit_hold_table.insert().values(
                        order_number=order_number,
                        customer=customer,
                        currency=currency,
                        credit_limit=format(limit, "f"),
                        exposure=format(exposure, "f"),
                        amount=format(amount, "f"),
                        reason=reason,
                        held_at=utcnow(),
                    )
                )
        raise CreditHeld(
            f"credit hold: {reason}; release it with `o2c credit release {order_number}`"
        )

    def release(self, order_number: str, *, by: str, reason: str) -> Hold:
        with self.engine.begin() as conn:
            done = conn.execute(
                credit_hold_table.update()
                .where(H.order_number == order_number, H.released_at.is_(None))
                .values(released_at=utcnow(), released_by=by, release_reason=reason)
            )
        if done.rowcount == 0:
            hold = self.get(order_number)
            if hold is None:
                raise NotFoundError(f"order {order_number} is not on credit hold")
            return hold
        hold = self.get(order_number)
        assert hold is not None
        return hold
