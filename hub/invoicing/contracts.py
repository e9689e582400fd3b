"""Recurring-billing contracts: the YAML format, its pydantic models and the loader.

A contract file is a mapping with one key, ``contracts``, holding a list of contracts
(docs/billing.md; config/billing/example.yaml). A contract says who is billed (the buyer,
BG-7/BG-8), in which currency, from when to when, how often (``monthly``, ``quarterly``,
``yearly``), whether in ``advance`` or in ``arrears``, on which day periods start, and
what is billed per period (``lines``); ``changes`` are later versions of the lines, each
from its ``effective`` day on, so a period with a change is split pro rata by days
(:mod:`hub.invoicing.billing` computes the periods and amounts).

Everything is checked at load and every problem is reported at once, one per line, as
``file:line:column: contract 'ID': field: reason``, so a mistyped price never reaches an
invoice. Numbers with a fraction are read as :class:`~decimal.Decimal` (hub/yamlsource.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from hub import money
from hub.canonical.common import Address, CurrencyCode, PartyRef, TaxCategory
from hub.errors import Issue, SourceFileError
from hub.invoicing.terms import TermsError, parse_terms
from hub.yamlsource import LocatedDocument, PathKey, load_located, read_source_text

__all__ = [
    "CONTRACT_ID_PATTERN",
    "Contract",
    "ContractChange",
    "ContractLine",
    "ContractsError",
    "Customer",
    "LineTax",
    "LoadedContract",
    "Schedule",
    "Timing",
    "contract_files",
    "load_contract_paths",
    "parse_contracts_text",
]

CONTRACT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$"
"""Letters, digits, ``. _ / -``; at most 128 characters (it is part of the source key)."""

Schedule = Literal["monthly", "quarterly", "yearly"]
Timing = Literal["advance", "arrears"]

EXEMPTION_DEFAULTS: dict[TaxCategory, str] = {
    TaxCategory.REVERSE_CHARGE: "Reverse charge",
    TaxCategory.INTRA_COMMUNITY: "Intra-Community supply",
    TaxCategory.EXPORT: "Export outside the EU",
    TaxCategory.OUTSIDE_SCOPE: "Not subject to VAT",
}
"""BT-120 text for categories that need one, when the contract states none (as tax.py)."""

_NEEDS_REASON = frozenset({TaxCategory.EXEMPT, *EXEMPTION_DEFAULTS})
_RATE_ZERO = frozenset(
    {
        TaxCategory.ZERO,
        TaxCategory.EXEMPT,
        TaxCategory.REVERSE_CHARGE,
        TaxCategory.INTRA_COMMUNITY,
        TaxCategory.EXPORT,
        TaxCategory.OUTSIDE_SCOPE,
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LineTax(_Strict):
    """An explicit VAT category and rate (BT-151/152), instead of the VAT rules."""

    category: TaxCategory
    rate: Decimal = Field(Decimal(0), ge=0, le=100, allow_inf_nan=False)
    exemption_reason: str | None = Field(
        None, min_length=1, description="BT-120; required for E, defaulted for AE, K, G, O."
    )

    def problems(self) -> list[tuple[PathKey, str]]:
        found: list[tuple[PathKey, str]] = []
        if self.category is TaxCategory.STANDARD and self.rate <= 0:
            found.append((("rate",), "category S needs a rate above 0 (BR-S-05)"))
        if self.category in _RATE_ZERO and self.rate != 0:
            found.append((("rate",), f"category {self.category.value} takes rate 0"))
        if self.category is TaxCategory.EXEMPT and not self.exemption_reason:
            found.append((("exemption_reason",), "category E needs the exemption reason (BR-E-10)"))
        if self.category not in _NEEDS_REASON and self.exemption_reason:
            found.append(
                (
                    ("exemption_reason",),
                    f"category {self.category.value} must not state an exemption reason",
                )
            )
        return found

    @property
    def reason(self) -> str | None:
        """BT-120 as it goes on the invoice."""
        return self.exemption_reason or EXEMPTION_DEFAULTS.get(self.category)


class ContractLine(_Strict):
    """What is billed per full period: ``quantity`` × ``unit_price``."""

    sku: str = Field(min_length=1, max_length=255, description="BT-155.")
    name: str = Field(min_length=1, description="BT-153.")
    quantity: Decimal = Field(gt=0, allow_inf_nan=False, description="Per period (BT-129).")
    unit: str = Field("C62", pattern=r"^[A-Z0-9]{2,3}$", description="UN/ECE Rec 20 (BT-130).")
    unit_price: Decimal = Field(ge=0, allow_inf_nan=False, description="Net, BT-146.")
    tax: LineTax | None = Field(None, description="Explicit VAT; else the VAT rules decide.")
    tax_class: str = Field("standard", min_length=1, description="For the VAT rules.")
    supply: Literal["services", "goods"] = Field(
        "services", description="For the VAT rules: across EU borders services are AE, goods K."
    )

    def problems(self) -> list[tuple[PathKey, str]]:
        found: list[tuple[PathKey, str]] = []
        if self.tax is not None:
            if {"tax_class", "supply"} & self.model_fields_set:
                both = "give either `tax` or `tax_class`/`supply` (the VAT rules), not both"
                found.append((("tax",), both))
            found += [(("tax", *path), text) for path, text in self.tax.problems()]
        return found

    def full_amount(self, currency: str) -> Decimal:
        """The line's net amount for a whole period, rounded as EN 16931 rounds BT-131."""
        return money.round_money(self.quantity * self.unit_price, currency)


