"""Building blocks shared by every canonical document: codes, addresses, parties, tax.

Canonical documents are the hub's own language: adapters translate to and from them and
never see each other's shapes. They are strict (unknown fields are refused) so that a
mapping that writes a misspelt field fails at load, not in the ERP.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub import money


def _currency(code: str) -> str:
    normal = code.strip().upper()
    if not money.is_currency(normal):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return normal


def _country(code: str) -> str:
    normal = code.strip().upper()
    if len(normal) != 2 or pycountry.countries.get(alpha_2=normal) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return normal


CurrencyCode = Annotated[str, AfterValidator(_currency)]
"""ISO 4217 alphabetic code, e.g. EUR (BT-5 for invoices)."""

CountryCode = Annotated[str, AfterValidator(_country)]
"""ISO 3166-1 alpha-2 code, e.g. DE."""

Amount = Annotated[Decimal, Field(allow_inf_nan=False)]
"""A money amount in the document's currency; rounded to its minor unit."""

Quantity = Annotated[Decimal, Field(allow_inf_nan=False)]

Rate = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
"""A percentage, e.g. 19 for 19 % VAT."""

SystemIds = dict[str, str]
"""The document's identifier in each system, keyed by system name (magento, sap, ...)."""


class Canonical(BaseModel):
    """Base of every canonical model: strict, with no unknown fields."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)

    VOLATILE_FIELDS: ClassVar[frozenset[str]] = frozenset()
    """Fields that change without the document changing (e.g. the source's ``updated_at``):
    left out when the hub decides whether a document is new or a repeat."""


class TaxCategory(StrEnum):
    """VAT category code (UNTDID 5305 subset used by EN 16931, BT-151 / BT-118)."""

    STANDARD = "S"
    ZERO = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    OUTSIDE_SCOPE = "O"
    CANARY_IGIC = "L"
    CEUTA_IPSI = "M"


class Address(Canonical):
    """A postal address (EN 16931 BG-5 / BG-8 / BG-15)."""

    company: str | None = Field(None, description="Company name on the address.")
    name: str | None = Field(None, description="Person the address is for.")
    lines: list[str] = Field(default_factory=list, description="Street lines (BT-35, BT-36).")
    city: str = Field(description="City (BT-37).")
    postal_code: str | None = Field(None, description="Post code (BT-38).")
    region: str | None = Field(None, description="Region or state name (BT-39).")
    region_code: str | None = Field(None, description="Region code, e.g. NY.")
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 country (BT-40).")


class Contact(Canonical):
    """A person to reach at a party."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    role: str | None = Field(None, description="e.g. purchasing, accounts payable.")


class PaymentTerms(Canonical):
    """Net days and an optional early-payment discount, e.g. 2/10 net 30."""

    code: str | None = Field(None, description="The terms' code in the source system.")
    description: str | None = Field(None, description="Payment terms text (BT-20).")
    net_days: int | None = Field(None, ge=0, description="Days until the amount is due.")
    discount_percent: Rate | None = Field(None, description="Early-payment discount.")
    discount_days: int | None = Field(None, ge=0, description="Days the discount applies.")


class PartyRef(Canonical):
    """A party as referenced from a document: enough to find or create it in a target."""

    external_ids: SystemIds = Field(default_factory=dict, description="Id in each system.")
    name: str | None = Field(None, description="Person or company name (BT-44 / BT-27).")
    company: str | None = Field(None, description="Registered company name.")
    tax_id: str | None = Field(None, description="VAT identifier (BT-48 / BT-31).")
    email: str | None = None
    phone: str | None = None
    customer_group: str | None = Field(None, description="Pricing group in the shop.")
    is_guest: bool = Field(False, description="Ordered without a customer account.")


def unrounded_amounts(model: BaseModel, currency: str) -> list[str]:
    """Dotted paths of amounts below ``model`` with digits past the currency's minor unit.

    Each model lists its money fields in ``AMOUNT_FIELDS``; unit prices are not listed
    because they may carry more decimals (BT-146).
    """
    found: list[str] = []

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, BaseModel):
            names: tuple[str, ...] = getattr(obj, "AMOUNT_FIELDS", ())
            for name in type(obj).model_fields:
                value = getattr(obj, name)
                where = f"{path}.{name}" if path else name
                if name in names and value is not None and not money.is_rounded(value, currency):
                    found.append(where)
                walk(value, where)
        elif isinstance(obj, list):
            for i, item in enumerate(obj):
                walk(item, f"{path}[{i}]")

    walk(model, "")
    return found


def require_rounded(model: BaseModel, currency: str) -> None:
    """Raise ValueError naming every amount with digits past the currency's minor unit."""
    bad = unrounded_amounts(model, currency)
    if bad:
        places = money.minor_units(currency)
        raise ValueError(
            f"amounts with more than {places} decimals for {currency}: {', '.join(bad)}"
        )
