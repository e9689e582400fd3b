"""A circuit breaker per target: stop sending to a target that is down, probe it, resume.

A pure state machine; the caller passes the time and persists :meth:`BreakerState.to_dict`
per target, so that all worker processes share one breaker. Loading, calling and saving
must happen under the store's row lock (or a compare-and-set on the row), otherwise two
processes could both take the single half-open probe.

::

    closed ──N consecutive target failures, or one auth failure──▶ open
    open ──allow() at or after open_until: this caller is the probe──▶ half_open
    half_open ──probe succeeded, or the target answered about the document──▶ closed
    half_open ──probe failed──▶ open (for longer: the open period grows per trip)

**Threshold rule: consecutive failures**, not a failure ratio in a window. B2B targets
see little traffic, often a handful of calls an hour, where a ratio is noise; a count
needs no call history, so the persisted state stays a few fields; and it is easy to
reason about: five failures in a row and the target rests.

Which errors count comes from :mod:`hub.queue.disposition`: transient errors
(unavailable, timeout, rate limited, 5xx) and :class:`~hub.errors.AuthFailed` say the
target is unwell; an auth failure opens the breaker at once, since every call would fail.
:class:`~hub.errors.Rejected` and :class:`~hub.errors.MasterDataMissing` are the
document's fault: they neither count nor reset the count while closed, and as a
half-open probe's outcome they prove that the target answers, so they close it.

Each trip opens for ``open_for × multiplier ** (trips - 1)``, at most ``max_open_for``,
where ``trips`` counts the trips since the breaker last closed. A rate-limited trip stays
open at least as long as the target's ``Retry-After`` (still at most ``max_open_for``).
A probe that never reports (its worker died) is given up after ``probe_timeout`` and the
next caller probes instead. Outcomes of calls admitted before a trip that arrive while
the breaker is open change nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import DeliveryError, RateLimited
from hub.queue.disposition import Action, action_for, fingerprint, trips_breaker

__all__ = ["BreakerConfig", "BreakerPolicy", "BreakerState", "BreakerStatus"]


class BreakerStatus(StrEnum):
    """Whether deliveries may go to the target."""

    CLOSED = "closed"
    """Calls flow."""
    OPEN = "open"
    """No calls until ``open_until``."""
    HALF_OPEN = "half_open"
    """One probe call at a time decides between closed and open."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and for how long."""

    failure_threshold: int = 10
    """Consecutive target failures that open a closed breaker."""
    open_for: timedelta = timedelta(seconds=30)
    """How long the first trip keeps the breaker open."""
    multiplier: float = 2.0
    """Growth of the open period per further trip before the breaker closes again."""
    max_open_for: timedelta = timedelta(minutes=10)
    """Longest open period."""
    probe_timeout: timedelta = timedelta(minutes=2)
    """A half-open probe that has not reported after this long is abandoned."""

    def __post_init__(self) -> None:
        problems = []
        if self.failure_threshold < 1:
            problems.append("failure_threshold must be at least 1")
        if self.open_for <= timedelta(0):
            problems.append("open_for must be positive")
        if self.max_open_for < self.open_for:
            problems.append("max_open_for must be at least open_for")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            problems.append("multiplier must be a finite number of at least 1")
        if self.probe_timeout <= timedelta(0):
            problems.append("probe_timeout must be positive")
        if problems:
            raise ValueError("invalid breaker policy: " + "; ".join(problems))

    def open_duration(self, trips: int) -> timedelta:
        """How long trip number ``trips`` (counted from 1) keeps the breaker open."""
        try:
            seconds = self.open_for.total_seconds() * math.pow(self.multiplier, max(0, trips - 1))
        except OverflowError:
            return self.max_open_for
        if seconds >= self.max_open_for.total_seconds():
            return self.max_open_for
        return timedelta(seconds=seconds)


_DAY_SECONDS = 24 * 3600


