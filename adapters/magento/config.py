"""Typed options of a Magento 2 / Adobe Commerce target (validated when routes.yaml loads)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class MagentoConfig(BaseModel):
    """Where the store's REST API is and how the hub authenticates to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        description="REST root of the store view, without /V1: "
        "e.g. https://shop.example.com/rest/default or http://127.0.0.1:8080/rest/default.",
        min_length=1,
    )
    token: SecretStr = Field(
        description="Integration (or admin) access token, sent as `Authorization: Bearer "
        "<token>`; never logged and never part of an error."
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Seconds to wait for each REST call (connect and answer).",
    )
    capture: bool = Field(
        default=True,
        description="Capture the payment online when an invoice is created "
        "(Magento's `capture` flag of POST /V1/order/{id}/invoice).",
    )
    notify: bool = Field(
        default=False,
        description="Let Magento e-mail the customer about new invoices and shipments.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if value.endswith("/V1"):
            value = value[: -len("/V1")]
        return value
