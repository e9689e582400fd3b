"""Which VAT category and rate an invoice line gets (EN 16931 BT-151/BT-152, BT-120/121).

Decided from where the seller is, where the goods go (or the service is received), whether
the buyer is a business with a VAT id, and the product's tax class, by the EU VAT rules a
B2B seller meets most:

* a tax class listed as exempt → **E**, with its exemption reason;
* a tax class listed for domestic reverse charge (construction, scrap, …) in the seller's
  country, buyer with a VAT id → **AE** (VATEX-EU-AE);
* delivery inside the seller's country → **S** at that country's rate for the class (a
  reduced rate where the country has one for it), **Z** where the country zero-rates it;
* goods to a business in another EU country (buyer VAT id required) → **K**,
  intra-community supply (VATEX-EU-IC); services to it → **AE**, reverse charge;
* goods or services to a consumer in another EU country → **S** at the seller's rate, or
  the destination's rate when the seller is registered for OSS (``oss: true``);
* goods leaving the EU → **G**, export (VATEX-EU-G); services to a business outside the EU →
  **O**, outside the scope of EU VAT (VATEX-EU-O).

Rates are Decimal percentages from the configuration (they change; the hub ships none as
law). A rule that needs a VAT id the buyer does not have is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.canonical.common import TaxCategory
from hub.errors import HubError

__all__ = ["EU_COUNTRIES", "CountryRates", "TaxConfig", "TaxDecision", "TaxError", "determine"]

EU_COUNTRIES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)
"""The 27 member states (ISO 3166 codes; Greece is GR here, EL in VAT ids)."""

ZERO = Decimal(0)


class TaxError(HubError):
    """A line's tax cannot be decided; the message names what is missing."""


class CountryRates(BaseModel):
    """One country's VAT rates, in percent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    standard: Decimal = Field(ge=0, le=100)
    reduced: dict[str, Decimal] = Field(
        default_factory=dict, description="Tax class → reduced rate, e.g. books: 7."
    )
    zero_rated: frozenset[str] = Field(
        default_factory=frozenset, description="Tax classes taxed at 0 % (category Z)."
    )


class TaxConfig(BaseModel):
    """The seller's VAT position and the rates it applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seller_country: str = Field(pattern=r"^[A-Z]{2}$")
    rates: dict[str, CountryRates] = Field(description="Country → rates (at least the seller's).")
    oss: bool = Field(False, description="Registered for the EU One-Stop Shop.")
    exempt: dict[str, str] = Field(
        default_factory=dict,
        description="Tax class → exemption reason text (BT-120), e.g. medical: 'Exempt '"
        "'under Article 132(1)(b) of Directive 2006/112/EC'.",
    )
    exempt_codes: dict[str, str] = Field(
        default_factory=dict, description="Tax class → VATEX code (BT-121), e.g. VATEX-EU-132-1B."
    )
    domestic_reverse_charge: frozenset[str] = Field(
        default_factory=frozenset, description="Tax classes under domestic reverse charge."
    )

    @field_validator("rates")
    @classmethod
    def _upper(cls, value: dict[str, CountryRates]) -> dict[str, CountryRates]:
        return {k.upper(): v for k, v in value.items()}


@dataclass(frozen=True)
class TaxDecision:
    category: TaxCategory
    rate: Decimal | None
    """Percent; None for category O (no rate, BR-O-5)."""
    exemption_reason_code: str | None = None
    exemption_reason: str | None = None
    why: str = ""


def _rates(config: TaxConfig, country: str) -> CountryRates:
    try:
        return config.rates[country]
    except KeyError:
        raise TaxError(f"no VAT rates configured for {country} (tax.rates.{country})") from None


def _domestic(rates: CountryRates, country: str, tax_class: str) -> TaxDecision:
    if tax_class in rates.zero_rated:
        return TaxDecision(TaxCategory.ZERO, ZERO, why=f"{tax_class} is zero-rated in {country}")
    rate = rates.reduced.get(tax_class, rates.standard)
    kind = "reduced" if tax_class in rates.reduced else "standard"
    return TaxDecision(TaxCategory.STANDARD, rate, why=f"{kind} rate of {country}")


def determine(
    config: TaxConfig,
    *,
    ship_to_country: str,
    buyer_vat_id: str | None,
    tax_class: str = "standard",
    supply: Literal["goods", "services"] = "goods",
) -> TaxDecision:
    """The VAT category and rate of one line (see the module docstring)."""
    seller = config.seller_country
    destination = ship_to_country.upper()
    business = bool(buyer_vat_id and buyer_vat_id.strip())
    if tax_class in config.exempt:
        return TaxDecision(
            TaxCategory.EXEMPT,
            ZERO,
            config.exempt_codes.get(tax_class),
            config.exempt[tax_class],
            why=f"{tax_class} is exempt",
        )
    if destination == seller:
        if tax_class in config.domestic_reverse_charge and business:
            return TaxDecision(
                TaxCategory.REVERSE_CHARGE,
                ZERO,
                "VATEX-EU-AE",
                "Reverse charge",
                why=f"domestic reverse charge for {tax_class}",
            )
        return _domestic(_rates(config, seller), seller, tax_class)
    inside_eu = seller in EU_COUNTRIES and destination in EU_COUNTRIES
    if inside_eu and business:
        if supply == "goods":
            return TaxDecision(
                TaxCategory.INTRA_COMMUNITY,
                ZERO,
                "VATEX-EU-IC",
                "Intra-Community supply",
                why=f"goods from {seller} to a business in {destination}",
            )
        return TaxDecision(
            TaxCategory.REVERSE_CHARGE,
            ZERO,
            "VATEX-EU-AE",
            "Reverse charge",
            why=f"services to a business in {destination}",
        )
    if inside_eu:  # a consumer in another member state
        country = destination if config.oss else seller
        decision = _domestic(_rates(config, country), country, tax_class)
        return TaxDecision(
            decision.category, decision.rate, why=f"{decision.why} (consumer in {destination})"
        )
    if seller in EU_COUNTRIES and destination not in EU_COUNTRIES:
        if supply == "goods":
            return TaxDecision(
                TaxCategory.EXPORT,
                ZERO,
                "VATEX-EU-G",
                "Export outside the EU",
                why=f"goods exported to {destination}",
            )
        if business:
            return TaxDecision(
                TaxCategory.OUTSIDE_SCOPE,
                None,
                "VATEX-EU-O",
                "Not subject to VAT",
                why=f"services to a business in {destination}",
            )
        return _domestic(_rates(config, seller), seller, tax_class)
    raise TaxError(
        f"no VAT rule for a supply from {seller} to {destination}: configure the seller's "
        "country's rules (the hub decides EU VAT)"
    )