class BreakerConfig(BaseModel):
    """A target's circuit breaker as written in ``routes.yaml`` (every key optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_threshold: int = Field(
        default=10,
        ge=1,
        le=1000,
        description=(
            "Consecutive failures of the target (unreachable, timeout, rate limited, 5xx) "
            "that open the breaker. One authentication failure opens it at once; rejected "
            "documents never count."
        ),
    )
    open_seconds: float = Field(
        default=30.0,
        gt=0,
        le=_DAY_SECONDS,
        allow_inf_nan=False,
        description="How long the breaker stays open after its first trip, in seconds.",
    )
    open_multiplier: float = Field(
        default=2.0,
        ge=1,
        le=100,
        allow_inf_nan=False,
        description="Each further trip before the breaker closes again multiplies the time.",
    )
    max_open_seconds: float = Field(
        default=600.0,
        gt=0,
        le=_DAY_SECONDS,
        allow_inf_nan=False,
        description="Longest time the breaker stays open, in seconds.",
    )
    probe_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=_DAY_SECONDS,
        allow_inf_nan=False,
        description=(
            "After this many seconds without an outcome, a half-open probe is given up "
            "and another delivery may probe."
        ),
    )

    @model_validator(mode="after")
    def _max_not_below_first(self) -> Self:
        if self.max_open_seconds < self.open_seconds:
            raise ValueError("max_open_seconds must be at least open_seconds")
        return self

    def to_policy(self) -> BreakerPolicy:
        """The policy this configuration describes."""
        return BreakerPolicy(
            failure_threshold=self.failure_threshold,
            open_for=timedelta(seconds=self.open_seconds),
            multiplier=self.open_multiplier,
            max_open_for=timedelta(seconds=self.max_open_seconds),
            probe_timeout=timedelta(seconds=self.probe_timeout_seconds),
        )


_TIME_FIELDS = ("opened_at", "open_until", "probe_started_at")


@dataclass
class BreakerState:
    """One target's breaker. Mutable: each method applies one event at time ``now``."""

    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    status: BreakerStatus = BreakerStatus.CLOSED
    consecutive_failures: int = 0
    """Target failures since the last success (or since the breaker closed)."""
    trips: int = 0
    """Times the breaker opened since it was last closed; sets the open period."""
    opened_at: datetime | None = None
    open_until: datetime | None = None
    probe_started_at: datetime | None = None
    """When the current half-open probe was let through."""
    last_failure: str | None = None
    """Fingerprint of the last failure that counted (secret-free), for operators."""

    def allow(self, now: datetime) -> bool:
        """May a delivery go to the target now? In half-open, True makes the caller the probe."""
        if self.status is BreakerStatus.CLOSED:
            return True
        if self.status is BreakerStatus.OPEN:
            if self.open_until is not None and now < self.open_until:
                return False
            self.status = BreakerStatus.HALF_OPEN
            self.probe_started_at = now
            return True
        if self.probe_started_at is not None and now < self.probe_started_at + (
            self.policy.probe_timeout
        ):
            return False
        self.probe_started_at = now
        return True

    def next_allowed_at(self, now: datetime) -> datetime | None:
        """When :meth:`allow` may next say yes, if not now (for ``next_attempt_at``)."""
        if self.status is BreakerStatus.OPEN and self.open_until and now < self.open_until:
            return self.open_until
        if self.status is BreakerStatus.HALF_OPEN and self.probe_started_at is not None:
            free_at = self.probe_started_at + self.policy.probe_timeout
            return free_at if now < free_at else None
        return None

    def record_success(self, now: datetime) -> None:
        """A call to the target succeeded."""
        del now  # part of the event signature; a success needs no time
        if self.status is BreakerStatus.HALF_OPEN:
            self._close()
        elif self.status is BreakerStatus.CLOSED:
            self.consecutive_failures = 0

    def record_failure(self, now: datetime, error: DeliveryError) -> None:
        """A call to the target failed with ``error``."""
        if not trips_breaker(error):
            if self.status is BreakerStatus.HALF_OPEN:
                self._close()  # the probe got an answer: the target is up
            return
        if self.status is BreakerStatus.OPEN:
            return
        self.consecutive_failures += 1
        self.last_failure = fingerprint(error)
        if (
            self.status is BreakerStatus.HALF_OPEN
            or action_for(error) is Action.AUTH_FAILURE
            or self.consecutive_failures >= self.policy.failure_threshold
        ):
            self._trip(now, error)

    def _trip(self, now: datetime, error: DeliveryError) -> None:
        self.trips += 1
        duration = self.policy.open_duration(self.trips)
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        if retry_after is not None and retry_after > duration.total_seconds():
            asked = min(retry_after, self.policy.max_open_for.total_seconds())
            duration = max(duration, timedelta(seconds=asked))
        self.status = BreakerStatus.OPEN
        self.opened_at = now
        self.open_until = now + duration
        self.probe_started_at = None

    def _close(self) -> None:
        self.status = BreakerStatus.CLOSED
        self.consecutive_failures = 0
        self.trips = 0
        self.opened_at = self.open_until = self.probe_started_at = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (the policy is configuration, so it is not included)."""
        data: dict[str, Any] = {
            "status": self.status.value,
            "consecutive_failures": self.consecutive_failures,
            "trips": self.trips,
            "last_failure": self.last_failure,
        }
        for name in _TIME_FIELDS:
            value: datetime | None = getattr(self, name)
            data[name] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], policy: BreakerPolicy | None = None) -> BreakerState:
        """Rebuild a state saved by :meth:`to_dict`; unknown keys (a newer version) are
        ignored, a malformed value raises ValueError."""
        try:
            status = BreakerStatus(data.get("status", BreakerStatus.CLOSED))
        except ValueError:
            raise ValueError(f"unknown breaker status {data.get('status')!r}") from None
        counts: dict[str, int] = {}
        for name in ("consecutive_failures", "trips"):
            value = data.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
            counts[name] = value
        times: dict[str, datetime | None] = {}
        for name in _TIME_FIELDS:
            value = data.get(name)
            if value is None:
                times[name] = None
            elif isinstance(value, str):
                times[name] = datetime.fromisoformat(value)
            else:
                raise ValueError(f"{name} must be an ISO 8601 string or null, not {value!r}")
        last_failure = data.get("last_failure")
        if last_failure is not None and not isinstance(last_failure, str):
            raise ValueError(f"last_failure must be a string or null, not {last_failure!r}")
        if status is BreakerStatus.OPEN and times["open_until"] is None:
            raise ValueError("an open breaker needs open_until")
        return cls(
            policy=policy or BreakerPolicy(),
            status=status,
            consecutive_failures=counts["consecutive_failures"],
            trips=counts["trips"],
            opened_at=times["opened_at"],
            open_until=times["open_until"],
            probe_started_at=times["probe_started_at"],
            last_failure=last_failure,
        )
