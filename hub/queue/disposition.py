"""What a failed delivery means: retry, retry after, dead letter, or an auth failure.

One table, :data:`DISPOSITIONS`, says it all. Each row names an error class of
:mod:`hub.errors`, the :class:`Action` the queue takes for it, whether it counts against
the target's circuit breaker, and the HTTP statuses that a generic HTTP target turns into
that class:

================== ============ ======= ==============================
error class        action       breaker HTTP statuses
================== ============ ======= ==============================
RateLimited        retry_after  trips   429
TargetTimeout      retry        trips   504
TargetUnavailable  retry        trips   (connection errors, no status)
TransientError     retry        trips   408 425 500 502 503
AuthFailed         auth_failure trips   401 403
MasterDataMissing  dead_letter  --      (named by adapters)
Rejected           dead_letter  --      400 404 409 422
PermanentError     dead_letter  --
DeliveryError      retry        trips   (an adapter that did not say: assume the worst
                                        that can still be retried; attempts bound it)
================== ============ ======= ==============================

An error is looked up by its class's MRO, so a subclass an adapter defines inherits its
parent's row. Statuses outside the table fall back by range: other 4xx are
``Rejected``, other 5xx ``TransientError``, anything else (an unexpected 1xx-3xx) a
``PermanentError``: the target's configuration, not the document, needs a look.

A retryable status that arrives with a usable ``Retry-After`` header becomes
:class:`~hub.errors.RateLimited` carrying it, so the target's wish is honoured whatever
the status (RFC 9110 allows ``Retry-After`` on 503 and on any 3xx/4xx/5xx).

:func:`fingerprint` groups dead letters; :func:`filter_secrets` cleans any text before it
is stored or logged.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import quote, quote_plus

from hub.errors import (
    AuthFailed,
    DeliveryError,
    MasterDataMissing,
    PermanentError,
    RateLimited,
    Rejected,
    TargetTimeout,
    TargetUnavailable,
    TransientError,
)

__all__ = [
    "ACTION_ERRORS",
    "DISPOSITIONS",
    "ERROR_DISPOSITIONS",
    "REDACTED",
    "STATUS_ERRORS",
    "Action",
    "Classification",
    "Disposition",
    "action_for",
    "classify_status",
    "disposition_for",
    "filter_secrets",
    "fingerprint",
    "parse_retry_after",
    "trips_breaker",
]


class Action(StrEnum):
    """What the queue does with a delivery that failed this way."""

    RETRY = "retry"
    """Schedule another attempt after the retry policy's backoff."""
    RETRY_AFTER = "retry_after"
    """Schedule another attempt no earlier than the target's ``Retry-After``."""
    DEAD_LETTER = "dead_letter"
    """Stop: the delivery is dead until someone fixes the data and replays it."""
    AUTH_FAILURE = "auth_failure"
    """Dead-letter, open the target's breaker and alert: every delivery would fail."""

    @property
    def retries(self) -> bool:
        """True when the delivery gets another attempt."""
        return self in (Action.RETRY, Action.RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class Disposition:
    """One row of the table: an error class, what to do, and which statuses produce it."""

    error: type[DeliveryError]
    action: Action
    trips_breaker: bool
    statuses: tuple[int, ...] = ()
    """HTTP statuses a generic HTTP target classifies as :attr:`error`."""


DISPOSITIONS: tuple[Disposition, ...] = (
    Disposition(RateLimited, Action.RETRY_AFTER, trips_breaker=True, statuses=(429,)),
    Disposition(TargetTimeout, Action.RETRY, trips_breaker=True, statuses=(504,)),
    Disposition(TargetUnavailable, Action.RETRY, trips_breaker=True),
    Disposition(
        TransientError, Action.RETRY, trips_breaker=True, statuses=(408, 425, 500, 502, 503)
    ),
    Disposition(AuthFailed, Action.AUTH_FAILURE, trips_breaker=True, statuses=(401, 403)),
    Disposition(MasterDataMissing, Action.DEAD_LETTER, trips_breaker=False),
    Disposition(Rejected, Action.DEAD_LETTER, trips_breaker=False, statuses=(400, 404, 409, 422)),
    Disposition(PermanentError, Action.DEAD_LETTER, trips_breaker=False),
    Disposition(DeliveryError, Action.RETRY, trips_breaker=True),
)
"""The disposition table; everything else in this module is derived from it."""


def _index_errors() -> Mapping[type[DeliveryError], Disposition]:
    rows: dict[type[DeliveryError], Disposition] = {}
    for row in DISPOSITIONS:
        if row.error in rows:
            raise ValueError(f"{row.error.__name__} has two rows in DISPOSITIONS")
        rows[row.error] = row
    return MappingProxyType(rows)


def _index_statuses() -> Mapping[int, type[DeliveryError]]:
    statuses: dict[int, type[DeliveryError]] = {}
    for row in DISPOSITIONS:
        for status in row.statuses:
            if status in statuses:
                raise ValueError(f"HTTP {status} has two rows in DISPOSITIONS")
            statuses[status] = row.error
    return MappingProxyType(statuses)


ERROR_DISPOSITIONS: Mapping[type[DeliveryError], Disposition] = _index_errors()
"""Row of each error class named in the table."""

STATUS_ERRORS: Mapping[int, type[DeliveryError]] = _index_statuses()
"""Error class of each HTTP status named in the table."""

ACTION_ERRORS: Mapping[Action, type[DeliveryError]] = MappingProxyType(
    {
        Action.RETRY: TransientError,
        Action.RETRY_AFTER: RateLimited,
        Action.DEAD_LETTER: Rejected,
        Action.AUTH_FAILURE: AuthFailed,
    }
)
"""Error class a per-target status override stands for."""


def disposition_for(error: DeliveryError | type[DeliveryError]) -> Disposition:
    """The table row for ``error``: the first class of its MRO that has one."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        if issubclass(klass, DeliveryError) and klass in ERROR_DISPOSITIONS:
            return ERROR_DISPOSITIONS[klass]
    raise TypeError(f"{cls.__name__} is not a DeliveryError")  # pragma: no cover


def action_for(error: DeliveryError | type[DeliveryError]) -> Action:
    """What the queue does after ``error``."""
    return disposition_for(error).action


def trips_breaker(error: DeliveryError | type[DeliveryError]) -> bool:
    """True when ``error`` says the target is unwell, not that the document is wrong."""
    return disposition_for(error).trips_breaker


# --- HTTP targets ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    """How a generic HTTP target reads one failed response."""

    status_code: int
    error: type[DeliveryError]
    action: Action
    retry_after: float | None = None
    """Seconds the target asked us to wait, from the ``Retry-After`` header."""

    def to_error(
        self, *, target: str | None = None, detail: str | None = None, message: str | None = None
    ) -> DeliveryError:
        """The exception to raise for this response (``detail`` must be secret-free)."""
        if issubclass(self.error, RateLimited):
            return self.error(
                message,
                retry_after=self.retry_after,
                target=target,
                status_code=self.status_code,
                detail=detail,
            )
        return self.error(message, target=target, status_code=self.status_code, detail=detail)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3), or None.

    The header is either a number of seconds (RFC 9110 says a whole number; a fraction is
    accepted) or an HTTP-date, measured from ``now``; a date in the past means 0.
    Anything unparseable, negative or infinite is ignored (None): a broken header must
    not turn a retryable failure into something worse.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit():  # delay-seconds; a fraction is read leniently, as servers send them
        try:
            seconds = float(text)
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or an obsolete zone: HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    reference = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return max(0.0, (when - reference).total_seconds())


def _fallback(status_code: int) -> type[DeliveryError]:
    if 400 <= status_code < 500:
        return Rejected
    if 500 <= status_code < 600:
        return TransientError
    return PermanentError


def classify_status(
    status_code: int,
    retry_after_header: str | None = None,
    *,
    now: datetime,
    overrides: Mapping[int, Action] | None = None,
) -> Classification:
    """Read a failed HTTP response: which error it is and what the queue will do.

    ``overrides`` lets one target read a status differently, e.g. ``{404: Action.RETRY}``
    for a target whose reads lag its writes; an overridden status stands for the
    class in :data:`ACTION_ERRORS`. ``now`` measures a ``Retry-After`` HTTP-date.
    """
    if overrides and status_code in overrides:
        error = ACTION_ERRORS[Action(overrides[status_code])]
    else:
        error = STATUS_ERRORS.get(status_code) or _fallback(status_code)
    action = action_for(error)
    retry_after = parse_retry_after(retry_after_header, now) if action.retries else None
    if retry_after is not None or action is Action.RETRY_AFTER:
        error = error if issubclass(error, RateLimited) else RateLimited
        action = Action.RETRY_AFTER
    return Classification(status_code, error, action, retry_after)


# --- secrets --------------------------------------------------------------------------

REDACTED = "***"

_SENSITIVE_NAME = (
    r"[\w.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|signature|"
    r"credentials?|private[_-]?key)[\w.-]*"
)
_KEY_VALUE = re.compile(
    rf"""(?P<key>["']?\b{_SENSITIVE_NAME}["']?\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s&,;"'}\]]+)""",
    re.IGNORECASE,
)
_AUTH_HEADER = re.compile(
    r"""(?P<head>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)"""
    r"""(?P<scheme>(?:Bearer|Basic|Token|Digest|Negotiate|NTLM|ApiKey|OAuth|Hawk)\s+)?"""
    r"""(?P<value>[^\s"',}]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>Bearer)\s+(?P<value>[\w\-.~+/]+=*)", re.IGNORECASE)
_BASIC = re.compile(r"\b(?P<scheme>Basic)\s+(?P<value>[A-Za-z0-9+/]+=*)", re.IGNORECASE)
_URL_USERINFO = re.compile(
    r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@]*):(?P<value>[^\s/?#]+)@", re.IGNORECASE
)


def _redact_value(match: re.Match[str]) -> str:
    value = match["value"]
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match['key']}{quote_char}{REDACTED}{quote_char}"


