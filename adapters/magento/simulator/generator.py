"""Realistic Magento 2.4 orders (``sales-data-order-interface``) that obey Magento's totals.

Every order is built on both sides, base currency (``base_*``) and order currency, each
with its own rounding to the cent, the way Magento's totals collectors work:

* unit prices are converted base → order at ``base_to_order_rate`` and rounded; rows are
  unit price × quantity;
* a coupon takes ``discount_percent`` of each row (rounded per row); tax is charged after
  the discount, per row (``(row_total - discount_amount) × tax_percent``, rounded);
  prices are excluding tax, so ``discount_tax_compensation_amount`` stays 0;
* ``subtotal`` = Σ row totals of the price-bearing rows, ``tax_amount`` = Σ row tax +
  shipping tax, ``discount_amount`` = -Σ row discounts, ``grand_total`` = subtotal +
  shipping + tax + discount, ``total_due`` = grand total;
* composite products as Magento stores them: a configurable's parent row carries the
  money and its child row repeats the SKU at price 0; a dynamic-price bundle's children
  carry the money and the parent row repeats their sums (its price is Σ child price ×
  option quantity). Children get ``parent_item_id``; the embedded ``parent_item`` copy and
  the shipping assignment's item list are added when the order is rendered.

Stores: USD (no tax), EUR (19 % VAT), GBP (20 % VAT), and an EUR store view of a USD base
(rate 0.9215, 19 % VAT). All keys are names from the 2.4.8 admin schema.

Buyers: about one order in five is a guest's (``customer_is_guest`` 1, group 0, no
``customer_id``); the others belong to customers of the store (:mod:`.customers`), repeat
buyers included, and carry the customer's id, e-mail, names, group and VAT id
(``customer_taxvat``); their addresses are the customer's default billing address (with
``customer_id``, ``customer_address_id``, ``company`` and ``vat_id`` where the customer has
them), and a B2B company member's order has ``extension_attributes.company_order_attributes``.
Customers are drawn from a second random generator, so the items and money of an order
depend on the seed alone.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapters.magento.simulator.customers import (
    PEOPLE,
    customer_address,
    customer_company_id,
    pick_customer,
    slug,
)
from adapters.magento.simulator.state import MagentoState

__all__ = ["STORES", "catalog_skus", "generate_orders", "render_order", "store_order"]

ZERO = Decimal(0)
CENT = Decimal("0.01")


def rnd(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class _Store:
    store_id: int
    name: str
    base: str
    currency: str
    rate: Decimal
    tax: Decimal
    tax_code: str
    tax_title: str
    country: str
    shipping: Decimal  # base currency
    code: str
    locale: str
    timezone: str
    weight_unit: str

    @property
    def view(self) -> str:
        """The store view's name (what a customer's ``created_in`` says)."""
        return self.name.rsplit("\n", 1)[-1]


STORES = (
    _Store(
        1,
        "Main Website\nMain Website Store\nDefault Store View",
        "USD",
        "USD",
        Decimal(1),
        ZERO,
        "",
        "",
        "US",
        Decimal("5.00"),
        "default",
        "en_US",
        "America/Chicago",
        "lbs",
    ),
    _Store(
        2,
        "Main Website\nEU Store\nDeutsch",
        "EUR",
        "EUR",
        Decimal(1),
        Decimal(19),
        "DE-MwSt-19",
        "MwSt. 19%",
        "DE",
        Decimal("7.90"),
        "de",
        "de_DE",
        "Europe/Berlin",
        "kgs",
    ),
    _Store(
        3,
        "Main Website\nUK Store\nEnglish",
        "GBP",
        "GBP",
        Decimal(1),
        Decimal(20),
        "GB-VAT-20",
        "VAT 20%",
        "GB",
        Decimal("4.16"),
        "uk",
        "en_GB",
        "Europe/London",
        "kgs",
    ),
    _Store(
        4,
        "Main Website\nEU Store\nEnglish (EUR)",
        "USD",
        "EUR",
        Decimal("0.9215"),
        Decimal(19),
        "EU-VAT-19",
        "VAT 19%",
        "NL",
        Decimal("15.00"),
        "eu_en",
        "en_US",
        "Europe/Amsterdam",
        "kgs",
    ),
)

_SIMPLE = (
    ("24-MB01", "Joust Duffle Bag", "34.00", "1.2"),
    ("24-WG085", "Sprite Yoga Strap 6 foot", "14.00", "0.3"),
    ("WG-4410-9", "Nitrile work gloves, size 9, box of 100", "22.90", "1.1"),
    ("UK-18-SNAP", "Snap-off utility knife 18 mm", "6.45", "0.1"),
    ("TB-550-RED", "Tool bag 550, red", "24.99", "1.4"),
    ("HX-SET-9", "Hex key set, 9 pieces", "11.85", "0.4"),
)
_CONFIGURABLE = (
    ("MH01", "Chaz Kangeroo Hoodie", "52.00", ("XS-Black", "S-Gray", "M-Orange", "L-Black")),
    ("WS03", "Breathe-Easy Tank", "34.00", ("XS-Blue", "S-Red", "M-Yellow")),
)
_BUNDLES = (
    (
        "24-WG080",
        "Sprite Yoga Companion Kit",
        (
            ("24-WG084", "Sprite Foam Yoga Brick", "5.00", 1),
            ("24-WG088", "Sprite Foam Roller", "19.00", 1),
            ("24-WG082-blue", "Sprite Stasis Ball 65 cm", "27.00", 1),
            ("24-WG085", "Sprite Yoga Strap 6 foot", "14.00", 2),
        ),
    ),
    (
        "WSK-100",
        "Workshop starter kit",
        (
            ("TB-550-RED", "Tool bag 550, red", "24.99", 1),
            ("SD-6PC", "Screwdriver set, 6 pieces", "18.75", 1),
            ("GL-CUT5-L", "Cut-resistant gloves, level 5, L", "7.49", 2),
        ),
    ),
)


def catalog_skus() -> dict[str, str]:
    """Every SKU a generated order's top-level line can carry (simple products, configurable
    variants, dynamic-SKU bundles), with the product code an ERP would keep as its material
    (a bundle's own code; the SKU itself otherwise)."""
    skus = {sku: sku for sku, *_ in _SIMPLE}
    skus |= {
        f"{code}-{variant}": f"{code}-{variant}"
        for code, _, _, variants in _CONFIGURABLE
        for variant in variants
    }
    skus |= {"-".join([code, *(c[0] for c in children)]): code for code, _, children in _BUNDLES}
    return skus


_SLOTS = (0, 1, 2, 3, 4)  # address slots of customers.PEOPLE (five per country)
_PAYMENTS = (
    ("checkmo", "Check / Money order"),
    ("banktransfer", "Bank Transfer Payment"),
    ("purchaseorder", "Purchase Order"),
)
_COUPON = ("SAVE10", Decimal(10), "3")


class _Sides:
    """Per-row amounts on one side (base or order currency)."""

    def __init__(self, price: Decimal, qty: Decimal, tax: Decimal, discount: Decimal) -> None:
        self.price = price
        self.row = price * qty
        self.discount = rnd(self.row * discount / 100)
        self.tax = rnd((self.row - self.discount) * tax / 100)
        self.price_incl = rnd(price * (100 + tax) / 100)
        self.row_incl = self.row + rnd(self.row * tax / 100)


def _item_money(prefix: str, side: _Sides) -> dict[str, Any]:
    return {
        f"{prefix}price": side.price,
        f"{prefix}original_price": side.price,
        f"{prefix}row_total": side.row,
        f"{prefix}discount_amount": side.discount,
        f"{prefix}tax_amount": side.tax,
        f"{prefix}price_incl_tax": side.price_incl,
        f"{prefix}row_total_incl_tax": side.row_incl,
        f"{prefix}discount_tax_compensation_amount": ZERO,
        f"{prefix}discount_invoiced": ZERO,
        f"{prefix}tax_invoiced": ZERO,
        f"{prefix}row_invoiced": ZERO,
        f"{prefix}amount_refunded": ZERO,
    }


class _Builder:
    def __init__(self, state: MagentoState, rng: random.Random, store: _Store, when: str) -> None:
        self.state = state
        self.rng = rng
        self.store = store
        self.when = when
        self.order_id = state.next_id("order")
        self.coupon = rng.random() < 0.3
        self.items: list[dict[str, Any]] = []

    def _row(
        self, sku: str, name: str, ptype: str, qty: Decimal, base_price: Decimal | None
    ) -> dict[str, Any]:
        store = self.store
        item_id = self.state.next_id("order_item")
        product_id = self.state.products.setdefault(sku, 1000 + len(self.state.products))
        item: dict[str, Any] = {
            "item_id": item_id,
            "order_id": self.order_id,
            "quote_item_id": 50_000 + item_id,
            "product_id": product_id,
            "product_type": ptype,
            "sku": sku,
            "name": name,
            "store_id": store.store_id,
            "created_at": self.when,
            "updated_at": self.when,
            "qty_ordered": qty,
            "qty_invoiced": ZERO,
            "qty_shipped": ZERO,
            "qty_canceled": ZERO,
            "qty_refunded": ZERO,
            "is_qty_decimal": 0,
            "is_virtual": 0,
            "free_shipping": 0,
            "no_discount": 0,
            "tax_percent": ZERO,
            "discount_percent": ZERO,
        }
        if base_price is not None:
            discount = _COUPON[1] if self.coupon else ZERO
            base = _Sides(base_price, qty, store.tax, discount)
            order = _Sides(rnd(base_price * store.rate), qty, store.tax, discount)
            item.update(_item_money("base_", base))
            item.update(_item_money("", order))
            item["tax_percent"] = store.tax
            item["discount_percent"] = discount
            if self.coupon:
                item["applied_rule_ids"] = _COUPON[2]
        self.items.append(item)
        return item

    def add_simple(self) -> None:
        sku, name, price, weight = self.rng.choice(_SIMPLE)
        item = self._row(sku, name, "simple", Decimal(self.rng.randint(1, 6)), Decimal(price))
        item["weight"] = Decimal(weight)
        item["row_weight"] = Decimal(weight) * item["qty_ordered"]

    def add_configurable(self) -> None:
        code, name, price, variants = self.rng.choice(_CONFIGURABLE)
        variant = self.rng.choice(variants)
        sku = f"{code}-{variant}"
        qty = Decimal(self.rng.randint(1, 3))
        parent = self._row(sku, name, "configurable", qty, Decimal(price))
        child = self._row(sku, f"{name}-{variant}", "simple", qty, None)
        for key in (
            "price",
            "base_price",
            "original_price",
            "base_original_price",
            "row_total",
            "base_row_total",
            "discount_amount",
            "base_discount_amount",
            "tax_amount",
            "base_tax_amount",
        ):
            child[key] = ZERO
        child["parent_item_id"] = parent["item_id"]
        parent["product_option"] = {
            "extension_attributes": {
                "configurable_item_options": [
                    {"option_id": "93", "option_value": 50 + variants.index(variant)}
                ]
            }
        }

    def add_bundle(self) -> None:
        code, name, children = self.rng.choice(_BUNDLES)
        qty = Decimal(self.rng.randint(1, 2))
        sku = "-".join([code, *(child[0] for child in children)])
        parent = self._row(sku, name, "bundle", qty, None)
        kids = []
        options = []
        for index, (child_sku, child_name, price, option_qty) in enumerate(children):
            kid = self._row(child_sku, child_name, "simple", qty * option_qty, Decimal(price))
            kid["parent_item_id"] = parent["item_id"]
            kids.append((kid, option_qty))
            options.append(
                {
                    "option_id": 11 + index,
                    "option_qty": option_qty,
                    "option_selections": [31 + index],
                }
            )
        for prefix in ("base_", ""):
            unit = sum((kid[f"{prefix}price"] * n for kid, n in kids), ZERO)
            parent[f"{prefix}price"] = unit
            parent[f"{prefix}original_price"] = unit
            parent[f"{prefix}price_incl_tax"] = sum(
                (kid[f"{prefix}price_incl_tax"] * n for kid, n in kids), ZERO
            )
            for key in (
                "row_total",
                "discount_amount",
                "tax_amount",
                "row_total_incl_tax",
                "discount_tax_compensation_amount",
                "discount_invoiced",
                "tax_invoiced",
                "row_invoiced",
                "amount_refunded",
            ):
                parent[prefix + key] = sum((kid[prefix + key] for kid, _ in kids), ZERO)
        parent["tax_percent"] = self.store.tax
        parent["discount_percent"] = _COUPON[1] if self.coupon else ZERO
        parent["product_option"] = {"extension_attributes": {"bundle_options": options}}


def _bearing(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {item["item_id"]: item for item in items}
    out = []
    for item in items:
        parent = by_id.get(item.get("parent_item_id"))
        if parent is not None and parent["product_type"] == "configurable":
            continue
        if item["product_type"] == "bundle":
            continue
        out.append(item)
    return out


def _buyer_address(
    customer: dict[str, Any] | None, store: _Store, slot: int, email: str
) -> dict[str, Any]:
    """The fields an order address copies from the buyer (``sales-data-order-address-
    interface`` names): a customer's default billing address, or a guest's address slot."""
    if customer is not None:
        source = customer_address(customer)
        if source is not None:
            region = source.get("region") or {}
            fields: dict[str, Any] = {
                "customer_id": customer["id"],
                "customer_address_id": source.get("id"),
                "firstname": source.get("firstname", customer.get("firstname")),
                "lastname": source.get("lastname", customer.get("lastname")),
                "company": source.get("company"),
                "street": list(source.get("street") or []),
                "city": source.get("city"),
                "postcode": source.get("postcode"),
                "region": region.get("region"),
                "region_code": region.get("region_code"),
                "region_id": source.get("region_id") or None,
                "country_id": source.get("country_id", store.country),
                "telephone": source.get("telephone"),
                "email": email,
                "vat_id": source.get("vat_id"),
            }
            return {k: v for k, v in fields.items() if v is not None}
    person = PEOPLE[store.country][slot]
    guest: dict[str, Any] = {
        "firstname": person.first,
        "lastname": person.last,
        "street": [person.street],
        "city": person.city,
        "postcode": person.postcode,
        "region": person.region,
        "region_code": person.region_code,
        "region_id": person.region_id,
        "country_id": store.country,
        "telephone": person.telephone,
        "email": email,
    }
    return {k: v for k, v in guest.items() if v}


def _address(
    state: MagentoState, kind: str, order_id: int, buyer: dict[str, Any]
) -> dict[str, Any]:
    return {
        "address_type": kind,
        "entity_id": state.next_id("order_address"),
        "parent_id": order_id,
        **buyer,
    }


def _build(
    state: MagentoState, rng: random.Random, crng: random.Random, when: str
) -> dict[str, Any]:
    store = rng.choice(STORES)
    builder = _Builder(state, rng, store, when)
    for _ in range(rng.randint(1, 3)):
        builder.add_simple()
    if rng.random() < 0.5:
        builder.add_configurable()
    if rng.random() < 0.35:
        builder.add_bundle()
    items = builder.items
    bearing = _bearing(items)
    order_id = builder.order_id
    slot = rng.choice(_SLOTS)
    guest = rng.random() < 0.2
    method, title = rng.choice(_PAYMENTS)
    customer = None
    if guest:
        email = f"{slug(PEOPLE[store.country][slot].first)}.{order_id}@example.com"
    else:
        customer = pick_customer(
            state,
            crng,
            store_id=store.store_id,
            country=store.country,
            currency=store.base,
            created_in=store.view,
            slot=slot,
            when=when,
        )
        email = customer["email"]
    buyer = _buyer_address(customer, store, slot, email)
    increment_id = f"{state.next_id('increment'):09d}"
    order: dict[str, Any] = {
        "entity_id": order_id,
        "increment_id": increment_id,
        "quote_id": 20_000 + order_id,
        "protect_code": f"{rng.getrandbits(40):010x}",
        "state": "new",
        "status": "pending",
        "created_at": when,
        "updated_at": when,
        "store_id": store.store_id,
        "store_name": store.name,
        "base_currency_code": store.base,
        "global_currency_code": store.base,
        "store_currency_code": store.base,
        "order_currency_code": store.currency,
        "base_to_global_rate": Decimal(1),
        "base_to_order_rate": store.rate,
        "store_to_base_rate": ZERO,
        "store_to_order_rate": ZERO,
        "customer_email": email,
        "customer_firstname": customer["firstname"] if customer else buyer["firstname"],
        "customer_lastname": customer["lastname"] if customer else buyer["lastname"],
        "customer_is_guest": 1 if guest else 0,
        "customer_group_id": customer["group_id"] if customer else 0,
        "customer_note_notify": 1,
        "email_sent": 1,
        "is_virtual": 0,
        "remote_ip": f"198.51.100.{order_id % 250 + 1}",
        "shipping_description": "Flat Rate - Fixed",
        "total_item_count": len([i for i in items if "parent_item_id" not in i]),
        "total_qty_ordered": sum(
            (i["qty_ordered"] for i in items if "parent_item_id" not in i), ZERO
        ),
        "weight": sum((i.get("row_weight", ZERO) for i in items), ZERO),
        "status_histories": [],
    }
    if customer is not None:
        order["customer_id"] = customer["id"]
        if customer.get("taxvat"):
            order["customer_taxvat"] = customer["taxvat"]
    if builder.coupon:
        order["coupon_code"] = _COUPON[0]
        order["discount_description"] = _COUPON[0]
        order["applied_rule_ids"] = _COUPON[2]
    totals: dict[str, Any] = {}
    for prefix, rate in (("base_", Decimal(1)), ("", store.rate)):
        shipping = rnd(store.shipping * rate)
        shipping_tax = rnd(shipping * store.tax / 100)
        subtotal = sum((i[prefix + "row_total"] for i in bearing), ZERO)
        discount = -sum((i[prefix + "discount_amount"] for i in bearing), ZERO)
        tax = sum((i[prefix + "tax_amount"] for i in bearing), ZERO) + shipping_tax
        grand = subtotal + shipping + tax + discount
        ship_dtc = (
            "base_shipping_discount_tax_compensation_amnt"
            if prefix
            else ("shipping_discount_tax_compensation_amount")
        )
        shipping_totals = {
            prefix + "shipping_amount": shipping,
            prefix + "shipping_tax_amount": shipping_tax,
            prefix + "shipping_incl_tax": shipping + shipping_tax,
            prefix + "shipping_discount_amount": ZERO,
            ship_dtc: ZERO,
        }
        totals.update(shipping_totals)
        order.update(shipping_totals)
        order.update(
            {
                prefix + "subtotal": subtotal,
                prefix + "subtotal_incl_tax": sum(
                    (i[prefix + "row_total_incl_tax"] for i in bearing), ZERO
                ),
                prefix + "discount_amount": discount,
                prefix + "discount_tax_compensation_amount": ZERO,
                prefix + "tax_amount": tax,
                prefix + "grand_total": grand,
                prefix + "total_due": grand,
            }
        )
    billing = _address(state, "billing", order_id, buyer)
    shipping_address = _address(state, "shipping", order_id, buyer)
    order["billing_address_id"] = billing["entity_id"]
    order["billing_address"] = billing
    order["payment"] = {
        "entity_id": order_id,
        "parent_id": order_id,
        "method": method,
        "account_status": None,
        "additional_information": [title],
        "cc_last4": None,
        "amount_ordered": order["grand_total"],
        "base_amount_ordered": order["base_grand_total"],
        "shipping_amount": order["shipping_amount"],
        "base_shipping_amount": order["base_shipping_amount"],
    }
    if method == "purchaseorder":
        order["payment"]["po_number"] = f"PO-{order_id:06d}"
    extension: dict[str, Any] = {
        "shipping_assignments": [
            {
                "shipping": {
                    "address": shipping_address,
                    "method": "flatrate_flatrate",
                    "total": totals,
                }
            }
        ]
    }
    company_id = customer_company_id(customer) if customer else None
    if company_id is not None and company_id in state.companies:
        extension["company_order_attributes"] = {
            "order_id": order_id,
            "company_id": company_id,
            "company_name": state.companies[company_id]["company_name"],
        }
    if store.tax:
        rates = {"code": store.tax_code, "title": store.tax_title, "percent": store.tax}

        def applied(amount: Decimal, base_amount: Decimal) -> list[dict[str, Any]]:
            return [
                {
                    **rates,
                    "amount": amount,
                    "base_amount": base_amount,
                    "extension_attributes": {"rates": [dict(rates)]},
                }
            ]

        extension["applied_taxes"] = applied(order["tax_amount"], order["base_tax_amount"])
        extension["item_applied_taxes"] = [
            *(
                {
                    "type": "product",
                    "item_id": i["item_id"],
                    "applied_taxes": applied(i["tax_amount"], i["base_tax_amount"]),
                }
                for i in bearing
            ),
            {
                "type": "shipping",
                "applied_taxes": applied(
                    order["shipping_tax_amount"], order["base_shipping_tax_amount"]
                ),
            },
        ]
    order["extension_attributes"] = extension
    order["items"] = items
    return order


def generate_orders(
    state: MagentoState, count: int, seed: int, same_updated_at_every: int = 1
) -> list[int]:
    """Add ``count`` orders; every ``same_updated_at_every`` consecutive orders share one
    ``created_at``/``updated_at``. Returns their entity ids (increasing)."""
    rng = random.Random(seed)  # noqa: S311 -- test data
    crng = random.Random(f"customers-{seed}")  # noqa: S311 -- test data
    group = max(1, same_updated_at_every)
    ids = []
    when = state.now()
    for index in range(count):
        if index % group == 0:
            when = state.tick(state.config.seconds_per_tick)
        order = _build(state, rng, crng, when)
        state.orders[order["entity_id"]] = order
        ids.append(order["entity_id"])
    return ids


def store_order(state: MagentoState, document: dict[str, Any]) -> int:
    """Keep a complete order document (e.g. a repository sample) as it is; returns its id.

    Embedded ``parent_item`` copies and the shipping assignment's item list are dropped
    here and rebuilt by :func:`render_order`, so they never go stale.
    """
    order = copy.deepcopy(document)
    if not isinstance(order.get("entity_id"), int):
        order["entity_id"] = state.next_id("order")
    else:
        state.sequences["order"] = max(state.sequences.get("order", 0), order["entity_id"])
    for item in order.get("items", []):
        item.pop("parent_item", None)
        item.setdefault("qty_invoiced", ZERO)
        item.setdefault("qty_shipped", ZERO)
        item.setdefault("qty_canceled", ZERO)
        state.products.setdefault(item["sku"], item.get("product_id", 0))
        state.sequences["order_item"] = max(
            state.sequences.get("order_item", 0), int(item.get("item_id", 0))
        )
    for assignment in order.get("extension_attributes", {}).get("shipping_assignments", []):
        assignment.pop("items", None)
    order.setdefault("status_histories", [])
    state.orders[order["entity_id"]] = order
    return int(order["entity_id"])


def render_order(order: dict[str, Any]) -> dict[str, Any]:
    """The order as ``GET /V1/orders/{id}`` returns it."""
    out = copy.deepcopy(order)
    items = out.get("items", [])
    by_id = {item["item_id"]: item for item in items}
    for item in items:
        parent = by_id.get(item.get("parent_item_id"))
        if parent is not None:
            item["parent_item"] = copy.deepcopy(parent)
    for assignment in out.get("extension_attributes", {}).get("shipping_assignments", []):
        assignment["items"] = copy.deepcopy(items)
    return out
