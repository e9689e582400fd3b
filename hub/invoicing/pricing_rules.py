"""Pricing rules: the YAML format, its pydantic models and the loader.

A rule file is a mapping with one key, ``rules``, holding a list of rules; every rule has
a ``type`` (``contract``, ``tier_price``, ``volume_discount``, ``group_discount``,
``order_discount``, ``surcharge``), a unique ``name`` and an explicit ``priority``. The
format and the semantics are described in ``docs/pricing.md``; the engine that applies
the rules is :mod:`hub.invoicing.pricing`.

Everything is checked at load and every problem is reported at once, one per line, as
``file:line:column: rule 'NAME': field: reason``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails

from hub import money
from hub.canonical.common import CurrencyCode
from hub.errors import Issue, SourceFileError
from hub.yamlsource import LocatedDocument, Location, PathKey, load_located, read_source_text

__all__ = [
    "KIND_LABELS",
    "KIND_ORDER",
    "NAME_PATTERN",
    "RULE_TYPES",
    "SHOP",
    "ContractPrice",
    "ContractRule",
    "GroupDiscountRule",
    "Kind",
    "LineDiscountRule",
    "LoadedRule",
    "OrderDiscountRule",
    "PercentTier",
    "PriceTier",
    "PricingRulesError",
    "Rule",
    "RuleBase",
    "Stacking",
    "SurchargeRule",
    "TierPriceRule",
    "ValueThreshold",
    "VolumeDiscountRule",
    "check_rule_set",
    "load_rule_paths",
    "parse_rules_text",
    "validate_rule",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""A rule name: 1 to 64 letters, digits or ``_ . : -``, starting with a letter or digit."""

SHOP = "shop"
"""The name recorded when the shop's own price applies; no rule may be called that."""

PRICE_PLACES = 4
"""Unit prices keep up to four decimals (BT-146)."""


class Kind(StrEnum):
    """What a rule changes. Kinds are evaluated in this order, each on the previous result."""

    PRICE = "price"
    LINE_DISCOUNT = "line_discount"
    LINE_CHARGE = "line_charge"
    DOCUMENT_DISCOUNT = "document_discount"
    DOCUMENT_CHARGE = "document_charge"


KIND_ORDER: tuple[Kind, ...] = tuple(Kind)
LINE_KINDS = (Kind.PRICE, Kind.LINE_DISCOUNT, Kind.LINE_CHARGE)
DOCUMENT_KINDS = (Kind.DOCUMENT_DISCOUNT, Kind.DOCUMENT_CHARGE)

KIND_LABELS: dict[Kind, str] = {
    Kind.PRICE: "price rules",
    Kind.LINE_DISCOUNT: "line discounts",
    Kind.LINE_CHARGE: "line surcharges",
    Kind.DOCUMENT_DISCOUNT: "order discounts",
    Kind.DOCUMENT_CHARGE: "order surcharges",
}


class Stacking(StrEnum):
    """How a rule combines with the other rules of its kind (see docs/pricing.md)."""

    STACK = "stack"
    EXCLUSIVE = "exclusive"
    BEST = "best"


Price = Annotated[Decimal, Field(ge=0, decimal_places=PRICE_PLACES, allow_inf_nan=False)]
"""A unit price in the rule's currency: not negative, at most four decimals."""

Percent = Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False)]
"""A percentage, e.g. 5 for 5 %; more than 0 and at most 100."""

Quantity = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]

Value = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
"""A money amount in the rule's currency; rounded to its minor unit (checked at load)."""

PathProblems = list[tuple[PathKey, str]]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, str_strip_whitespace=True
    )


def _rounded(value: Decimal | None, currency: str | None, places: int | None = None) -> bool:
    if value is None or currency is None or not money.is_currency(currency):
        return True
    allowed = money.minor_units(currency) if places is None else places
    return value == value.quantize(Decimal(1).scaleb(-allowed))


