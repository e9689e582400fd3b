"""Typed options of a Magento 2 / Adobe Commerce target (validated when routes.yaml loads)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from adapters.magento.oauth import OAuthCredentials


class MagentoOAuth(BaseModel):
    """An integration's four credentials (System > Extensions > Integrations > Edit)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    consumer_key: str = Field(min_length=1)
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr

    def credentials(self) -> OAuthCredentials:
        return OAuthCredentials(
            self.consumer_key,
            self.consumer_secret.get_secret_value(),
            self.access_token.get_secret_value(),
            self.access_token_secret.get_secret_value(),
        )

    def secret_values(self) -> tuple[str, ...]:
        return tuple(
            s.get_secret_value()
            for s in (self.consumer_secret, self.access_token, self.access_token_secret)
        )


class MagentoConfig(BaseModel):
    """Where the store's REST API is and how the hub authenticates to it."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = Field(
        description="REST root of the store view, without /V1: "
        "e.g. https://shop.example.com/rest/default or http://127.0.0.1:8080/rest/default.",
        min_length=1,
    )
    token: SecretStr | None = Field(
        default=None,
        description="Admin or integration access token, sent as `Authorization: Bearer "
        "<token>` (integration tokens only where the store allows them as bearer tokens). "
        "Give `token` or `oauth`, not both; never logged and never part of an error.",
    )
    oauth: MagentoOAuth | None = Field(
        default=None,
        description="Sign every call with OAuth 1.0a HMAC-SHA256 using the integration's "
        "consumer key/secret and access token/secret (Magento 2.4.4+ default for "
        "integrations).",
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

    poll_since: datetime = Field(
        default=datetime(1970, 1, 1),
        description="Polling starts with documents updated at or after this time (store "
        "time, naive UTC as Magento keeps updated_at) when a source has no cursor yet.",
    )
    poll_settle_seconds: int = Field(
        default=5,
        ge=0,
        le=3600,
        description="Polling leaves documents updated in the last N seconds (by the store's "
        "`Date` header) for the next poll, so an order saved in the same second as the "
        "cursor but committed later is not skipped.",
    )

    @model_validator(mode="after")
    def _one_credential(self) -> MagentoConfig:
        if (self.token is None) == (self.oauth is None):
            raise ValueError("give either token (Bearer) or oauth (integration signing)")
        return self

    def secret_values(self) -> tuple[str, ...]:
        """Every credential value, to scrub from errors."""
        found = self.oauth.secret_values() if self.oauth else ()
        if self.token is not None:
            found += (self.token.get_secret_value(),)
        return tuple(v for v in {*found, *(x.strip() for x in found)} if v)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if value.endswith("/V1"):
            value = value[: -len("/V1")]
        return value
