"""hub.logs: structured log lines, correlation ids, secret filtering, personal-data redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from hub.config import LoggingSettings
from hub.logs import (
    HUB_LOGGER,
    REDACTED,
    bind_correlation,
    configure_logging,
    correlation_id,
    current_correlation,
    is_personal_key,
    redact_fields,
    redact_personal,
    reset_logging,
    scrub,
)

SECRET = "s3cr3t-Value-XYZ-123"  # a configured secret that no pattern would recognise
OTHER_SECRET = "other/secret+value"


@pytest.fixture(autouse=True)
def _restore_hub_logger() -> Iterator[None]:
    logger = logging.getLogger(HUB_LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    reset_logging()
    handlers, level, propagate = saved
    for handler in handlers:
        if handler not in logger.handlers:
            logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def _configure(
    fmt: Literal["json", "console"] = "json",
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "DEBUG",
) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(
        LoggingSettings(format=fmt, level=level),
        secrets=[SECRET, OTHER_SECRET],
        stream=stream,
    )
    return stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --------------------------------------------------------------------------- JSON lines


def test_json_line_has_the_documented_keys() -> None:
    stream = _configure()
    with bind_correlation("cid-123"):
        logging.getLogger("hub.worker").info(
            "delivered %s to %s", "D-1", "sap", extra={"fields": {"attempt": 2, "ok": True}}
        )
    [line] = _lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "hub.worker"
    assert line["message"] == "delivered D-1 to sap"
    assert line["correlation_id"] == "cid-123"
    assert line["attempt"] == 2
    assert line["ok"] is True
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", line["ts"])
    assert "exc" not in line


def test_every_record_is_one_line_even_with_newlines_and_tracebacks() -> None:
    stream = _configure()
    log = logging.getLogger("hub.test")
    log.warning("two\nlines")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = _lines(stream)
    assert [line["message"] for line in lines] == ["two\nlines", "failed"]
    assert "Traceback (most recent call last)" in lines[1]["exc"]
    assert "ValueError: boom" in lines[1]["exc"]
    assert lines[1]["level"] == "ERROR"


def test_fields_named_like_reserved_keys_do_not_overwrite_them() -> None:
    stream = _configure()
    logging.getLogger("hub.test").info("m", extra={"fields": {"level": "x", "message": "y"}})
    [line] = _lines(stream)
    assert line["level"] == "INFO"
    assert line["message"] == "m"
    assert line["field_level"] == "x"
    assert line["field_message"] == "y"


def test_non_json_field_values_are_rendered_as_text() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    stream = _configure()
    fields = {"amount": Decimal("165.00"), "at": datetime(2026, 11, 23, 12, tzinfo=UTC)}
    logging.getLogger("hub.test").info("m", extra={"fields": fields})
    [line] = _lines(stream)
    assert line["amount"] == "165.00"
    assert line["at"] == "2026-11-23 12:00:00+00:00"


def test_level_is_respected() -> None:
    stream = _configure(level="WARNING")
    log = logging.getLogger("hub.test")
    log.info("hidden")
    log.warning("shown")
    assert [line["message"] for line in _lines(stream)] == ["shown"]


def test_records_do_not_reach_the_root_logger() -> None:
    root_stream = io.StringIO()
    root_handler = logging.StreamHandler(root_stream)
    logging.getLogger().addHandler(root_handler)
    try:
        stream = _configure()
        logging.getLogger("hub.test").warning("once")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert len(_lines(stream)) == 1
    assert root_stream.getvalue() == ""


# --------------------------------------------------------------------------- correlation


def test_correlation_id_is_per_asyncio_task() -> None:
    stream = _configure()
    log = logging.getLogger("hub.worker")

    async def main() -> None:
        bound = asyncio.Event()
        other_logged = asyncio.Event()

        async def with_cid() -> None:
            with bind_correlation("cid-A"):
                bound.set()
                await other_logged.wait()
                log.info("in A")

        async def without_cid() -> None:
            await bound.wait()
            log.info("in B")
            other_logged.set()

        await asyncio.gather(with_cid(), without_cid())

    asyncio.run(main())
    by_message = {line["message"]: line for line in _lines(stream)}
    assert by_message["in A"]["correlation_id"] == "cid-A"
    assert by_message["in B"]["correlation_id"] is None


def test_bind_correlation_restores_and_generates() -> None:
    assert current_correlation() is None
    with bind_correlation("outer"):
        with bind_correlation() as fresh:
            assert re.fullmatch(r"[0-9a-f]{32}", fresh)
            assert current_correlation() == fresh
        assert current_correlation() == "outer"
        assert correlation_id.get() == "outer"
    assert current_correlation() is None


def test_correlation_id_passed_in_extra_wins() -> None:
    stream = _configure()
    with bind_correlation("bound"):
        logging.getLogger("hub.test").info("m", extra={"correlation_id": "explicit"})
    assert _lines(stream)[0]["correlation_id"] == "explicit"


# --------------------------------------------------------------------------- secrets


def test_configured_secrets_never_appear_anywhere() -> None:
    stream = _configure()
    log = logging.getLogger("hub.worker")
    with bind_correlation("c1"):
        try:
            try:
                raise RuntimeError(f"login with {SECRET} refused")
            except RuntimeError as exc:
                raise ValueError(f"wrapped: {OTHER_SECRET}") from exc
        except ValueError:
            log.exception(
                "delivery failed with key %s",
                SECRET,
                extra={"fields": {"detail": f"key={SECRET}", "nested": [{"x": OTHER_SECRET}]}},
            )
        log.error("via exc_info", exc_info=RuntimeError(SECRET))
        log.warning("with stack %s", SECRET, stack_info=True)
    output = stream.getvalue()
    assert SECRET not in output
    assert OTHER_SECRET not in output
    lines = _lines(stream)
    assert "***" in lines[0]["message"]
    assert "RuntimeError: login with *** refused" in lines[0]["exc"]
    assert "ValueError: wrapped: ***" in lines[0]["exc"]
    assert lines[0]["nested"] == [{"x": "***"}]
    assert "RuntimeError: ***" in lines[1]["exc"]
    assert "stack" in lines[2]


def test_percent_encoded_secret_is_filtered() -> None:
    stream = _configure()
    logging.getLogger("hub.test").info("GET /x?k=other%2Fsecret%2Bvalue")
    assert "other%2Fsecret%2Bvalue" not in stream.getvalue()


def test_bearer_tokens_and_passwords_are_filtered() -> None:
    stream = _configure()
    log = logging.getLogger("hub.test")
    log.info("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def sent")
    log.info("connect password=hunter2 user=bob")
    log.info("token in fields", extra={"fields": {"password": "hunter2", "api_key": 12345}})
    output = stream.getvalue()
    assert "eyJhbGciOiJIUzI1NiJ9" not in output
    assert "hunter2" not in output
    assert "12345" not in output
    lines = _lines(stream)
    assert "Bearer ***" in lines[0]["message"]
    assert lines[1]["message"] == "connect password=*** user=bob"
    assert lines[2]["password"] == "***"
    assert lines[2]["api_key"] == "***"


def test_unformattable_arguments_do_not_lose_the_record() -> None:
    stream = _configure()
    logging.getLogger("hub.test").info("one %s two %s", SECRET)  # noqa: PLE1206
    [line] = _lines(stream)
    assert line["message"].startswith("one %s two %s (unformattable")
    assert SECRET not in stream.getvalue()


# --------------------------------------------------------------------------- personal data


def test_personal_data_is_redacted_in_messages_exceptions_and_fields() -> None:
    stream = _configure()
    log = logging.getLogger("hub.worker")
    payload = {"street": ["123 Oak Ave"], "telephone": "555 1234", "city": "Springfield"}
    try:
        raise ValueError(f"rejected: {json.dumps(payload)}")
    except ValueError:
        log.exception(
            "order 000000003 for jane.doe@example.com, call +49 30 1234567",
            extra={
                "fields": {
                    "customer_email": "jane.doe@example.com",
                    "billing_address": {"street": ["123 Oak Ave"], "city": "Springfield"},
                    "note": "ring 030 1234567",
                    "increment_id": "000000003",
                }
            },
        )
    output = stream.getvalue()
    for personal in ("jane.doe", "1234567", "123 Oak Ave", "555 1234"):
        assert personal not in output
    [line] = _lines(stream)
    assert line["message"] == "order 000000003 for j***@example.com, call <phone>"
    assert '"street": ["<street>"]' in line["exc"]
    assert '"telephone": "<phone>"' in line["exc"]
    assert '"city": "Springfield"' in line["exc"]
    assert line["customer_email"] == REDACTED
    assert line["billing_address"] == {"street": REDACTED, "city": "Springfield"}
    assert line["note"] == "ring <phone>"
    assert line["increment_id"] == "000000003"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.com now", "mail j***@example.com now"),
        ("to=x%40shop.example.de", "to=x***%40shop.example.de"),
        ("call +49 30 1234567 now", "call <phone> now"),
        ("+1 (555) 123-4567", "<phone>"),
        ("+44 (0)20 7946 0958", "<phone>"),
        ("+4930123456", "<phone>"),
        ("030 1234567", "<phone>"),
        ("030/1234567", "<phone>"),
        ("0049 30 1234567", "<phone>"),
        ("(030) 1234567", "<phone>"),
        ("555-123-4567", "<phone>"),
        ("555.123.4567", "<phone>"),
        ("01 23 45 67 89", "<phone>"),
        ("Tel.: 0301234567", "Tel.: <phone>"),
        ("phone number 5551234567", "phone number <phone>"),
        ("Fax 030-123456-7", "Fax <phone>"),
        ("at 030 1234567 on 2026-11-23", "at <phone> on 2026-11-23"),
        (
            '{"street": ["123 Oak Ave", "Apt 4"], "city": "X"}',
            '{"street": ["<street>"], "city": "X"}',
        ),
        ("{'street': ['123 Oak Ave']}", "{'street': ['<street>']}"),
        ("street=123 Oak Ave city=Springfield", "street=<street> city=Springfield"),
        ('"street_address": "1 Main St"', '"street_address": "<street>"'),
        ("billing_address=1 Main St, Springfield", "billing_address=<street>, Springfield"),
        ('"telephone": "555 1234"', '"telephone": "<phone>"'),
        ('"telephone": 5551234567}', '"telephone": <phone>}'),
        (
            '"firstname": "Jane", "lastname": "Doe"',
            '"firstname": "<redacted>", "lastname": "<redacted>"',
        ),
        ('"postcode": "12345"', '"postcode": "<redacted>"'),
        (
            "email=jane%40example.com&telephone=5551234",
            "email=j***%40example.com&telephone=<phone>",
        ),
        ('"customer_email": "not given"', '"customer_email": "<email>"'),
        (
            'body="{\\"street\\": [\\"1 Main St\\"]}"',
            'body="{\\"street\\": [\\"<street>\\"]}"',
        ),
        ("PhoneNumber=+1 555 123 4567 StreetName=Main", "PhoneNumber=<phone> StreetName=<street>"),
    ],
)
def test_redact_personal(text: str, expected: str) -> None:
    assert redact_personal(text) == expected
    assert redact_personal(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "000000003",
        "24-MB01",
        "2026-11-23 12:00:00",
        "2026-11-23T12:00:00.123+01:00",
        "2026-11-23 12:00:00,123 ERROR",
        "165.00",
        "-1234567.50 EUR",
        "qty 1.0000",
        "1,234,567.89",
        "1.234.567,89",
        "T00000001",
        "order 4500012345 qty 2",
        "orders 000000003 000000004",
        "EAN 4006381333931",
        "epoch 1700000000000",
        "0b6f6c2e-1234-5678-9012-0123456789ab",
        "00000000-0000-0000-0000-000000000000",
        "23.11.2026",
        "11/23/2026",
        "12:00:00.123456",
        "192.168.100.200:8080",
        "version 1.2.3",
        "SKU 24-MB01 unknown in sales org 1000",
        "retry 3/5 after status 503 502 500",
        "Mon, 23 Nov 2026 12:00:00 GMT",
        "billing.street: field required",
        "ip_address=10.0.0.1",
        '{"city": "Springfield", "country_id": "US", "vat_id": "DE123456789", "company": "ACME"}',
        '"fax": null, "telephone": ""',
        "hotel=Hilton gzip=true",
    ],
)
def test_not_personal_data_is_kept(text: str) -> None:
    assert redact_personal(text) == text


def test_false_positives_survive_the_log_pipeline() -> None:
    stream = _configure()
    text = "order 000000003 SKU 24-MB01 at 2026-11-23 12:00:00 total 165.00 ref T00000001"
    logging.getLogger("hub.test").info(text, extra={"fields": {"ref": "T00000001"}})
    [line] = _lines(stream)
    assert line["message"] == text
    assert line["ref"] == "T00000001"


def test_scrub_filters_secrets_then_personal_data() -> None:
    text = f"key {SECRET} for jane@example.com password=hunter2"
    assert scrub(text, [SECRET]) == "key *** for j***@example.com password=***"


# --------------------------------------------------------------------------- structured


def test_redact_fields_replaces_personal_values_only() -> None:
    order = {
        "increment_id": "000000003",
        "customer_email": "jane@example.com",
        "customer_firstname": "Jane",
        "customer_lastname": "Doe",
        "customer_dob": "1980-01-01",
        "billing_address": {
            "street": ["123 Oak Ave"],
            "city": "Springfield",
            "postcode": "12345",
            "country_id": "US",
            "telephone": "555-123-4567",
            "fax": None,
            "vat_id": "DE123456789",
            "company": "ACME",
            "email": "",
        },
        "addresses": [{"firstname": "Jane", "region": "IL"}],
        "items": [{"sku": "24-MB01", "name": "Joust Duffle Bag", "price": 34.0}],
        "comment": "call me at +49 30 1234567",
        "ip_address": "10.0.0.1",
    }
    redacted = redact_fields(order)
    assert redacted == {
        "increment_id": "000000003",
        "customer_email": REDACTED,
        "customer_firstname": REDACTED,
        "customer_lastname": REDACTED,
        "customer_dob": REDACTED,
        "billing_address": {
            "street": REDACTED,
            "city": "Springfield",
            "postcode": REDACTED,
            "country_id": "US",
            "telephone": REDACTED,
            "fax": None,
            "vat_id": "DE123456789",
            "company": "ACME",
            "email": "",
        },
        "addresses": [{"firstname": REDACTED, "region": "IL"}],
        "items": [{"sku": "24-MB01", "name": "Joust Duffle Bag", "price": 34.0}],
        "comment": "call me at <phone>",
        "ip_address": "10.0.0.1",
    }
    assert order["customer_email"] == "jane@example.com"  # the input is not changed
    assert redact_fields(("a@b.example",)) == ("a***@b.example",)


@pytest.mark.parametrize(
    "key",
    [
        "email",
        "customer_email",
        "EmailAddress",
        "telephone",
        "phone",
        "PhoneNumber",
        "fax",
        "mobile",
        "street",
        "street_name",
        "StreetName",
        "house_number",
        "address_line_1",
        "billing_address",
        "firstname",
        "first_name",
        "LastName",
        "postcode",
        "PostalCode",
        "zip",
        "dob",
    ],
)
def test_personal_keys(key: str) -> None:
    assert is_personal_key(key)


@pytest.mark.parametrize(
    "key",
    ["city", "country_id", "region", "vat_id", "company", "name", "sku", "ip_address", "gzip"],
)
def test_business_keys(key: str) -> None:
    assert not is_personal_key(key)


# --------------------------------------------------------------------------- configuration


def test_configure_twice_keeps_one_handler_and_the_new_format() -> None:
    first = _configure("json")
    second = _configure("console")
    handlers = logging.getLogger(HUB_LOGGER).handlers
    assert len(handlers) == 1
    logging.getLogger("hub.test").info("hello")
    assert first.getvalue() == ""
    assert "hello" in second.getvalue()


def test_console_format_has_time_level_logger_cid_and_fields() -> None:
    stream = _configure("console")
    with bind_correlation("cid-9"):
        logging.getLogger("hub.worker").warning(
            "slow target %s", "sap", extra={"fields": {"ms": 1200, "note": "two words"}}
        )
    logging.getLogger("hub.worker").info("no cid")
    first, second = stream.getvalue().splitlines()
    assert re.fullmatch(
        r'\d{2}:\d{2}:\d{2} WARNING hub\.worker \[cid-9\] slow target sap ms=1200 note="two words"',
        first,
    )
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2} INFO hub\.worker \[-\] no cid", second)


def test_console_format_appends_the_filtered_traceback() -> None:
    stream = _configure("console")
    try:
        raise KeyError(SECRET)
    except KeyError:
        logging.getLogger("hub.test").exception("lookup failed")
    output = stream.getvalue()
    assert "lookup failed\nTraceback (most recent call last)" in output
    assert "KeyError: '***'" in output
    assert SECRET not in output


def test_reset_logging_removes_the_handler() -> None:
    _configure()
    reset_logging()
    logger = logging.getLogger(HUB_LOGGER)
    assert logger.handlers == []
    assert logger.propagate