class RuleBase(_Strict):
    """What every rule has: name, priority, stacking, who and when it applies to."""

    KIND: ClassVar[Kind]
    LABEL: ClassVar[str]
    NEEDS_CURRENCY: ClassVar[bool] = False

    name: str = Field(pattern=NAME_PATTERN, description="Unique over all loaded files.")
    description: str | None = Field(None, description="Free text for the people who edit rules.")
    priority: int = Field(ge=0, description="Lower runs first; compared within the rule's kind.")
    stacking: Stacking | None = Field(
        None, description="stack | exclusive | best; default exclusive for prices, else stack."
    )
    customers: tuple[str, ...] = Field((), description="Party ids the rule applies to.")
    customer_groups: tuple[str, ...] = Field((), description="Customer groups it applies to.")
    currency: CurrencyCode | None = Field(
        None, description="ISO 4217; the rule applies to documents in this currency only."
    )
    valid_from: date | None = Field(None, description="First day the rule applies (inclusive).")
    valid_to: date | None = Field(None, description="Last day the rule applies (inclusive).")
    blocks: tuple[Kind, ...] = Field(
        (), description="Later kinds that do not apply where this rule applied."
    )

    @property
    def kind(self) -> Kind:
        return self.KIND

    @property
    def effective_stacking(self) -> Stacking:
        if self.stacking is not None:
            return self.stacking
        return Stacking.EXCLUSIVE if self.kind is Kind.PRICE else Stacking.STACK

    @property
    def label(self) -> str:
        """``contract ACME-2026``: the rule's type in words and its name."""
        return f"{self.LABEL} {self.name}"

    def problems(self) -> PathProblems:
        """Checks across fields, each with the path of the field at fault."""
        found: PathProblems = []
        if self.name == SHOP:
            found.append((("name",), f"the name {SHOP!r} is reserved for the shop's own price"))
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            found.append(
                (("valid_to",), f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
            )
        if self.NEEDS_CURRENCY and self.currency is None:
            found.append((("currency",), "a currency is required: this rule has money amounts"))
        if self.kind is Kind.PRICE and self.stacking is Stacking.STACK:
            found.append(
                (
                    ("stacking",),
                    "price rules cannot stack (a line has one price); use exclusive or best",
                )
            )
        own = KIND_ORDER.index(self.kind)
        scope = LINE_KINDS if self.kind in LINE_KINDS else DOCUMENT_KINDS
        for i, blocked in enumerate(self.blocks):
            if blocked not in scope or KIND_ORDER.index(blocked) <= own:
                later = [k.value for k in scope if KIND_ORDER.index(k) > own]
                allowed = ", ".join(later) if later else "none"
                found.append(
                    (
                        ("blocks", i),
                        (
                            f"a {self.kind.value} rule can only block later kinds of its own "
                            f"scope ({allowed}), not {blocked.value}"
                        ),
                    )
                )
        return found

    def matches_party(self, customer: str | None, group: str | None) -> bool:
        """No customers and no groups: everyone. Otherwise the customer or its group is listed."""
        if not self.customers and not self.customer_groups:
            return True
        return (customer is not None and customer in self.customers) or (
            group is not None and group in self.customer_groups
        )

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def validity(self) -> str | None:
        """``valid 2026-01-01..2026-12-31``, ``valid from ...``, ``valid until ...`` or None."""
        if self.valid_from and self.valid_to:
            return f"valid {self.valid_from}..{self.valid_to}"
        if self.valid_from:
            return f"valid from {self.valid_from}"
        if self.valid_to:
            return f"valid until {self.valid_to}"
        return None


def _increasing(values: Sequence[Decimal], field: str, what: str) -> PathProblems:
    found: PathProblems = []
    for i in range(1, len(values)):
        if values[i] <= values[i - 1]:
            found.append(
                (
                    (field, i, what),
                    f"{what} {values[i]} must be greater than the previous one ({values[i - 1]})",
                )
            )
    return found


class ContractPrice(_Strict):
    """One agreed price: a SKU, its price per unit and the quantity it starts at."""

    sku: str = Field(min_length=1)
    price: Price
    min_quantity: Quantity = Field(Decimal(0), description="Line quantity at least this.")
    unit: str | None = Field(None, description="UN/ECE Rec 20 unit; any unit when absent.")


class ContractRule(RuleBase):
    """A price list agreed with a customer or a customer group."""

    KIND: ClassVar[Kind] = Kind.PRICE
    LABEL: ClassVar[str] = "contract"
    NEEDS_CURRENCY: ClassVar[bool] = True

    type: Literal["contract"]
    prices: tuple[ContractPrice, ...] = Field(min_length=1)

    def problems(self) -> PathProblems:
        found = super().problems()
        if not self.customers and not self.customer_groups:
            found.append(
                (("customers",), "a contract needs `customers` or `customer_groups` (or both)")
            )
        seen: dict[tuple[str, Decimal, str | None], int] = {}
        for i, entry in enumerate(self.prices):
            key = (entry.sku, entry.min_quantity, entry.unit)
            if key in seen:
                found.append(
                    (
                        ("prices", i, "sku"),
                        (
                            f"prices[{seen[key]}] already prices {entry.sku} "
                            f"from quantity {entry.min_quantity}"
                        ),
                    )
                )
            seen.setdefault(key, i)
        return found

    def entry_for(self, sku: str, quantity: Decimal, unit: str) -> ContractPrice | None:
        """The entry for this SKU with the highest ``min_quantity`` the line reaches; an entry
        for the line's unit wins over one for any unit."""
        fitting = [
            e
            for e in self.prices
            if e.sku == sku and e.min_quantity <= quantity and e.unit in (None, unit)
        ]
        if not fitting:
            return None
        return max(fitting, key=lambda e: (e.min_quantity, e.unit is not None))


class PriceTier(_Strict):
    min_quantity: Quantity
    price: Price


class TierPriceRule(RuleBase):
    """Prices by line quantity for a set of SKUs."""

    KIND: ClassVar[Kind] = Kind.PRICE
    LABEL: ClassVar[str] = "tier price"
    NEEDS_CURRENCY: ClassVar[bool] = True

    type: Literal["tier_price"]
    skus: tuple[str, ...] = Field(min_length=1, description="SKUs or patterns (GLV-*).")
    unit: str | None = Field(None, description="Only lines in this unit; any when absent.")
    tiers: tuple[PriceTier, ...] = Field(min_length=1)

    def problems(self) -> PathProblems:
        found = super().problems()
        found += _increasing([t.min_quantity for t in self.tiers], "tiers", "min_quantity")
        return found


class PercentTier(_Strict):
    min_quantity: Quantity
    percent: Percent


class LineDiscountRule(RuleBase):
    KIND: ClassVar[Kind] = Kind.LINE_DISCOUNT

    skus: tuple[str, ...] = Field((), description="SKUs or patterns; all SKUs when empty.")
    apply_as: Literal["price", "allowance"] = Field(
        "price", description="Lower the unit price, or add a line allowance (BG-27)."
    )
    reason: str | None = Field(None, description="Allowance reason text (BT-139).")
    reason_code: str | None = Field(None, description="UNTDID 5189 code (BT-140), e.g. 95.")


class VolumeDiscountRule(LineDiscountRule):
    """Percent off by line quantity."""

    LABEL: ClassVar[str] = "volume discount"

    type: Literal["volume_discount"]
    tiers: tuple[PercentTier, ...] = Field(min_length=1)

    def problems(self) -> PathProblems:
        found = super().problems()
        found += _increasing([t.min_quantity for t in self.tiers], "tiers", "min_quantity")
        return found


class GroupDiscountRule(LineDiscountRule):
    """Percent off for the customer groups listed."""

    LABEL: ClassVar[str] = "customer group discount"

    type: Literal["group_discount"]
    percent: Percent

    def problems(self) -> PathProblems:
        found = super().problems()
        if not self.customer_groups:
            found.append((("customer_groups",), "a group discount needs `customer_groups`"))
        return found


class ValueThreshold(_Strict):
    """From this order value on: a percentage or an amount off."""

    min_value: Value
    percent: Percent | None = None
    amount: Value | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ValueThreshold:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give either `percent` or `amount`")
        return self


class OrderDiscountRule(RuleBase):
    """A document allowance once the order's net value reaches a threshold."""

    KIND: ClassVar[Kind] = Kind.DOCUMENT_DISCOUNT
    LABEL: ClassVar[str] = "order discount"
    NEEDS_CURRENCY: ClassVar[bool] = True

    type: Literal["order_discount"]
    thresholds: tuple[ValueThreshold, ...] = Field(min_length=1)
    reason: str | None = Field(None, description="Allowance reason text (BT-97).")
    reason_code: str | None = Field(None, description="UNTDID 5189 code (BT-98).")

    def problems(self) -> PathProblems:
        found = super().problems()
        found += _increasing([t.min_value for t in self.thresholds], "thresholds", "min_value")
        for i, t in enumerate(self.thresholds):
            for field in ("min_value", "amount"):
                if not _rounded(getattr(t, field), self.currency):
                    found.append((("thresholds", i, field), _too_many_places(field, self.currency)))
        return found


class SurchargeRule(RuleBase):
    """A fixed or percentage charge on a line or on the document."""

    LABEL: ClassVar[str] = "surcharge"

    type: Literal["surcharge"]
    scope: Literal["line", "document"]
    amount: Value | None = Field(None, description="Fixed amount (per line, unit or order).")
    percent: Percent | None = Field(None, description="Percent of the line or order value.")
    per_unit: bool = Field(False, description="Line scope: `amount` per unit of quantity.")
    below: Value | None = Field(None, description="Only when the value is below this.")
    skus: tuple[str, ...] = Field((), description="Line scope: SKUs or patterns; empty = all.")
    reason: str | None = Field(None, description="Charge reason text (BT-104 / BT-144).")
    reason_code: str | None = Field(None, description="UNTDID 7161 code (BT-105 / BT-145).")

    @property
    def kind(self) -> Kind:
        return Kind.LINE_CHARGE if self.scope == "line" else Kind.DOCUMENT_CHARGE

    def problems(self) -> PathProblems:
        found = super().problems()
        if (self.amount is None) == (self.percent is None):
            found.append((("amount",), "give either `amount` or `percent`"))
        if self.currency is None and (self.amount is not None or self.below is not None):
            found.append((("currency",), "a currency is required with `amount` or `below`"))
        if self.per_unit and (self.scope != "line" or self.amount is None):
            found.append((("per_unit",), "per_unit needs `scope: line` and an `amount`"))
        if self.skus and self.scope != "line":
            found.append((("skus",), "skus need `scope: line`"))
        places = PRICE_PLACES if self.per_unit else None
        if not _rounded(self.amount, self.currency, places):
            found.append((("amount",), _too_many_places("amount", self.currency, places)))
        if not _rounded(self.below, self.currency):
            found.append((("below",), _too_many_places("below", self.currency)))
        return found


def _too_many_places(field: str, currency: str | None, places: int | None = None) -> str:
    allowed = money.minor_units(currency or "EUR") if places is None else places
    return f"{field} has more than {allowed} decimals ({currency})"


Rule = Annotated[
    ContractRule
    | TierPriceRule
    | VolumeDiscountRule
    | GroupDiscountRule
    | OrderDiscountRule
    | SurchargeRule,
    Field(discriminator="type"),
]
RULE_TYPES: dict[str, type[RuleBase]] = {
    "contract": ContractRule,
    "tier_price": TierPriceRule,
    "volume_discount": VolumeDiscountRule,
    "group_discount": GroupDiscountRule,
    "order_discount": OrderDiscountRule,
    "surcharge": SurchargeRule,
}
_RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)


