"""The queue's pure rules: retry policy, disposition table, fingerprints, secrets, breaker.

Nothing here reads the clock: every test passes its own ``now`` and, where jitter is
involved, its own random source.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

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
from hub.queue.breaker import BreakerConfig, BreakerPolicy, BreakerState, BreakerStatus
from hub.queue.disposition import (
    DISPOSITIONS,
    REDACTED,
    STATUS_ERRORS,
    Action,
    action_for,
    classify_status,
    filter_secrets,
    fingerprint,
    parse_retry_after,
    trips_breaker,
)
from hub.queue.retry import RetryPolicy, RetryPolicyConfig, Verdict

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class FixedRandom(random.Random):
    """A random source whose ``random()`` always returns ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# --- strategies -------------------------------------------------------------------------


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    base_ms = draw(st.integers(1, 120_000))
    cap_ms = draw(st.integers(base_ms, 3_600_000))
    return RetryPolicy(
        base_delay=timedelta(milliseconds=base_ms),
        multiplier=draw(st.floats(1.0, 10.0, allow_nan=False)),
        cap=timedelta(milliseconds=cap_ms),
        jitter=draw(st.floats(0.0, 1.0, allow_nan=False)),
        max_attempts=draw(st.integers(1, 40)),
        max_age=timedelta(seconds=draw(st.integers(1, 14 * 24 * 3600))),
    )


TRANSIENT_ERRORS = st.sampled_from(
    [
        TransientError(target="sap", status_code=500),
        TargetUnavailable(target="sap"),
        TargetTimeout(target="sap"),
        RateLimited(target="sap", status_code=429),
        DeliveryError(target="sap"),
    ]
)
PERMANENT_ERRORS = st.sampled_from(
    [
        Rejected(target="sap", status_code=422),
        AuthFailed(target="sap", status_code=401),
        MasterDataMissing(target="sap", detail="customer 0001 unknown"),
        PermanentError(target="sap"),
    ]
)
ATTEMPTS = st.integers(1, 200)
SEEDS = st.integers(0, 2**32)
ELAPSED = st.integers(0, 20 * 24 * 3600)


# --- RetryPolicy: properties ------------------------------------------------------------


@given(policies(), st.integers(1, 300))
def test_backoff_never_decreases_and_never_exceeds_the_cap(
    policy: RetryPolicy, attempt: int
) -> None:
    assert policy.backoff(attempt) <= policy.backoff(attempt + 1) <= policy.cap
    assert policy.backoff(1) == policy.base_delay


