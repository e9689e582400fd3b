"""The B2B pricing engine: contract prices, tiers, discounts and surcharges, with reasons.

Given a customer, an order date, a currency and the lines (SKU, quantity, the shop's unit
price), :meth:`PricingRules.price` decides each line's unit price, its allowances and
charges, and the document's allowances and charges, and records for every line which
rules produced its price and why: B2B buyers ask. :func:`explain` turns a result into
lines of text.

Rules are evaluated kind by kind, in a fixed order, each kind on the result of the
previous ones::

    price -> line_discount -> line_charge        (per line)
    document_discount -> document_charge         (on the sum of the line net amounts)

Within a kind, rules run by ``priority`` (lower first), then by name; how they combine is
the rule's ``stacking`` (``stack``, ``exclusive`` or ``best``). The full semantics are in
``docs/pricing.md``; the rule format is :mod:`hub.invoicing.pricing_rules`.

Money is :class:`~decimal.Decimal` only: unit prices are rounded to four decimals (BT-146),
amounts to the currency's minor unit, both ROUND_HALF_UP. Nothing is ever negative.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fnmatch import fnmatchcase
from itertools import groupby
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub import money
from hub.canonical.common import CurrencyCode, TaxCategory
from hub.canonical.invoice import AllowanceCharge, InvoiceLine, PriceRuleTrace
from hub.canonical.order import Order
from hub.errors import Issue
from hub.invoicing.pricing_rules import (
    KIND_LABELS,
    KIND_ORDER,
    RULE_TYPES,
    SHOP,
    ContractRule,
    GroupDiscountRule,
    Kind,
    LineDiscountRule,
    LoadedRule,
    OrderDiscountRule,
    PricingRulesError,
    RuleBase,
    Stacking,
    SurchargeRule,
    TierPriceRule,
    VolumeDiscountRule,
    check_rule_set,
    load_rule_paths,
    parse_rules_text,
    validate_rule,
)

__all__ = [
    "AppliedRule",
    "LineResult",
    "PricedAllowanceCharge",
    "PricingLine",
    "PricingRequest",
    "PricingResult",
    "PricingRules",
    "SkippedRule",
    "explain",
    "format_price",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)
PRICE_QUANTUM = Decimal("0.0001")

UNIT_LABELS = {"C62": "PC", "H87": "PC", "EA": "EA", "KGM": "kg", "MTR": "m", "LTR": "l"}
"""Short names for common UN/ECE Rec 20 unit codes in explanations; others print as is."""


# --------------------------------------------------------------------------- request


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PricingLine(_Model):
    """One line to price: what the shop sold, at the shop's own price."""

    line_id: str = Field(min_length=1, description="The line's id (BT-126).")
    sku: str = Field(min_length=1, description="Seller's item identifier (BT-155).")
    quantity: Decimal = Field(gt=0, allow_inf_nan=False, description="BT-129.")
    unit_price: Decimal = Field(
        ge=0, allow_inf_nan=False, description="The shop's net unit price (BT-146)."
    )
    unit: str = Field("C62", description="UN/ECE Rec 20 unit code (BT-130).")
    name: str | None = Field(None, description="Item name (BT-153), for explanations.")