def validate_rule(data: Any) -> RuleBase:
    """One rule from plain data (as read from YAML); raises pydantic's ValidationError."""
    rule: RuleBase = _RULE_ADAPTER.validate_python(data)
    return rule


# --------------------------------------------------------------------------- errors


class PricingRulesError(SourceFileError):
    """The pricing rules are invalid and were not loaded."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class LoadedRule:
    """A validated rule and where it was written (``doc`` is None for rules built in code)."""

    rule: RuleBase
    doc: LocatedDocument | None = None
    path: PathKey = ()

    @property
    def source(self) -> Location | None:
        return self.doc.at(self.path) if self.doc is not None else None

    def where(self, sub: PathKey = (), *, key: bool = False) -> str:
        if self.doc is None:
            return "<rules>"
        return str(self.doc.at((*self.path, *sub), key=key))

    def issue(self, sub: PathKey, message: str, *, key: bool = False) -> Issue:
        dotted = _dotted(sub)
        head = f"rule {self.rule.name!r}: "
        text = f"{head}{dotted}: {message}" if dotted else f"{head}{message}"
        return Issue(self.where(sub, key=key), text, field=dotted or None, rule=self.rule.name)


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _data_path(item: Any, loc: Sequence[str | int]) -> PathKey:
    """The part of a pydantic error location that exists in the data (drops union tags)."""
    out: list[str | int] = []
    cursor = item
    for part in loc:
        in_dict = isinstance(cursor, dict) and part in cursor
        in_list = isinstance(cursor, list) and isinstance(part, int) and 0 <= part < len(cursor)
        if not (in_dict or in_list):
            continue
        cursor = cursor[part]
        out.append(part)
    return tuple(out)


def _model_fields_at(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """Field names of the (nested) model at ``path`` below ``model``, for hints."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None or isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _inner_model(info.annotation)
    return list(current.model_fields) if current is not None else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_MESSAGES = {
    "missing": "is required",
    "tuple_type": "should be a list",
    "list_type": "should be a list",
    "model_type": "should be a mapping",
    "model_attributes_type": "should be a mapping",
}