@given(policies(), ATTEMPTS, SEEDS)
def test_jittered_delay_is_within_zero_and_the_cap(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    delay = policy.delay(attempt, random.Random(seed))
    backoff = policy.backoff(attempt)
    assert timedelta(0) <= delay <= backoff <= policy.cap
    floor = backoff.total_seconds() * (1 - policy.jitter)
    assert delay.total_seconds() >= floor - 1e-6


@given(policies(), ATTEMPTS, st.floats(0.0, 0.999999))
def test_extreme_jitter_draws_stay_in_bounds(policy: RetryPolicy, attempt: int, u: float) -> None:
    delay = policy.delay(attempt, FixedRandom(u))
    assert timedelta(0) <= delay <= policy.cap


@given(policies(), TRANSIENT_ERRORS, ATTEMPTS, ELAPSED, SEEDS)
def test_a_scheduled_retry_stays_within_max_age_and_after_now(
    policy: RetryPolicy, error: DeliveryError, attempt: int, elapsed: int, seed: int
) -> None:
    now = T0 + timedelta(seconds=elapsed)
    decision = policy.decide(error, attempt, T0, now, random.Random(seed))
    if decision.dead:
        assert decision.verdict in (Verdict.ATTEMPTS_EXHAUSTED, Verdict.MAX_AGE)
        return
    assert decision.verdict is Verdict.RETRY
    assert decision.retry_at is not None
    assert now <= decision.retry_at <= T0 + policy.max_age
    assert decision.retry_at - now <= policy.cap  # no Retry-After here: backoff alone
    assert attempt < policy.max_attempts


RETRY_AFTER_SCALES = st.one_of(st.floats(0, 3), st.floats(0, 10**5))


@given(policies(), ATTEMPTS, ELAPSED, RETRY_AFTER_SCALES, SEEDS)
def test_a_retry_never_comes_before_retry_after(
    policy: RetryPolicy, attempt: int, elapsed: int, scale: float, seed: int
) -> None:
    # Retry-After drawn around the backoff, where the two compete, and far beyond it
    retry_after = scale * policy.backoff(attempt).total_seconds()
    now = T0 + timedelta(seconds=elapsed)
    error = RateLimited(target="shop", status_code=429, retry_after=retry_after)
    decision = policy.decide(error, attempt, T0, now, random.Random(seed))
    if decision.dead:
        # the same seed draws the same jitter: the wait decide() weighed was this one
        wait = max(policy.delay(attempt, random.Random(seed)).total_seconds(), retry_after)
        if decision.verdict is Verdict.MAX_AGE:
            assert elapsed + wait > policy.max_age.total_seconds()
        else:
            assert decision.verdict is Verdict.ATTEMPTS_EXHAUSTED
            assert attempt >= policy.max_attempts
        return
    assert decision.retry_at is not None
    assert decision.retry_at >= now + timedelta(seconds=retry_after)
    assert decision.retry_at <= T0 + policy.max_age
    assert decision.action is Action.RETRY_AFTER


@given(policies(), TRANSIENT_ERRORS, st.integers(0, 100), ELAPSED)
def test_dead_once_the_attempts_are_used_up(
    policy: RetryPolicy, error: DeliveryError, extra: int, elapsed: int
) -> None:
    attempt = policy.max_attempts + extra
    decision = policy.decide(error, attempt, T0, T0 + timedelta(seconds=elapsed))
    assert decision.dead
    assert decision.verdict is Verdict.ATTEMPTS_EXHAUSTED
    assert decision.retry_at is None
    assert str(policy.max_attempts) in decision.reason


@given(policies(), TRANSIENT_ERRORS, st.integers(1, 10**6), SEEDS)
def test_dead_once_past_max_age(
    policy: RetryPolicy, error: DeliveryError, beyond: int, seed: int
) -> None:
    now = T0 + policy.max_age + timedelta(milliseconds=beyond)
    decision = policy.decide(error, 1, T0, now, random.Random(seed))
    assert decision.dead
    # attempt 1 may already be the last one allowed
    assert decision.verdict in (Verdict.MAX_AGE, Verdict.ATTEMPTS_EXHAUSTED)


@given(policies(), PERMANENT_ERRORS, ATTEMPTS, ELAPSED)
def test_permanent_errors_are_dead_at_once(
    policy: RetryPolicy, error: DeliveryError, attempt: int, elapsed: int
) -> None:
    decision = policy.decide(error, attempt, T0, T0 + timedelta(seconds=elapsed))
    assert decision.dead
    assert decision.verdict is Verdict.PERMANENT
    assert decision.action in (Action.DEAD_LETTER, Action.AUTH_FAILURE)
    assert type(error).__name__ in decision.reason


@given(policies(), TRANSIENT_ERRORS, ATTEMPTS, ELAPSED, SEEDS)
def test_the_same_random_source_gives_the_same_decision(
    policy: RetryPolicy, error: DeliveryError, attempt: int, elapsed: int, seed: int
) -> None:
    now = T0 + timedelta(seconds=elapsed)
    first = policy.decide(error, attempt, T0, now, random.Random(seed))
    again = policy.decide(error, attempt, T0, now, random.Random(seed))
    assert first == again


# --- RetryPolicy: examples --------------------------------------------------------------


def test_default_schedule_doubles_from_two_seconds_up_to_fifteen_minutes() -> None:
    policy = RetryPolicy()
    waits = [policy.backoff(n).total_seconds() for n in range(1, 13)]
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]


@pytest.mark.parametrize(
    ("u", "expected"),
    [(0.0, 8.0), (0.5, 7.0), (0.999999, 6.000002)],
)
def test_jitter_takes_off_up_to_its_fraction(u: float, expected: float) -> None:
    policy = RetryPolicy()  # jitter 0.25; attempt 3 → backoff 8 s
    decision = policy.decide(TransientError(), 3, T0, T0, FixedRandom(u))
    assert decision.retry_at == T0 + timedelta(seconds=expected)


def test_no_jitter_and_full_jitter() -> None:
    none = RetryPolicy(jitter=0)
    full = RetryPolicy(jitter=1)
    assert none.delay(4, FixedRandom(0.9)) == timedelta(seconds=16)
    assert full.delay(4, FixedRandom(0.5)) == timedelta(seconds=8)
    assert full.delay(4, FixedRandom(0.0)) == timedelta(seconds=16)


def test_retry_after_longer_than_the_cap_is_honoured() -> None:
    policy = RetryPolicy()
    error = RateLimited(retry_after=3600, status_code=429)
    decision = policy.decide(error, 1, T0, T0)
    assert decision.retry_at == T0 + timedelta(hours=1)
    assert "as the target asked" in decision.reason


