"""Structured logs: the correlation id on every line, no secrets, no personal data.

:func:`configure_logging` installs one handler on the ``hub`` logger (so every ``hub.*``
logger, such as ``hub.worker``, goes through it). Its :class:`RedactingFilter` cleans every
record before it is formatted, whatever produced it: the message (after ``%`` formatting),
the rendered traceback, the stack, the correlation id and the ``fields`` passed with
``logger.info(..., extra={"fields": {...}})``. Cleaning is :func:`scrub`: first
:func:`hub.queue.disposition.filter_secrets` (the configured secret values, bearer tokens,
``password=``...), then :func:`redact_personal`.

The correlation id lives in the :data:`correlation_id` context variable; bind it with
:func:`bind_correlation` around the work of one request or delivery. asyncio tasks copy
the context when they are created, so a binding in one task never leaks into another.

Redaction rules
---------------
:func:`redact_personal` (free text, such as messages and error texts):

* **Emails** keep their first character and their domain: ``jane.doe@example.com`` ->
  ``j***@example.com`` (the domain usually names a company, which is business data and
  helps debugging; ``%40`` for ``@`` is recognised too).
* **Values of personal keys** written as ``key=value``, ``"key": value``, ``'key': value``
  or ``\\"key\\": value`` (JSON inside a string): street and address lines become
  ``<street>`` (``"street": ["123 Oak Ave"]`` -> ``"street": ["<street>"]``), phone, fax
  and mobile numbers ``<phone>``, emails are masked as above (``<email>`` if the value is
  no address), first/last/middle names, postcodes and birth dates ``<redacted>``. The
  keys are those of :func:`is_personal_key`. ``null``, booleans and empty values are kept.
  An unquoted key needs ``=``: ``billing.street: field required`` (an error about a
  field, not its value) is kept.
* **Phone numbers** become ``<phone>``: international (``+49 30 1234567``,
  ``+1 (555) 123-4567``, ``+44 (0)20 7946 0958``), national with a trunk ``0`` and at
  least one separator (``030 1234567``, ``030/1234567``, ``01 23 45 67 89``), an area code
  in parentheses (``(030) 1234567``), North American ``555-123-4567`` / ``555.123.4567``,
  and any digits after a word such as ``Tel.``, ``phone``, ``fax`` or ``mobile``
  (``Tel.: 0301234567``). A match needs 7 to 15 digits.

  Not phones, and kept: a bare run of digits (order and document numbers such as
  ``000000003`` or ``4500012345``, EANs, epoch times), anything glued to a letter
  (``T00000001``, ``24-MB01``), UUIDs, dates and ISO timestamps (``2026-11-23 12:00:00``,
  ``23.11.2026``, ``11/23/2026``), times, amounts and quantities (``165.00``,
  ``1,234,567.89``, ``1.234.567,89``, ``1.0000``) and IPv4 addresses. Known gaps: national
  numbers without a trunk ``0`` and outside the North American shape (``912 345 678``) are
  only caught after a keyword or under a personal key; an all-digit code shaped like a
  phone (``0001-0002-0003``) is redacted.
* **Not redacted**: names, cities, countries, regions, companies and VAT ids in free text
  (a name cannot be told from a product name without a key), nor values of other keys.

:func:`redact_fields` (structured data): the values of personal keys become
``"<redacted>"`` (``None``, booleans and empty strings are kept; an address key holding an
object or a list of objects is walked into instead), and every other string is passed
through :func:`redact_personal`. City, country, region, company and VAT ids are kept.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, TextIO

from hub.config import LoggingSettings
from hub.queue.disposition import REDACTED as SECRET_MASK
from hub.queue.disposition import filter_secrets

__all__ = [
    "HUB_LOGGER",
    "REDACTED",
    "ConsoleFormatter",
    "JsonFormatter",
    "RedactingFilter",
    "bind_correlation",
    "configure_logging",
    "correlation_id",
    "current_correlation",
    "is_personal_key",
    "new_correlation_id",
    "redact_fields",
    "redact_personal",
    "reset_logging",
    "scrub",
]

HUB_LOGGER: Final = "hub"
REDACTED: Final = "<redacted>"
"""What :func:`redact_fields` puts in place of a personal value."""

# --------------------------------------------------------------------------- correlation

correlation_id: ContextVar[str | None] = ContextVar("hub_correlation_id", default=None)
"""The correlation id of the work in progress, or None outside of any."""


def new_correlation_id() -> str:
    """A fresh correlation id: 32 hex digits."""
    return uuid.uuid4().hex


def current_correlation() -> str | None:
    """The bound correlation id, or None."""
    return correlation_id.get()


@contextmanager
def bind_correlation(cid: str | None = None) -> Iterator[str]:
    """Bind ``cid`` (a fresh id if None) as the correlation id for the ``with`` block.

    Yields the bound id; the previous binding is restored on exit.
    """
    bound = cid if cid is not None else new_correlation_id()
    token = correlation_id.set(bound)
    try:
        yield bound
    finally:
        correlation_id.reset(token)


# --------------------------------------------------------------------------- personal keys

_S = r"[_.-]?"
_NUMBER = rf"(?:{_S}(?:number|num|no|nr))?"
_KEY_PATTERNS: Final = {
    "email": rf"e{_S}mails?(?:{_S}addr(?:ess)?)?",
    "phone": (
        rf"(?:tele{_S})?phones?{_NUMBER}|(?:tele{_S})?fax{_NUMBER}"
        rf"|mobile(?:{_S}phone)?{_NUMBER}|cell{_S}phone{_NUMBER}|(?<![a-z0-9])tel"
    ),
    "street": (
        rf"street(?:{_S}(?:name|address|line))?(?:{_S}\d+)?|house{_S}(?:number|num|no|nr)"
        # A bare "address" only with no prefix or a known one: ip_address stays.
        rf"|(?<![\w.-])(?:(?:billing|shipping|street|postal|home|delivery|customer|invoice"
        rf"|ship{_S}to|bill{_S}to){_S})?address(?:{_S}line)?(?:{_S}\d+)?"
    ),
    "name": rf"(?:first|last|middle|given|family|full|sur|maiden){_S}name",
    "postcode": rf"post(?:al)?{_S}code|(?<![a-z0-9])zip(?:{_S}code)?",
    "birth": rf"(?<![a-z0-9])dob|birth{_S}(?:date|day)|date{_S}of{_S}birth",
}
_KEY_BODY = r"[\w.-]*?(?:" + "|".join(f"(?:{p})" for p in _KEY_PATTERNS.values()) + ")"
_PERSONAL_KEY = re.compile(
    r"[\w.-]*?(?:" + "|".join(f"(?P<{k}>{p})" for k, p in _KEY_PATTERNS.items()) + ")",
    re.IGNORECASE,
)
_ADDRESS_CONTAINER = re.compile(rf"(?:[\w-]*{_S})?address(?:es)?", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _key_category(key: str) -> str | None:
    match = _PERSONAL_KEY.fullmatch(key)
    return match.lastgroup if match else None


def is_personal_key(key: str) -> bool:
    """Whether a field named ``key`` holds personal data that logs must not show.

    Matched case-insensitively, with any prefix (``customer_email``, ``billingStreet``) and
    ``_``, ``-``, ``.`` or nothing between words: emails; phone, fax and mobile numbers;
    street and address lines (``street``, ``street_name``, ``address_line_1``,
    ``house_number``, ``billing_address``; not ``ip_address``); first, last, middle,
    given, family and full names; postcodes and zip codes; birth dates (``dob``).
    Business data such as ``city``, ``country``, ``region``, ``company`` and ``vat_id``
    is not personal here.
    """
    return _key_category(key) is not None


# --------------------------------------------------------------------------- free text

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._+-])(?P<local>[A-Za-z0-9._+-]+)(?P<at>@|%40)"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})\b"
)


_MASKED_EMAIL = re.compile(r"[A-Za-z0-9._+-]\*\*\*(?:@|%40)")


def _mask_email(match: re.Match[str]) -> str:
    return f"{match['local'][0]}***{match['at']}{match['domain']}"


_KEEP_LITERALS = frozenset({"null", "none", "true", "false", "nil", ""})
_KEY_VALUE = re.compile(
    r"(?<![\w.\\-])"
    rf"(?:(?P<q>\\?[\"'])(?P<qkey>{_KEY_BODY})(?P=q)\s*[:=]|(?P<ukey>{_KEY_BODY})\s*=)\s*"
    r"(?P<value>"
    r'\\"(?:[^"\\]|\\[^"])*\\"'  # \"...\" (JSON inside a string)
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|\[[^\[\]{}]*\]"  # a list of scalars
    r"|(?:(?!\s+[\w.-]+\s*=)[^\s,;&}\]\"'\[{])(?:(?!\s+[\w.-]+\s*=)[^,;&\n}\]\"'])*"
    r")",
    re.IGNORECASE,
)
_TOKENS: Final = {"street": "<street>", "phone": "<phone>", "email": "<email>"}
_LIST_QUOTE = re.compile(r"\[\s*(\\\"|\"|')?")


def _redact_key_value(match: re.Match[str]) -> str:
    category = _key_category(match["qkey"] or match["ukey"])
    value = match["value"]
    if category is None:
        return match[0]
    head = match[0][: match.start("value") - match.start()]
    if category == "email":
        masked = _EMAIL.sub(_mask_email, value)
        if masked != value:
            return head + masked
        if _MASKED_EMAIL.search(value):  # masked before: keep it (redaction is idempotent)
            return match[0]
    token = _TOKENS.get(category, REDACTED)
    if value.startswith("["):
        if not value[1:-1].strip():
            return match[0]
        quote_match = _LIST_QUOTE.match(value)
        quote = (quote_match[1] if quote_match else None) or ""
        return f"{head}[{quote}{token}{quote}]"
    for quote in ('\\"', '"', "'"):
        if value.startswith(quote):
            inner = value[len(quote) : -len(quote)]
            if not inner.strip() or inner == token:
                return match[0]
            return f"{head}{quote}{token}{quote}"
    stripped = value.rstrip()
    if stripped.lower() in _KEEP_LITERALS:
        return match[0]
    return f"{head}{token}{value[len(stripped) :]}"


# Numbers shaped like dates, times, amounts, UUIDs and IP addresses are never phones. They
# are masked with letters of the same length before phones are looked for, so that the
# phone patterns can neither match them nor run through them.
_PROTECTED = re.compile(
    r"""
      \b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b          # UUID
    | (?<!\d)\d{4}-\d{2}-\d{2}                                                  # ISO date
      (?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\ ?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?)?
      (?![\d])
    | (?<![\d./-])\d{8}T\d{6}(?:Z|[+-]\d{4})?                                   # compact
    | (?<![\d./-])\d{4}([./])\d{1,2}\1\d{1,2}(?!\d|[./-]\d)                     # 2026.11.23
    | (?<![\d./-])(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|1[0-2])\2           # 23.11.2026
      (?:19|20)?\d{2}(?!\d|[./-]\d)
    | (?<![\d./-])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:19|20)?\d{2}   # 11/23/2026
      (?!\d|[./-]\d)
    | (?<!\d)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?!\d)                         # 12:00:00
    | (?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\d.])                   # IPv4
    | (?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|[.,]\d)                      # 1,234.56
    | (?<![\d.,])\d{1,3}(?:\.\d{3})+(?:,\d+)?(?!\d|[.,]\d)                      # 1.234,56
    | (?<![\d.,])\d+[.,]\d{1,4}(?!\d|[.,]\d)                                    # 165.00
    """,
    re.VERBOSE | re.IGNORECASE,
)
_SEP = r"[ \-./]"
_TAIL = rf"(?:{_SEP}?\(\d{{1,5}}\){_SEP}?\d++|{_SEP}\d++)"
_PHONE = re.compile(
    rf"""
      (?P<kw>\b(?:tel|telephone|phone|mobile|cell|fax|telefon|handy)\b\.?
        (?:\ ?(?:no|nr|num|number)\b\.?)?[ \t]*[:=\#]?[ \t]*)
      (?P<kwnum>\+?\d++{_TAIL}*+|\(\d{{1,5}}\){_SEP}?\d++{_TAIL}*+)
      (?!\w)
    | (?<![\w+.\-/\\])
      (?P<num>
          \+\d++{_TAIL}*+                         # +49 30 1234567, +1 (555) 123-4567
        | \(\d{{2,5}}\){_SEP}?\d++{_TAIL}*+        # (030) 1234567
        | 0\d{{1,4}}{_TAIL}++                      # 030 1234567, 0049 30 1234567
        | \d{{3}}[ .\-]\d{{3}}[ .\-]\d{{4}}         # 555-123-4567
      )
      (?!\w)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15  # E.164


def _redact_phones(text: str) -> str:
    masked = _PROTECTED.sub(lambda m: "x" * len(m[0]), text)
    parts: list[str] = []
    done = 0
    for match in _PHONE.finditer(masked):
        group = "kwnum" if match["kwnum"] is not None else "num"
        start, end = match.span(group)
        digits = sum(c.isdigit() for c in masked[start:end])
        if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
            continue
        parts += (text[done:start], "<phone>")
        done = end
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def redact_personal(text: str) -> str:
    """``text`` with emails, phone numbers and personal key values redacted.

    See the module's documentation for exactly what is and is not redacted. Idempotent.
    """
    text = _KEY_VALUE.sub(_redact_key_value, text)
    text = _EMAIL.sub(_mask_email, text)
    return _redact_phones(text)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` fit for a log or an error record: secrets filtered, personal data redacted.

    :func:`hub.queue.disposition.filter_secrets` first (with ``secrets``), then
    :func:`redact_personal`.
    """
    return redact_personal(filter_secrets(text, secrets))


# --------------------------------------------------------------------------- structured


def _keep_value(value: object) -> bool:
    return value is None or isinstance(value, bool) or value == ""


def redact_fields(obj: Any) -> Any:
    """A copy of ``obj`` (dicts, lists and tuples, nested) with personal values replaced.

    The value of every key for which :func:`is_personal_key` holds becomes
    ``"<redacted>"``, except ``None``, booleans and empty strings; under an address key
    (``billing_address``, ``addresses``) an object or a list of objects is walked into.
    Every other string goes through :func:`redact_personal`. Other values are kept.
    """
    if isinstance(obj, Mapping):
        result: dict[Any, Any] = {}
        for key, value in obj.items():
            name = str(key)
            if _walk_address(name, value):
                result[key] = redact_fields(value)
            elif is_personal_key(name) and not _keep_value(value):
                result[key] = REDACTED
            else:
                result[key] = redact_fields(value)
        return result
    if isinstance(obj, list | tuple):
        items = [redact_fields(item) for item in obj]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, str):
        return redact_personal(obj)
    return obj


def _walk_address(key: str, value: object) -> bool:
    """An address key holding an object (or objects) rather than an address line."""
    if not _ADDRESS_CONTAINER.fullmatch(key):
        return False
    if isinstance(value, Mapping):
        return True
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(item, Mapping) for item in value)
    )


@lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    # filter_secrets decides what names a secret; ask it rather than copy its pattern.
    probe = f"{key}=x"
    return filter_secrets(probe) != probe


def _scrub_fields(obj: Any, secrets: tuple[str, ...]) -> Any:
    """``obj`` made safe to log: secret keys masked, personal keys redacted, strings scrubbed.

    Anything that is not JSON-like (a Decimal, a datetime, a model) becomes its ``str``.
    """
    if isinstance(obj, Mapping):
        masked = {
            key: SECRET_MASK if _is_secret_key(str(key)) and obj[key] is not None else obj[key]
            for key in obj
        }
        redacted = redact_fields(masked)
        return {str(key): _scrub_fields(value, secrets) for key, value in redacted.items()}
    if isinstance(obj, list | tuple):
        return [_scrub_fields(item, secrets) for item in obj]
    if obj is None or isinstance(obj, bool | int | float):
        return obj
    return scrub(obj if isinstance(obj, str) else str(obj), secrets)


# --------------------------------------------------------------------------- logging


class RedactingFilter(logging.Filter):
    """Cleans each record in place with :func:`scrub`; attach it to a handler.

    Also records the bound correlation id on the record (``record.correlation_id``) at
    the moment of the logging call, unless the caller passed one in ``extra``. The
    message is formatted once and its arguments dropped; a traceback is rendered into
    ``exc_text`` and ``exc_info`` dropped, so no later formatter can render it unfiltered.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)
        self._exc_formatter = logging.Formatter()

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a broken log call must not lose the record
            message = f"{record.msg!s} (unformattable log arguments: {record.args!r})"
        record.msg = self._scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self._exc_formatter.formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        cid = getattr(record, "correlation_id", None) or correlation_id.get()
        record.correlation_id = self._scrub(str(cid)) if cid is not None else None
        fields = getattr(record, "fields", None)
        if fields is not None:
            scrubbed = _scrub_fields(fields, self.secrets)
            record.fields = scrubbed if isinstance(scrubbed, dict) else {"fields": scrubbed}
        return True


_RESERVED_KEYS = frozenset({"ts", "level", "logger", "message", "correlation_id", "exc", "stack"})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return {str(k): v for k, v in fields.items()} if isinstance(fields, Mapping) else {}


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_text:
        return record.exc_text
    if record.exc_info and record.exc_info[0] is not None:
        return formatter.formatException(record.exc_info)
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line.

    Keys: ``ts`` (ISO 8601, UTC, milliseconds, ``Z``), ``level``, ``logger``, ``message``,
    ``correlation_id`` (null when none is bound), then the record's ``fields`` at the top
    level (a field named like one of these keys is written as ``field_<name>``), ``exc``
    (the traceback) and ``stack`` when present.
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        payload: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
        }
        for key, value in _fields(record).items():
            payload[f"field_{key}" if key in _RESERVED_KEYS else key] = value
        exc = _exception_text(self, record)
        if exc:
            payload["exc"] = exc
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


_BARE_VALUE = re.compile(r"[^\s=\"']+")


def _console_value(value: object) -> str:
    if isinstance(value, str):
        return value if _BARE_VALUE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger [cid] message k=v ...`` (local time; ``[-]`` without a cid).

    A traceback follows on the next lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        cid = getattr(record, "correlation_id", None) or "-"
        line = f"{clock} {record.levelname} {record.name} [{cid}] {record.getMessage()}"
        pairs = "".join(f" {k}={_console_value(v)}" for k, v in _fields(record).items())
        text = line + pairs
        exc = _exception_text(self, record)
        if exc:
            text += "\n" + exc
        if record.stack_info:
            text += "\n" + record.stack_info
        return text


class _HubHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs (found again by its class)."""


def _remove_hub_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if isinstance(handler, _HubHandler):
            logger.removeHandler(handler)
            handler.close()


def configure_logging(
    settings: LoggingSettings,
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Send the ``hub`` loggers' records to ``stream`` (default: stderr), cleaned.

    The level is ``settings.level``, the format ``settings.format`` (:class:`JsonFormatter`
    or :class:`ConsoleFormatter`); a :class:`RedactingFilter` with ``secrets`` cleans every
    record. Calling again replaces the handler installed before (never two). The ``hub``
    logger stops propagating to the root logger, so a root handler neither duplicates nor
    sees its records; :func:`reset_logging` undoes this.
    """
    logger = logging.getLogger(HUB_LOGGER)
    _remove_hub_handlers(logger)
    handler = _HubHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else ConsoleFormatter())
    handler.addFilter(RedactingFilter(secrets))
    logger.addHandler(handler)
    logger.setLevel(settings.level)
    logger.propagate = False


def reset_logging() -> None:
    """Undo :func:`configure_logging`: remove its handler, propagate again, level unset."""
    logger = logging.getLogger(HUB_LOGGER)
    _remove_hub_handlers(logger)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
