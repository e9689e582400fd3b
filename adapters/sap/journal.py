"""A hub invoice as an SAP general-ledger journal entry (pure functions, no I/O).

The entry is what S/4HANA's SOAP service *Journal Entry - Post (Synchronous)* takes
(:mod:`adapters.sap.soap` sends it): a customer invoice posted directly in FI, as FB70 or
the Fiori app *Post Journal Entries* would, not through billing.

* one **customer line** (``DebtorItem``): the gross amount (BT-112, plus the rounding
  amount BT-114) on the buyer's SAP customer account; SAP takes the G/L account from the
  customer's reconciliation account unless ``reconciliation_account`` names another;
* one **revenue line** (``Item``) per VAT breakdown group (BG-23): the group's taxable
  amount BT-116, which already holds the document allowances and charges of that category
  and rate, exactly as EN 16931 folds them; the revenue account per category and rate;
* one **tax line** (``ProductTaxItem``) per VAT breakdown group: BT-117 with BT-116 as the
  tax base, under the SAP tax code configured for that category and rate;
* a **rounding line** when the invoice has a rounding amount (BT-114).

Signs are SAP's: a debit is positive with ``DebitCreditCode`` ``S`` (Soll), a credit is
negative with ``H`` (Haben). An invoice debits the customer and credits revenue and tax; a
credit note (BT-3 = 381) reverses every line and uses its own document type. Amounts are
exact :class:`~decimal.Decimal` on the currency's minor unit, so every entry balances to
the minor unit by construction (the customer line is the sum of the others) and its tax
lines are the invoice's VAT breakdown; ``tests/test_sap_journal.py`` proves both over
generated invoices.

The invoice number is the entry's ``DocumentReferenceID`` (SAP's reference, XBLNR) and its
``OriginalReferenceDocument``: SAP's duplicate check on the reference lets a repeat be
recognised (see :mod:`adapters.sap.soap`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub import money
from hub.canonical.common import TaxCategory
from hub.canonical.invoice import Invoice, InvoiceTypeCode, VatBreakdown
from hub.errors import MasterDataMissing, Rejected

__all__ = [
    "CREDIT",
    "DEBIT",
    "DebitCredit",
    "DebtorLine",
    "GLLine",
    "JournalConfig",
    "JournalEntry",
    "TaxLine",
    "build_journal_entry",
    "customer_number",
    "is_credit_note",
    "rate_key",
    "revenue_account_for",
    "tax_code_for",
]

TARGET: Final = "sap"
DEBIT: Final = "S"
CREDIT: Final = "H"
DebitCredit = Literal["S", "H"]

# Field lengths of the service (interface facts, see adapters/sap/wsdl/).
REFERENCE_LENGTH: Final = 16  # DocumentReferenceID (XBLNR)
ORIGINAL_REFERENCE_LENGTH: Final = 20  # OriginalReferenceDocument
HEADER_TEXT_LENGTH: Final = 25  # DocumentHeaderText (BKTXT)
ITEM_TEXT_LENGTH: Final = 50  # DocumentItemText (SGTXT)
ASSIGNMENT_LENGTH: Final = 18  # AssignmentReference (ZUONR)

_CATEGORIES: Final = frozenset(c.value for c in TaxCategory)
_KEY = re.compile(r"^\s*(?P<category>[A-Za-z]{1,2})(?:\s+(?P<rate>\d{1,3}(?:\.\d+)?))?\s*$")


def rate_key(category: TaxCategory | str, rate: Decimal | None = None) -> str:
    """The configuration key of a VAT category and rate: ``"S 19"``, ``"S 7.5"``, ``"Z"``.

    The rate is written without trailing zeros (19.00 → ``19``); no rate gives the
    category alone, the key that covers every rate of that category.
    """
    code = category.value if isinstance(category, TaxCategory) else str(category)
    if rate is None:
        return code
    text = format(rate.normalize(), "f")
    return f"{code} {text}"


def _normal_key(key: str) -> str:
    match = _KEY.match(key)
    if match is None:
        raise ValueError(
            f"{key!r} is not a VAT category with an optional rate, e.g. 'S 19', 'S 7', 'Z'"
        )
    category = match["category"].upper()
    if category not in _CATEGORIES:
        raise ValueError(f"{key!r}: {category} is not a VAT category ({sorted(_CATEGORIES)})")
    rate = match["rate"]
    return rate_key(category, Decimal(rate) if rate is not None else None)


def _normal_keys(value: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, code in value.items():
        normal = _normal_key(key)
        if normal in out and out[normal] != code:
            raise ValueError(f"{key!r} and another key both mean {normal!r}")
        out[normal] = code.strip()
    return out


class JournalConfig(BaseModel):
    """How the hub's invoices become journal entries in one SAP company code.

    Keys of ``tax_codes`` and ``revenue_accounts`` are a VAT category (UNTDID 5305: S, Z,
    E, AE, K, G, O, L, M) with an optional rate: ``"S 19"`` covers standard-rated 19 %,
    ``"Z"`` every rate of category Z. A rate-specific key wins over the category alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    company_code: str = Field(min_length=1, max_length=4, description="CompanyCode (BUKRS).")
    tax_codes: dict[str, str] = Field(
        description="SAP tax code (MWSKZ) per VAT category and rate, e.g. "
        "{'S 19': 'A1', 'S 7': 'A2', 'Z': 'A0', 'E': 'A0', 'AE': 'AE', 'K': 'AF', 'G': 'AG', "
        "'O': 'A0'}. An invoice with a category and rate not covered is refused."
    )
    revenue_account: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="Default revenue G/L account, for groups without one in revenue_accounts.",
    )
    revenue_accounts: dict[str, str] = Field(
        default_factory=dict,
        description="Revenue G/L account per VAT category and rate, e.g. {'S 7': '41000000'}.",
    )
    customer: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="One SAP customer number for every buyer (a one-time or collective "
        "account); without it the buyer's own number is read from its external ids.",
    )
    customer_id_system: str = Field(
        default="sap",
        min_length=1,
        description="Key of the buyer's external_ids that holds its SAP customer number.",
    )
    reconciliation_account: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="Alternative reconciliation (receivables) account for the customer line "
        "(AltvRecnclnAccts); None uses the one in the customer master.",
    )
    rounding_account: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="G/L account for an invoice's rounding amount (BT-114).",
    )
    profit_center: str | None = Field(
        default=None, min_length=1, max_length=10, description="Profit center of revenue lines."
    )
    document_type: str = Field(default="DR", min_length=1, max_length=5)
    credit_note_document_type: str = Field(default="DG", min_length=1, max_length=5)
    business_transaction_type: str = Field(default="RFBU", min_length=1, max_length=4)
    original_reference_document_type: str = Field(
        default="BKPFF", min_length=1, max_length=5, description="BKPFF: an FI document."
    )
    logical_system: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="OriginalReferenceDocumentLogicalSystem: the hub as SAP knows it.",
    )
    created_by_user: str = Field(default="O2CHUB", min_length=1, max_length=12)
    tax_item_classification: str | None = Field(
        default="MWS",
        min_length=1,
        max_length=3,
        description="TaxItemClassification of tax lines (transaction key; MWS = output tax).",
    )
    tax_condition_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=4,
        description="ConditionType of tax lines (e.g. MWAS), when the tax procedure needs it.",
    )

    @field_validator("tax_codes", "revenue_accounts")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        return _normal_keys(value)

    @field_validator("tax_codes")
    @classmethod
    def _tax_code_length(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key, code in value.items() if not 1 <= len(code) <= 4]
        if bad:
            raise ValueError(f"tax codes must have 1 to 4 characters: {bad}")
        return value

    @field_validator("revenue_accounts")
    @classmethod
    def _account_length(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key, account in value.items() if not 1 <= len(account) <= 10]
        if bad:
            raise ValueError(f"G/L accounts must have 1 to 10 characters: {bad}")
        return value


