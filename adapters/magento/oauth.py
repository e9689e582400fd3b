"""OAuth 1.0a request signing (RFC 5849) with HMAC-SHA256, as Magento integrations use it.

Since Magento 2.4.4 an integration's access token is no longer accepted as a Bearer token
by default (``oauth/consumer/enable_integration_as_bearer`` is off); the integration signs
each call with its four credentials instead: consumer key and secret, access token and
token secret. The signature covers the method, the base URI (scheme and host lower-case,
default port dropped, no query), and every query parameter plus the ``oauth_*`` ones,
percent-encoded per RFC 5849 §3.6, sorted, joined. A JSON body is not signed (only form
bodies would be). The key is ``encode(consumer_secret) & encode(token_secret)``.

:func:`authorization_header` signs (the client); :func:`verify` checks (the simulator,
and anyone testing a receiver). Both sides share :func:`signature_base_string` so they
cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "SIGNATURE_METHOD",
    "OAuthCredentials",
    "OAuthError",
    "authorization_header",
    "parse_authorization",
    "percent_encode",
    "signature",
    "signature_base_string",
    "verify",
]

SIGNATURE_METHOD = "HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class OAuthError(Exception):
    """A signed request that does not verify; the message names what is wrong, never a secret."""


@dataclass(frozen=True)
class OAuthCredentials:
    """The four values of a Magento integration (System > Extensions > Integrations)."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return f"OAuthCredentials(consumer_key={self.consumer_key!r}, ...)"


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then every byte except ALPHA / DIGIT / - . _ ~ as %XX."""
    return quote(value, safe="-._~")


def _base_uri(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def _query_pairs(url: str) -> list[tuple[str, str]]:
    query = urlsplit(url).query
    pairs = []
    for piece in query.split("&") if query else []:
        name, _, value = piece.partition("=")
        pairs.append((unquote(name.replace("+", " ")), unquote(value.replace("+", " "))))
    return pairs


def signature_base_string(
    method: str, url: str, params: Iterable[tuple[str, str]], oauth_params: Mapping[str, str]
) -> str:
    """``METHOD&encode(base URI)&encode(normalised parameters)`` (RFC 5849 §3.4.1).

    ``params`` are the request's query parameters (decoded), including any in ``url``.
    """
    pairs = [*_query_pairs(url), *params]
    pairs += [(k, v) for k, v in oauth_params.items() if k != "oauth_signature"]
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in pairs)
    normalised = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), percent_encode(_base_uri(url)), percent_encode(normalised)))


def signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def authorization_header(
    credentials: OAuthCredentials,
    method: str,
    url: str,
    params: Iterable[tuple[str, str]] = (),
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The ``Authorization: OAuth ...`` value for one request."""
    oauth = {
        "oauth_consumer_key": credentials.consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": SIGNATURE_METHOD,
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_token": credentials.access_token,
        "oauth_version": "1.0",
    }
    base = signature_base_string(method, url, list(params), oauth)
    oauth["oauth_signature"] = signature(
        base, credentials.consumer_secret, credentials.access_token_secret
    )
    fields = ", ".join(f'{k}="{percent_encode(v)}"' for k, v in oauth.items())
    return f"OAuth {fields}"


def parse_authorization(header: str) -> dict[str, str]:
    """The ``oauth_*`` fields of an ``Authorization: OAuth ...`` header."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise OAuthError("the Authorization header is not an OAuth header")
    fields: dict[str, str] = {}
    for piece in rest.split(","):
        name, sep, value = piece.strip().partition("=")
        if not sep:
            continue
        fields[unquote(name.strip())] = unquote(value.strip().strip('"'))
    return fields


def verify(
    header: str,
    method: str,
    url: str,
    lookup_secrets: Mapping[tuple[str, str], tuple[str, str]],
    *,
    now: float | None = None,
    window_seconds: int = 600,
) -> tuple[str, str]:
    """Check a signed request; returns ``(consumer_key, access_token)``.

    ``lookup_secrets`` maps ``(consumer_key, access_token)`` to ``(consumer_secret,
    token_secret)``. Raises :class:`OAuthError` naming the problem.
    """
    fields = parse_authorization(header)
    for required in ("oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_timestamp"):
        if not fields.get(required):
            raise OAuthError(f"the OAuth header has no {required}")
    method_used = fields.get("oauth_signature_method", "")
    if method_used != SIGNATURE_METHOD:
        raise OAuthError(f"signature method {method_used!r} is not {SIGNATURE_METHOD}")
    key = (fields["oauth_consumer_key"], fields["oauth_token"])
    if key not in lookup_secrets:
        raise OAuthError("unknown consumer key or access token")
    try:
        stamp = int(fields["oauth_timestamp"])
    except ValueError:
        raise OAuthError("oauth_timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - stamp) > window_seconds:
        raise OAuthError(f"oauth_timestamp is {int(current - stamp)} s away from now")
    consumer_secret, token_secret = lookup_secrets[key]
    signed = {k: v for k, v in fields.items() if k.startswith("oauth_")}  # not realm
    base = signature_base_string(method, url, (), signed)
    expected = signature(base, consumer_secret, token_secret)
    if not hmac.compare_digest(expected, fields["oauth_signature"]):
        raise OAuthError("the OAuth signature does not match")
    return key