@pytest.mark.parametrize("retry_after", [6.001, 6.5, 7.999, 10.0, 899.0])
def test_retry_after_within_the_jitter_range_wins(retry_after: float) -> None:
    policy = RetryPolicy()  # attempt 3: backoff 8 s, jittered to 6 s with u → 1
    error = RateLimited(retry_after=retry_after, status_code=429)
    decision = policy.decide(error, 3, T0, T0, FixedRandom(0.999999))
    assert decision.retry_at == T0 + timedelta(seconds=retry_after)


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    policy = RetryPolicy(jitter=0)
    error = RateLimited(retry_after=1, status_code=429)
    decision = policy.decide(error, 5, T0, T0)  # backoff 32 s
    assert decision.retry_at == T0 + timedelta(seconds=32)


def test_retry_after_beyond_max_age_is_dead_not_early() -> None:
    policy = RetryPolicy(max_age=timedelta(hours=1))
    error = RateLimited(retry_after=2 * 3600, status_code=429)
    decision = policy.decide(error, 1, T0, T0)
    assert decision.dead
    assert decision.verdict is Verdict.MAX_AGE


@pytest.mark.parametrize("retry_after", [float("inf"), float("nan"), -5.0, None])
def test_odd_retry_after_values(retry_after: float | None) -> None:
    policy = RetryPolicy(jitter=0)
    decision = policy.decide(RateLimited(retry_after=retry_after), 1, T0, T0)
    if retry_after == float("inf"):
        assert decision.verdict is Verdict.MAX_AGE
    else:
        assert decision.retry_at == T0 + timedelta(seconds=2)


def test_max_age_is_measured_from_the_first_attempt() -> None:
    policy = RetryPolicy(jitter=0, max_age=timedelta(minutes=10))
    # attempt 2's backoff is 4 s: fine at 9 min 50 s, too late at 9 min 57 s
    ok = policy.decide(TransientError(), 2, T0, T0 + timedelta(minutes=9, seconds=50))
    late = policy.decide(TransientError(), 2, T0, T0 + timedelta(minutes=9, seconds=57))
    assert ok.retry_at == T0 + timedelta(minutes=9, seconds=54)
    assert late.verdict is Verdict.MAX_AGE


def test_one_attempt_means_no_retry() -> None:
    decision = RetryPolicy(max_attempts=1).decide(TargetTimeout(), 1, T0, T0)
    assert decision.verdict is Verdict.ATTEMPTS_EXHAUSTED


def test_the_last_retry_is_scheduled_and_then_dead() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.decide(TransientError(), 2, T0, T0).dead
    assert policy.decide(TransientError(), 3, T0, T0).dead


def test_auth_failure_is_dead_and_says_so() -> None:
    decision = RetryPolicy().decide(AuthFailed(status_code=401), 1, T0, T0)
    assert decision.dead
    assert decision.action is Action.AUTH_FAILURE


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RetryPolicy().decide(TransientError(), 0, T0, T0)
    with pytest.raises(ValueError, match="from 1"):
        RetryPolicy().backoff(0)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(multiplier=10)
    assert policy.backoff(10**6) == policy.cap


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_delay": timedelta(0)},
        {"cap": timedelta(seconds=1)},
        {"multiplier": 0.5},
        {"multiplier": float("inf")},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"max_attempts": 0},
        {"max_age": timedelta(0)},
    ],
)
def test_an_invalid_policy_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(**kwargs)


def test_config_defaults_make_the_default_policy() -> None:
    config = RetryPolicyConfig()
    assert config.to_policy() == RetryPolicy()
    assert config.to_policy() == RetryPolicy(
        base_delay=timedelta(seconds=2),
        multiplier=2,
        cap=timedelta(minutes=15),
        jitter=0.25,
        max_attempts=12,
        max_age=timedelta(hours=24),
    )


def test_config_from_yaml_like_data() -> None:
    config = RetryPolicyConfig.model_validate(
        {"base_delay_seconds": 5, "max_attempts": 20, "max_age_hours": 48}
    )
    policy = config.to_policy()
    assert policy.base_delay == timedelta(seconds=5)
    assert policy.max_attempts == 20
    assert policy.max_age == timedelta(hours=48)


