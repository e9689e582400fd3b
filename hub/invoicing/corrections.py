"""Credit notes from issued invoices: returns, price corrections and cancellations.

An issued invoice is never changed; what went back, or what was charged too much, is
credited by a credit note (BT-3 = 381) that names the invoice (BT-25, BT-26). This module
drafts that credit note from the invoice as issued and from the credit notes already
issued against it, and :class:`Corrections` issues it through the invoice store and emits
it like an invoice (a ``hub``/``credit_note`` message that routes post on).

Three kinds of request (:class:`CreditRequest`):

* **return**: invoice lines (by their BT-126 id) with quantities that came back, each at
  most what is still open on the line. The line is credited at its price as it stands
  (after earlier price corrections), its allowances and charges prorated to the
  quantity; the invoice's document allowances and charges are prorated to the share of
  their VAT group's open value that is returned. A return gives its quantities back to
  the order lines (claims), so replacement goods can be invoiced again.
* **correction**: invoice lines whose unit price is lowered (by an amount or to a new
  price) for the quantity still open, and/or an allowance on the whole invoice in one of
  its VAT groups. Claims nothing: no goods moved.
* **cancellation**: everything still creditable.

Prorations use :func:`hub.money.allocate`, so the parts credited over several credit notes
add up exactly to the original amounts: the credit note that closes a line credits
exactly what is left of it (a ``Rounding difference`` allowance or charge on the line
absorbs what rounding each partial return to the minor unit left over), and the one that
closes a VAT group credits exactly what is left of its document allowances and charges.

What is open is worked out from the invoice and its earlier credit notes issued here
(source keys ``return:INVOICE:ID`` and ``correction:INVOICE:ID``): their lines carry the
invoice line's id and SKU. Credit notes issued otherwise (directly through the store)
cannot be attributed to lines; they still count against the invoice's creditable total,
which the store enforces and :func:`draft_credit_note` checks first.

VAT is computed on each credit note by itself (EN 16931), so the VAT of several partial
credit notes can add up to a cent more than the invoice's. When a credit note would
therefore exceed the gross left on the invoice while its net fits, its net is lowered by
that rounding difference (a document allowance ``Rounding difference``), so an invoice is
never credited beyond its gross total; the difference stays open on the invoice.

The caller's id (an RMA number, a correction ticket) makes the request idempotent: the
same id for the same invoice always yields the one credit note first issued for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, select

from hub import money
from hub.canonical.common import PaymentTerms, TaxCategory
from hub.canonical.invoice import (
    AllowanceCharge,
    ChargedTax,
    CreditNote,
    Invoice,
    InvoiceLine,
    charged_tax_tolerance,
)
from hub.errors import NotFoundError
from hub.invoicing.drafting import DRAFT_NUMBER
from hub.invoicing.store import Creditable, InvoicingError, IssuedInvoice, LineClaim
from hub.store.tables import issued_invoice_table

if TYPE_CHECKING:
    from hub.invoicing.service import InvoicingService

__all__ = [
    "BeyondCreditable",
    "CorrectionError",
    "Corrections",
    "CreditIssued",
    "CreditKind",
    "CreditPlan",
    "CreditRequest",
    "DocumentAllowance",
    "DraftedCredit",
    "NothingToCredit",
    "PriceCorrection",
    "draft_credit_note",
    "source_key",
]

ZERO = Decimal(0)
ROUNDING = "Rounding difference"
"""Reason of the allowance or charge that absorbs rounding to the minor unit."""
CREDITED_EARLIER = "Allowance credited earlier"
"""Reason of the allowance by which a return is lowered for an invoice-wide allowance
credited by an earlier correction."""
ALLOWANCE_SKU = "ALLOWANCE"
"""Item id (BT-155) of the line that carries an allowance on the whole invoice."""
REFERENCE_MAX = 128
_PAGE = 500
_ATTEMPTS = 3

_K = TypeVar("_K")
Group = tuple[TaxCategory, Decimal]
_ItemKey = tuple[str | None, str | None]
_DocKey = tuple[TaxCategory, Decimal, str | None, str | None]


# --------------------------------------------------------------------------- errors


class CorrectionError(InvoicingError):
    """The credit note cannot be drafted from the invoice as asked."""


class BeyondCreditable(CorrectionError):
    """The request credits more than is left on the invoice or one of its lines."""

    status = 409


class NothingToCredit(CorrectionError):
    """The request credits nothing (everything already credited, or amounts round to 0)."""


class _StaleHistory(Exception):
    """Another credit note for the invoice was issued while this one was drafted."""


# --------------------------------------------------------------------------- requests


class CreditKind(StrEnum):
    """What a credit note credits; a return and a cancellation share the ``return`` key."""

    RETURN = "return"
    CORRECTION = "correction"
    CANCELLATION = "cancellation"

    @property
    def key_prefix(self) -> str:
        return "correction" if self is CreditKind.CORRECTION else "return"


@dataclass(frozen=True)
class PriceCorrection:
    """Lower an invoice line's unit price (BT-146) to ``new_price`` or by ``reduction``,
    per the line's price base quantity, for the quantity still open on the line."""

    line_id: str
    new_price: Decimal | None = None
    reduction: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.new_price is None) == (self.reduction is None):
            raise CorrectionError(
                f"line {self.line_id}: give either the new price or the reduction, not "
                f"{'both' if self.new_price is not None else 'neither'}"
            )
        if self.new_price is not None and self.new_price < 0:
            raise CorrectionError(f"line {self.line_id}: a price cannot be negative")
        if self.reduction is not None and self.reduction <= 0:
            raise CorrectionError(f"line {self.line_id}: the reduction must be positive")


