"""When a failed delivery is tried again, and when the queue gives up on it.

:class:`RetryPolicy` is pure: the caller passes the error, the number of the attempt that
just failed (the first attempt is 1), when the first attempt was made, the current time
and, for tests, a seeded :class:`random.Random`. It never reads the clock.

The wait before attempt ``n + 1`` is::

    backoff(n) = min(cap, base_delay × multiplier ** (n - 1))        non-decreasing in n
    delay(n)   = backoff(n) × (1 - jitter × u),  u uniform in [0, 1)   within [0, cap]

Jitter is *proportional and subtractive*: a ``jitter`` fraction of each wait is random,
the rest is kept. ``jitter=1`` is AWS's "full jitter", ``jitter=0.5`` its "equal jitter";
the default 0.25 keeps three quarters. Why not full jitter: it spreads a herd best but
lets a wait fall to almost nothing, so a delivery to a target that is down can come back
at once, again and again; our herds are small (a few workers per target, and the circuit
breaker already stops the stampede on a failing target), so a guaranteed floor buys more
than the extra spread. Subtracting rather than adding keeps ``cap`` a true ceiling.

A :class:`~hub.errors.RateLimited` error's ``retry_after`` is a floor: the delivery is
never tried before it, even when that is longer than ``cap``. Neither path outlives
``max_age``, measured from the first attempt: a retry that would fall after
``first_attempt_at + max_age`` is not scheduled, the delivery is dead instead. Whether
an error is worth retrying at all comes from :mod:`hub.queue.disposition`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import DeliveryError, RateLimited
from hub.queue.disposition import Action, action_for

__all__ = ["Decision", "RetryPolicy", "RetryPolicyConfig", "Verdict"]

_SYSTEM_RNG = random.SystemRandom()
"""Default jitter source: needs no seed and stays independent across forked workers."""


class Verdict(StrEnum):
    """Why a delivery is retried or dead."""

    RETRY = "retry"
    PERMANENT = "permanent"
    """The error's disposition says retrying cannot help."""
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    """The attempt that failed was the last one allowed."""
    MAX_AGE = "max_age"
    """The next attempt would fall after ``max_age`` since the first attempt."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a delivery whose attempt just failed."""

    verdict: Verdict
    action: Action
    """The error's disposition (an ``AUTH_FAILURE`` also opens the breaker and alerts)."""
    reason: str
    """One line for the operator, kept with the attempt or the dead letter."""
    retry_at: datetime | None = None
    """When the delivery becomes claimable again; None when it is dead."""

    @property
    def dead(self) -> bool:
        """True when the delivery goes to the dead letters."""
        return self.retry_at is None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with proportional jitter, bounded by attempts and age."""

    base_delay: timedelta = timedelta(seconds=2)
    """Wait after the first failed attempt, before jitter."""
    multiplier: float = 2.0
    """Growth of the wait per attempt (1 = constant wait)."""
    cap: timedelta = timedelta(minutes=15)
    """Longest backoff wait (a target's Retry-After may ask for longer)."""
    jitter: float = 0.25
    """Fraction of each wait that is random, from 0 (none) to 1 (full jitter)."""
    max_attempts: int = 12
    """Attempts in all, the first included; 1 means never retry."""
    max_age: timedelta = timedelta(hours=24)
    """No attempt is scheduled later than this after the first attempt."""

    def __post_init__(self) -> None:
        problems = []
        if self.base_delay <= timedelta(0):
            problems.append("base_delay must be positive")
        if self.cap < self.base_delay:
            problems.append("cap must be at least base_delay")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            problems.append("multiplier must be a finite number of at least 1")
        if not 0 <= self.jitter <= 1:
            problems.append("jitter must be between 0 and 1")
        if self.max_attempts < 1:
            problems.append("max_attempts must be at least 1")
        if self.max_age <= timedelta(0):
            problems.append("max_age must be positive")
        if problems:
            raise ValueError("invalid retry policy: " + "; ".join(problems))

    def backoff(self, attempt: int) -> timedelta:
        """The wait after failed attempt ``attempt`` before jitter; never above ``cap``."""
        _check_attempt(attempt)
        try:
            seconds = self.base_delay.total_seconds() * math.pow(self.multiplier, attempt - 1)
        except OverflowError:
            return self.cap
        if seconds >= self.cap.total_seconds():
            return self.cap
        return min(timedelta(seconds=seconds), self.cap)

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The jittered wait after failed attempt ``attempt``: within ``[0, cap]``."""
        backoff = self.backoff(attempt)
        u = (rng or _SYSTEM_RNG).random()
        wait = timedelta(seconds=backoff.total_seconds() * (1.0 - self.jitter * u))
        return max(timedelta(0), min(wait, backoff))

    def decide(
        self,
        error: DeliveryError,
        attempt: int,
        first_attempt_at: datetime,
        now: datetime,
        rng: random.Random | None = None,
    ) -> Decision:
        """Retry (and when) or dead (and why) after attempt number ``attempt`` failed."""
        _check_attempt(attempt)
        action = action_for(error)
        name = type(error).__name__
        if not action.retries:
            return Decision(Verdict.PERMANENT, action, f"{name} is permanent ({action})")
        if attempt >= self.max_attempts:
            return Decision(
                Verdict.ATTEMPTS_EXHAUSTED,
                action,
                f"{name}: attempt {attempt} of {self.max_attempts} failed, none left",
            )
        wait = self.delay(attempt, rng).total_seconds()
        asked = ""
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        if retry_after is not None and math.isfinite(retry_after) and retry_after > wait:
            wait = retry_after
            asked = ", as the target asked"
        elif retry_after is not None and math.isinf(retry_after):
            wait = math.inf
        elapsed = (now - first_attempt_at).total_seconds()
        if elapsed + wait > self.max_age.total_seconds():
            return Decision(
                Verdict.MAX_AGE,
                action,
                f"{name}: the next attempt would come more than {self.max_age} after the first one",
            )
        return Decision(
            Verdict.RETRY,
            action,
            f"{name}: attempt {attempt} of {self.max_attempts} failed; "
            f"retry in {wait:.1f} s{asked}",
            now + timedelta(seconds=wait),
        )


def _check_attempt(attempt: int) -> None:
    if attempt < 1:
        raise ValueError(f"attempts are counted from 1, not {attempt}")


_WEEK_SECONDS = 7 * 24 * 3600


class RetryPolicyConfig(BaseModel):
    """A route's retry policy as written in ``routes.yaml`` (every key optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_delay_seconds: float = Field(
        default=2.0,
        gt=0,
        le=_WEEK_SECONDS,
        allow_inf_nan=False,
        description="Wait after the first failed attempt, in seconds, before jitter.",
    )
    multiplier: float = Field(
        default=2.0,
        ge=1,
        le=100,
        allow_inf_nan=False,
        description="Each further wait is this many times the previous one (1 = constant).",
    )
    max_delay_seconds: float = Field(
        default=900.0,
        gt=0,
        le=_WEEK_SECONDS,
        allow_inf_nan=False,
        description=(
            "Longest wait between attempts, in seconds. A target's Retry-After may ask "
            "for longer and is honoured."
        ),
    )
    jitter: float = Field(
        default=0.25,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description=(
            "Fraction of each wait that is random: the wait is drawn uniformly from "
            "[(1 - jitter) x delay, delay]. 0 = none, 0.5 = 'equal jitter', 1 = 'full jitter'."
        ),
    )
    max_attempts: int = Field(
        default=12,
        ge=1,
        le=1000,
        description="Attempts in all, the first one included; 1 means never retry.",
    )
    max_age_hours: float = Field(
        default=24.0,
        gt=0,
        le=366 * 24,
        allow_inf_nan=False,
        description=(
            "Give up when the next attempt would come later than this many hours after "
            "the first attempt."
        ),
    )

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> Self:
        if self.max_delay_seconds < self.base_delay_seconds:
            raise ValueError("max_delay_seconds must be at least base_delay_seconds")
        return self

    def to_policy(self) -> RetryPolicy:
        """The policy this configuration describes."""
        return RetryPolicy(
            base_delay=timedelta(seconds=self.base_delay_seconds),
            multiplier=self.multiplier,
            cap=timedelta(seconds=self.max_delay_seconds),
            jitter=self.jitter,
            max_attempts=self.max_attempts,
            max_age=timedelta(hours=self.max_age_hours),
        )
