"""Customers (``customer-data-customer-interface``), B2B companies
(``company-data-company-interface``) and their credit (``company-credit-data-credit-limit-
interface``), made by the order generator.

A registered order's buyer is a customer of the order's store: one the generator made
earlier for the same store and address slot (a repeat buyer, 70 % when there is one), or a
new one. New customers are members of a B2B company (25 %; the company's group 2
"Wholesale"), small businesses with a company name and VAT id on their address (20 %; group 3
"Retailer"), or private (group 1 "General"). A company member is the company's admin
(``super_user_id``) when the generator founds the company, otherwise a buyer joining an
existing company of the store (60 % when there is one). A company member's address is the
company's, with its name and VAT id; ``extension_attributes.company_attributes`` links the
customer to the company, and every company has one credit record in the store's base currency
(``balance`` negative when the company owes, ``available_limit`` = ``credit_limit`` +
``balance``).

Everything is drawn from the caller's random generator, so a seed gives the same customers.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapters.magento.simulator.state import MagentoState

__all__ = [
    "GROUP_GENERAL",
    "GROUP_RETAILER",
    "GROUP_WHOLESALE",
    "PEOPLE",
    "Person",
    "customer_address",
    "customer_company_id",
    "pick_customer",
    "slug",
]

GROUP_GENERAL = 1
GROUP_WHOLESALE = 2
GROUP_RETAILER = 3
WEBSITE_ID = 1


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    city: str
    postcode: str
    street: str
    region_code: str  # "" where Magento has no region list for the country
    region: str
    region_id: int  # 0 where Magento has no region list for the country
    telephone: str


# Five address slots per country (the generator draws a slot per order). Region ids are
# Magento's directory_country_region ids; Magento ships no regions for GB and NL.
PEOPLE: dict[str, tuple[Person, ...]] = {
    "US": (
        Person("Jane", "Doe", "Purchase", "10577", "123 Oak Ave", "NY", "New York", 43,
               "+1 914 555 0143"),
        Person("Katie", "Brooks", "Austin", "78701", "600 Congress Ave", "TX", "Texas", 57,
               "+1 512 555 0178"),
        Person("Oliver", "Grant", "Chicago", "60607", "1100 W Randolph St", "IL", "Illinois",
               23, "+1 312 555 0191"),
        Person("Sam", "Rivera", "Seattle", "98104", "401 2nd Ave S", "WA", "Washington", 62,
               "+1 206 555 0122"),
        Person("Dana", "Whitfield", "Portland", "97209", "1450 NW Raleigh St", "OR", "Oregon",
               49, "+1 503 555 0148"),
    ),
    "DE": (
        Person("Jana", "Dörr", "Köln", "50667", "Hohe Straße 52", "NRW", "Nordrhein-Westfalen",
               88, "+49 221 4471 230"),
        Person("Katrin", "Krämer", "Augsburg", "86153", "Werkstraße 14", "BAY", "Bayern", 81,
               "+49 821 4499 120"),
        Person("Olaf", "Hoffmann", "Leipzig", "04109", "Petersstraße 22", "SAS", "Sachsen", 91,
               "+49 341 2250 870"),
        Person("Sabine", "Vogel", "Stuttgart", "70173", "Königstraße 28", "BAW",
               "Baden-Württemberg", 80, "+49 711 6603 415"),
        Person("David", "Weiß", "Hamburg", "20095", "Mönckebergstraße 7", "HAM", "Hamburg", 85,
               "+49 40 3300 1942"),
    ),
    "GB": (
        Person("James", "Wright", "Birmingham", "B2 4QA", "70 Colmore Row", "", "West Midlands",
               0, "+44 121 496 0734"),
        Person("Amelia", "Clarke", "Bristol", "BS1 4DJ", "45 Corn Street", "", "Bristol", 0,
               "+44 117 496 0571"),
        Person("Oliver", "Hughes", "Leeds", "LS1 4AP", "12 Park Row", "", "West Yorkshire", 0,
               "+44 113 496 0123"),
        Person("Sophie", "Turner", "Manchester", "M2 4WU", "8 King Street", "",
               "Greater Manchester", 0, "+44 161 496 0862"),
        Person("Harry", "Patel", "Edinburgh", "EH2 2ER", "120 George Street", "",
               "City of Edinburgh", 0, "+44 131 496 0419"),
    ),
    "NL": (
        Person("Daan", "Jansen", "Amsterdam", "1012 JS", "Damrak 70", "", "Noord-Holland", 0,
               "+31 20 794 1180"),
        Person("Eva", "Bakker", "Rotterdam", "3011 AD", "Coolsingel 40", "", "Zuid-Holland", 0,
               "+31 10 742 0937"),
        Person("Ruben", "Visser", "Eindhoven", "5611 EM", "Stratumseind 32", "",
               "Noord-Brabant", 0, "+31 40 711 2654"),
        Person("Sanne", "de Vries", "Utrecht", "3511 LN", "Oudegracht 81", "", "Utrecht", 0,
               "+31 30 799 1234"),
        Person("Femke", "Smit", "Groningen", "9712 JN", "Grote Markt 1", "", "Groningen", 0,
               "+31 50 760 4418"),
    ),
}  # fmt: skip

_FIRST = {
    "US": ("Emily", "Michael", "Ashley", "Chris", "Jordan", "Taylor", "Megan", "Ryan"),
    "DE": ("Anna", "Lukas", "Julia", "Jonas", "Lea", "Felix", "Miriam", "Tobias"),
    "GB": ("Charlotte", "George", "Isla", "Jack", "Grace", "Thomas", "Emily", "Alfie"),
    "NL": ("Lotte", "Bram", "Noor", "Sem", "Julia", "Lars", "Fleur", "Thijs"),
}
_LAST = {
    "US": ("Miller", "Nguyen", "Carter", "Bennett", "Foster", "Hayes", "Morales", "Price"),
    "DE": ("Müller", "Schmidt", "Schulz", "Becker", "Wagner", "Koch", "Richter", "Lehmann"),
    "GB": ("Smith", "Evans", "Walker", "Robinson", "Wood", "Thompson", "Hall", "Green"),
    "NL": ("de Jong", "van Dijk", "Meijer", "Mulder", "de Boer", "Bos", "Peters", "Hendriks"),
}
_COMPANIES = {
    "US": ("Northwind Supply", "Cascade Tool Works", "Great Lakes Fasteners",
           "Lone Star Industrial", "Evergreen Facility Services"),
    "DE": ("Krämer Werkzeuge", "Rheinland Arbeitsschutz", "Hanse Baubedarf",
           "Sachsen Metallbau", "Alpen Gartentechnik"),
    "GB": ("Pennine Safety Supplies", "Thames Fixings", "Clyde Workwear",
           "Severn Building Services", "Midland Tool Hire"),
    "NL": ("Van Dijk Bouwmaterialen", "Delta Veiligheid", "Zuidas Facilitair",
           "Polder Techniek", "Noorderlicht Groothandel"),
}  # fmt: skip
_LEGAL_FORM = {"US": "Inc.", "DE": "GmbH", "GB": "Ltd", "NL": "B.V."}
_TRADES = {
    "US": ("Plumbing", "Electric", "Landscaping", "Carpentry"),
    "DE": ("Haustechnik", "Elektro", "Gartenbau", "Schreinerei"),
    "GB": ("Plumbing", "Electrical", "Joinery", "Roofing"),
    "NL": ("Installatietechniek", "Elektra", "Hoveniers", "Timmerwerken"),
}
_JOB_TITLES = ("Purchasing Manager", "Buyer", "Office Manager", "Operations Lead")
_CREDIT_LIMITS = (5_000, 10_000, 20_000, 50_000)


def slug(text: str) -> str:
    """ASCII, lower case, for e-mail local parts and domains (``Krämer`` → ``kraemer``)."""
    text = text.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, plain)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "-" for c in ascii_text).strip("-")


def _vat(rng: random.Random, country: str) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(9))
    if country == "US":
        return f"{digits[:2]}-{digits[2:]}"  # an EIN
    if country == "NL":
        return f"NL{digits}B01"
    return f"{country}{digits}"


def _unique_email(state: MagentoState, local: str, domain: str) -> str:
    taken = {c.get("email") for c in state.customers.values()}
    email = f"{local}@{domain}"
    number = 2
    while email in taken:  # bounded: at most len(taken) numbers are taken
        email = f"{local}{number}@{domain}"
        number += 1
    return email


def customer_company_id(customer: dict[str, Any]) -> int | None:
    """The company a customer belongs to (``extension_attributes.company_attributes``)."""
    attributes = customer.get("extension_attributes", {}).get("company_attributes") or {}
    company_id = attributes.get("company_id")
    return company_id if isinstance(company_id, int) and company_id > 0 else None


def customer_address(customer: dict[str, Any]) -> dict[str, Any] | None:
    """The customer's default billing address (else the first one)."""
    addresses = customer.get("addresses") or []
    default = str(customer.get("default_billing") or "")
    for address in addresses:
        if str(address.get("id")) == default:
            return dict(address)
    return dict(addresses[0]) if addresses else None


