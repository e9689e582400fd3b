"""Signatures on inbound webhooks: check that a call really comes from its source.

Two schemes, chosen per source in the configuration (``scheme:`` is the discriminator):

``adobe_commerce``
    Adobe Commerce's webhooks module (Stores > Configuration > Adobe Services > Webhooks,
    config paths ``commerce_webhooks/digital_signature/*``) signs each call with the RSA
    private key it generated and sends the signature in ``x-adobe-commerce-webhook-signature``.
    What is signed is **not** the body itself but the ASCII text of the *base64 encoding*
    of the body; the algorithm is RSASSA-PKCS1-v1_5 with SHA-256 (PHP ``openssl_sign`` with
    ``OPENSSL_ALGO_SHA256``, which Adobe's examples verify with Node's
    ``crypto.createVerify('SHA256')``); the header carries the signature in standard base64.
    The receiver verifies with the public key (PEM) shown in the Commerce admin. Adobe's page
    calls this an "HMAC SHA256 signature"; it is an RSA signature, no shared secret exists.
    Source: https://developer.adobe.com/commerce/extensibility/webhooks/signature-verification/
    The scheme has no timestamp, so it cannot refuse a replayed call by itself.

``hmac_sha256``
    The hub's own scheme for every other source::

        X-O2C-Timestamp: 1718000000
        X-O2C-Signature: v1=<hex HMAC-SHA256(secret, b"1718000000." + body)>

    The call is accepted when any ``v1=`` value matches any configured secret (so a secret
    can be rotated without downtime: configure old and new, switch the sender, drop the old
    one) and the timestamp lies within ``window_seconds`` of now, in either direction.
    Within the window an identical call can be replayed; the inbound idempotency key is what
    makes a replay harmless.

Every failure raises :class:`SignatureError` (HTTP 401). Its message says which header and
what was wrong with it, and how far off a timestamp was; it never contains a secret, a
signature or any other header value, because the message is returned to the caller and
written to the log. ``reason`` carries a stable code for metrics.

:func:`sign_hmac` and :func:`sign_adobe` produce the headers a sender would, for tests and
the simulators.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.errors import ConfigError, HubError

__all__ = [
    "ADOBE_SIGNATURE_HEADER",
    "DEFAULT_WINDOW_SECONDS",
    "HMAC_SIGNATURE_HEADER",
    "HMAC_TIMESTAMP_HEADER",
    "MIN_RSA_KEY_BITS",
    "AdobeCommerceSignature",
    "AdobeCommerceVerifier",
    "HmacSignature",
    "HmacVerifier",
    "SignatureConfig",
    "SignatureError",
    "SignatureFailure",
    "Verifier",
    "sign_adobe",
    "sign_hmac",
    "verifier_for",
]

ADOBE_SIGNATURE_HEADER = "x-adobe-commerce-webhook-signature"
HMAC_SIGNATURE_HEADER = "X-O2C-Signature"
HMAC_TIMESTAMP_HEADER = "X-O2C-Timestamp"
DEFAULT_WINDOW_SECONDS = 300
MIN_RSA_KEY_BITS = 2048
"""Adobe Commerce generates 2048-bit keys; anything shorter is refused at load."""

HMAC_VERSION = "v1"
MAX_SIGNATURE_ENTRIES = 8
"""More ``v1=`` values than this in one header is refused as malformed (bounded work)."""

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_HEX_SHA256 = re.compile(r"^[0-9A-Fa-f]{64}$")
_ENTRY = re.compile(r"^([A-Za-z0-9]{1,16})=(.*)$", re.DOTALL)
_ENTRY_SEPARATOR = re.compile(r"[,\s]+")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")

SignatureFailure = Literal[
    "missing_header",
    "malformed_header",
    "bad_signature",
    "timestamp_out_of_window",
    "unknown_scheme",
]


class SignatureError(HubError):
    """The request's signature could not be verified."""

    status = 401

    def __init__(
        self, message: str, *, reason: SignatureFailure, header: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason: SignatureFailure = reason
        self.header = header


# --------------------------------------------------------------------------- configuration


class AdobeCommerceSignature(BaseModel):
    """Verify Adobe Commerce webhook signatures (RSA, SHA-256, PKCS#1 v1.5)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    scheme: Literal["adobe_commerce"] = Field(
        default="adobe_commerce",
        description="Selects this scheme: Adobe Commerce's `x-adobe-commerce-webhook-signature`.",
    )
    public_key_pem: str = Field(
        min_length=1,
        description=(
            "The webhook signing public key exactly as the Commerce admin shows it under "
            "Stores > Configuration > Adobe Services > Webhooks, PEM-encoded "
            "(`-----BEGIN PUBLIC KEY-----` ...). RSA, at least "
            f"{MIN_RSA_KEY_BITS} bits. After 'Regenerate key pair' in Commerce, replace it "
            "here: the old key no longer verifies."
        ),
    )
    header: str = Field(
        default=ADOBE_SIGNATURE_HEADER,
        pattern=_HEADER_NAME.pattern,
        description="Header that carries the base64 signature (matched case-insensitively).",
    )

    @field_validator("public_key_pem")
    @classmethod
    def _must_be_rsa_public_key(cls, value: str) -> str:
        _load_rsa_public_key(value)
        return value


class HmacSignature(BaseModel):
    """Verify the hub's HMAC-SHA256 signature with a timestamp and a freshness window."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    scheme: Literal["hmac_sha256"] = Field(
        default="hmac_sha256",
        description="Selects this scheme: `X-O2C-Signature: v1=<hex HMAC-SHA256>`.",
    )
    secrets: list[SecretStr] = Field(
        min_length=1,
        description=(
            "Shared secrets; a call is accepted if its signature matches any of them. List "
            "the old and the new secret while rotating. Never write them into the file: use "
            "`{$env: NAME}` or `{$file: PATH}`."
        ),
    )
    window_seconds: int = Field(
        default=DEFAULT_WINDOW_SECONDS,
        ge=1,
        le=86_400,
        description=(
            "Largest accepted difference, in seconds and in either direction, between the "
            "timestamp header and the hub's clock. Bounds how long a captured call can be "
            "replayed and how much sender clock skew is tolerated."
        ),
    )
    signature_header: str = Field(
        default=HMAC_SIGNATURE_HEADER,
        pattern=_HEADER_NAME.pattern,
        description="Header carrying `v1=<hex>` values (matched case-insensitively).",
    )
    timestamp_header: str = Field(
        default=HMAC_TIMESTAMP_HEADER,
        pattern=_HEADER_NAME.pattern,
        description="Header carrying the signing time in Unix seconds (case-insensitive).",
    )

    @field_validator("secrets")
    @classmethod
    def _no_empty_secret(cls, value: list[SecretStr]) -> list[SecretStr]:
        for index, secret in enumerate(value):
            if not secret.get_secret_value():
                raise ValueError(f"secret #{index + 1} is empty")
        return value