def _validation_issue(
    doc: LocatedDocument, at: PathKey, item: dict[str, Any], name: str, error: ErrorDetails
) -> Issue:
    kind = error["type"]
    loc = list(error["loc"])
    if loc and loc[0] == item.get("type") and str(loc[0]) in RULE_TYPES:
        loc = loc[1:]
    where_path = _data_path(item, loc)
    prefix = f"rule {name!r}: " if name else ""
    if kind == "union_tag_not_found":
        return Issue(
            str(doc.at(at)),
            f"{prefix}a rule needs a `type`: one of {', '.join(RULE_TYPES)}",
            rule=name or None,
        )
    if kind == "union_tag_invalid":
        given = str(item.get("type"))
        close = difflib.get_close_matches(given, RULE_TYPES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(RULE_TYPES)}"
        return Issue(
            str(doc.at((*at, "type"))),
            f"{prefix}type: unknown rule type {given!r}; {hint}",
            field="type",
            rule=name or None,
        )
    dotted = _dotted(tuple(loc))
    if kind == "extra_forbidden":
        model = RULE_TYPES.get(str(item.get("type")))
        known = _model_fields_at(model, loc[:-1]) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return Issue(
            str(doc.at((*at, *where_path), key=True)),
            f"{prefix}{dotted}: unknown field{hint}",
            field=dotted,
            rule=name or None,
        )
    if kind == "too_short":
        needed = int((error.get("ctx") or {}).get("min_length", 1))
        message = f"needs at least {needed} {'entry' if needed == 1 else 'entries'}"
    else:
        message = _MESSAGES.get(kind) or _lowercase_first(
            error["msg"].removeprefix("Value error, ")
        )
    return Issue(
        str(doc.at((*at, *where_path))),
        f"{prefix}{dotted}: {message}" if dotted else f"{prefix}{message}",
        field=dotted or None,
        rule=name or None,
    )


