"""docs/queue.md draws exactly the transitions that hub/queue/states.py allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.queue.states import CLAIMABLE, TRANSITIONS, UNFINISHED, DeliveryStatus, can_move

DOC = Path(__file__).resolve().parents[1] / "docs" / "queue.md"
HEADER = ["from", "to", "when"]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def transition_rows() -> list[tuple[str, str, str]]:
    """The rows of the one ``| from | to | when |`` table in docs/queue.md."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("|") and cells(line) == HEADER]
    assert len(starts) == 1, "docs/queue.md needs exactly one | from | to | when | table"
    rows = []
    for line in lines[starts[0] + 2 :]:  # skip the header and the |---| line
        if not line.startswith("|"):
            break
        old, new, when = cells(line)
        rows.append((old.strip("`"), new.strip("`"), when))
    return rows


def test_the_table_has_one_row_per_allowed_transition() -> None:
    rows = transition_rows()
    pairs = [(old, new) for old, new, _ in rows]
    assert len(pairs) == len(set(pairs)), "a transition is drawn twice"
    documented = {(DeliveryStatus(old), DeliveryStatus(new)) for old, new in pairs}
    allowed = {(old, new) for old, targets in TRANSITIONS.items() for new in targets}
    assert documented == allowed


def test_every_row_says_when() -> None:
    for old, new, when in transition_rows():
        assert len(when) > 10, f"{old} → {new} does not say when it happens"


def test_every_status_appears_in_the_table_and_in_transitions() -> None:
    named = {name for old, new, _ in transition_rows() for name in (old, new)}
    assert named == {status.value for status in DeliveryStatus}
    assert set(TRANSITIONS) == set(DeliveryStatus)


def test_every_status_is_described_in_the_states_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for status in DeliveryStatus:
        assert f"| `{status.value}` |" in text


@pytest.mark.parametrize("old", list(DeliveryStatus))
@pytest.mark.parametrize("new", list(DeliveryStatus))
def test_can_move_follows_transitions(old: DeliveryStatus, new: DeliveryStatus) -> None:
    assert can_move(old, new) == (new in TRANSITIONS[old])


def test_delivered_is_final_and_every_other_state_can_be_left() -> None:
    assert TRANSITIONS[DeliveryStatus.DELIVERED] == frozenset()
    for status in set(DeliveryStatus) - {DeliveryStatus.DELIVERED}:
        assert TRANSITIONS[status], status


def test_claimable_states_lead_to_in_flight_and_are_unfinished() -> None:
    for status in CLAIMABLE:
        assert DeliveryStatus.IN_FLIGHT in TRANSITIONS[status]
    assert CLAIMABLE < UNFINISHED