SignatureConfig = Annotated[AdobeCommerceSignature | HmacSignature, Field(discriminator="scheme")]
"""How one source signs its calls; pick the scheme with ``scheme:``."""


# --------------------------------------------------------------------------- verification


@runtime_checkable
class Verifier(Protocol):
    """Checks one inbound request; returns quietly or raises :class:`SignatureError`."""

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
        """Verify ``body`` (the raw request bytes, before any parsing) against ``headers``."""
        ...


class AdobeCommerceVerifier:
    """Verifies ``x-adobe-commerce-webhook-signature``; ``now`` is not used (no timestamp)."""

    def __init__(self, config: AdobeCommerceSignature) -> None:
        self._key = _load_rsa_public_key(config.public_key_pem)
        self._header = config.header

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
        value = _require_header(headers, self._header).strip()
        signature = _decode_base64(value, self._header)
        if len(signature) != (self._key.key_size + 7) // 8:
            raise SignatureError(
                f"header {self._header!r} does not hold a signature of the expected length "
                f"for the configured {self._key.key_size}-bit key",
                reason="malformed_header",
                header=self._header,
            )
        try:
            self._key.verify(
                signature, _adobe_signed_message(body), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise SignatureError(
                f"signature in header {self._header!r} does not match the request body "
                "and the configured Adobe Commerce public key",
                reason="bad_signature",
                header=self._header,
            ) from None


class HmacVerifier:
    """Verifies ``X-O2C-Signature`` / ``X-O2C-Timestamp`` (see the module docstring)."""

    def __init__(self, config: HmacSignature) -> None:
        self._keys = tuple(s.get_secret_value().encode("utf-8") for s in config.secrets)
        self._window = config.window_seconds
        self._signature_header = config.signature_header
        self._timestamp_header = config.timestamp_header

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        raw_timestamp = _require_header(headers, self._timestamp_header).strip()
        raw_signature = _require_header(headers, self._signature_header)
        if not _TIMESTAMP.fullmatch(raw_timestamp):
            raise SignatureError(
                f"header {self._timestamp_header!r} must be Unix time in whole seconds "
                "(digits only)",
                reason="malformed_header",
                header=self._timestamp_header,
            )
        timestamp = int(raw_timestamp)
        candidates = self._parse_signatures(raw_signature)

        message = _hmac_message(raw_timestamp, body)
        matched = False
        # Every secret against every candidate, without stopping at the first match: the
        # time taken does not depend on which secret or which value matched.
        for key in self._keys:
            expected = hmac.new(key, message, hashlib.sha256).digest()
            for candidate in candidates:
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise SignatureError(
                f"signature in header {self._signature_header!r} does not match the request "
                "body and timestamp with any configured secret",
                reason="bad_signature",
                header=self._signature_header,
            )

        skew = math.floor(now.timestamp()) - timestamp
        if abs(skew) > self._window:
            direction = "old" if skew > 0 else "in the future"
            raise SignatureError(
                f"timestamp in header {self._timestamp_header!r} is {abs(skew)} s {direction}; "
                f"the accepted window is ±{self._window} s (replayed call or sender clock off)",
                reason="timestamp_out_of_window",
                header=self._timestamp_header,
            )

    def _parse_signatures(self, raw: str) -> list[bytes]:
        header = self._signature_header
        entries = [e for e in _ENTRY_SEPARATOR.split(raw.strip()) if e]
        if not entries:
            raise SignatureError(
                f"header {header!r} is empty", reason="malformed_header", header=header
            )
        if len(entries) > MAX_SIGNATURE_ENTRIES:
            raise SignatureError(
                f"header {header!r} holds {len(entries)} entries; at most "
                f"{MAX_SIGNATURE_ENTRIES} are accepted",
                reason="malformed_header",
                header=header,
            )
        candidates: list[bytes] = []
        other_schemes: set[str] = set()
        for entry in entries:
            match = _ENTRY.fullmatch(entry)
            if match is None:
                raise SignatureError(
                    f"header {header!r} must hold '{HMAC_VERSION}=<64 hex digits>' entries "
                    "separated by commas",
                    reason="malformed_header",
                    header=header,
                )
            scheme, value = match.group(1).lower(), match.group(2)
            if scheme != HMAC_VERSION:
                other_schemes.add(scheme)
                continue
            if not _HEX_SHA256.fullmatch(value):
                raise SignatureError(
                    f"header {header!r} has a '{HMAC_VERSION}=' entry that is not 64 hex "
                    "digits (an HMAC-SHA256)",
                    reason="malformed_header",
                    header=header,
                )
            candidates.append(bytes.fromhex(value))
        if not candidates:
            found = ", ".join(sorted(other_schemes))
            raise SignatureError(
                f"header {header!r} has no '{HMAC_VERSION}=' signature (found: {found}); "
                f"this hub verifies scheme {HMAC_VERSION} only",
                reason="unknown_scheme",
                header=header,
            )
        return candidates


def verifier_for(config: AdobeCommerceSignature | HmacSignature) -> Verifier:
    """The verifier for one source's signature configuration."""
    if isinstance(config, AdobeCommerceSignature):
        return AdobeCommerceVerifier(config)
    if isinstance(config, HmacSignature):
        return HmacVerifier(config)
    raise ConfigError(f"unknown signature scheme configuration: {type(config).__name__}")


# --------------------------------------------------------------------------- signing


def sign_hmac(
    secret: str | SecretStr | bytes,
    body: bytes,
    timestamp: int | datetime,
    *,
    signature_header: str = HMAC_SIGNATURE_HEADER,
    timestamp_header: str = HMAC_TIMESTAMP_HEADER,
) -> dict[str, str]:
    """The headers a sender adds to sign ``body`` at ``timestamp`` (Unix seconds or aware
    datetime) with ``secret``, as :class:`HmacVerifier` checks them."""
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None or timestamp.utcoffset() is None:
            raise ValueError("timestamp must be a timezone-aware datetime")
        seconds = math.floor(timestamp.timestamp())
    else:
        seconds = timestamp
    if seconds < 0:
        raise ValueError("timestamp must not be before 1970")
    if isinstance(secret, SecretStr):
        key = secret.get_secret_value().encode("utf-8")
    elif isinstance(secret, str):
        key = secret.encode("utf-8")
    else:
        key = secret
    raw_timestamp = str(seconds)
    digest = hmac.new(key, _hmac_message(raw_timestamp, body), hashlib.sha256).hexdigest()
    return {timestamp_header: raw_timestamp, signature_header: f"{HMAC_VERSION}={digest}"}


def sign_adobe(
    private_key_pem: str | bytes, body: bytes, *, header: str = ADOBE_SIGNATURE_HEADER
) -> dict[str, str]:
    """The header Adobe Commerce adds when it signs ``body`` with ``private_key_pem``
    (an unencrypted PEM RSA private key)."""
    pem = private_key_pem.encode("ascii") if isinstance(private_key_pem, str) else private_key_pem
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("sign_adobe needs an RSA private key")
    signature = key.sign(_adobe_signed_message(body), padding.PKCS1v15(), hashes.SHA256())
    return {header: base64.b64encode(signature).decode("ascii")}


# --------------------------------------------------------------------------- helpers


def _adobe_signed_message(body: bytes) -> bytes:
    """Commerce signs the base64 text of the body, not the body's bytes."""
    return base64.b64encode(body)


def _hmac_message(raw_timestamp: str, body: bytes) -> bytes:
    return f"{raw_timestamp}.".encode("ascii") + body


def _require_header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name``, whatever its case in ``headers``.

    Works with a plain dict as well as with a case-insensitive multi-dict (whose ``items()``
    yields repeated headers). A header sent twice with different values is refused: which
    one counts would otherwise depend on the server framework.
    """
    wanted = name.lower()
    values = {value for key, value in headers.items() if key.lower() == wanted}
    if not values:
        raise SignatureError(f"missing header {name!r}", reason="missing_header", header=name)
    if len(values) > 1:
        raise SignatureError(
            f"header {name!r} was sent more than once with different values",
            reason="malformed_header",
            header=name,
        )
    return values.pop()


def _decode_base64(value: str, header: str) -> bytes:
    if not value or not _BASE64.fullmatch(value) or len(value) % 4:
        raise SignatureError(
            f"header {header!r} is not standard base64", reason="malformed_header", header=header
        )
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise SignatureError(
            f"header {header!r} is not standard base64", reason="malformed_header", header=header
        ) from None


def _load_rsa_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise ValueError(
            "public_key_pem is not a PEM-encoded public key "
            "(expected -----BEGIN PUBLIC KEY----- ... as shown in the Commerce admin)"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("public_key_pem must be an RSA public key")
    if key.key_size < MIN_RSA_KEY_BITS:
        raise ValueError(
            f"public_key_pem is a {key.key_size}-bit RSA key; at least {MIN_RSA_KEY_BITS} "
            "bits are required"
        )
    return key