@dataclass(frozen=True)
class DocumentAllowance:
    """An allowance on the whole invoice (net ``amount``) in one of its VAT groups; the
    group may be left out when the invoice has only one."""

    amount: Decimal
    tax_category: TaxCategory | None = None
    tax_rate: Decimal | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise CorrectionError(f"an allowance must be positive, not {self.amount:f}")
        if (self.tax_category is None) != (self.tax_rate is None):
            raise CorrectionError("give the allowance's VAT category and rate together")


@dataclass(frozen=True)
class CreditRequest:
    """What to credit; build one with :meth:`returning`, :meth:`correcting` or
    :meth:`cancelling`. ``reference`` is the caller's id (RMA number, ticket): the same
    reference for the same invoice never yields a second credit note."""

    kind: CreditKind
    reference: str
    reason: str
    quantities: tuple[tuple[str, Decimal], ...] = ()
    prices: tuple[PriceCorrection, ...] = ()
    allowance: DocumentAllowance | None = None

    def __post_init__(self) -> None:
        reference = self.reference.strip()
        if not reference or len(reference) > REFERENCE_MAX or not reference.isprintable():
            raise CorrectionError(
                f"the credit's id must be 1 to {REFERENCE_MAX} printable characters, "
                f"not {self.reference!r}"
            )
        object.__setattr__(self, "reference", reference)
        if not self.reason.strip():
            raise CorrectionError("give the reason for the credit note (BT-22)")
        object.__setattr__(self, "reason", self.reason.strip())
        _unique((line for line, _ in self.quantities), "returned")
        _unique((p.line_id for p in self.prices), "corrected")
        for line_id, quantity in self.quantities:
            if not quantity.is_finite() or quantity <= 0:
                raise CorrectionError(
                    f"line {line_id}: a returned quantity must be positive, not {quantity}"
                )
        returns = bool(self.quantities)
        corrects = bool(self.prices) or self.allowance is not None
        expected = {
            CreditKind.RETURN: (True, False),
            CreditKind.CORRECTION: (False, True),
            CreditKind.CANCELLATION: (False, False),
        }[self.kind]
        if (returns, corrects) != expected:
            raise CorrectionError(
                "a return names returned quantities only, a correction prices or an "
                "allowance only, a cancellation neither"
            )

    @classmethod
    def returning(
        cls, reference: str, quantities: Mapping[str, Decimal], *, reason: str
    ) -> CreditRequest:
        """Goods came back: ``quantities`` by invoice line id (BT-126)."""
        return cls(CreditKind.RETURN, reference, reason, quantities=tuple(quantities.items()))

    @classmethod
    def correcting(
        cls,
        reference: str,
        *,
        reason: str,
        prices: Iterable[PriceCorrection] = (),
        allowance: DocumentAllowance | None = None,
    ) -> CreditRequest:
        """Too much was charged: lower line prices and/or allow an amount on the invoice."""
        return cls(
            CreditKind.CORRECTION, reference, reason, prices=tuple(prices), allowance=allowance
        )

    @classmethod
    def cancelling(cls, reference: str, *, reason: str) -> CreditRequest:
        """Credit everything still creditable on the invoice."""
        return cls(CreditKind.CANCELLATION, reference, reason)

    def source_key(self, invoice_number: str) -> str:
        """The idempotency key of the credit note this request makes for the invoice."""
        return source_key(self.kind, invoice_number, self.reference)


def source_key(kind: CreditKind, invoice_number: str, reference: str) -> str:
    """``return:INVOICE:ID`` (returns and cancellations) or ``correction:INVOICE:ID``."""
    return f"{kind.key_prefix}:{invoice_number}:{reference}"


