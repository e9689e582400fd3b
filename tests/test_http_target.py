"""HttpTarget against the real fault target on loopback: no mocks, real sockets."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from hub.errors import (
    AuthFailed,
    DeliveryError,
    PermanentError,
    RateLimited,
    Rejected,
    TargetTimeout,
    TargetUnavailable,
    TransientError,
)
from hub.targets.base import Delivery, DeliveryResult, Target
from hub.targets.http import (
    DETAIL_LIMIT,
    HttpTarget,
    HttpTargetConfig,
)
from hub.testing.fault_target import FaultTargetClient, run_fault_target

T = TypeVar("T")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fault_url() -> Iterator[str]:
    with run_fault_target(seed=7) as url:
        yield url


@pytest.fixture
def control(fault_url: str) -> Iterator[FaultTargetClient]:
    with FaultTargetClient(fault_url) as client:
        client.reset()
        yield client


def make_delivery(
    key: str = "idem-1",
    *,
    payload: dict[str, Any] | None = None,
    ordering_key: str = "order-1",
    attempt: int = 1,
) -> Delivery:
    return Delivery(
        delivery_id=f"del-{key}",
        message_id=f"msg-{key}",
        target="erp",
        route="orders-to-erp",
        kind="order",
        payload=payload if payload is not None else {"order": "000000003", "seq": 1},
        idempotency_key=key,
        ordering_key=ordering_key,
        attempt=attempt,
        correlation_id=f"corr-{key}",
    )


def run(
    config: HttpTargetConfig, action: Callable[[HttpTarget], Awaitable[T]], name: str = "erp"
) -> T:
    """Run ``action`` with a fresh target (its own client) and close it afterwards."""

    async def main() -> T:
        async with HttpTarget(name, config) as target:
            return await action(target)

    return asyncio.run(main())


def deliver(config: HttpTargetConfig, delivery: Delivery) -> DeliveryResult:
    return run(config, lambda target: target.deliver(delivery))


def deliver_error(config: HttpTargetConfig, delivery: Delivery) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        deliver(config, delivery)
    return caught.value


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def config_for(control: FaultTargetClient, target: str | None = None, **fields: Any) -> Any:
    fields.setdefault("reference_field", "reference")
    fields.setdefault("timeout", 5.0)
    return HttpTargetConfig(url=control.url(target), **fields)


# --------------------------------------------------------------------------- success


def test_http_target_satisfies_the_protocol(control: FaultTargetClient) -> None:
    target = run(config_for(control), lambda t: asyncio.sleep(0, result=t))
    assert isinstance(target, Target)


def test_success_returns_reference_and_sends_delivery_headers(
    control: FaultTargetClient,
) -> None:
    payload = {"order": "000000003", "seq": 1, "amount": Decimal("22.50"), "lines": [1, 2]}
    result = deliver(config_for(control), make_delivery("k-ok", payload=payload, attempt=3))

    assert result.status_code == 201
    assert result.reference == "DEFAULT-000001"
    assert result.summary == "HTTP 201 Created; reference DEFAULT-000001"
    seen = control.delivery("k-ok")
    assert seen is not None
    assert seen["payload"] == {"order": "000000003", "seq": 1, "amount": "22.50", "lines": [1, 2]}
    assert seen["ordering_key"] == "order-1"
    assert seen["correlation_id"] == "corr-k-ok"
    assert seen["message_id"] == "msg-k-ok"
    assert seen["attempts"] == ["3"]


def test_non_ascii_delivery_ids_are_percent_encoded_in_headers(
    control: FaultTargetClient,
) -> None:
    config = config_for(control)
    delivery = make_delivery("k-ü", ordering_key="Bestellung-Müller")
    first = deliver(config, delivery)
    again = deliver(config, delivery)
    assert again.reference == first.reference
    seen = control.delivery("k-%C3%BC")
    assert seen is not None
    assert seen["ordering_key"] == "Bestellung-M%C3%BCller"
    assert control.target_stats()["effects"] == 1


def test_reference_from_location_header_without_reference_field(
    control: FaultTargetClient,
) -> None:
    config = HttpTargetConfig(url=control.url("wms"))
    result = deliver(config, make_delivery("k-loc"))
    assert result.reference == "WMS-000001"


def test_put_method_is_used_when_configured(control: FaultTargetClient) -> None:
    result = deliver(config_for(control, method="PUT"), make_delivery("k-put"))
    assert result.status_code == 201
    assert control.target_stats()["effects"] == 1


def test_idempotent_repeat_returns_same_reference_and_one_effect(
    control: FaultTargetClient,
) -> None:
    config = config_for(control)
    first = deliver(config, make_delivery("k-same", attempt=1))
    second = deliver(config, make_delivery("k-same", attempt=2))

    assert second.reference == first.reference
    assert (first.status_code, second.status_code) == (201, 200)
    stats = control.target_stats()
    assert stats["effects"] == 1
    assert stats["duplicates_suppressed"] == 1
    assert stats["effects_by_key"] == {"k-same": 1}
    assert stats["duplicates_by_key"] == {"k-same": 1}
    recorded = control.delivery("k-same")
    assert recorded is not None
    assert recorded["attempts"] == ["1", "2"]


def test_targets_on_one_server_keep_separate_state(control: FaultTargetClient) -> None:
    erp = deliver(config_for(control, "erp"), make_delivery("k-shared"))
    wms = deliver(config_for(control, "wms"), make_delivery("k-shared"))
    assert (erp.reference, wms.reference) == ("ERP-000001", "WMS-000001")
    stats = control.stats()
    assert stats["targets"]["erp"]["effects"] == 1
    assert stats["targets"]["wms"]["effects"] == 1
    assert stats["totals"]["effects"] == 2


def test_faults_for_one_target_leave_the_others_alone(control: FaultTargetClient) -> None:
    control.set_faults(target="erp", error_rate=1.0, error_status=[500])
    with pytest.raises(TransientError):
        deliver(config_for(control, "erp"), make_delivery("k-1"))
    assert deliver(config_for(control, "wms"), make_delivery("k-1")).status_code == 201


# --------------------------------------------------------------------------- status mapping


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, Rejected),
        (401, AuthFailed),
        (403, AuthFailed),
        (404, Rejected),
        (408, TransientError),
        (409, Rejected),
        (422, Rejected),
        (425, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),  # no Retry-After: plain transient
        (504, TargetTimeout),  # the gateway gave up: the call may have landed
        (410, Rejected),  # other 4xx
        (507, TransientError),  # other 5xx
    ],
)
def test_status_maps_to_error_class(
    control: FaultTargetClient, status: int, expected: type[DeliveryError]
) -> None:
    control.set_faults(error_rate=1.0, error_status=[status])
    error = deliver_error(config_for(control), make_delivery(f"k-{status}"))

    assert type(error) is expected
    assert error.target == "erp"
    assert error.status_code == status
    assert error.detail == f"injected fault: HTTP {status}"
    assert f"HTTP {status}" in str(error)
    assert control.target_stats()["effects"] == 0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_gives_rate_limited(control: FaultTargetClient, status: int) -> None:
    control.set_faults(error_rate=1.0, error_status=[status], retry_after=7)
    error = deliver_error(config_for(control), make_delivery())

    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0
    assert error.status_code == status
    assert error.target == "erp"
    assert "retry after 7s" in str(error)


def test_retry_after_http_date_gives_rate_limited(control: FaultTargetClient) -> None:
    control.set_faults(
        error_rate=1.0, error_status=[429], retry_after=30, retry_after_format="http-date"
    )
    error = deliver_error(config_for(control), make_delivery())

    assert isinstance(error, RateLimited)
    assert error.retry_after is not None
    assert 25.0 <= error.retry_after <= 30.0


def test_429_without_retry_after_is_still_rate_limited(control: FaultTargetClient) -> None:
    control.set_faults(error_rate=1.0, error_status=[429])
    error = deliver_error(config_for(control), make_delivery())
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


def test_rejected_carries_the_targets_message(control: FaultTargetClient) -> None:
    control.set_faults(permanent_for=["24-MB01"], permanent_path="items.sku")
    payload = {"seq": 1, "items": [{"sku": "24-WG080"}, {"sku": "24-MB01"}]}
    error = deliver_error(config_for(control), make_delivery(payload=payload))

    assert type(error) is Rejected
    assert error.status_code == 422
    assert error.detail == "SKU 24-MB01 unknown"
    assert str(error) == "erp: HTTP 422 Unprocessable Entity: SKU 24-MB01 unknown"
    stats = control.target_stats()
    assert stats["effects"] == 0
    assert stats["faults_injected"] == {"permanent": 1}


def test_rejected_message_is_truncated(control: FaultTargetClient) -> None:
    long_sku = "X" * 2000
    control.set_faults(permanent_for=[long_sku])
    error = deliver_error(config_for(control), make_delivery(payload={"sku": long_sku}))

    assert isinstance(error, Rejected)
    assert error.detail is not None
    assert len(error.detail) == DETAIL_LIMIT
    assert error.detail.startswith("SKU XXX")
    assert error.detail.endswith("…")


# --------------------------------------------------------------------------- transport failures


def test_connection_refused_is_target_unavailable_after_one_quick_retry() -> None:
    config = HttpTargetConfig(url=f"http://127.0.0.1:{closed_port()}/deliver", timeout=2.0)
    started = time.monotonic()
    error = deliver_error(config, make_delivery())
    elapsed = time.monotonic() - started

    assert type(error) is TargetUnavailable
    assert error.target == "erp"
    assert error.status_code is None
    assert "after 2 attempts" in str(error)
    assert error.detail is not None
    assert error.detail.startswith("ConnectError")
    chain, cause = [], error.__cause__
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(c, ConnectionRefusedError) for c in chain)  # whatever the transport
    assert 0.15 <= elapsed < 2.0  # one 0.2 s pause, well inside the 1 s budget


def test_slow_answer_is_target_timeout_and_nothing_landed(control: FaultTargetClient) -> None:
    control.set_faults(slow_rate=1.0, slow_seconds=1.0)
    started = time.monotonic()
    error = deliver_error(config_for(control, timeout=0.2), make_delivery())

    assert type(error) is TargetTimeout
    assert error.status_code is None
    assert "within 0.2s" in str(error)
    assert isinstance(error.__cause__, httpx.TimeoutException)
    assert time.monotonic() - started < 5.0
    stats = control.target_stats()
    assert stats["calls"] == 1  # timeouts are not retried in-call: the queue does that
    assert stats["effects"] == 0


def test_land_then_timeout_retry_returns_the_original_reference(
    control: FaultTargetClient,
) -> None:
    control.set_faults(land_then_timeout_rate=1.0, land_then_timeout_seconds=2.0)
    config = config_for(control, timeout=0.3)

    error = deliver_error(config, make_delivery("k-landed", attempt=1))
    assert type(error) is TargetTimeout
    landed = control.delivery("k-landed")
    assert landed is not None
    assert control.target_stats()["effects"] == 1

    retry = deliver(config, make_delivery("k-landed", attempt=2))
    assert retry.reference == landed["reference"]
    assert retry.status_code == 200
    stats = control.target_stats()
    assert stats["effects"] == 1
    assert stats["effects_by_key"] == {"k-landed": 1}
    assert stats["duplicates_suppressed"] == 1
    assert stats["faults_injected"] == {"land_then_timeout": 1}


# --------------------------------------------------------------------------- secrets


SECRET = "s3cr3t-T0ken-value"


def test_secret_header_values_never_appear_in_errors(control: FaultTargetClient) -> None:
    control.set_faults(require_headers={"Authorization": "Bearer the-right-one"})
    config = config_for(control, headers={"Authorization": SecretStr(f"Bearer {SECRET}")})

    # the target really does echo the value it refused: the client must scrub it
    raw = httpx.post(
        control.url(),
        json={},
        headers={"Authorization": f"Bearer {SECRET}", "Idempotency-Key": "raw"},
        trust_env=False,
    )
    assert raw.status_code == 401
    assert SECRET in raw.text

    error = deliver_error(config, make_delivery())
    assert type(error) is AuthFailed
    assert error.status_code == 401
    for text in (str(error), error.message, error.detail or "", repr(error), repr(error.args)):
        assert SECRET not in text
    assert "***" in (error.detail or "")
    assert SECRET not in repr(config)
    assert SECRET not in repr(HttpTarget("erp", config))


def test_secret_header_is_sent_and_accepted(control: FaultTargetClient) -> None:
    control.set_faults(require_headers={"X-Api-Key": SECRET})
    config = config_for(control, headers={"X-Api-Key": SecretStr(SECRET)})
    assert deliver(config, make_delivery()).status_code == 201


def test_secret_never_in_transport_errors() -> None:
    config = HttpTargetConfig(
        url=f"http://127.0.0.1:{closed_port()}/deliver",
        headers={"X-Api-Key": SecretStr(SECRET)},
    )
    error = deliver_error(config, make_delivery())
    assert isinstance(error, TargetUnavailable)
    assert SECRET not in str(error)
    assert SECRET not in (error.detail or "")


def test_config_validation_errors_do_not_echo_secrets() -> None:
    with pytest.raises(ValidationError) as caught:
        HttpTargetConfig(url="http://127.0.0.1/x", headers={"X-Key": SecretStr(SECRET + "\n")})
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "ftp://127.0.0.1/x"},
        {"url": "http://user:pw@127.0.0.1/x"},
        {"url": "http://127.0.0.1/x", "method": "PATCH"},
        {"url": "http://127.0.0.1/x", "timeout": 0},
        {"url": "http://127.0.0.1/x", "headers": {"Idempotency-Key": "x"}},
        {"url": "http://127.0.0.1/x", "headers": {"X-O2C-Attempt": "x"}},
        {"url": "http://127.0.0.1/x", "headers": {"Bad Name": "x"}},
        {"url": "http://127.0.0.1/x", "headers": {"X-Key": "schlüssel"}},
        {"url": "http://127.0.0.1/x", "headers": {"X-Key": "a", "x-key": "b"}},
        {"url": "http://127.0.0.1/x", "unknown": True},
    ],
)
def test_config_refuses_bad_settings(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HttpTargetConfig.model_validate(fields)


# --------------------------------------------------------------------------- health, down, DI


def test_health_without_url_is_a_no_op() -> None:
    config = HttpTargetConfig(url=f"http://127.0.0.1:{closed_port()}/deliver")
    assert run(config, lambda target: target.health()) is None


def test_down_answers_503_with_retry_after_to_deliveries_and_health(
    control: FaultTargetClient,
) -> None:
    config = config_for(control, health_url=control.base_url + "/healthz")
    assert run(config, lambda target: target.health()) is None

    control.set_faults(down=True, retry_after=3)
    error = deliver_error(config, make_delivery())
    assert isinstance(error, RateLimited)
    assert error.retry_after == 3.0
    with pytest.raises(RateLimited):
        run(config, lambda target: target.health())
    head = config.model_copy(update={"health_method": "HEAD"})
    with pytest.raises(RateLimited):
        run(head, lambda target: target.health())

    control.set_faults(down=False)
    assert run(config, lambda target: target.health()) is None
    assert deliver(config, make_delivery()).status_code == 201
    assert control.target_stats()["faults_injected"] == {"down": 1}


def test_health_of_a_closed_port_is_target_unavailable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config = HttpTargetConfig(url=url + "/deliver", health_url=url + "/healthz")
    with pytest.raises(TargetUnavailable):
        run(config, lambda target: target.health())


def test_injected_client_is_used_and_left_open(control: FaultTargetClient) -> None:
    async def main() -> tuple[DeliveryResult, bool]:
        async with httpx.AsyncClient(trust_env=False) as client:
            target = HttpTarget("erp", config_for(control), client)
            result = await target.deliver(make_delivery("k-di"))
            await target.aclose()
            return result, client.is_closed

    result, closed = asyncio.run(main())
    assert result.reference == "DEFAULT-000001"
    assert closed is False


def test_unserialisable_payload_is_permanent(control: FaultTargetClient) -> None:
    error = deliver_error(config_for(control), make_delivery(payload={"x": Decimal("NaN")}))
    assert type(error) is PermanentError
    assert control.target_stats()["calls"] == 0


def test_ignore_idempotency_makes_repeats_into_second_effects(
    control: FaultTargetClient,
) -> None:
    control.set_faults(ignore_idempotency=True)
    config = config_for(control)
    first = deliver(config, make_delivery("k-twice"))
    second = deliver(config, make_delivery("k-twice", attempt=2))
    assert first.reference != second.reference
    stats = control.target_stats()
    assert stats["effects_by_key"] == {"k-twice": 2}
    assert stats["duplicates_suppressed"] == 0


def test_fault_target_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"), run_fault_target(host="0.0.0.0"):
        pass


# --------------------------------------------------------------------------- order


def test_order_is_recorded_per_ordering_key_and_violations_detected(
    control: FaultTargetClient,
) -> None:
    config = config_for(control)

    async def send_all(target: HttpTarget) -> None:
        for key, ordering_key, seq in [
            ("a1", "order-A", 1),
            ("b1", "order-B", 1),
            ("a2", "order-A", 2),
            ("a3", "order-A", 3),
            ("b2", "order-B", 2),
            ("a2-late", "order-A", 2),  # arrives after 3: a violation
            ("a3", "order-A", 3),  # a suppressed duplicate: not an effect, not recorded
        ]:
            payload = {"seq": seq}
            await target.deliver(make_delivery(key, payload=payload, ordering_key=ordering_key))

    run(config, send_all)
    stats = control.target_stats()
    assert stats["sequences"] == {"order-A": [1, 2, 3, 2], "order-B": [1, 2]}
    assert stats["order_violations"] == [
        {"ordering_key": "order-A", "seq": 2, "after": 3, "idempotency_key": "a2-late"}
    ]
    assert stats["effects"] == 6
    assert stats["duplicates_suppressed"] == 1
    assert control.stats()["totals"]["order_violations"] == 1


def test_random_faults_are_reproducible_after_reset(control: FaultTargetClient) -> None:
    config = config_for(control)

    async def outcomes(target: HttpTarget) -> list[str]:
        seen: list[str] = []
        for i in range(30):
            try:
                await target.deliver(make_delivery(f"r-{i}"))
                seen.append("ok")
            except DeliveryError as exc:
                seen.append(str(exc.status_code))
        return seen

    faults = {"error_rate": 0.5, "error_status": [500, 502, 503]}
    control.set_faults(faults)
    first = run(config, outcomes)
    control.reset()
    control.set_faults(faults)
    second = run(config, outcomes)

    assert first == second
    assert "ok" in first
    assert set(first) - {"ok"} <= {"500", "502", "503"}
    assert len(set(first)) > 2


# --------------------------------------------------------------------------- helpers


def test_status_classes_come_from_the_disposition_table() -> None:
    """The target answers with whatever classify_status decides (one table for all)."""
    from hub.queue.disposition import classify_status

    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert classify_status(503, "2", now=now).error is RateLimited
    assert classify_status(503, None, now=now).error is TransientError
    assert classify_status(429, None, now=now).error is RateLimited
    assert classify_status(429, later, now=now).retry_after == 90.0
    assert classify_status(302, None, now=now).error is PermanentError


def test_standalone_command_serves_and_stops() -> None:
    port = closed_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.testing.fault_target", "--port", str(port), "--seed", "3"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the fault target exited"
                assert time.monotonic() < deadline, "the fault target did not start"
                time.sleep(0.1)
        assert response.json() == {"status": "ok", "target": "default"}
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert f"listening on http://127.0.0.1:{port}" in stderr.decode()