@dataclass(frozen=True)
class DebtorLine:
    """The customer (receivable) line."""

    item: str
    customer: str
    amount: Decimal
    debit_credit: DebitCredit
    text: str
    reconciliation_account: str | None = None
    assignment: str | None = None
    due_base_date: date | None = None
    net_days: int | None = None
    discount_days: int | None = None
    discount_percent: Decimal | None = None


@dataclass(frozen=True)
class GLLine:
    """A G/L account line: revenue of one VAT group, or the rounding amount."""

    item: str
    gl_account: str
    amount: Decimal
    debit_credit: DebitCredit
    text: str
    tax_code: str | None = None
    profit_center: str | None = None
    category: TaxCategory | None = None
    rate: Decimal | None = None


@dataclass(frozen=True)
class TaxLine:
    """An output tax line of one VAT group: the tax and the base it was computed on."""

    item: str
    tax_code: str
    amount: Decimal
    base_amount: Decimal
    debit_credit: DebitCredit
    category: TaxCategory
    rate: Decimal
    classification: str | None = None
    condition_type: str | None = None


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry, ready to be sent (amounts signed: debit positive)."""

    company_code: str
    document_type: str
    business_transaction_type: str
    original_reference_document_type: str
    original_reference_document: str
    logical_system: str | None
    reference: str
    header_text: str
    created_by_user: str
    document_date: date
    posting_date: date
    currency: str
    debtor: DebtorLine
    gl_lines: tuple[GLLine, ...]
    tax_lines: tuple[TaxLine, ...]
    credit_note: bool = False

    def amounts(self) -> list[Decimal]:
        """Every line's signed amount, customer line first."""
        return [
            self.debtor.amount,
            *(line.amount for line in self.gl_lines),
            *(line.amount for line in self.tax_lines),
        ]

    def balance(self) -> Decimal:
        """Sum of all signed amounts: zero for an entry SAP can post."""
        return sum(self.amounts(), Decimal(0))