def _unique(line_ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for line_id in line_ids:
        if line_id in seen:
            raise CorrectionError(f"line {line_id} is {what} twice; name each line once")
        seen.add(line_id)


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _Share:
    """Which part of an amount a credit note takes: ``taken`` of ``whole``, or all."""

    taken: Decimal = ZERO
    whole: Decimal = ZERO
    everything: bool = False

    def of(self, amount: Decimal, currency: str) -> Decimal:
        if self.everything or amount == 0:
            return amount
        if self.taken <= 0 or self.whole <= 0:
            return ZERO
        if self.taken >= self.whole:
            return amount
        return money.allocate(amount, [self.taken, self.whole - self.taken], currency)[0]


_ALL = _Share(everything=True)


@dataclass
class _Line:
    """An invoice line and what is still open on it."""

    line: InvoiceLine
    value: Decimal
    """Net amount left to credit (BT-131 less what credit notes credited on the line)."""
    allowances: dict[_ItemKey, Decimal]
    charges: dict[_ItemKey, Decimal]
    returned: Decimal = ZERO
    cut: Decimal = ZERO
    """Unit price reductions so far, per the line's base quantity."""
    settled: bool = False
    """A line of zero or negative quantity was credited (it is credited whole or not)."""

    @property
    def returnable(self) -> bool:
        return self.line.quantity > 0

    @property
    def open_quantity(self) -> Decimal:
        if self.returnable:
            return self.line.quantity - self.returned
        return ZERO if self.settled else self.line.quantity

    @property
    def is_open(self) -> bool:
        return self.open_quantity > 0 if self.returnable else not self.settled

    @property
    def price(self) -> Decimal:
        return self.line.unit_price - self.cut

    @property
    def group(self) -> Group:
        return (self.line.tax_category, self.line.tax_rate)


def _items(items: Sequence[AllowanceCharge]) -> dict[_ItemKey, Decimal]:
    found: dict[_ItemKey, Decimal] = defaultdict(lambda: ZERO)
    for item in items:
        found[(item.reason, item.reason_code)] += item.amount
    return dict(found)


def _doc_items(items: Sequence[AllowanceCharge]) -> dict[_DocKey, Decimal]:
    found: dict[_DocKey, Decimal] = defaultdict(lambda: ZERO)
    for item in items:
        found[(item.tax_category, item.tax_rate, item.reason, item.reason_code)] += item.amount
    return dict(found)


def _take(left: dict[_K, Decimal], key: _K, amount: Decimal) -> Decimal:
    """Lower ``left[key]`` by ``amount`` down to zero; returns what did not fit (an item
    that matches no original one does not fit at all)."""
    available = left.get(key, ZERO)
    taken = min(available, amount)
    if key in left:
        left[key] = available - taken
    return amount - taken


class _State:
    """The invoice and what its earlier credit notes left open, line by line and per VAT
    group (see the module docstring)."""

    def __init__(self, invoice: IssuedInvoice, earlier: Sequence[IssuedInvoice]) -> None:
        document = invoice.document
        self.number = invoice.number
        self.invoice = document
        self.currency = document.currency
        self.lines: dict[str, _Line] = {}
        for line in document.lines:
            if line.line_id in self.lines:
                raise CorrectionError(
                    f"invoice {invoice.number} has several lines with id {line.line_id}; "
                    "its lines cannot be told apart to credit them"
                )
            self.lines[line.line_id] = _Line(
                line=line,
                value=line.net_amount_in(self.currency),
                allowances=_items(line.allowances),
                charges=_items(line.charges),
            )
        self.allowances = _doc_items(document.allowances)
        self.charges = _doc_items(document.charges)
        self.extra: dict[Group, Decimal] = defaultdict(lambda: ZERO)
        """Per VAT group, signed (charges positive): document-level amounts left that no
        original allowance or charge accounts for (allowances credited by corrections,
        rounding differences)."""
        self.earlier = [note.number for note in earlier]
        self.foreign: list[str] = []
        self.vat_left: dict[Group, tuple[Decimal, Decimal]] = {
            (v.category, v.rate): (v.taxable_amount, v.tax_amount) for v in document.vat_breakdown
        }
        """Per VAT group: taxable amount and VAT of the invoice less its credit notes'."""
        for note in earlier:
            self._apply(note)
            for v in note.document.vat_breakdown:
                taxable, vat = self.vat_left.get((v.category, v.rate), (ZERO, ZERO))
                self.vat_left[(v.category, v.rate)] = (
                    taxable - v.taxable_amount,
                    vat - v.tax_amount,
                )

    def _apply(self, issued: IssuedInvoice) -> None:
        kind = next(
            (
                k
                for k in (CreditKind.RETURN, CreditKind.CORRECTION)
                if issued.source_key.startswith(f"{k.key_prefix}:{self.number}:")
            ),
            None,
        )
        if kind is None:
            self.foreign.append(issued.number)
            return
        note = issued.document
        cur = self.currency
        for credited in note.lines:
            state = self.lines.get(credited.line_id)
            if state is None or state.line.sku != credited.sku:
                group = (credited.tax_category, credited.tax_rate)
                self.extra[group] -= credited.net_amount_in(cur)
                continue
            state.value -= credited.net_amount_in(cur)
            if kind is CreditKind.CORRECTION:
                state.cut += credited.unit_price * state.line.base_quantity / credited.base_quantity
                continue
            if state.returnable:
                state.returned += credited.quantity
            else:
                state.settled = True
            for item in credited.allowances:
                _take(state.allowances, (item.reason, item.reason_code), item.amount)
            for item in credited.charges:
                _take(state.charges, (item.reason, item.reason_code), item.amount)
        for item in note.allowances:
            key = (item.tax_category, item.tax_rate, item.reason, item.reason_code)
            self.extra[key[:2]] += _take(self.allowances, key, item.amount)
        for item in note.charges:
            key = (item.tax_category, item.tax_rate, item.reason, item.reason_code)
            self.extra[key[:2]] -= _take(self.charges, key, item.amount)

    def line(self, line_id: str) -> _Line:
        state = self.lines.get(line_id)
        if state is None:
            known = ", ".join(f"{s.line.line_id} ({s.line.sku})" for s in self.lines.values())
            raise CorrectionError(
                f"invoice {self.number} has no line {line_id!r}; its lines: {known}"
            )
        return state

    def groups(self) -> list[Group]:
        """Every VAT group of the invoice: its lines', allowances' and charges'."""
        found = {state.group for state in self.lines.values()}
        found |= {(k[0], k[1]) for k in (*self.allowances, *self.charges)}
        found |= set(self.extra)
        return sorted(found)

    def open_value(self, group: Group) -> Decimal:
        """Net left to credit in ``group``: its lines and document amounts."""
        lines = sum((s.value for s in self.lines.values() if s.group == group), ZERO)
        return lines + self.document_left(group)

    def document_left(self, group: Group) -> Decimal:
        """Signed document-level amount left in ``group`` (charges positive)."""
        charges = sum((v for k, v in self.charges.items() if (k[0], k[1]) == group), ZERO)
        allowances = sum((v for k, v in self.allowances.items() if (k[0], k[1]) == group), ZERO)
        return charges - allowances + self.extra.get(group, ZERO)


# --------------------------------------------------------------------------- drafting


@dataclass(frozen=True)
class DraftedCredit:
    """A drafted credit note (number ``DRAFT``) and the order-line quantities it gives
    back (empty for a price correction)."""

    note: CreditNote
    claims: list[LineClaim]


def draft_credit_note(
    invoice: IssuedInvoice,
    request: CreditRequest,
    *,
    issue_date: date,
    earlier: Sequence[IssuedInvoice] = (),
    creditable: Creditable | None = None,
) -> DraftedCredit:
    """The credit note ``request`` makes of ``invoice``, given the credit notes already
    issued against it (``earlier``) and what is left to credit on it (``creditable``,
    from :meth:`~hub.invoicing.store.InvoiceStore.creditable`; checked when given).

    Raises :class:`CorrectionError` (:class:`BeyondCreditable`, :class:`NothingToCredit`)
    naming the line and the quantities or amounts at fault.
    """
    if invoice.kind != "invoice":
        corrects = (
            f" (it corrects {invoice.preceding_invoice})" if invoice.preceding_invoice else ""
        )
        raise CorrectionError(
            f"{invoice.number} is a credit note{corrects}; credit the invoice itself"
        )
    if issue_date < invoice.issue_date:
        raise CorrectionError(
            f"the credit note cannot be dated {issue_date}, before invoice {invoice.number} "
            f"({invoice.issue_date})"
        )
    state = _State(invoice, earlier)
    if request.kind is CreditKind.CORRECTION:
        lines = _corrections(state, request)
        allowances: list[AllowanceCharge] = []
        charges: list[AllowanceCharge] = []
        claims: list[LineClaim] = []
    else:
        lines, allowances, charges, claims = _returns(state, request)
    if not lines:
        raise NothingToCredit(_nothing_left(state, creditable))
    note = _with_invoice_vat(
        _credit_note(state, request, issue_date, lines, allowances, charges), state
    )
    if creditable is not None:
        note = _within(note, state, creditable)
    total = note.totals.tax_inclusive_total
    if total <= 0:
        raise NothingToCredit(
            f"invoice {state.number}: the credit note would credit {total:f} "
            f"{state.currency}; nothing to credit"
        )
    # Re-validated as a whole: what is issued is exactly what the model accepts.
    checked = CreditNote.model_validate(note.model_dump(exclude_computed_fields=True))
    return DraftedCredit(checked, claims)


def _nothing_left(state: _State, creditable: Creditable | None) -> str:
    by = f" (credit notes {', '.join(state.earlier)})" if state.earlier else ""
    text = f"invoice {state.number} has nothing left to credit{by}"
    if creditable is not None and creditable.gross > 0:
        why = (
            f"credit notes {', '.join(state.foreign)} were not issued from returns or corrections"
            if state.foreign
            else "the VAT of earlier credit notes rounded on its own"
        )
        text += f"; {creditable.gross:f} {state.currency} gross stays open on no line ({why})"
    return text


def _returns(
    state: _State, request: CreditRequest
) -> tuple[list[InvoiceLine], list[AllowanceCharge], list[AllowanceCharge], list[LineClaim]]:
    """Lines, document allowances and charges, and claims of a return or cancellation."""
    taking: dict[str, Decimal] = {}
    for line_id, quantity in request.quantities:
        line = state.line(line_id)
        if not line.returnable:
            raise CorrectionError(
                f"invoice {state.number} line {line_id} ({line.line.sku}) invoices "
                f"{line.line.quantity:f}; only a cancellation credits it"
            )
        if quantity > line.open_quantity:
            raise BeyondCreditable(
                f"invoice {state.number} line {line_id} ({line.line.sku}): {quantity:f} to "
                f"return, {line.open_quantity:f} left to credit (invoiced "
                f"{line.line.quantity:f}, returned {line.returned:f})"
            )
        taking[line_id] = quantity
    complete = request.kind is CreditKind.CANCELLATION or all(
        taking.get(line_id, ZERO) == s.open_quantity
        for line_id, s in state.lines.items()
        if s.returnable
    )
    if complete:  # a return of everything open takes the rest with it
        taking = {line_id: s.open_quantity for line_id, s in state.lines.items() if s.is_open}

    cur = state.currency
    lines = [_returned_line(state.lines[line_id], q, cur) for line_id, q in taking.items()]

    # Document allowances and charges: each VAT group's share of its open value returned
    # (a group without lines of its own goes with the whole invoice).
    credited = {line.line_id: line.net_amount_in(cur) for line in lines}
    positive = [s for s in state.lines.values() if s.returnable]

    def share(members: list[_Line]) -> _Share:
        if complete or all(taking.get(s.line.line_id, ZERO) == s.open_quantity for s in members):
            return _ALL
        taken = sum((credited.get(s.line.line_id, ZERO) for s in members), ZERO)
        return _Share(taken, sum((s.value for s in members), ZERO))

    allowances: list[AllowanceCharge] = []
    charges: list[AllowanceCharge] = []
    for group in state.groups():
        members = [s for s in positive if s.group == group] or positive
        part = share(members)
        category, rate = group
        for (c, r, reason, code), left in state.allowances.items():
            amount = part.of(left, cur) if (c, r) == group else ZERO
            if amount > 0:
                allowances.append(_ac(amount, reason, code, category, rate))
        for (c, r, reason, code), left in state.charges.items():
            amount = part.of(left, cur) if (c, r) == group else ZERO
            if amount > 0:
                charges.append(_ac(amount, reason, code, category, rate))
        extra = part.of(state.extra.get(group, ZERO), cur)
        if extra < 0:
            allowances.append(_ac(-extra, CREDITED_EARLIER, None, category, rate))
        elif extra > 0:
            charges.append(_ac(extra, ROUNDING, None, category, rate))
    return lines, allowances, charges, _claims(state, taking)


def _returned_line(state: _Line, quantity: Decimal, currency: str) -> InvoiceLine:
    """The credit note line for ``quantity`` of an invoice line; the one that closes the
    line credits exactly what is left of it."""
    closing = quantity == state.open_quantity
    part = _ALL if closing else _Share(quantity, state.open_quantity)
    allowances = [
        AllowanceCharge(amount=amount, reason=reason, reason_code=code)
        for (reason, code), left in state.allowances.items()
        if (amount := part.of(left, currency)) > 0
    ]
    charges = [
        AllowanceCharge(amount=amount, reason=reason, reason_code=code)
        for (reason, code), left in state.charges.items()
        if (amount := part.of(left, currency)) > 0
    ]
    line = state.line.model_copy(
        update={
            "quantity": quantity,
            "unit_price": state.price,
            "allowances": allowances,
            "charges": charges,
            "price_rules": [],
        }
    )
    if closing:
        difference = state.value - line.net_amount_in(currency)
        if difference > 0:
            charges.append(AllowanceCharge(amount=difference, reason=ROUNDING))
        elif difference < 0:
            allowances.append(AllowanceCharge(amount=-difference, reason=ROUNDING))
        if difference:
            line = line.model_copy(update={"allowances": allowances, "charges": charges})
    return InvoiceLine.model_validate(line.model_dump())


def _claims(state: _State, taking: Mapping[str, Decimal]) -> list[LineClaim]:
    """Order-line quantities given back: per order line, what returns have now credited
    of it, capped at what the invoice claimed (lines of one order line add up)."""
    order = state.invoice.order_reference
    if not order:
        return []
    invoiced: dict[str, Decimal] = defaultdict(lambda: ZERO)
    before: dict[str, Decimal] = defaultdict(lambda: ZERO)
    after: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line_id, s in state.lines.items():
        order_line = s.line.order_line_id
        if not order_line:
            continue
        invoiced[order_line] += s.line.quantity
        done = s.returned if s.returnable else (s.line.quantity if s.settled else ZERO)
        before[order_line] += done
        after[order_line] += done + taking.get(line_id, ZERO)
    claims = []
    for order_line, claimed in invoiced.items():
        if claimed <= 0:
            continue
        quantity = min(max(after[order_line], ZERO), claimed) - min(
            max(before[order_line], ZERO), claimed
        )
        if quantity > 0:
            claims.append(LineClaim(order, order_line, quantity))
    return claims


def _corrections(state: _State, request: CreditRequest) -> list[InvoiceLine]:
    """Lines of a price correction: the price cut on each line's open quantity, and the
    allowance on the whole invoice as a line of its own."""
    cur = state.currency
    lines: list[InvoiceLine] = []
    cut_by_group: dict[Group, Decimal] = defaultdict(lambda: ZERO)
    for correction in request.prices:
        s = state.line(correction.line_id)
        where = f"invoice {state.number} line {correction.line_id} ({s.line.sku})"
        if not s.returnable:
            raise CorrectionError(
                f"{where} invoices {s.line.quantity:f}; its price is not corrected"
            )
        if s.open_quantity <= 0:
            raise NothingToCredit(
                f"{where}: all {s.line.quantity:f} were returned; nothing left to correct"
            )
        current = s.price
        if correction.new_price is not None:
            cut = current - correction.new_price
            if cut <= 0:
                raise CorrectionError(
                    f"{where}: the new price {correction.new_price:f} is not below the "
                    f"current {current:f}"
                )
        else:
            assert correction.reduction is not None  # enforced by PriceCorrection
            cut = correction.reduction
            if cut > current:
                raise CorrectionError(
                    f"{where}: lowering the price by {cut:f} takes it below zero (it is "
                    f"{current:f})"
                )
        line = s.line.model_copy(
            update={
                "quantity": s.open_quantity,
                "unit_price": cut,
                "allowances": [],
                "charges": [],
                "price_rules": [],
            }
        )
        line = InvoiceLine.model_validate(line.model_dump())
        net = line.net_amount_in(cur)
        if net <= 0:
            raise NothingToCredit(
                f"{where}: {s.open_quantity:f} × {cut:f} rounds to {net:f} {cur}; nothing to credit"
            )
        if net > s.value:
            raise BeyondCreditable(
                f"{where}: the lower price credits {net:f} {cur}, more than the {s.value:f} "
                "left on the line"
            )
        cut_by_group[s.group] += net
        lines.append(line)
    if request.allowance is not None:
        lines.append(_allowance_line(state, request, cut_by_group))
    return lines


def _allowance_line(
    state: _State, request: CreditRequest, already: Mapping[Group, Decimal]
) -> InvoiceLine:
    """The allowance on the whole invoice as a credit note line (a credit note credits
    what its lines say), at most what is left in its VAT group after ``already``; its
    line id is none of the invoice's, so later credit notes tell it from a price cut."""
    allowance = request.allowance
    assert allowance is not None
    cur = state.currency
    groups = state.groups()
    if allowance.tax_category is None or allowance.tax_rate is None:
        if len(groups) != 1:
            listed = ", ".join(f"{c.value} {r:f} %" for c, r in groups)
            raise CorrectionError(
                f"invoice {state.number} has several VAT groups ({listed}): give the "
                "allowance's category and rate"
            )
        group = groups[0]
    else:
        group = (allowance.tax_category, allowance.tax_rate)
        if group not in groups:
            listed = ", ".join(f"{c.value} {r:f} %" for c, r in groups)
            raise CorrectionError(
                f"invoice {state.number} has nothing at VAT {group[0].value} {group[1]:f} %; "
                f"its groups: {listed}"
            )
    if not money.is_rounded(allowance.amount, cur):
        raise CorrectionError(
            f"the allowance {allowance.amount:f} has more decimals than {cur} allows"
        )
    left = state.open_value(group) - already.get(group, ZERO)
    if allowance.amount > left:
        raise BeyondCreditable(
            f"invoice {state.number}: an allowance of {allowance.amount:f} {cur} at VAT "
            f"{group[0].value} {group[1]:f} % is more than the {max(left, ZERO):f} left to "
            "credit in that group"
        )
    line_id = "A"
    while line_id in state.lines:
        line_id += "A"
    return InvoiceLine(
        line_id=line_id,
        sku=ALLOWANCE_SKU,
        name=allowance.reason or request.reason,
        quantity=Decimal(1),
        unit_price=allowance.amount,
        tax_category=group[0],
        tax_rate=group[1],
    )


def _ac(
    amount: Decimal,
    reason: str | None,
    code: str | None,
    category: TaxCategory,
    rate: Decimal,
) -> AllowanceCharge:
    return AllowanceCharge(
        amount=amount, reason=reason, reason_code=code, tax_category=category, tax_rate=rate
    )


def _credit_note(
    state: _State,
    request: CreditRequest,
    issue_date: date,
    lines: list[InvoiceLine],
    allowances: list[AllowanceCharge],
    charges: list[AllowanceCharge],
) -> CreditNote:
    invoice = state.invoice
    what = {
        CreditKind.RETURN: f"Return {request.reference}",
        CreditKind.CORRECTION: f"Price correction {request.reference}",
        CreditKind.CANCELLATION: f"Cancellation {request.reference}",
    }[request.kind]
    terms = _terms(invoice.payment_terms)
    return CreditNote(
        invoice_number=DRAFT_NUMBER,
        issue_date=issue_date,
        # BR-CO-25: an amount due needs terms or a due date; a credit is due when issued.
        due_date=None if terms is not None else issue_date,
        currency=invoice.currency,
        accounting_currency=invoice.accounting_currency,
        exchange_rate=invoice.exchange_rate,
        exchange_rate_date=invoice.exchange_rate_date,
        buyer_reference=invoice.buyer_reference,
        order_reference=invoice.order_reference,
        seller=invoice.seller,
        seller_address=invoice.seller_address,
        buyer=invoice.buyer,
        buyer_address=invoice.buyer_address,
        delivery_address=invoice.delivery_address,
        invoicing_period_start=invoice.invoicing_period_start,  # what is credited was
        invoicing_period_end=invoice.invoicing_period_end,  # supplied in that period
        payment_terms=terms,
        notes=[f"{what} for invoice {state.number}: {request.reason}"],
        lines=lines,
        allowances=allowances,
        charges=charges,
        exemption_reasons=dict(invoice.exemption_reasons),
        preceding_invoice=state.number,
        preceding_invoice_date=invoice.issue_date,
    )


def _with_invoice_vat(note: CreditNote, state: _State) -> CreditNote:
    """``note`` crediting the VAT as the invoice charged it (BT-117 per group): its share
    of what is left of the group's VAT, all of it when the note credits all that is left
    of the group's taxable amount. So the credit notes of an invoice add up to its VAT
    exactly, although each rounds on its own (or the invoice kept a shop's VAT, see
    :class:`~hub.canonical.invoice.ChargedTax`). Only as far as EN 16931 lets a VAT amount
    differ from taxable × rate (:func:`~hub.canonical.invoice.charged_tax_tolerance`)."""
    cur = state.currency
    charged: list[ChargedTax] = []
    for (category, rate), (taxable, count) in sorted(note.vat_groups().items()):
        left_taxable, left_vat = state.vat_left.get((category, rate), (ZERO, ZERO))
        if taxable <= 0 or left_vat < 0 or taxable > left_taxable:
            continue
        if taxable == left_taxable:
            target = left_vat
        else:
            target = money.allocate(left_vat, [taxable, left_taxable - taxable], cur)[0]
        computed = money.percent_of(taxable, rate, cur)
        tolerance = charged_tax_tolerance(cur, count)
        target = max(computed - tolerance, min(computed + tolerance, target), ZERO)
        if target != computed:
            charged.append(ChargedTax(category=category, rate=rate, amount=target))
    return note.model_copy(update={"charged_tax": charged}) if charged else note


def _terms(terms: PaymentTerms | None) -> PaymentTerms | None:
    """The invoice's terms without the invoice's own schedule text (its due date and
    discount amount), which would be wrong on the credit note; None when nothing of them
    can be printed (BT-20)."""
    if terms is None:
        return None
    if terms.net_days is not None or terms.code:
        terms = terms.model_copy(update={"description": None})
    printable = terms.description or terms.net_days is not None or terms.code
    return terms if printable else None


def _within(note: CreditNote, state: _State, left: Creditable) -> CreditNote:
    """``note`` if it fits what is left on the invoice; lowered by a VAT rounding
    difference when only its gross exceeds (see the module docstring); else refused."""
    totals = note.totals
    cur = state.currency
    foreign = (
        f"; credit notes {', '.join(state.foreign)} were not issued from returns or "
        "corrections and are not attributed to lines"
        if state.foreign
        else ""
    )
    if totals.tax_exclusive_total > left.net:
        raise BeyondCreditable(
            f"invoice {state.number}: the credit note's {totals.tax_exclusive_total:f} net "
            f"{cur} exceeds the {left.net:f} net left to credit{foreign}"
        )
    over = totals.tax_inclusive_total - left.gross
    if over <= 0:
        return note
    quantum = Decimal(1).scaleb(-money.minor_units(cur))
    breakdown = [v for v in note.vat_breakdown if v.taxable_amount > 0]
    tolerance = quantum * len(breakdown) * (len(state.earlier) + 1)
    refusal = BeyondCreditable(
        f"invoice {state.number}: the credit note's {totals.tax_inclusive_total:f} gross "
        f"{cur} exceeds the {left.gross:f} gross left to credit{foreign}"
    )
    if not breakdown or over > tolerance:
        raise refusal
    target = max(breakdown, key=lambda v: (v.taxable_amount, v.rate))
    lowered = quantum
    while lowered <= min(over, target.taxable_amount):
        candidate = _lowered(note, (target.category, target.rate), lowered)
        if candidate.totals.tax_inclusive_total <= left.gross:
            return candidate
        lowered += quantum
    raise refusal


def _lowered(note: CreditNote, group: Group, amount: Decimal) -> CreditNote:
    """``note`` with its net in ``group`` lowered by ``amount``: first from a rounding
    charge there, then by a rounding allowance."""
    category, rate = group
    charges = list(note.charges)
    for i, charge in enumerate(charges):
        if charge.reason == ROUNDING and (charge.tax_category, charge.tax_rate) == group:
            taken = min(charge.amount, amount)
            amount -= taken
            if charge.amount == taken:
                del charges[i]
            else:
                charges[i] = charge.model_copy(update={"amount": charge.amount - taken})
            break
    # The group's VAT is then computed again: a VAT taken from the invoice was for the
    # higher amount.
    charged_tax = [c for c in note.charged_tax if (c.category, c.rate) != group]
    allowances = list(note.allowances)
    if amount > 0:
        for i, allowance in enumerate(allowances):
            if (
                allowance.reason == ROUNDING
                and (allowance.tax_category, allowance.tax_rate) == group
            ):
                allowances[i] = allowance.model_copy(update={"amount": allowance.amount + amount})
                break
        else:
            allowances.append(_ac(amount, ROUNDING, None, category, rate))
    return note.model_copy(
        update={"allowances": allowances, "charges": charges, "charged_tax": charged_tax}
    )


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class CreditPlan:
    """What :meth:`Corrections.preview` shows: the credit note a request makes, or the
    one already issued for its id."""

    invoice: IssuedInvoice
    request: CreditRequest
    source_key: str
    note: Invoice
    """The draft (number ``DRAFT``), or the issued credit note when ``issued`` is set."""
    claims: list[LineClaim]
    creditable: Creditable
    """What was left to credit on the invoice before this credit note."""
    issued: IssuedInvoice | None = None
    """The credit note issued earlier for the same id, if any."""
    earlier: list[str] = field(default_factory=list)
    """Numbers of the credit notes the draft was made against."""

    @property
    def creditable_after(self) -> Creditable:
        if self.issued is not None:
            return self.creditable
        totals = self.note.totals
        return Creditable(
            net=self.creditable.net - totals.tax_exclusive_total,
            gross=self.creditable.gross - totals.tax_inclusive_total,
        )


@dataclass(frozen=True)
class CreditIssued:
    issued: IssuedInvoice
    message_id: str
    """The message the credit note travels on (its postings are its deliveries)."""


class Corrections:
    """Credit notes for the invoices of an :class:`InvoicingService`."""

    def __init__(self, service: InvoicingService) -> None:
        self.service = service
        self.store = service.store

    def invoice(self, number: str) -> IssuedInvoice:
        """The issued invoice ``number``; a credit note or an unknown number is refused."""
        issued = self.store.get(number)
        if issued is None:
            raise NotFoundError(f"no issued invoice {number}")
        if issued.kind != "invoice":
            corrects = (
                f" (it corrects {issued.preceding_invoice})" if issued.preceding_invoice else ""
            )
            raise CorrectionError(f"{number} is a credit note{corrects}; credit the invoice itself")
        return issued

    def earlier(self, number: str) -> list[IssuedInvoice]:
        """Every credit note issued against invoice ``number``, in number order."""
        found: list[IssuedInvoice] = []
        while True:
            page = self.store.list(
                preceding_invoice=number, kind="credit_note", limit=_PAGE, offset=len(found)
            )
            found += page
            if len(page) < _PAGE:
                return found

    def preview(self, invoice_number: str, request: CreditRequest, issue_date: date) -> CreditPlan:
        """The credit note ``request`` would make now; nothing is issued. When its id was
        used already, the credit note issued then."""
        invoice = self.invoice(invoice_number)
        key = request.source_key(invoice.number)
        existing = self.store.by_source_key(key)
        creditable = self.store.creditable(invoice.number)
        if existing is not None:
            return CreditPlan(
                invoice, request, key, existing.document, [], creditable, issued=existing
            )
        earlier = self.earlier(invoice.number)
        drafted = draft_credit_note(
            invoice, request, issue_date=issue_date, earlier=earlier, creditable=creditable
        )
        return CreditPlan(
            invoice,
            request,
            key,
            drafted.note,
            drafted.claims,
            creditable,
            earlier=[n.number for n in earlier],
        )

    def issue(self, invoice_number: str, request: CreditRequest, issue_date: date) -> CreditIssued:
        """Issue (once per id) and emit the credit note ``request`` makes.

        The draft is made against the credit notes issued so far; if another one is
        issued meanwhile, the issuing transaction notices and the draft is made again.
        """
        for _ in range(_ATTEMPTS):
            plan = self.preview(invoice_number, request, issue_date)
            if plan.issued is not None:
                return self._emit(plan.issued)
            try:
                issued = self.store.issue(
                    plan.note,
                    series=self.service.settings.credit_series,
                    source_key=plan.source_key,
                    claims=plan.claims,
                    shipped={},
                    in_transaction=_unchanged(set(plan.earlier)),
                )
            except _StaleHistory:
                continue
            return self._emit(issued)
        raise CorrectionError(
            f"invoice {invoice_number}: other credit notes kept being issued meanwhile; try again"
        )

    def _emit(self, issued: IssuedInvoice) -> CreditIssued:
        result = self.service.ingestor.ingest_canonical("hub", issued.kind, issued.document)
        return CreditIssued(issued, result.message_id)


def _unchanged(seen: set[str]) -> Callable[[Connection, IssuedInvoice], None]:
    """An ``in_transaction`` check that the invoice's credit notes are still ``seen``."""
    table = issued_invoice_table.c

    def check(conn: Connection, issued: IssuedInvoice) -> None:
        rows = conn.execute(
            select(table.number).where(
                table.preceding_invoice == issued.preceding_invoice,
                table.kind == "credit_note",
                table.id != issued.id,
            )
        )
        if {str(number) for number in rows.scalars()} != seen:
            raise _StaleHistory

    return check
