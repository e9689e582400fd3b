"""Payment terms: "net 30", "2/10 net 30", their due dates and early-payment discounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hub import money
from hub.canonical.common import PaymentTerms
from hub.errors import HubError

__all__ = ["Schedule", "TermsError", "parse_terms", "schedule"]

_NET = re.compile(r"^\s*net\s*(\d{1,3})\s*$", re.I)
_DISCOUNT = re.compile(
    r"^\s*(\d{1,2}(?:\.\d{1,2})?)\s*/\s*(\d{1,3})\s*,?\s*net\s*(\d{1,3})\s*$", re.I
)


class TermsError(HubError):
    """Payment terms the hub cannot read."""


@dataclass(frozen=True)
class Schedule:
    due_date: date
    discount_date: date | None
    discount_amount: Decimal
    """What the buyer may deduct when paying by ``discount_date`` (0 without a discount)."""
    text: str
    """BT-20, e.g. "2 % discount if paid by 2026-12-03, net due 2026-12-23"."""


def parse_terms(text: str) -> PaymentTerms:
    """``net 30`` or ``2/10 net 30`` (2 % if paid within 10 days, else net in 30)."""
    if match := _NET.match(text):
        return PaymentTerms(code=text.strip(), net_days=int(match[1]))
    if match := _DISCOUNT.match(text):
        percent, discount_days, net_days = Decimal(match[1]), int(match[2]), int(match[3])
        if discount_days > net_days:
            raise TermsError(f"payment terms {text!r}: the discount outlasts the net period")
        return PaymentTerms(
            code=text.strip(),
            net_days=net_days,
            discount_percent=percent,
            discount_days=discount_days,
        )
    raise TermsError(f"payment terms {text!r}: write 'net 30' or '2/10 net 30'")


def schedule(terms: PaymentTerms, issue_date: date, gross: Decimal, currency: str) -> Schedule:
    """Due date, discount date and discount amount of an invoice."""
    if terms.net_days is None:
        raise TermsError(f"payment terms {terms.code or terms.description!r} have no net days")
    due = issue_date + timedelta(days=terms.net_days)
    if terms.discount_percent and terms.discount_days is not None:
        until = issue_date + timedelta(days=terms.discount_days)
        amount = money.percent_of(gross, terms.discount_percent, currency)
        text = (
            f"{terms.discount_percent.normalize():f} % discount ({amount:f} {currency}) if paid "
            f"by {until.isoformat()}, net due {due.isoformat()}"
        )
        return Schedule(due, until, amount, text)
    return Schedule(due, None, Decimal(0), f"Net {terms.net_days} days, due {due.isoformat()}")