class Customer(_Strict):
    """The buyer (BG-7) and its address (BG-8), as the invoice names them."""

    name: str = Field(min_length=1, description="Registered name (BT-44).")
    contact: str | None = Field(None, description="Contact point (BT-56).")
    vat_id: str | None = Field(None, min_length=3, description="VAT identifier (BT-48).")
    legal_id: str | None = Field(
        None, description="Legal registration id (BT-47), '<ICD scheme>:<id>' or bare."
    )
    electronic_address: str | None = Field(
        None,
        pattern=r"^(iso6523-actorid-upis::)?[0-9]{4}:\S+$",
        description="Peppol participant id (BT-49), '<EAS scheme>:<id>', e.g. 0088:4000001000005.",
    )
    ids: dict[str, str] = Field(
        default_factory=dict, description="The customer's id in each system (sap, magento, ...)."
    )
    email: str | None = None
    phone: str | None = None
    reference: str | None = Field(None, description="Buyer reference (BT-10).")
    purchase_order: str | None = Field(None, description="Purchase order reference (BT-13).")
    address: Address = Field(description="BG-8.")
    delivery_address: Address | None = Field(None, description="BG-15, if not the address.")

    def problems(self) -> list[tuple[PathKey, str]]:
        found: list[tuple[PathKey, str]] = []
        for key, own in (("peppol", "electronic_address"), ("legal", "legal_id")):
            if key in self.ids:
                found.append((("ids", key), f"write the {key} id as `{own}`, not under `ids`"))
        return found

    def party(self) -> PartyRef:
        """The buyer as canonical documents reference it (BT-49 and BT-47 under the keys
        the UBL renderer reads: ``peppol`` and ``legal``)."""
        external = dict(self.ids)
        if self.electronic_address:
            external["peppol"] = self.electronic_address
        if self.legal_id:
            external["legal"] = self.legal_id
        return PartyRef(
            external_ids=external,
            name=self.contact,
            company=self.name,
            tax_id=self.vat_id,
            email=self.email,
            phone=self.phone,
        )


class ContractChange(_Strict):
    """A new version of the contract's lines from ``effective`` on (that day included)."""

    effective: date
    lines: list[ContractLine] = Field(min_length=1, description="Every line from that day on.")