@pytest.mark.parametrize(
    "data",
    [
        {"base_delay": 2},  # unknown key
        {"jitter": 2},
        {"multiplier": 0.5},
        {"max_attempts": 0},
        {"base_delay_seconds": float("inf")},
        {"max_age_hours": float("nan")},
        {"base_delay_seconds": 60, "max_delay_seconds": 30},
    ],
)
def test_config_refuses_bad_values(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicyConfig.model_validate(data)


@pytest.mark.parametrize("model", [RetryPolicyConfig, BreakerConfig])
def test_every_config_key_is_described(model: type[RetryPolicyConfig | BreakerConfig]) -> None:
    for name, info in model.model_fields.items():
        assert info.description, f"{model.__name__}.{name} has no description"


# --- disposition table ------------------------------------------------------------------

STATUS_CASES = [
    (400, Rejected, Action.DEAD_LETTER),
    (401, AuthFailed, Action.AUTH_FAILURE),
    (403, AuthFailed, Action.AUTH_FAILURE),
    (404, Rejected, Action.DEAD_LETTER),
    (408, TransientError, Action.RETRY),
    (409, Rejected, Action.DEAD_LETTER),
    (422, Rejected, Action.DEAD_LETTER),
    (425, TransientError, Action.RETRY),
    (429, RateLimited, Action.RETRY_AFTER),
    (500, TransientError, Action.RETRY),
    (502, TransientError, Action.RETRY),
    (503, TransientError, Action.RETRY),
    (504, TargetTimeout, Action.RETRY),
]


@pytest.mark.parametrize(("status", "error", "action"), STATUS_CASES)
def test_classify_status_without_retry_after(
    status: int, error: type[DeliveryError], action: Action
) -> None:
    result = classify_status(status, None, now=T0)
    assert result.error is error
    assert result.action is action
    assert result.retry_after is None
    assert result.status_code == status


@pytest.mark.parametrize(("status", "error", "action"), STATUS_CASES)
@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("Mon, 02 Mar 2026 09:32:00 GMT", 120.0), ("0", 0.0)],
)
def test_classify_status_with_retry_after(
    status: int, error: type[DeliveryError], action: Action, header: str, seconds: float
) -> None:
    result = classify_status(status, header, now=T0)
    if action.retries:
        # the target's wish is carried whatever the retryable status
        assert result.error is RateLimited
        assert result.action is Action.RETRY_AFTER
        assert result.retry_after == seconds
    else:
        assert (result.error, result.action, result.retry_after) == (error, action, None)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (418, Rejected),
        (451, Rejected),
        (501, TransientError),
        (599, TransientError),
        (302, PermanentError),
        (304, PermanentError),
        (101, PermanentError),
    ],
)
def test_statuses_outside_the_table_fall_back_by_range(
    status: int, error: type[DeliveryError]
) -> None:
    assert classify_status(status, None, now=T0).error is error


def test_every_status_in_the_table_maps_back_to_its_row() -> None:
    for row in DISPOSITIONS:
        for status in row.statuses:
            assert STATUS_ERRORS[status] is row.error
            assert classify_status(status, None, now=T0).action is row.action


@pytest.mark.parametrize(
    ("error", "action", "trips"),
    [
        (RateLimited(), Action.RETRY_AFTER, True),
        (TargetTimeout(), Action.RETRY, True),
        (TargetUnavailable(), Action.RETRY, True),
        (TransientError(status_code=500), Action.RETRY, True),
        (AuthFailed(), Action.AUTH_FAILURE, True),
        (MasterDataMissing(), Action.DEAD_LETTER, False),
        (Rejected(), Action.DEAD_LETTER, False),
        (PermanentError(), Action.DEAD_LETTER, False),
        (DeliveryError(), Action.RETRY, True),
    ],
)
def test_each_error_class_has_its_action(error: DeliveryError, action: Action, trips: bool) -> None:
    assert action_for(error) is action
    assert action_for(type(error)) is action
    assert trips_breaker(error) is trips


def test_an_adapter_subclass_inherits_its_parents_row() -> None:
    class DuplicateOrder(Rejected):
        """SAP already has an order with this purchase order number."""

    class SessionExpired(TargetUnavailable):
        """The SOAP session expired."""

    assert action_for(DuplicateOrder()) is Action.DEAD_LETTER
    assert not trips_breaker(DuplicateOrder())
    assert action_for(SessionExpired()) is Action.RETRY


@pytest.mark.parametrize(
    ("status", "overrides", "error", "action"),
    [
        (404, {404: Action.RETRY}, TransientError, Action.RETRY),
        (409, {409: "dead_letter"}, Rejected, Action.DEAD_LETTER),
        (503, {503: Action.DEAD_LETTER}, Rejected, Action.DEAD_LETTER),
        (400, {400: Action.AUTH_FAILURE}, AuthFailed, Action.AUTH_FAILURE),
        (420, {420: Action.RETRY_AFTER}, RateLimited, Action.RETRY_AFTER),
        (500, {404: Action.RETRY}, TransientError, Action.RETRY),  # other statuses unchanged
    ],
)
def test_a_target_can_override_statuses(
    status: int,
    overrides: dict[int, Action],
    error: type[DeliveryError],
    action: Action,
) -> None:
    result = classify_status(status, None, now=T0, overrides=overrides)
    assert (result.error, result.action) == (error, action)


def test_an_overridden_retryable_status_still_honours_retry_after() -> None:
    result = classify_status(404, "30", now=T0, overrides={404: Action.RETRY})
    assert (result.error, result.retry_after) == (RateLimited, 30.0)