def _relevant(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop a list's "too short" when its items failed (pydantic counts only valid ones)."""
    locs = [tuple(e["loc"]) for e in errors]
    return [
        e
        for e in errors
        if e["type"] != "too_short"
        or not any(len(o) > len(e["loc"]) and o[: len(e["loc"])] == tuple(e["loc"]) for o in locs)
    ]


def _sort_key(issue: Issue) -> tuple[str, int, int]:
    file, _, rest = issue.where.rpartition(":")
    file, _, line = file.rpartition(":")
    try:
        return file, int(line), int(rest)
    except ValueError:
        return issue.where, 0, 0


# --------------------------------------------------------------------------- loading


def parse_rules_text(text: str, file: str) -> tuple[list[LoadedRule], list[Issue]]:
    """Rules of one file and the problems found in it (a YAML syntax error raises)."""
    doc = load_located(text, file)
    data = doc.data
    if data is None:
        return [], []
    if not isinstance(data, dict):
        return [], [Issue(str(doc.at(())), "a rule file is a mapping with a `rules:` list")]
    issues: list[Issue] = [
        Issue(str(doc.at((key,), key=True)), f"unknown key {key!r}; a rule file has `rules:`")
        for key in data
        if key != "rules"
    ]
    raw = data.get("rules")
    if raw is None:
        return [], issues
    if not isinstance(raw, list):
        issues.append(Issue(str(doc.at(("rules",))), "rules: should be a list of rules"))
        return [], issues
    loaded: list[LoadedRule] = []
    for i, item in enumerate(raw):
        at: PathKey = ("rules", i)
        if not isinstance(item, dict):
            issues.append(Issue(str(doc.at(at)), f"rules[{i}]: a rule should be a mapping"))
            continue
        raw_name = item.get("name")
        name = str(raw_name) if isinstance(raw_name, str | int) else ""
        try:
            rule = _RULE_ADAPTER.validate_python(item)
        except ValidationError as exc:
            errors = _relevant(exc.errors())
            issues += [_validation_issue(doc, at, item, name, err) for err in errors]
            continue
        entry = LoadedRule(rule, doc, at)
        issues += [entry.issue(sub, message) for sub, message in rule.problems()]
        loaded.append(entry)
    return loaded, sorted(issues, key=_sort_key)


def _rule_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")),
            key=lambda p: p.name,
        )
    return [path]


