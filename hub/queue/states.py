"""Delivery states and the transitions allowed between them (drawn in docs/queue.md).

::

    pending ──claim──▶ in_flight ──ok──────────────▶ delivered
       ▲  ▲               │ ├─transient, attempts left ─▶ retrying ──due──▶ (claimable)
       │  │               │ ├─permanent / attempts used ─▶ dead
       │  └──lease expired┘ └─reclaimed too often ───────▶ poisoned
       └──────────────── replay (dead, poisoned) ◀────────────┘

``retrying`` deliveries are claimable once ``next_attempt_at`` has passed, exactly like
``pending`` ones; they are kept apart so operators can see what is failing.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where one delivery of one message to one target stands."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD = "dead"
    POISONED = "poisoned"


S = DeliveryStatus

TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    S.PENDING: frozenset({S.IN_FLIGHT}),
    S.RETRYING: frozenset({S.IN_FLIGHT}),
    S.IN_FLIGHT: frozenset(
        {S.DELIVERED, S.RETRYING, S.DEAD, S.PENDING, S.POISONED}
    ),  # PENDING: lease expired or released on shutdown
    S.DELIVERED: frozenset(),
    S.DEAD: frozenset({S.PENDING}),  # replay
    S.POISONED: frozenset({S.PENDING}),  # replay
}

CLAIMABLE = frozenset({S.PENDING, S.RETRYING})
UNFINISHED = frozenset({S.PENDING, S.RETRYING, S.IN_FLIGHT})
"""States that hold back later deliveries with the same ordering key and target."""


def can_move(old: DeliveryStatus, new: DeliveryStatus) -> bool:
    """True when ``old → new`` is an allowed transition."""
    return new in TRANSITIONS[old]
