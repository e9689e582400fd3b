"""Typed options of an SAP S/4HANA target; ``transport`` picks how the hub talks to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from adapters.sap.idoc_transport import IdocTransportOptions
from adapters.sap.journal import JournalConfig

if TYPE_CHECKING:
    from adapters.sap.soap import JournalServiceConfig

__all__ = ["RfcOptions", "SapConfig"]

SALES_ORDER_SERVICE = "/sap/opu/odata/sap/API_SALES_ORDER_SRV"
BUSINESS_PARTNER_SERVICE = "/sap/opu/odata/sap/API_BUSINESS_PARTNER"
JOURNAL_SERVICE = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
"""SOAP Journal Entry - Post (Synchronous); zeep is imported only by a soap target."""


class RfcOptions(BaseModel):
    """Connection parameters passed to ``pyrfc.Connection`` (SAP NW RFC SDK)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    ashost: str = Field(min_length=1, description="Application server host.")
    sysnr: str = Field(pattern=r"^\d{2}$", description="System number, e.g. 00.")
    client: str = Field(pattern=r"^\d{3}$", description="SAP client, e.g. 100.")
    lang: str = Field(default="EN", min_length=2, max_length=2)


class SapConfig(BaseModel):
    """Where the SAP system is, how the hub logs on, and which interface it uses."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    transport: Literal["odata", "rfc", "soap", "idoc"] = Field(
        default="odata",
        description="`odata`: sales orders by API_SALES_ORDER_SRV deep insert (S/4HANA); "
        "`rfc`: sales orders by BAPI_SALESORDER_CREATEFROMDAT2 (needs the `sap-rfc` extra "
        "and SAP's NW RFC SDK); `soap`: invoices and credit notes posted to the general "
        "ledger by JournalEntryCreateRequestConfirmation_In; `idoc`: ORDERS05 / INVOIC02 "
        "IDocs written to a drop directory or posted to SAP's IDoc-XML inbound.",
    )
    base_url: str | None = Field(
        default=None,
        description="OData: scheme and host of the SAP Gateway, e.g. "
        "https://s4.example.com:44300 (service paths are appended).",
    )
    sap_client: str | None = Field(
        default=None,
        pattern=r"^\d{3}$",
        description="OData: the `sap-client` query parameter, when not the system's default.",
    )
    user: str = Field(default="", description="Communication user (not for idoc files).")
    password: SecretStr = Field(
        default=SecretStr(""), description="The user's password; never logged."
    )
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds per call.")
    sales_order_service: str = Field(
        default=SALES_ORDER_SERVICE, description="Path of API_SALES_ORDER_SRV."
    )
    business_partner_service: str = Field(
        default=BUSINESS_PARTNER_SERVICE, description="Path of API_BUSINESS_PARTNER."
    )
    rfc: RfcOptions | None = Field(default=None, description="RFC: the connection.")
    journal_service: str = Field(
        default=JOURNAL_SERVICE, description="SOAP: path of the journal entry service."
    )
    idoc: IdocTransportOptions | None = Field(
        default=None, description="IDoc: mode (file/http), directory, envelope, partners."
    )
    journal: JournalConfig | None = Field(
        default=None,
        description="SOAP: company code, G/L accounts and tax codes of the journal entries.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _transport_settings(self) -> SapConfig:
        if self.transport == "odata" and not self.base_url:
            raise ValueError("transport odata needs base_url")
        if self.transport == "rfc" and self.rfc is None:
            raise ValueError("transport rfc needs rfc: {ashost, sysnr, client}")
        if self.transport == "soap" and (self.journal is None or not self.base_url):
            raise ValueError("transport soap needs base_url and journal: {company_code, ...}")
        if self.transport == "idoc":
            if self.idoc is None:
                raise ValueError("transport idoc needs idoc: {mode, envelope, ...}")
            if self.idoc.mode == "file" and self.idoc.directory is None:
                raise ValueError("idoc mode file needs idoc.directory")
            if self.idoc.mode == "http" and not self.base_url:
                raise ValueError("idoc mode http needs base_url")
        elif not self.user or not self.password.get_secret_value():
            raise ValueError(f"transport {self.transport} needs user and password")
        return self

    def journal_service_config(self) -> JournalServiceConfig:
        from adapters.sap.soap import JournalServiceConfig

        assert self.base_url is not None
        return JournalServiceConfig(
            endpoint_url=self.base_url + self.journal_service,
            user=self.user,
            password=self.password,
            sap_client=self.sap_client,
            timeout=self.timeout,
        )

    def secret_values(self) -> tuple[str, ...]:
        secret = self.password.get_secret_value()
        return tuple(v for v in {secret, secret.strip()} if v)