def load_rule_paths(paths: Iterable[Path]) -> list[LoadedRule]:
    """Rules from files and directories (a directory's ``*.yaml``/``*.yml`` in name order)."""
    loaded: list[LoadedRule] = []
    issues: list[Issue] = []
    for path in paths:
        if not path.exists():
            raise SourceFileError(f"{path}: file not found")
        for file in _rule_files(path):
            found, problems = parse_rules_text(read_source_text(file), str(file))
            loaded += found
            issues += problems
    issues += check_rule_set(loaded)
    if issues:
        raise PricingRulesError(issues)
    return loaded


def check_rule_set(loaded: Sequence[LoadedRule]) -> list[Issue]:
    """Checks across rules: unique names; one stacking mode per kind and priority."""
    issues: list[Issue] = []
    names: dict[str, LoadedRule] = {}
    levels: dict[tuple[Kind, int], LoadedRule] = {}
    for entry in loaded:
        rule = entry.rule
        first = names.setdefault(rule.name, entry)
        if first is not entry:
            issues.append(
                entry.issue(
                    ("name",),
                    f"duplicate rule name; first defined at {first.where()}",
                )
            )
            continue
        level = levels.setdefault((rule.kind, rule.priority), entry)
        if level.rule.effective_stacking is not rule.effective_stacking:
            issues.append(
                entry.issue(
                    ("stacking",) if rule.stacking is not None else ("priority",),
                    f"stacking {rule.effective_stacking.value!r} differs from "
                    f"{level.rule.effective_stacking.value!r} of rule {level.rule.name!r} "
                    f"({level.where()}), which has the same kind ({rule.kind.value}) and "
                    f"priority ({rule.priority}); rules of one kind that share a priority "
                    "must share their stacking",
                )
            )
    return issues