class Contract(_Strict):
    """A recurring-billing contract (see the module docstring)."""

    id: str = Field(pattern=CONTRACT_ID_PATTERN, description="Unique over all loaded files.")
    description: str | None = None
    customer: Customer
    currency: CurrencyCode = Field(description="BT-5.")
    start: date = Field(description="First day of service.")
    end: date | None = Field(None, description="Last day of service (inclusive); open if absent.")
    schedule: Schedule
    timing: Timing = Field(
        "advance", description="advance: billed when a period starts; arrears: after it ends."
    )
    billing_day: int = Field(
        1, ge=1, le=31, description="Day of the month periods start on (the last day if shorter)."
    )
    anchor_month: int | None = Field(
        None,
        ge=1,
        le=12,
        description="quarterly/yearly: a month periods start in (default January).",
    )
    bill_from: date | None = Field(
        None, description="Days before this were billed elsewhere (e.g. the previous system)."
    )
    payment_terms: str | None = Field(
        None, description="'net 30', '2/10 net 30'; default seller's."
    )
    note: str | None = Field(None, description="Added to the invoice note (BT-22).")
    lines: list[ContractLine] = Field(min_length=1)
    changes: list[ContractChange] = Field(default_factory=list)

    @field_validator("payment_terms")
    @classmethod
    def _terms(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_terms(value)
            except TermsError as exc:
                raise ValueError(exc.message) from None
        return value

    def problems(self) -> list[tuple[PathKey, str]]:
        """Checks across fields, each with the path of the field to fix."""
        found: list[tuple[PathKey, str]] = []
        found += [(("customer", *p), t) for p, t in self.customer.problems()]
        if self.end is not None and self.end < self.start:
            found.append((("end",), f"is before the start ({self.start})"))
        if self.schedule == "monthly" and self.anchor_month is not None:
            found.append((("anchor_month",), "only quarterly and yearly schedules have one"))
        if self.bill_from is not None:
            if self.bill_from < self.start:
                found.append((("bill_from",), f"is before the start ({self.start})"))
            elif self.end is not None and self.bill_from > self.end + timedelta(days=1):
                found.append((("bill_from",), f"is after the day after the end ({self.end})"))
        previous = self.start
        for i, change in enumerate(self.changes):
            at: PathKey = ("changes", i, "effective")
            if change.effective <= previous:
                what = "the start" if i == 0 else "the change before it"
                found.append((at, f"must be after {what} ({previous})"))
            elif self.end is not None and change.effective > self.end:
                found.append((at, f"is after the end ({self.end})"))
            previous = change.effective
        versions: list[tuple[PathKey, list[ContractLine]]] = [(("lines",), self.lines)]
        versions += [(("changes", i, "lines"), c.lines) for i, c in enumerate(self.changes)]
        for base, lines in versions:
            seen: dict[str, int] = {}
            for j, line in enumerate(lines):
                found += [((*base, j, *p), t) for p, t in line.problems()]
                first = seen.setdefault(line.sku, j)
                if first != j:
                    found.append(
                        (
                            (*base, j, "sku"),
                            f"{line.sku!r} is already line {first}; one line per sku",
                        )
                    )
        return found

    @property
    def billing_start(self) -> date:
        """The first day the hub bills."""
        return max(self.start, self.bill_from) if self.bill_from else self.start

    def versions(self) -> list[tuple[date, list[ContractLine]]]:
        """(first day, lines) of each version, oldest first."""
        return [(self.start, self.lines), *((c.effective, c.lines) for c in self.changes)]

    def buyer(self) -> PartyRef:
        return self.customer.party()


# --------------------------------------------------------------------------- errors


class ContractsError(SourceFileError):
    """The contracts are invalid and were not loaded."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class LoadedContract:
    """A validated contract and where it was written (``doc`` None when built in code)."""

    contract: Contract
    doc: LocatedDocument | None = None
    path: PathKey = ()

    def where(self, sub: PathKey = (), *, key: bool = False) -> str:
        if self.doc is None:
            return "<contracts>"
        return str(self.doc.at((*self.path, *sub), key=key))

    def issue(self, sub: PathKey, message: str) -> Issue:
        dotted = _dotted(sub)
        head = f"contract {self.contract.id!r}: "
        return Issue(
            self.where(sub),
            f"{head}{dotted}: {message}" if dotted else f"{head}{message}",
            field=dotted or None,
            rule=self.contract.id,
        )


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _data_path(item: Any, loc: Sequence[str | int]) -> PathKey:
    """The part of a pydantic error location that exists in the data."""
    out: list[str | int] = []
    cursor = item
    for part in loc:
        in_dict = isinstance(cursor, dict) and part in cursor
        in_list = isinstance(cursor, list) and isinstance(part, int) and 0 <= part < len(cursor)
        if not (in_dict or in_list):
            break
        cursor = cursor[part]
        out.append(part)
    return tuple(out)


def _fields_at(path: Sequence[str | int]) -> list[str]:
    """Field names of the model at ``path`` below Contract, for "did you mean" hints."""
    model: type[BaseModel] = Contract
    for part in path:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return []
        inner = _inner_model(info.annotation)
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


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
    "list_type": "should be a list",
    "model_type": "should be a mapping",
    "model_attributes_type": "should be a mapping",
    "dict_type": "should be a mapping",
    "date_from_datetime_inexact": "should be a date (YYYY-MM-DD)",
    "date_type": "should be a date (YYYY-MM-DD)",
    "date_parsing": "should be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "should be a date (YYYY-MM-DD)",
}


def _validation_issue(
    doc: LocatedDocument, at: PathKey, item: dict[str, Any], name: str, error: ErrorDetails
) -> Issue:
    kind = error["type"]
    loc = list(error["loc"])
    where = _data_path(item, loc)
    dotted = _dotted(loc)
    prefix = f"contract {name!r}: " if name else ""
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1]), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return Issue(
            str(doc.at((*at, *where), key=True)),
            f"{prefix}{dotted}: unknown field{hint}",
            field=dotted,
            rule=name or None,
        )
    if kind == "too_short":
        message = "needs at least one entry"
    else:
        message = _MESSAGES.get(kind) or (
            error["msg"].removeprefix("Value error, ")[:1].lower()
            + error["msg"].removeprefix("Value error, ")[1:]
        )
    return Issue(
        str(doc.at((*at, *where))),
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


def parse_contracts_text(text: str, file: str) -> tuple[list[LoadedContract], list[Issue]]:
    """Contracts of one file and the problems found in it (a YAML syntax error raises)."""
    try:
        doc = load_located(text, file)
    except ValueError as exc:  # a scalar YAML itself cannot build, e.g. 2026-13-01
        raise SourceFileError(_bad_scalar(text, file) or f"{file}: {exc}") from None
    data = doc.data
    if data is None:
        return [], []
    if not isinstance(data, dict):
        return [], [Issue(str(doc.at(())), "a contract file is a mapping with a `contracts:` list")]
    issues = [
        Issue(
            str(doc.at((key,), key=True)),
            f"unknown key {key!r}; a contract file has `contracts:`",
        )
        for key in data
        if key != "contracts"
    ]
    raw = data.get("contracts")
    if raw is None:
        return [], issues
    if not isinstance(raw, list):
        issues.append(Issue(str(doc.at(("contracts",))), "contracts: should be a list"))
        return [], issues
    loaded: list[LoadedContract] = []
    for i, item in enumerate(raw):
        at: PathKey = ("contracts", i)
        if not isinstance(item, dict):
            issues.append(Issue(str(doc.at(at)), f"contracts[{i}]: should be a mapping"))
            continue
        raw_id = item.get("id")
        name = str(raw_id) if isinstance(raw_id, str | int) else ""
        try:
            contract = Contract.model_validate(item)
        except ValidationError as exc:
            errors = _relevant(exc.errors(include_url=False, include_input=False))
            issues += [_validation_issue(doc, at, item, name, e) for e in errors]
            continue
        entry = LoadedContract(contract, doc, at)
        issues += [entry.issue(sub, message) for sub, message in contract.problems()]
        loaded.append(entry)
    return loaded, sorted(issues, key=_sort_key)


def _bad_scalar(text: str, file: str) -> str | None:
    """``file:line:column: ...`` of the first scalar YAML cannot construct, if one can't."""
    constructor = yaml.constructor.SafeConstructor()
    stack = [yaml.compose(text, Loader=yaml.SafeLoader)]
    while stack:
        node = stack.pop(0)
        if isinstance(node, yaml.MappingNode):
            stack = [n for pair in node.value for n in pair] + stack
        elif isinstance(node, yaml.SequenceNode):
            stack = list(node.value) + stack
        elif isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except ValueError as exc:
                mark = node.start_mark
                what = "a date" if node.tag.endswith(":timestamp") else "a value"
                return (
                    f"{file}:{mark.line + 1}:{mark.column + 1}: {node.value!r} is not {what}: {exc}"
                )
    return None


def contract_files(path: Path) -> list[Path]:
    """``path`` itself, or a folder's ``*.yaml``/``*.yml`` files in name order."""
    if path.is_dir():
        return sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")),
            key=lambda p: p.name,
        )
    return [path]


def load_contract_paths(paths: Iterable[Path]) -> list[LoadedContract]:
    """Contracts from files and folders; raises :class:`ContractsError` listing every
    problem (file:line:column: contract 'ID': field: reason) if any."""
    loaded: list[LoadedContract] = []
    issues: list[Issue] = []
    for path in paths:
        if not path.exists():
            raise SourceFileError(f"{path}: contracts file or folder not found")
        for file in contract_files(path):
            found, problems = parse_contracts_text(read_source_text(file), str(file))
            loaded += found
            issues += problems
    first: dict[str, LoadedContract] = {}
    for entry in loaded:
        earlier = first.setdefault(entry.contract.id, entry)
        if earlier is not entry:
            issues.append(
                entry.issue(("id",), f"duplicate contract id; first defined at {earlier.where()}")
            )
    if issues:
        raise ContractsError(issues)
    return loaded