def is_credit_note(invoice: Invoice) -> bool:
    """True for a credit note (BT-3 = 381), which reverses the invoice's signs."""
    return invoice.kind == "credit_note" or invoice.type_code is InvoiceTypeCode.CREDIT_NOTE


def _side(amount: Decimal, natural: DebitCredit) -> DebitCredit:
    """S for a positive amount, H for a negative one; zero keeps the line's usual side."""
    if amount > 0:
        return DEBIT
    if amount < 0:
        return CREDIT
    return natural


def _clean(amount: Decimal, currency: str) -> Decimal:
    """On the minor unit and never ``-0.00``."""
    rounded = money.round_money(amount, currency)
    return rounded if rounded != 0 else abs(rounded)


def _clip(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f")


def _lookup(table: dict[str, str], category: TaxCategory, rate: Decimal) -> str | None:
    return table.get(rate_key(category, rate)) or table.get(rate_key(category))


def tax_code_for(config: JournalConfig, category: TaxCategory, rate: Decimal) -> str:
    """The SAP tax code of a VAT category and rate; Rejected naming the key to set."""
    code = _lookup(config.tax_codes, category, rate)
    if code is None:
        key = rate_key(category, rate)
        raise Rejected(
            f"{TARGET}: no SAP tax code for VAT category {category.value} at "
            f"{_rate_text(rate)} %: set tax_codes['{key}'] (or tax_codes['{category.value}'] "
            "for every rate of the category) in the target's journal options",
            target=TARGET,
            detail=f"tax_codes['{key}'] missing",
        )
    return code


def revenue_account_for(config: JournalConfig, category: TaxCategory, rate: Decimal) -> str:
    """The revenue G/L account of a VAT category and rate, else the default one."""
    account = _lookup(config.revenue_accounts, category, rate) or config.revenue_account
    if account is None:
        key = rate_key(category, rate)
        raise Rejected(
            f"{TARGET}: no revenue G/L account for VAT category {category.value} at "
            f"{_rate_text(rate)} %: set revenue_accounts['{key}'] or revenue_account in the "
            "target's journal options",
            target=TARGET,
            detail=f"revenue_accounts['{key}'] missing",
        )
    return account


def customer_number(invoice: Invoice, config: JournalConfig) -> str:
    """The buyer's SAP customer number (numeric ones padded to 10 digits, as SAP's ALPHA
    conversion stores them); MasterDataMissing when the buyer has none."""
    number = config.customer or invoice.buyer.external_ids.get(config.customer_id_system)
    if not number or not number.strip():
        who = invoice.buyer.company or invoice.buyer.name or "the buyer"
        raise MasterDataMissing(
            f"{TARGET}: invoice {invoice.invoice_number}: {who} has no SAP customer number "
            f"(buyer.external_ids['{config.customer_id_system}']), and the target's journal "
            "options name no customer",
            missing=f"customer of buyer {who}",
            target=TARGET,
        )
    number = number.strip()
    if len(number) > 10:
        raise Rejected(
            f"{TARGET}: customer number {number!r} is longer than SAP's 10 characters",
            target=TARGET,
        )
    return number.zfill(10) if number.isdigit() else number


def _reference(invoice: Invoice) -> str:
    number = invoice.invoice_number
    if len(number) > REFERENCE_LENGTH:
        raise Rejected(
            f"{TARGET}: invoice number {number!r} has {len(number)} characters; SAP's "
            f"reference (DocumentReferenceID, XBLNR) holds {REFERENCE_LENGTH}, and the hub "
            "needs it whole to recognise a repeat",
            target=TARGET,
        )
    return number


@dataclass(frozen=True)
class _Terms:
    due_base_date: date | None = None
    net_days: int | None = None
    discount_days: int | None = None
    discount_percent: Decimal | None = None


def _terms(invoice: Invoice) -> _Terms:
    """Payment terms of the customer line: due date (BT-9) or the terms' net days."""
    terms = invoice.payment_terms
    if invoice.due_date is not None and invoice.due_date >= invoice.issue_date:
        net_days: int | None = (invoice.due_date - invoice.issue_date).days
    elif terms is not None:
        net_days = terms.net_days
    else:
        net_days = None
    if net_days is None:
        return _Terms()
    if terms is not None and terms.discount_percent and terms.discount_days is not None:
        return _Terms(invoice.issue_date, net_days, terms.discount_days, terms.discount_percent)
    return _Terms(invoice.issue_date, net_days)


def _group_text(kind: str, group: VatBreakdown) -> str:
    return f"{kind} {group.category.value} {_rate_text(group.rate)} %"


def build_journal_entry(
    invoice: Invoice, config: JournalConfig, *, posting_date: date | None = None
) -> JournalEntry:
    """The journal entry of ``invoice`` in ``config``'s company code.

    ``posting_date`` defaults to the invoice's issue date (BT-2), which is also the
    document date. Raises :class:`~hub.errors.Rejected` for a VAT category and rate
    without a tax code or revenue account, an invoice number longer than SAP's reference,
    or a rounding amount without ``rounding_account``; :class:`~hub.errors.MasterDataMissing`
    when the buyer has no SAP customer number.
    """
    currency = invoice.currency
    credit_note = is_credit_note(invoice)
    sign = Decimal(-1) if credit_note else Decimal(1)
    # The usual side of each kind of line: the customer is debited on an invoice.
    customer_side: DebitCredit = CREDIT if credit_note else DEBIT
    other_side: DebitCredit = DEBIT if credit_note else CREDIT

    reference = _reference(invoice)
    customer = customer_number(invoice, config)
    totals = invoice.totals
    breakdown = invoice.vat_breakdown

    numbers = iter(range(1, 10_000))
    first_item = next(numbers)

    gl_lines: list[GLLine] = []
    for group in breakdown:
        tax_code = tax_code_for(config, group.category, group.rate)
        account = revenue_account_for(config, group.category, group.rate)
        amount = _clean(-sign * group.taxable_amount, currency)
        gl_lines.append(
            GLLine(
                item=str(next(numbers)),
                gl_account=account,
                amount=amount,
                debit_credit=_side(amount, other_side),
                text=_clip(f"{reference} {_group_text('Revenue', group)}", ITEM_TEXT_LENGTH),
                tax_code=tax_code,
                profit_center=config.profit_center,
                category=group.category,
                rate=group.rate,
            )
        )
    rounding = invoice.rounding_amount
    if rounding != 0:
        if config.rounding_account is None:
            raise Rejected(
                f"{TARGET}: invoice {reference} has a rounding amount of {rounding} "
                f"{currency}: set rounding_account in the target's journal options",
                target=TARGET,
                detail="rounding_account missing",
            )
        amount = _clean(-sign * rounding, currency)
        gl_lines.append(
            GLLine(
                item=str(next(numbers)),
                gl_account=config.rounding_account,
                amount=amount,
                debit_credit=_side(amount, other_side),
                text=_clip(f"{reference} Rounding", ITEM_TEXT_LENGTH),
            )
        )

    tax_lines: list[TaxLine] = []
    for group in breakdown:
        amount = _clean(-sign * group.tax_amount, currency)
        tax_lines.append(
            TaxLine(
                item=str(next(numbers)),
                tax_code=tax_code_for(config, group.category, group.rate),
                amount=amount,
                base_amount=_clean(-sign * group.taxable_amount, currency),
                debit_credit=_side(amount, other_side),
                category=group.category,
                rate=group.rate,
                classification=config.tax_item_classification,
                condition_type=config.tax_condition_type,
            )
        )

    # The customer line carries what the others add up to: the gross amount plus rounding.
    gross = _clean(sign * (totals.tax_inclusive_total + rounding), currency)
    buyer = invoice.buyer.company or invoice.buyer.name or ""
    terms = _Terms() if credit_note else _terms(invoice)
    debtor = DebtorLine(
        item=str(first_item),
        customer=customer,
        amount=gross,
        debit_credit=_side(gross, customer_side),
        text=_clip(f"{reference} {buyer}".strip(), ITEM_TEXT_LENGTH),
        reconciliation_account=config.reconciliation_account,
        assignment=reference if len(reference) <= ASSIGNMENT_LENGTH else None,
        due_base_date=terms.due_base_date,
        net_days=terms.net_days,
        discount_days=terms.discount_days,
        discount_percent=terms.discount_percent,
    )
    kind = "Credit note" if credit_note else "Invoice"
    return JournalEntry(
        company_code=config.company_code,
        document_type=config.credit_note_document_type if credit_note else config.document_type,
        business_transaction_type=config.business_transaction_type,
        original_reference_document_type=config.original_reference_document_type,
        original_reference_document=reference[:ORIGINAL_REFERENCE_LENGTH],
        logical_system=config.logical_system,
        reference=reference,
        header_text=_clip(f"{kind} {reference}", HEADER_TEXT_LENGTH),
        created_by_user=config.created_by_user,
        document_date=invoice.issue_date,
        posting_date=posting_date or invoice.issue_date,
        currency=currency,
        debtor=debtor,
        gl_lines=tuple(gl_lines),
        tax_lines=tuple(tax_lines),
        credit_note=credit_note,
    )