def _looks_like_basic_credentials(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _redact_basic(match: re.Match[str]) -> str:
    if not _looks_like_basic_credentials(match["value"]):
        return match[0]
    return f"{match['scheme']} {REDACTED}"


def filter_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secret values and obvious credentials replaced by ``***``.

    Removed: every value in ``secrets`` (also percent-encoded, as it appears in URLs),
    longest first; ``Authorization`` header values (the scheme is kept); ``Bearer``
    tokens; ``Basic`` credentials (when they decode to ``user:password``); the password
    of ``scheme://user:password@host``; values of keys that name a password, secret,
    token, API key, signature, credential or private key, as ``key=value``, ``key: value``
    or JSON ``"key": "value"``. Over-redacting is preferred to leaking.
    """
    variants: set[str] = set()
    for secret in secrets:
        if secret:
            variants.update({secret, quote(secret, safe=""), quote_plus(secret, safe="")})
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m['head']}{m['scheme'] or ''}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    text = _BASIC.sub(_redact_basic, text)
    return _KEY_VALUE.sub(_redact_value, text)


# --- fingerprints ---------------------------------------------------------------------

FINGERPRINT_DETAIL_LENGTH = 120

_UUID = re.compile(
    r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.IGNORECASE
)
_ISO_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?)?\b",
    re.IGNORECASE,
)
_HTTP_DATE = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
    r"\d{2}:\d{2}:\d{2} (?:GMT|UTC|[+-]\d{4})"
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\b")
_LONG_HEX = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{16,}\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_./#][A-Za-z0-9]+)*")
_SPACE = re.compile(r"\s+")


def _normalise_token(match: re.Match[str]) -> str:
    token = match[0]
    return token if any(c.isalpha() for c in token) else "<n>"


def normalise_detail(text: str) -> str:
    """``text`` with the parts that differ between instances of one problem replaced.

    UUIDs become ``<uuid>``, timestamps ``<ts>``, hex strings of 16+ digits (trace and
    request ids, hashes) ``<hex>``, and tokens made only of digits and separators
    (``4500012345``, ``12.50``, ``10.0.0.1``) ``<n>``. A token with a letter in it is a
    code (``24-MB01``, ``DE0001``) and is kept, since it is often what the problem is about.
    """
    text = _UUID.sub("<uuid>", text)
    text = _HTTP_DATE.sub("<ts>", text)
    text = _ISO_TIMESTAMP.sub("<ts>", text)
    text = _TIME.sub("<ts>", text)
    text = _LONG_HEX.sub("<hex>", text)
    text = _TOKEN.sub(_normalise_token, text)
    return _SPACE.sub(" ", text).strip()


def fingerprint(error: DeliveryError) -> str:
    """A short, stable key that groups dead letters failing for the same reason.

    ``"<Class> <target> <status>: <detail>"`` with the detail (else the message)
    secret-filtered, normalised by :func:`normalise_detail` and cut to
    :data:`FINGERPRINT_DETAIL_LENGTH` characters; a missing target or status is left out.
    Example: ``"Rejected sap 422: SKU 24-MB01 unknown in sales org <n>"``.
    """
    parts = (type(error).__name__, error.target, error.status_code)
    head = " ".join(str(part) for part in parts if part is not None)
    missing = getattr(error, "missing", None)
    if missing:  # MasterDataMissing: the key itself groups (a customer number is a name)
        return f"{head}: missing {filter_secrets(str(missing))}"
    detail = normalise_detail(filter_secrets(error.detail or error.message))
    if len(detail) > FINGERPRINT_DETAIL_LENGTH:
        detail = detail[: FINGERPRINT_DETAIL_LENGTH - 1].rstrip() + "…"
    return f"{head}: {detail}" if detail else head