def _new_company(
    state: MagentoState, rng: random.Random, country: str, currency: str, person: Person,
    super_user_id: int,
) -> dict[str, Any]:  # fmt: skip
    taken = {c.get("company_name") for c in state.companies.values()}
    name = rng.choice(_COMPANIES[country])
    if name in taken:
        name = next(
            (n for n in _COMPANIES[country] if n not in taken),
            f"{name} {len(state.companies) + 1}",
        )
    company_id = state.next_id("company")
    domain = f"{slug(name)}.example"
    company: dict[str, Any] = {
        "id": company_id,
        "status": 1,  # approved
        "company_name": name,
        "legal_name": f"{name} {_LEGAL_FORM[country]}",
        "company_email": f"purchasing@{domain}",
        "vat_tax_id": _vat(rng, country),
        "reseller_id": "",
        "comment": "",
        "street": [person.street],
        "city": person.city,
        "country_id": country,
        "region": person.region,
        "region_id": str(person.region_id),
        "postcode": person.postcode,
        "telephone": person.telephone,
        "customer_group_id": GROUP_WHOLESALE,
        "sales_representative_id": 1,
        "reject_reason": None,
        "rejected_at": None,
        "super_user_id": super_user_id,
        "extension_attributes": {
            "applicable_payment_method": 0,
            "available_payment_methods": "",
            "use_config_settings": 1,
            "quote_config": {"company_id": str(company_id), "is_quote_enabled": False},
            "is_purchase_order_enabled": False,
            "applicable_shipping_method": 0,
            "available_shipping_methods": "",
            "use_config_settings_shipping": 1,
        },
    }
    limit = Decimal(rng.choice(_CREDIT_LIMITS))
    balance = -(limit * rng.randint(0, 600_000) / 1_000_000).quantize(Decimal("0.01"))
    state.companies[company_id] = company
    state.credits[company_id] = {
        "id": state.next_id("credit"),
        "company_id": company_id,
        "credit_limit": limit,
        "balance": balance,
        "currency_code": currency,
        "exceed_limit": False,
        "available_limit": limit + balance,
    }
    return company


