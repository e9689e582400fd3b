"""Typed target shapes for creating an SAP S/4HANA sales order.

A mapping that turns a canonical Order into an SAP sales order produces a plain dict: the
body of an OData V2 deep insert into entity set ``A_SalesOrder`` of ``API_SALES_ORDER_SRV``,
with its items under ``to_Item``, each item's manual prices under ``to_PricingElement`` and
the header partners under ``to_Partner``. The mapping engine validates that dict against
the models here, so a misspelt property, a value longer than SAP's field or a quantity with
too many decimals fails when the mapping runs in the hub, not as an HTTP 400 from SAP.

The models cover only the part of the shape the hub writes on create, not every property
of the service. Class names are the entity set names and field names are the property and
navigation names exactly as SAP spells them (hence the non-PEP 8 names and no aliases).
Names, ``MaxLength`` / ``Precision`` / ``Scale`` and the descriptions (the ``sap:quickinfo``
text, or ``sap:label`` where there is none) come from the EDMX ``$metadata`` of
API_SALES_ORDER_SRV: the 2020 S/4HANA Cloud release saved in the shared test fixtures.
``tests/test_sap_shapes.py`` checks every field against that file.

Type rules:

* ``Edm.String`` is ``str`` with ``max_length`` = ``MaxLength``.
* ``Edm.Decimal`` is :class:`~decimal.Decimal` with ``max_digits`` = ``Precision`` and
  ``decimal_places`` = ``Scale``; NaN and infinity are refused.
* ``Edm.DateTime`` with ``sap:display-format="Date"`` is :class:`datetime.date`: SAP
  stores a calendar date (the wire value is midnight UTC of that day).
* A property that is a key (``Nullable="false"``) is required; so are the ones SAP needs to
  create anything (sales area, order type, sold-to party, an item's material and quantity)
  and the ones without which an entry means nothing (a partner's customer, a pricing
  element's condition type and rate). Everything else is optional and defaults to None,
  which the client leaves out of the request.
* A to-many navigation is a list of the target model.

Property names that exist in later releases but not in this one (for example ``Plant`` on
the item; this release calls it ``ProductionPlant``) are deliberately absent, and so are
properties the service marks ``sap:creatable="false"`` (for example ``ItemGrossWeight``).

OData JSON serialisation is not done here: decimals as strings, dates as
``/Date(<ms>)/``, navigation lists (bare or wrapped in ``{"results": [...]}``), dropping the
None fields and the CSRF token all belong to the SAP client.
"""

from __future__ import annotations

# Class and field names are SAP's entity set, property and navigation names, verbatim.
# ruff: noqa: N801, N815
import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _SapShape(BaseModel):
    """Base of the SAP shapes: unknown properties are refused, names are SAP's."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class A_SalesOrderItemPrElement(_SapShape):
    """A manual pricing element (condition) of an item (A_SalesOrderItemPrElementType)."""

    ConditionType: str = Field(max_length=4, description="Condition type")
    ConditionRateValue: Decimal = Field(
        max_digits=24,
        decimal_places=9,
        allow_inf_nan=False,
        description="Condition Amount or Percentage",
    )
    ConditionCurrency: str | None = Field(default=None, max_length=5, description="Currency Key")
    ConditionQuantity: Decimal | None = Field(
        default=None,
        max_digits=5,
        decimal_places=0,
        allow_inf_nan=False,
        description="Condition Pricing Unit",
    )
    ConditionQuantityUnit: str | None = Field(
        default=None, max_length=3, description="Condition Unit in the Document"
    )


class A_SalesOrderItem(_SapShape):
    """A sales order item (A_SalesOrderItemType)."""

    SalesOrderItem: str = Field(max_length=6, description="Sales Order Item")
    Material: str = Field(max_length=40, description="Material Number")
    SalesOrderItemText: str | None = Field(
        default=None, max_length=40, description="Short text for sales order item"
    )
    RequestedQuantity: Decimal = Field(
        max_digits=15, decimal_places=3, allow_inf_nan=False, description="Requested Quantity"
    )
    RequestedQuantityUnit: str | None = Field(
        default=None, max_length=3, description="Requested Quantity Unit"
    )
    PurchaseOrderByCustomer: str | None = Field(
        default=None, max_length=35, description="Customer Reference"
    )
    MaterialByCustomer: str | None = Field(
        default=None, max_length=35, description="Material Number Used by Customer"
    )
    ProductionPlant: str | None = Field(
        default=None, max_length=4, description="Plant (Own or External)"
    )
    to_PricingElement: list[A_SalesOrderItemPrElement] | None = Field(
        default=None, description="Item Pricing Element"
    )


class A_SalesOrderHeaderPartner(_SapShape):
    """A header partner that is a customer, e.g. ship-to or bill-to
    (A_SalesOrderHeaderPartnerType)."""

    PartnerFunction: str = Field(max_length=2, description="Partner Function")
    Customer: str = Field(max_length=10, description="Customer Number")


class A_SalesOrder(_SapShape):
    """A sales order header with its items and partners (A_SalesOrderType)."""

    SalesOrderType: str = Field(max_length=4, description="Sales Order Type")
    SalesOrganization: str = Field(max_length=4, description="Sales Organization")
    DistributionChannel: str = Field(max_length=2, description="Distribution Channel")
    OrganizationDivision: str = Field(max_length=2, description="Division")
    SoldToParty: str = Field(max_length=10, description="Sold-To Party")
    PurchaseOrderByCustomer: str | None = Field(
        default=None, max_length=35, description="Customer Reference"
    )
    CustomerPurchaseOrderType: str | None = Field(
        default=None, max_length=4, description="Customer Purchase Order Type"
    )
    CustomerPurchaseOrderDate: datetime.date | None = Field(
        default=None, description="Customer Reference Date"
    )
    RequestedDeliveryDate: datetime.date | None = Field(
        default=None, description="Requested Delivery Date"
    )
    TransactionCurrency: str | None = Field(
        default=None, max_length=5, description="SD document currency"
    )
    CustomerPaymentTerms: str | None = Field(
        default=None, max_length=4, description="Terms of payment key"
    )
    IncotermsClassification: str | None = Field(
        default=None, max_length=3, description="Incoterms (Part 1)"
    )
    HeaderBillingBlockReason: str | None = Field(
        default=None, max_length=2, description="Billing Block in SD Document"
    )
    DeliveryBlockReason: str | None = Field(
        default=None, max_length=2, description="Delivery Block (Document Header)"
    )
    to_Item: list[A_SalesOrderItem] = Field(min_length=1, description="Sales Order Item")
    to_Partner: list[A_SalesOrderHeaderPartner] | None = Field(
        default=None, description="Header Partner"
    )


SHAPES: dict[str, type[BaseModel]] = {"A_SalesOrder": A_SalesOrder}
"""Target shapes by name; the mapping engine resolves ``sap.<name>`` here."""