def test_a_dead_letter_override_ignores_retry_after() -> None:
    result = classify_status(503, "30", now=T0, overrides={503: Action.DEAD_LETTER})
    assert (result.error, result.retry_after) == (Rejected, None)


def test_classification_builds_the_error_to_raise() -> None:
    limited = classify_status(429, "7", now=T0).to_error(target="shop", detail="slow down")
    assert isinstance(limited, RateLimited)
    assert (limited.retry_after, limited.target, limited.status_code, limited.detail) == (
        7.0,
        "shop",
        429,
        "slow down",
    )
    rejected = classify_status(422, None, now=T0).to_error(target="sap", detail="bad")
    assert type(rejected) is Rejected
    assert rejected.message == "The target rejected the document as invalid (400/404/409/422)."


def test_a_classified_response_drives_the_retry_policy() -> None:
    error = classify_status(503, "Mon, 02 Mar 2026 10:30:00 GMT", now=T0).to_error(target="sap")
    decision = RetryPolicy().decide(error, 1, T0, T0)
    assert decision.retry_at == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("120", 120.0),
        (" 45 ", 45.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-5", None),
        ("soon", None),
        ("12abc", None),
        ("1e400", None),
        ("Mon, 02 Mar 2026 09:31:00 GMT", 60.0),  # IMF-fixdate
        ("Monday, 02-Mar-26 09:31:00 GMT", 60.0),  # obsolete RFC 850 form
        ("Mon Mar  2 09:31:00 2026", 60.0),  # obsolete asctime form
        ("Mon, 02 Mar 2026 09:00:00 GMT", 0.0),  # in the past
        ("Mon, 32 Mar 2026 09:31:00 GMT", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, T0) == expected


# --- fingerprints -----------------------------------------------------------------------


def rejected(detail: str, *, target: str = "sap", status: int | None = 422) -> Rejected:
    return Rejected(target=target, status_code=status, detail=detail)


def test_fingerprint_shape() -> None:
    error = rejected("SKU 24-MB01 unknown")
    assert fingerprint(error) == "Rejected sap 422: SKU 24-MB01 unknown"
    bare = TargetUnavailable(target="sap")
    assert fingerprint(bare).startswith("TargetUnavailable sap: The target could not be reached")


def test_missing_master_data_is_grouped_by_the_missing_key_numbers_included() -> None:
    def missing(customer: str, order: str) -> MasterDataMissing:
        return MasterDataMissing(
            f"sap: Sold-to party {customer} does not exist (order {order})",
            missing=f"customer {customer}",
            target="sap",
            status_code=400,
            detail=f"Sold-to party {customer} does not exist (order {order})",
        )

    a, b, other = missing("1000099", "1"), missing("1000099", "2"), missing("1000100", "3")
    assert fingerprint(a) == fingerprint(b) == "MasterDataMissing sap 400: missing customer 1000099"
    assert fingerprint(other) != fingerprint(a)


def test_the_same_sku_in_different_orders_shares_a_fingerprint() -> None:
    first = rejected(
        "Order 000000123 at 2026-03-02T09:30:00Z: SKU 24-MB01 unknown "
        "(request 0d4c9a53-8a47-4a5e-9f5c-2f1f2b8e3c11)"
    )
    second = rejected(
        "Order 000004711 at 2026-03-03T17:05:42.123+01:00: SKU 24-MB01 unknown "
        "(request 7b0e4c1a-51f3-4d7e-8c2b-9a6f0d1e2c33)"
    )
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) == (
        "Rejected sap 422: Order <n> at <ts>: SKU 24-MB01 unknown (request <uuid>)"
    )


def test_different_skus_do_not_share_a_fingerprint() -> None:
    assert fingerprint(rejected("SKU 24-MB01 unknown")) != fingerprint(
        rejected("SKU 24-MB02 unknown")
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Material 100234 not found in plant 1000", "Material 100299 not found in plant 1200"),
        ("total 12.50 does not match 12.49", "total 7.00 does not match 6.99"),
        ("trace 5f2b7c9e0a1d4e3f8a7b in log", "trace 9e0a1d4e3f8a7b5f2b7c in log"),
        ("at Mon, 02 Mar 2026 09:30:00 GMT", "at Tue, 03 Mar 2026 11:00:00 GMT"),
        ("locked since 09:30:00", "locked since 17:45:12"),
        ("from 10.0.0.1", "from 192.168.1.20"),
        ("  spaced\tout\n detail ", "spaced out detail"),
    ],
)
def test_ids_numbers_and_timestamps_do_not_split_groups(one: str, other: str) -> None:
    assert fingerprint(rejected(one)) == fingerprint(rejected(other))