def pick_customer(
    state: MagentoState,
    rng: random.Random,
    *,
    store_id: int,
    country: str,
    currency: str,
    created_in: str,
    slot: int,
    when: str,
) -> dict[str, Any]:
    """The registered buyer of a new order: a repeat customer or a new one (see module)."""
    key = (store_id, slot)
    known = [cid for cid in state.customer_pool.get(key, []) if cid in state.customers]
    if known and rng.random() < 0.7:
        return state.customers[rng.choice(known)]
    person = PEOPLE[country][slot]
    first, last = person.first, person.last
    if known:
        first, last = rng.choice(_FIRST[country]), rng.choice(_LAST[country])
    customer_id = state.next_id("customer")
    roll = rng.random()
    company: dict[str, Any] | None = None
    job_title = ""
    if roll < 0.25:
        companies = [c for c in state.company_pool.get(store_id, []) if c in state.companies]
        if companies and rng.random() < 0.6:
            company = state.companies[rng.choice(companies)]
            job_title = rng.choice(_JOB_TITLES[1:])
        else:
            company = _new_company(state, rng, country, currency, person, customer_id)
            state.company_pool.setdefault(store_id, []).append(company["id"])
            job_title = _JOB_TITLES[0]
    address_id = state.next_id("customer_address")
    address: dict[str, Any] = {
        "id": address_id,
        "customer_id": customer_id,
        "region": {
            "region_code": person.region_code or None,
            "region": person.region,
            "region_id": person.region_id,
        },
        "region_id": person.region_id,
        "country_id": country,
        "street": [person.street],
        "telephone": person.telephone,
        "postcode": person.postcode,
        "city": person.city,
        "firstname": first,
        "lastname": last,
        "default_shipping": True,
        "default_billing": True,
    }
    taxvat: str | None = None
    group_id = GROUP_GENERAL
    if company is not None:
        taxvat = company["vat_tax_id"]
        group_id = company["customer_group_id"]
        region_id = int(company["region_id"] or 0)
        address.update(
            {
                "region": {
                    "region_code": _region_code(country, region_id),
                    "region": company["region"],
                    "region_id": region_id,
                },
                "region_id": region_id,
                "street": list(company["street"]),
                "telephone": company["telephone"],
                "postcode": company["postcode"],
                "city": company["city"],
                "company": company["company_name"],
                "vat_id": taxvat,
            }
        )
    elif roll < 0.45:
        taxvat = _vat(rng, country)
        group_id = GROUP_RETAILER
        address["company"] = f"{last} {rng.choice(_TRADES[country])}"
        address["vat_id"] = taxvat
    # Keys in the order CustomerRepository::getById renders them.
    customer: dict[str, Any] = {
        "id": customer_id,
        "group_id": group_id,
        "default_billing": str(address_id),
        "default_shipping": str(address_id),
        "created_at": when,
        "updated_at": when,
        "created_in": created_in,
        "email": _unique_email(state, f"{slug(first)}.{slug(last)}", "example.com"),
        "firstname": first,
        "lastname": last,
        "store_id": store_id,
        "taxvat": taxvat,
        "website_id": WEBSITE_ID,
        "addresses": [address],
        "disable_auto_group_change": 0,
        "extension_attributes": {"is_subscribed": rng.random() < 0.4},
    }
    if taxvat is None:
        del customer["taxvat"]  # Magento leaves out what is not set
    if company is not None:
        customer["extension_attributes"]["company_attributes"] = {
            "customer_id": customer_id,
            "company_id": company["id"],
            "job_title": job_title,
            "status": 1,  # active
            "telephone": company["telephone"],
        }
    state.customers[customer_id] = customer
    state.customer_pool.setdefault(key, []).append(customer_id)
    return customer


def _region_code(country: str, region_id: int) -> str | None:
    for person in PEOPLE.get(country, ()):
        if person.region_id == region_id and person.region_code:
            return person.region_code
    return None