class PricingRequest(_Model):
    """Who buys, when, in which currency, and which lines."""

    customer: str | None = Field(None, description="The buyer's party id.")
    customer_group: str | None = Field(None, description="The buyer's pricing group.")
    order_date: date = Field(description="Validity dates are compared with this day.")
    currency: CurrencyCode
    lines: tuple[PricingLine, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_line_ids(self) -> PricingRequest:
        seen: set[str] = set()
        for line in self.lines:
            if line.line_id in seen:
                raise ValueError(f"line_id {line.line_id!r} appears twice")
            seen.add(line.line_id)
        return self

    @classmethod
    def from_order(cls, order: Order, *, customer: str | None = None) -> PricingRequest:
        """A request for a canonical order; ``customer`` is the buyer's party id in the
        system the rules name customers by (the order only knows ids per system)."""
        return cls(
            customer=customer,
            customer_group=order.buyer.customer_group,
            order_date=order.order_date.date(),
            currency=order.currency,
            lines=tuple(
                PricingLine(
                    line_id=line.line_id,
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    unit=line.unit,
                    name=line.name,
                )
                for line in order.lines
            ),
        )


# --------------------------------------------------------------------------- result


class AppliedRule(_Model):
    """A rule that changed a line or the document, and what it did, in words."""

    rule: str = Field(description=f"The rule's name, or {SHOP!r} for the shop's own price.")
    kind: Kind
    explanation: str = Field(
        description="e.g. 'contract ACME-2026: 18.50 EUR per PC (valid 2026-01-01..2026-12-31)'."
    )
    source: str | None = Field(None, description="file:line:column of the rule.")


class SkippedRule(_Model):
    """A rule that would have applied to the line or document but gave way to another."""

    rule: str
    kind: Kind
    label: str = Field(description="The rule's type and name, e.g. 'contract ACME-2026'.")
    reason: str = Field(description="e.g. 'the price is set by contract ACME-2026 (priority 10)'.")


class PricedAllowanceCharge(_Model):
    """A line or document allowance or charge with the rule that made it."""

    amount: Decimal = Field(ge=0, description="Rounded to the currency's minor unit.")
    reason: str = Field(description="BT-97 / BT-104 / BT-139 / BT-144.")
    reason_code: str | None = Field(None, description="BT-98 / BT-105 / BT-140 / BT-145.")
    rule: str
    percent: Decimal | None = Field(None, description="BT-94 / BT-101 / BT-138 / BT-143.")
    base_amount: Decimal | None = Field(None, description="BT-93 / BT-100 / BT-137 / BT-142.")

    def to_canonical(
        self, *, tax_category: TaxCategory = TaxCategory.STANDARD, tax_rate: Decimal = ZERO
    ) -> AllowanceCharge:
        """The invoice's allowance or charge; the tax fields matter at document level only."""
        return AllowanceCharge(
            amount=self.amount,
            reason=self.reason,
            reason_code=self.reason_code,
            tax_category=tax_category,
            tax_rate=tax_rate,
        )


class LineResult(_Model):
    """One priced line."""

    line_id: str
    sku: str
    quantity: Decimal
    unit: str
    shop_unit_price: Decimal = Field(description="The price the shop sent.")
    unit_price: Decimal = Field(description="The net unit price decided (BT-146).")
    price_rule: str = Field(description=f"The rule that set the price, or {SHOP!r}.")
    line_amount: Decimal = Field(description="quantity × unit_price, rounded.")
    allowances: tuple[PricedAllowanceCharge, ...] = ()
    charges: tuple[PricedAllowanceCharge, ...] = ()
    net_amount: Decimal = Field(description="BT-131: line amount - allowances + charges.")
    applied: tuple[AppliedRule, ...] = Field(description="In the order they were applied.")
    skipped: tuple[SkippedRule, ...] = ()

    @property
    def price_rules(self) -> list[PriceRuleTrace]:
        """For :attr:`InvoiceLine.price_rules`."""
        return [PriceRuleTrace(rule=a.rule, effect=a.explanation) for a in self.applied]

    def apply_to(self, line: InvoiceLine) -> InvoiceLine:
        """A copy of an invoice line with this price, allowances, charges and rule trace."""
        return line.model_copy(
            update={
                "unit_price": self.unit_price,
                "base_quantity": Decimal(1),
                "allowances": [a.to_canonical() for a in self.allowances],
                "charges": [c.to_canonical() for c in self.charges],
                "price_rules": self.price_rules,
            }
        )


class PricingResult(_Model):
    """Every line priced, plus the document's allowances and charges."""

    currency: str
    order_date: date
    customer: str | None
    customer_group: str | None
    lines: tuple[LineResult, ...]
    allowances: tuple[PricedAllowanceCharge, ...] = Field((), description="BG-20.")
    charges: tuple[PricedAllowanceCharge, ...] = Field((), description="BG-21.")
    applied: tuple[AppliedRule, ...] = Field((), description="Document-level rules applied.")
    skipped: tuple[SkippedRule, ...] = ()
    line_net_total: Decimal = Field(description="BT-106.")
    allowance_total: Decimal = Field(description="BT-107.")
    charge_total: Decimal = Field(description="BT-108.")
    net_total: Decimal = Field(description="BT-109: without VAT.")

    def line(self, line_id: str) -> LineResult:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(line_id)


# --------------------------------------------------------------------------- formatting


def format_price(value: Decimal, currency: str) -> str:
    """A unit price with at least the currency's decimals and no more than it has."""
    places = money.minor_units(currency)
    exponent = value.normalize().as_tuple().exponent
    decimals = max(places, -exponent) if isinstance(exponent, int) else places
    return f"{value.quantize(Decimal(1).scaleb(-decimals)):f}"


def _amount(value: Decimal, currency: str) -> str:
    return f"{money.round_money(value, currency):f} {currency}"


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _percent(value: Decimal) -> str:
    return f"{_number(value)} %"


def _unit(code: str) -> str:
    return UNIT_LABELS.get(code, code)


def _with(text: str, notes: Sequence[str]) -> str:
    return f"{text} ({'; '.join(notes)})" if notes else text


def _blocks_note(rule: RuleBase) -> list[str]:
    return [f"no {KIND_LABELS[k]}" for k in rule.blocks]


def _round_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Candidate:
    """A rule that applies here, with the figure it brings (a price, a percent, an amount)."""

    entry: LoadedRule
    value: Decimal
    notes: tuple[str, ...] = ()
    step: int = 0
    """The index of the tier or threshold reached, for rules that have them."""

    @property
    def rule(self) -> RuleBase:
        return self.entry.rule

    @property
    def name(self) -> str:
        return self.entry.rule.name

    def applied(self, explanation: str) -> AppliedRule:
        source = self.entry.source
        return AppliedRule(
            rule=self.name,
            kind=self.rule.kind,
            explanation=explanation,
            source=str(source) if source else None,
        )

    def skipped(self, reason: str) -> SkippedRule:
        return SkippedRule(
            rule=self.name, kind=self.rule.kind, label=self.rule.label, reason=reason
        )


Cost = Callable[[_Candidate], tuple[Decimal, str]]
Apply = Callable[[_Candidate, list[str]], None]


def _walk(
    candidates: Sequence[_Candidate], *, terminal: bool, cost: Cost, apply: Apply
) -> list[SkippedRule]:
    """Apply one kind's candidates (sorted by priority, then name) by their stacking.

    Per priority level (all rules of a level share one stacking mode, checked at load):
    ``stack`` applies every candidate in name order; ``exclusive`` applies the first by
    name and no later candidate of the kind; ``best`` applies the one that costs the
    buyer least (ties: first by name) and lets lower priorities follow. With
    ``terminal`` (prices: a line has one price) nothing follows the first level applied.
    """
    skipped: list[SkippedRule] = []
    stop: str | None = None
    for priority, group in groupby(candidates, key=lambda c: c.rule.priority):
        level = list(group)
        if stop is not None:
            skipped += [c.skipped(stop) for c in level]
            continue
        mode = level[0].rule.effective_stacking
        if mode is Stacking.STACK:
            for candidate in level:
                apply(candidate, [])
            chosen = level[0]
        elif mode is Stacking.EXCLUSIVE:
            chosen = level[0]
            apply(chosen, [])
            if terminal:
                stop = f"the price is set by {chosen.rule.label} (priority {priority})"
            else:
                stop = f"{chosen.rule.label} (priority {priority}) is exclusive"
            skipped += [c.skipped(stop) for c in level[1:]]
        else:
            scored = sorted(((cost(c), c) for c in level), key=lambda s: (s[0][0], s[1].name))
            (best, best_text), chosen = scored[0]
            names = ", ".join(c.name for c in level)
            apply(chosen, [f"best for the buyer of {names}"] if len(level) > 1 else [])
            for (own, own_text), candidate in scored[1:]:
                if own == best:
                    why = f"{chosen.rule.label} is as good for the buyer and comes first by name"
                else:
                    why = (
                        f"{chosen.rule.label} is better for the buyer ({best_text}, not {own_text})"
                    )
                skipped.append(candidate.skipped(why))
        if terminal and stop is None:
            stop = f"the price is set by {chosen.rule.label} (priority {priority})"
    return skipped


def _sku_matches(patterns: Sequence[str], sku: str) -> bool:
    return not patterns or any(fnmatchcase(sku, p) for p in patterns)


def _common_notes(rule: RuleBase, request: PricingRequest) -> list[str] | None:
    """None when the rule does not apply to this buyer, day and currency; else notes."""
    if rule.currency is not None and rule.currency != request.currency:
        return None
    if not rule.valid_on(request.order_date):
        return None
    if not rule.matches_party(request.customer, request.customer_group):
        return None
    notes: list[str] = []
    by_customer = request.customer is not None and request.customer in rule.customers
    if not by_customer and request.customer_group in rule.customer_groups:
        notes.append(f"customer group {request.customer_group}")
    validity = rule.validity()
    if validity:
        notes.append(validity)
    return notes


def _line_candidate(
    entry: LoadedRule, request: PricingRequest, line: PricingLine
) -> _Candidate | None:
    rule = entry.rule
    common = _common_notes(rule, request)
    if common is None:
        return None
    unit = _unit(line.unit)
    if isinstance(rule, ContractRule):
        price = rule.entry_for(line.sku, line.quantity, line.unit)
        if price is None:
            return None
        start = [f"from {_number(price.min_quantity)} {unit}"] if price.min_quantity else []
        return _Candidate(entry, price.price, (*start, *common))
    if isinstance(rule, TierPriceRule):
        if not _sku_matches(rule.skus, line.sku) or rule.unit not in (None, line.unit):
            return None
        tiers = [t for t in rule.tiers if t.min_quantity <= line.quantity]
        if not tiers:
            return None
        tier = tiers[-1]
        return _Candidate(entry, tier.price, (f"from {_number(tier.min_quantity)} {unit}", *common))
    if isinstance(rule, VolumeDiscountRule):
        if not _sku_matches(rule.skus, line.sku):
            return None
        steps = [t for t in rule.tiers if t.min_quantity <= line.quantity]
        if not steps:
            return None
        step = steps[-1]
        return _Candidate(
            entry, step.percent, (f"from {_number(step.min_quantity)} {unit}", *common)
        )
    if isinstance(rule, GroupDiscountRule):
        if not _sku_matches(rule.skus, line.sku):
            return None
        return _Candidate(entry, rule.percent, tuple(common))
    if isinstance(rule, SurchargeRule) and rule.scope == "line":
        if not _sku_matches(rule.skus, line.sku):
            return None
        value = rule.amount if rule.amount is not None else rule.percent
        assert value is not None  # one of them, checked at load
        return _Candidate(entry, value, tuple(common))
    return None


def _reason(rule: RuleBase) -> tuple[str, str | None]:
    if isinstance(rule, LineDiscountRule | OrderDiscountRule | SurchargeRule):
        text = rule.reason or (rule.label[:1].upper() + rule.label[1:])
        return text, rule.reason_code
    return rule.label, None  # pragma: no cover - only discounts and charges have reasons


@dataclass
class _Discounts:
    """A line's discounts so far: price percents add up; allowance percents each apply to
    the line amount at the discounted price."""

    price: Decimal
    quantity: Decimal
    currency: str
    price_percent: Decimal = ZERO
    allowance_percents: tuple[Decimal, ...] = ()

    def net_price(self, extra: Decimal = ZERO) -> Decimal:
        percent = min(self.price_percent + extra, HUNDRED)
        if percent == ZERO:
            return self.price
        return _round_price(self.price * (HUNDRED - percent) / HUNDRED)

    def outcome(
        self, extra_price: Decimal = ZERO, extra_allowance: Decimal | None = None
    ) -> tuple[Decimal, Decimal, list[Decimal]]:
        """(net unit price, line amount, allowance amounts), allowances capped at the amount."""
        net_price = self.net_price(extra_price)
        line_amount = money.round_money(self.quantity * net_price, self.currency)
        percents = self.allowance_percents
        if extra_allowance is not None:
            percents = (*percents, extra_allowance)
        left = line_amount
        amounts: list[Decimal] = []
        for percent in percents:
            amount = min(money.percent_of(line_amount, percent, self.currency), left)
            left -= amount
            amounts.append(amount)
        return net_price, line_amount, amounts


class PricingRules:
    """A validated, ordered set of pricing rules. Build with :meth:`load`, :meth:`parse` or
    :meth:`from_rules`; then :meth:`price` requests."""

    def __init__(self, loaded: Iterable[LoadedRule] = ()) -> None:
        entries = list(loaded)
        issues = check_rule_set(entries)
        if issues:
            raise PricingRulesError(issues)
        self._entries = tuple(
            sorted(
                entries,
                key=lambda e: (KIND_ORDER.index(e.rule.kind), e.rule.priority, e.rule.name),
            )
        )
        self._by_kind = {k: tuple(e for e in self._entries if e.rule.kind is k) for k in Kind}

    # ----------------------------------------------------------------- building

    @classmethod
    def load(cls, paths: str | Path | Iterable[str | Path]) -> PricingRules:
        """Rules from YAML files and directories (a directory: its ``*.yaml`` and ``*.yml``
        files in name order). Every problem is raised at once as a
        :class:`~hub.invoicing.pricing_rules.PricingRulesError` (``file:line:column``)."""
        items = [paths] if isinstance(paths, str | Path) else list(paths)
        return cls(load_rule_paths(Path(p) for p in items))

    @classmethod
    def parse(cls, text: str, file: str = "<string>") -> PricingRules:
        """Rules from the text of one YAML rule file."""
        loaded, issues = parse_rules_text(text, file)
        issues += check_rule_set(loaded)
        if issues:
            raise PricingRulesError(issues)
        return cls(loaded)

    @classmethod
    def from_rules(cls, rules: Iterable[RuleBase | Mapping[str, Any]]) -> PricingRules:
        """Rules built in code (models, or mappings as in YAML, validated here)."""
        loaded: list[LoadedRule] = []
        issues: list[Issue] = []
        for i, rule in enumerate(rules):
            if isinstance(rule, RuleBase):
                model = rule
            else:
                try:
                    model = validate_rule(dict(rule))
                except ValidationError as exc:
                    name = rule.get("name")
                    for e in exc.errors():
                        loc = list(e["loc"])
                        if loc and loc[0] in RULE_TYPES:
                            loc = loc[1:]
                        where = ".".join(map(str, loc))
                        text = f"rule {name!r}: {where}: {e['msg']}"
                        issues.append(Issue(f"<rules>[{i}]", text, rule=str(name)))
                    continue
            entry = LoadedRule(model)
            issues += [entry.issue(sub, message) for sub, message in model.problems()]
            loaded.append(entry)
        issues += check_rule_set(loaded)
        if issues:
            raise PricingRulesError(issues)
        return cls(loaded)

    @property
    def rules(self) -> tuple[RuleBase, ...]:
        """In evaluation order: by kind, priority, name."""
        return tuple(e.rule for e in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"PricingRules({len(self)} rules)"

    # ----------------------------------------------------------------- pricing

    def price(self, request: PricingRequest) -> PricingResult:
        """Price every line, then the document."""
        cur = request.currency
        lines = tuple(self._price_line(request, line) for line in request.lines)
        base = sum((line.net_amount for line in lines), ZERO)
        applied: list[AppliedRule] = []
        skipped: list[SkippedRule] = []
        blocked: dict[Kind, str] = {}

        def candidates(kind: Kind) -> list[_Candidate]:
            found = [
                c for e in self._by_kind[kind] if (c := self._document_candidate(e, request, base))
            ]
            if kind in blocked:
                why = f"{blocked[kind]} excludes {KIND_LABELS[kind]}"
                skipped.extend(c.skipped(why) for c in found)
                return []
            return found

        def record(candidate: _Candidate, explanation: str) -> None:
            applied.append(candidate.applied(explanation))
            for kind in candidate.rule.blocks:
                blocked.setdefault(kind, candidate.rule.label)

        # Document discounts: percent of, or an amount off, the order value; capped at it.
        allowances: list[PricedAllowanceCharge] = []

        def discount_amount(c: _Candidate) -> Decimal:
            rule = c.rule
            assert isinstance(rule, OrderDiscountRule)
            left = base - sum((a.amount for a in allowances), ZERO)
            threshold = rule.thresholds[c.step]
            if threshold.percent is not None:
                full = money.percent_of(base, threshold.percent, cur)
            else:
                full = c.value
            return min(full, left)

        def discount_cost(c: _Candidate) -> tuple[Decimal, str]:
            amount = discount_amount(c)
            return -amount, f"allowance {_amount(amount, cur)}"

        def apply_discount(c: _Candidate, notes: list[str]) -> None:
            rule = c.rule
            assert isinstance(rule, OrderDiscountRule)
            threshold = rule.thresholds[c.step]
            amount = discount_amount(c)
            reason, code = _reason(rule)
            if threshold.percent is not None:
                effect = (
                    f"allowance {_amount(amount, cur)} = {_percent(threshold.percent)} "
                    f"of {_amount(base, cur)}"
                )
            else:
                effect = f"allowance {_amount(amount, cur)}"
            reached = f"order value from {_amount(threshold.min_value, cur)}"
            allowances.append(
                PricedAllowanceCharge(
                    amount=amount,
                    reason=reason,
                    reason_code=code,
                    rule=rule.name,
                    percent=threshold.percent,
                    base_amount=base if threshold.percent is not None else None,
                )
            )
            extra = [reached, *c.notes, *notes, *_blocks_note(rule)]
            record(c, _with(f"{rule.label}: {effect}", extra))

        skipped += _walk(
            candidates(Kind.DOCUMENT_DISCOUNT),
            terminal=False,
            cost=discount_cost,
            apply=apply_discount,
        )

        # Document charges: an amount, or percent of the order value.
        charges: list[PricedAllowanceCharge] = []

        def charge_amount(c: _Candidate) -> Decimal:
            rule = c.rule
            assert isinstance(rule, SurchargeRule)
            if rule.percent is not None:
                return money.percent_of(base, rule.percent, cur)
            return c.value

        def apply_charge(c: _Candidate, notes: list[str]) -> None:
            rule = c.rule
            assert isinstance(rule, SurchargeRule)
            amount = charge_amount(c)
            reason, code = _reason(rule)
            effect = f"charge {_amount(amount, cur)}"
            if rule.percent is not None:
                effect += f" = {_percent(rule.percent)} of {_amount(base, cur)}"
            extra = []
            if rule.below is not None:
                extra.append(f"order value {_amount(base, cur)} below {_amount(rule.below, cur)}")
            charges.append(
                PricedAllowanceCharge(
                    amount=amount,
                    reason=reason,
                    reason_code=code,
                    rule=rule.name,
                    percent=rule.percent,
                    base_amount=base if rule.percent is not None else None,
                )
            )
            record(c, _with(f"{rule.label}: {effect}", [*extra, *c.notes, *notes]))

        skipped += _walk(
            candidates(Kind.DOCUMENT_CHARGE),
            terminal=False,
            cost=lambda c: (charge_amount(c), f"charge {_amount(charge_amount(c), cur)}"),
            apply=apply_charge,
        )

        allowance_total = sum((a.amount for a in allowances), ZERO)
        charge_total = sum((c.amount for c in charges), ZERO)
        return PricingResult(
            currency=cur,
            order_date=request.order_date,
            customer=request.customer,
            customer_group=request.customer_group,
            lines=lines,
            allowances=tuple(allowances),
            charges=tuple(charges),
            applied=tuple(applied),
            skipped=tuple(skipped),
            line_net_total=base,
            allowance_total=allowance_total,
            charge_total=charge_total,
            net_total=base - allowance_total + charge_total,
        )

    def _document_candidate(
        self, entry: LoadedRule, request: PricingRequest, base: Decimal
    ) -> _Candidate | None:
        rule = entry.rule
        notes = _common_notes(rule, request)
        if notes is None:
            return None
        if isinstance(rule, OrderDiscountRule):
            reached = [i for i, t in enumerate(rule.thresholds) if t.min_value <= base]
            if not reached:
                return None
            threshold = rule.thresholds[reached[-1]]
            value = threshold.percent if threshold.percent is not None else threshold.amount
            assert value is not None  # one of them, checked at load
            return _Candidate(entry, value, tuple(notes), reached[-1])
        if isinstance(rule, SurchargeRule) and rule.scope == "document":
            if rule.below is not None and base >= rule.below:
                return None
            return _Candidate(entry, rule.amount or ZERO, tuple(notes))
        return None

    def _price_line(self, request: PricingRequest, line: PricingLine) -> LineResult:
        cur = request.currency
        unit = _unit(line.unit)
        applied: list[AppliedRule] = []
        skipped: list[SkippedRule] = []
        blocked: dict[Kind, str] = {}

        def candidates(kind: Kind) -> list[_Candidate]:
            found = [c for e in self._by_kind[kind] if (c := _line_candidate(e, request, line))]
            if kind in blocked:
                why = f"{blocked[kind]} excludes {KIND_LABELS[kind]}"
                skipped.extend(c.skipped(why) for c in found)
                return []
            return found

        def record(candidate: _Candidate, explanation: str) -> None:
            applied.append(candidate.applied(explanation))
            for kind in candidate.rule.blocks:
                blocked.setdefault(kind, candidate.rule.label)

        # 1. The price: the first level of price rules that applies sets it.
        price = line.unit_price
        price_rule = SHOP

        def apply_price(c: _Candidate, notes: list[str]) -> None:
            nonlocal price, price_rule
            price, price_rule = c.value, c.name
            text = f"{c.rule.label}: {format_price(c.value, cur)} {cur} per {unit}"
            record(c, _with(text, [*c.notes, *notes, *_blocks_note(c.rule)]))

        skipped += _walk(
            candidates(Kind.PRICE),
            terminal=True,
            cost=lambda c: (c.value, f"{format_price(c.value, cur)} {cur} per {unit}"),
            apply=apply_price,
        )
        if price_rule == SHOP:
            text = f"shop price: {format_price(price, cur)} {cur} per {unit}"
            applied.append(
                AppliedRule(
                    rule=SHOP, kind=Kind.PRICE, explanation=f"{text} (no price rule applies)"
                )
            )

        # 2. Line discounts: price percents add up (capped at 100 %); allowance percents
        #    apply each to the line amount at the discounted price.
        state = _Discounts(price=price, quantity=line.quantity, currency=cur)
        done: list[tuple[_Candidate, Decimal, list[str]]] = []

        def discount_cost(c: _Candidate) -> tuple[Decimal, str]:
            rule = c.rule
            assert isinstance(rule, LineDiscountRule)
            if rule.apply_as == "price":
                _, amount, allowances = state.outcome(extra_price=c.value)
            else:
                _, amount, allowances = state.outcome(extra_allowance=c.value)
            net = amount - sum(allowances, ZERO)
            return net, f"line value {_amount(net, cur)}"

        def apply_discount(c: _Candidate, notes: list[str]) -> None:
            rule = c.rule
            assert isinstance(rule, LineDiscountRule)
            percent = c.value
            if rule.apply_as == "price":
                percent = min(percent, HUNDRED - state.price_percent)
                state.price_percent += percent
                if percent != c.value:
                    notes = [
                        *notes,
                        f"capped: price discounts reach 100 %, not {_percent(c.value)}",
                    ]
            else:
                state.allowance_percents = (*state.allowance_percents, percent)
            done.append((c, percent, notes))
            for kind in rule.blocks:
                blocked.setdefault(kind, rule.label)

        skipped += _walk(
            candidates(Kind.LINE_DISCOUNT),
            terminal=False,
            cost=discount_cost,
            apply=apply_discount,
        )
        net_price, line_amount, allowance_amounts = state.outcome()
        allowances: list[PricedAllowanceCharge] = []
        amounts = iter(allowance_amounts)
        for c, percent, notes in done:
            rule = c.rule
            assert isinstance(rule, LineDiscountRule)
            extra = [*c.notes, *notes, *_blocks_note(rule)]
            if rule.apply_as == "price":
                text = f"{rule.label}: {_percent(percent)} off the price"
            else:
                amount = next(amounts)
                reason, code = _reason(rule)
                allowances.append(
                    PricedAllowanceCharge(
                        amount=amount,
                        reason=reason,
                        reason_code=code,
                        rule=rule.name,
                        percent=percent,
                        base_amount=line_amount,
                    )
                )
                text = (
                    f"{rule.label}: allowance {_amount(amount, cur)} = {_percent(percent)} "
                    f"of {_amount(line_amount, cur)}"
                )
            applied.append(c.applied(_with(text, extra)))

        # 3. Line charges, on the line amount after its allowances.
        base = line_amount - sum(allowance_amounts, ZERO)
        charges: list[PricedAllowanceCharge] = []

        def charge_amount(c: _Candidate) -> Decimal:
            rule = c.rule
            assert isinstance(rule, SurchargeRule)
            if rule.percent is not None:
                return money.percent_of(base, rule.percent, cur)
            if rule.per_unit:
                return money.round_money(c.value * line.quantity, cur)
            return c.value

        def apply_charge(c: _Candidate, notes: list[str]) -> None:
            rule = c.rule
            assert isinstance(rule, SurchargeRule)
            amount = charge_amount(c)
            effect = f"charge {_amount(amount, cur)}"
            if rule.percent is not None:
                effect += f" = {_percent(rule.percent)} of {_amount(base, cur)}"
            elif rule.per_unit:
                effect += (
                    f" = {format_price(c.value, cur)} {cur} per {unit} × "
                    f"{_number(line.quantity)} {unit}"
                )
            extra = []
            if rule.below is not None:
                extra.append(f"line value {_amount(base, cur)} below {_amount(rule.below, cur)}")
            reason, code = _reason(rule)
            charges.append(
                PricedAllowanceCharge(
                    amount=amount,
                    reason=reason,
                    reason_code=code,
                    rule=rule.name,
                    percent=rule.percent,
                    base_amount=base if rule.percent is not None else None,
                )
            )
            record(c, _with(f"{rule.label}: {effect}", [*extra, *c.notes, *notes]))

        def charge_candidates() -> list[_Candidate]:
            found = candidates(Kind.LINE_CHARGE)
            out = []
            for c in found:
                rule = c.rule
                assert isinstance(rule, SurchargeRule)
                if rule.below is None or base < rule.below:
                    out.append(c)
            return out

        skipped += _walk(
            charge_candidates(),
            terminal=False,
            cost=lambda c: (charge_amount(c), f"charge {_amount(charge_amount(c), cur)}"),
            apply=apply_charge,
        )
        net = base + sum((c.amount for c in charges), ZERO)
        return LineResult(
            line_id=line.line_id,
            sku=line.sku,
            quantity=line.quantity,
            unit=line.unit,
            shop_unit_price=line.unit_price,
            unit_price=net_price,
            price_rule=price_rule,
            line_amount=line_amount,
            allowances=tuple(allowances),
            charges=tuple(charges),
            net_amount=net,
            applied=tuple(applied),
            skipped=tuple(skipped),
        )


# --------------------------------------------------------------------------- explain


def explain(result: PricingResult) -> list[str]:
    """The result in words, one line per line, rule and total (``o2c invoice preview``)."""
    cur = result.currency
    if result.customer and result.customer_group:
        who = f"customer {result.customer} (group {result.customer_group})"
    elif result.customer:
        who = f"customer {result.customer}"
    elif result.customer_group:
        who = f"customer group {result.customer_group}"
    else:
        who = "an unidentified customer"
    out = [f"Pricing for {who} on {result.order_date} in {cur}"]
    for line in result.lines:
        unit = _unit(line.unit)
        head = (
            f"Line {line.line_id}: {line.sku} × {_number(line.quantity)} {unit} at "
            f"{format_price(line.unit_price, cur)} {cur} = {_amount(line.line_amount, cur)}"
        )
        if line.net_amount != line.line_amount:
            head += f"; net {_amount(line.net_amount, cur)}"
        out.append(head)
        out += [f"  {a.explanation}" for a in line.applied]
        out += [f"  not applied: {s.label}: {s.reason}" for s in line.skipped]
    if result.applied or result.skipped:
        out.append(f"Order value {_amount(result.line_net_total, cur)}:")
        out += [f"  {a.explanation}" for a in result.applied]
        out += [f"  not applied: {s.label}: {s.reason}" for s in result.skipped]
    out.append(
        f"Total: lines {_amount(result.line_net_total, cur)} - allowances "
        f"{_amount(result.allowance_total, cur)} + charges {_amount(result.charge_total, cur)}"
        f" = {_amount(result.net_total, cur)} without VAT"
    )
    return out