@given(st.integers(0, 10**12), st.integers(0, 10**12), st.uuids(), st.datetimes())
def test_any_numeric_id_uuid_and_timestamp_share_the_group(
    order: int, line: int, request: Any, when: datetime
) -> None:
    detail = (
        f"Order {order:09d} line {line}: SKU MS-TEE-L unknown; "
        f"request {request} at {when.isoformat()}"
    )
    assert fingerprint(rejected(detail)) == fingerprint(
        rejected(
            "Order 000000001 line 1: SKU MS-TEE-L unknown; request "
            "00000000-0000-0000-0000-000000000000 at 2026-01-01T00:00:00"
        )
    )


@pytest.mark.parametrize(
    "other",
    [
        rejected("SKU 24-MB01 unknown", target="crm"),
        rejected("SKU 24-MB01 unknown", status=400),
        MasterDataMissing(target="sap", status_code=422, detail="SKU 24-MB01 unknown"),
    ],
)
def test_class_target_and_status_split_groups(other: DeliveryError) -> None:
    assert fingerprint(other) != fingerprint(rejected("SKU 24-MB01 unknown"))


def test_fingerprint_is_short() -> None:
    long = rejected("field value is too long: " + "x" * 5000)
    assert len(fingerprint(long)) < 200


def test_fingerprint_holds_no_credentials() -> None:
    error = AuthFailed(
        target="shop", status_code=401, detail="token rejected: Authorization: Bearer abc.def.ghi"
    )
    assert "abc.def.ghi" not in fingerprint(error)


# --- secret filter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret_part", "kept"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9", "Bearer"),
        ("header authorization=Token 9f8e7d6c5b4a", "9f8e7d6c5b4a", "Token"),
        ("sent Bearer abcdef123456 to shop", "abcdef123456", "to shop"),
        ("Basic dXNlcjpodW50ZXIy was refused", "dXNlcjpodW50ZXIy", "was refused"),
        ("GET https://admin:hunter2@sap.example.com/odata failed", "hunter2", "sap.example.com"),
        ("https://admin:p@ss@sap.example.com/x", "p@ss", "https://admin:"),
        ("postgresql://hub:s3cret@db:5432/hub", "s3cret", "db:5432/hub"),
        ("login failed: password=hunter2&user=bob", "hunter2", "user=bob"),
        ('{"password": "hunter2", "user": "bob"}', "hunter2", '"user": "bob"'),
        ('{"client_secret":"c-123-xyz","grant":"x"}', "c-123-xyz", '"grant":"x"'),
        ("x-api-key: AKIA1234 was not accepted", "AKIA1234", "was not accepted"),
        ("SAP_PASSWORD=topsecret in env", "topsecret", "in env"),
        ("?access_token=ya29.a0Af&page=2", "ya29.a0Af", "page=2"),
        ("signature='deadbeef' mismatch", "deadbeef", "mismatch"),
    ],
)
def test_obvious_credentials_are_removed(text: str, secret_part: str, kept: str) -> None:
    cleaned = filter_secrets(text, ())
    assert secret_part not in cleaned
    assert REDACTED in cleaned
    assert kept in cleaned


def test_text_without_credentials_is_unchanged() -> None:
    text = "SKU 24-MB01 unknown in sales org 1000 (Basic authentication is disabled)"
    assert filter_secrets(text, ()) == text


def test_given_secret_values_are_removed_wherever_they_appear() -> None:
    secret = "Zz9!x/q"
    text = f"echo: {secret}; url=https://h/?k=Zz9%21x%2Fq; form=Zz9%21x%2Fq"
    cleaned = filter_secrets(text, [secret, ""])
    assert "Zz9" not in cleaned
    assert cleaned.count(REDACTED) == 3


def test_longer_secrets_are_removed_before_their_prefixes() -> None:
    cleaned = filter_secrets("key abcdef and abc", ["abc", "abcdef"])
    assert "def" not in cleaned
    assert cleaned == f"key {REDACTED} and {REDACTED}"


@given(
    st.text(st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), min_size=1),
    st.text(),
    st.text(),
)
def test_a_given_secret_never_survives(secret: str, before: str, after: str) -> None:
    assert secret not in filter_secrets(before + secret + after + secret, [secret])


# --- circuit breaker --------------------------------------------------------------------

POLICY = BreakerPolicy(
    failure_threshold=3,
    open_for=timedelta(seconds=30),
    multiplier=2,
    max_open_for=timedelta(minutes=5),
    probe_timeout=timedelta(minutes=1),
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tripped(now: datetime = T0) -> BreakerState:
    breaker = BreakerState(POLICY)
    for _ in range(POLICY.failure_threshold):
        breaker.record_failure(now, TargetUnavailable(target="sap"))
    assert breaker.status is BreakerStatus.OPEN
    return breaker


def test_closed_allows_and_opens_after_consecutive_failures() -> None:
    breaker = BreakerState(POLICY)
    assert breaker.allow(T0)
    breaker.record_failure(T0, TargetTimeout(target="sap"))
    breaker.record_failure(T0, TransientError(target="sap", status_code=503))
    assert breaker.status is BreakerStatus.CLOSED
    assert breaker.allow(T0)
    breaker.record_failure(T0, RateLimited(target="sap", status_code=429, detail="quota"))
    assert breaker.status is BreakerStatus.OPEN
    assert breaker.open_until == at(30)
    assert breaker.last_failure == "RateLimited sap 429: quota"


def test_a_success_resets_the_count() -> None:
    breaker = BreakerState(POLICY)
    for _ in range(5):
        breaker.record_failure(T0, TargetUnavailable())
        breaker.record_failure(T0, TargetUnavailable())
        breaker.record_success(T0)
    assert breaker.status is BreakerStatus.CLOSED
    assert breaker.consecutive_failures == 0


@pytest.mark.parametrize(
    "error",
    [TargetUnavailable(), TargetTimeout(), RateLimited(), TransientError(status_code=500)],
)
def test_target_failures_trip_the_breaker(error: DeliveryError) -> None:
    breaker = BreakerState(POLICY)
    for _ in range(POLICY.failure_threshold):
        breaker.record_failure(T0, error)
    assert breaker.status is BreakerStatus.OPEN


def test_an_auth_failure_opens_at_once() -> None:
    breaker = BreakerState(POLICY)
    breaker.record_failure(T0, AuthFailed(target="sap", status_code=401))
    assert breaker.status is BreakerStatus.OPEN
    assert not breaker.allow(T0)


@pytest.mark.parametrize(
    "error", [Rejected(status_code=422), MasterDataMissing(), PermanentError()]
)
def test_document_errors_never_trip_and_do_not_reset(error: DeliveryError) -> None:
    breaker = BreakerState(POLICY)
    for _ in range(100):
        breaker.record_failure(T0, error)
    assert breaker.status is BreakerStatus.CLOSED
    assert breaker.consecutive_failures == 0
    breaker.record_failure(T0, TargetUnavailable())
    breaker.record_failure(T0, error)
    breaker.record_failure(T0, TargetUnavailable())
    assert breaker.consecutive_failures == 2


def test_open_refuses_until_open_until_then_allows_exactly_one_probe() -> None:
    breaker = tripped()
    assert not breaker.allow(at(29.999))
    assert breaker.next_allowed_at(at(10)) == at(30)
    assert breaker.allow(at(30))  # this caller is the probe
    assert breaker.status is BreakerStatus.HALF_OPEN
    assert not breaker.allow(at(30))
    assert not breaker.allow(at(59))
    assert breaker.next_allowed_at(at(31)) == at(90)


def test_a_successful_probe_closes_the_breaker() -> None:
    breaker = tripped()
    assert breaker.allow(at(30))
    breaker.record_success(at(31))
    assert breaker.status is BreakerStatus.CLOSED
    assert (breaker.trips, breaker.consecutive_failures, breaker.open_until) == (0, 0, None)
    assert breaker.allow(at(31))
    assert breaker.allow(at(31))
    assert breaker.next_allowed_at(at(31)) is None


def test_a_probe_answered_with_a_document_error_closes_the_breaker() -> None:
    breaker = tripped()
    assert breaker.allow(at(30))
    breaker.record_failure(at(31), Rejected(status_code=422))
    assert breaker.status is BreakerStatus.CLOSED


def test_failed_probes_open_for_exponentially_longer_up_to_the_cap() -> None:
    breaker = tripped()
    now = T0
    periods = []
    for _ in range(7):
        assert breaker.open_until is not None
        periods.append((breaker.open_until - now).total_seconds())
        now = breaker.open_until
        assert not breaker.allow(now - timedelta(microseconds=1))
        assert breaker.allow(now)
        breaker.record_failure(now, TargetTimeout())
        assert breaker.status is BreakerStatus.OPEN
    assert periods == [30, 60, 120, 240, 300, 300, 300]


def test_closing_resets_the_growth() -> None:
    breaker = tripped()
    assert breaker.allow(at(30))
    breaker.record_failure(at(30), TargetTimeout())  # second trip: 60 s
    assert breaker.open_until == at(90)
    assert breaker.allow(at(90))
    breaker.record_success(at(91))
    for _ in range(POLICY.failure_threshold):
        breaker.record_failure(at(100), TargetTimeout())
    assert breaker.open_until == at(130)  # first trip again: 30 s


def test_an_abandoned_probe_is_replaced_after_the_probe_timeout() -> None:
    breaker = tripped()
    assert breaker.allow(at(30))
    assert not breaker.allow(at(89))
    assert breaker.allow(at(90))  # the first probe's worker died
    assert not breaker.allow(at(91))


def test_outcomes_arriving_while_open_change_nothing() -> None:
    breaker = tripped()
    before = breaker.to_dict()
    breaker.record_failure(at(5), TargetTimeout())
    breaker.record_success(at(6))
    assert breaker.to_dict() == before


def test_a_rate_limited_trip_waits_for_retry_after_within_the_cap() -> None:
    breaker = BreakerState(POLICY)
    breaker.record_failure(T0, TargetTimeout())
    breaker.record_failure(T0, TargetTimeout())
    breaker.record_failure(T0, RateLimited(retry_after=120))
    assert breaker.open_until == at(120)
    capped = BreakerState(POLICY)
    for _ in range(3):
        capped.record_failure(T0, RateLimited(retry_after=86400))
    assert capped.open_until == T0 + POLICY.max_open_for


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_breaker_state_round_trips_through_json(steps: int) -> None:
    breaker = tripped() if steps else BreakerState(POLICY)
    if steps >= 2:
        breaker.allow(at(30))
    if steps >= 3:
        breaker.record_failure(at(31), TargetTimeout())
    data = json.loads(json.dumps(breaker.to_dict()))
    assert BreakerState.from_dict(data, POLICY) == breaker


def test_from_dict_defaults_and_ignores_unknown_keys() -> None:
    assert BreakerState.from_dict({}, POLICY) == BreakerState(POLICY)
    assert BreakerState.from_dict({"added_later": 1}) == BreakerState()


@pytest.mark.parametrize(
    "data",
    [
        {"status": "ajar"},
        {"trips": -1},
        {"consecutive_failures": "3"},
        {"trips": True},
        {"status": "open"},  # no open_until
        {"opened_at": 12},
        {"open_until": "yesterday"},
        {"last_failure": 5},
    ],
)
def test_from_dict_refuses_malformed_state(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- every message differs; the type is the contract
        BreakerState.from_dict(data)


@st.composite
def breaker_events(draw: st.DrawFn) -> list[tuple[str, float, DeliveryError | None]]:
    kinds = st.sampled_from(["allow", "success", "failure"])
    errors = st.sampled_from(
        [
            TargetUnavailable(),
            TargetTimeout(),
            RateLimited(retry_after=45),
            AuthFailed(),
            Rejected(),
        ]
    )
    events = []
    clock = 0.0
    for _ in range(draw(st.integers(1, 60))):
        clock += draw(st.floats(0, 120, allow_nan=False))
        kind = draw(kinds)
        events.append((kind, clock, draw(errors) if kind == "failure" else None))
    return events


@settings(max_examples=200)
@given(breaker_events())
def test_half_open_never_lets_two_probes_overlap(
    events: list[tuple[str, float, DeliveryError | None]],
) -> None:
    breaker = BreakerState(POLICY)
    probe_since: datetime | None = None
    for kind, seconds, error in events:
        now = at(seconds)
        was_half_open = breaker.status is BreakerStatus.HALF_OPEN
        if kind == "allow":
            allowed = breaker.allow(now)
            if breaker.status is BreakerStatus.HALF_OPEN and allowed:
                if was_half_open and probe_since is not None:
                    assert now >= probe_since + POLICY.probe_timeout
                probe_since = now
            if breaker.status is BreakerStatus.OPEN:
                assert not allowed
        elif kind == "success":
            breaker.record_success(now)
        else:
            assert error is not None
            breaker.record_failure(now, error)
        if breaker.status is not BreakerStatus.HALF_OPEN:
            probe_since = None
        if breaker.status is BreakerStatus.OPEN:
            assert breaker.open_until is not None
            assert breaker.open_until - now <= POLICY.max_open_for
        assert BreakerState.from_dict(json.loads(json.dumps(breaker.to_dict())), POLICY) == breaker


def test_breaker_config_defaults_and_policy() -> None:
    policy = BreakerConfig().to_policy()
    assert policy == BreakerPolicy()
    assert policy.failure_threshold == 10
    assert [policy.open_duration(n).total_seconds() for n in range(1, 7)] == [
        30,
        60,
        120,
        240,
        480,
        600,
    ]
    with pytest.raises(ValidationError):
        BreakerConfig.model_validate({"open_seconds": 60, "max_open_seconds": 30})
    with pytest.raises(ValidationError):
        BreakerConfig.model_validate({"threshold": 3})
    with pytest.raises(ValueError, match="invalid breaker policy"):
        BreakerPolicy(failure_threshold=0)
