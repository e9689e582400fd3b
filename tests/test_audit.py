"""The audit trail: appends chain by hash; verify finds edits, deletions, forgeries, swaps."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from hub import audit
from hub.audit import AuditAction, BreakKind
from hub.clock import utcnow
from hub.store.tables import audit_table
from tests.conftest import ROOT
from tests.pipeline_support import make_store

A = audit_table.c
ACTIONS = list(AuditAction)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    store, _url = make_store(request.param, tmp_path)
    yield store
    store.dispose()


def fill(engine: Engine, count: int = 5) -> list[audit.AuditRecord]:
    return [
        audit.record(
            engine,
            actor=f"operator{n % 2}",
            action=ACTIONS[n % len(ACTIONS)],
            target=f"delivery/{n}",
            details={"n": n, "reason": "customer fixed", "ids": [n, n + 1]},
        )
        for n in range(1, count + 1)
    ]


def row(engine: Engine, entry_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(audit_table).where(A.id == entry_id)).mappings().one())


def set_row(engine: Engine, entry_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(audit_table).where(A.id == entry_id).values(**values))


def delete_rows(engine: Engine, *ids: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(audit_table).where(A.id.in_(ids)))


def shift_ids(engine: Engine, *, above: int, by: int) -> None:
    """Renumber entries with id > ``above`` by ``by`` (in two steps: ids are unique)."""
    with engine.begin() as conn:
        conn.execute(update(audit_table).where(A.id > above).values(id=A.id + 100_000))
        conn.execute(update(audit_table).where(A.id > 100_000).values(id=A.id - 100_000 + by))


def broken(result: audit.VerifyResult) -> tuple[int | None, BreakKind | None]:
    assert not result.ok
    assert result.reason and "\n" not in result.summary()
    return result.broken_id, result.kind


# --- appending and an intact chain -------------------------------------------------------


def test_chain_of_records_verifies(engine: Engine) -> None:
    assert audit.verify(engine) == audit.VerifyResult(ok=True, checked=0, head="0" * 64)
    records = fill(engine, 6)
    assert [r.id for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0].prev_hash == audit.GENESIS_HASH
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
        assert after.at >= before.at

    result = audit.verify(engine)
    assert result.ok and result.checked == 6 and result.head == records[-1].hash
    assert result.summary() == f"OK: 6 entries, chain intact, head {records[-1].hash}"
    assert audit.anchor(engine) == audit.Anchor(count=6, head=records[-1].hash)


def test_hash_follows_the_documented_rule(engine: Engine) -> None:
    import hashlib
    import json

    first = audit.record(
        engine,
        actor="ops@example.com",
        action=AuditAction.BREAKER_RESET,
        target="erp",
        details={"b": 1, "a": "ü"},
    )
    stored = row(engine, first.id)
    assert stored["details"] == '{"a":"ü","b":1}'
    payload = json.dumps(
        {
            "at": first.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": "ops@example.com",
            "action": "breaker.reset",
            "target": "erp",
            "details": {"a": "ü", "b": 1},
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    expected = hashlib.sha256((payload + "0" * 64).encode()).hexdigest()
    assert first.hash == stored["hash"] == expected
    assert stored["at"] == first.at  # microseconds survive the round trip


def test_record_joins_the_callers_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.begin()
        audit.record(conn, actor="ops", action=AuditAction.DLQ_DISCARDED, target="delivery/1")
        conn.rollback()
    assert audit.anchor(engine).count == 0

    with engine.begin() as conn:
        entry = audit.record(
            conn, actor="ops", action=AuditAction.DLQ_DISCARDED, target="delivery/1"
        )
        assert entry.id == 1 and entry.prev_hash == audit.GENESIS_HASH
    assert audit.verify(engine).checked == 1


def test_only_audit_actions_are_accepted(engine: Engine) -> None:
    with pytest.raises(TypeError, match="AuditAction"):
        audit.record(engine, actor="ops", action="dlq.replay", target="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="actor"):
        audit.record(engine, actor="", action=AuditAction.DLQ_REPLAYED, target="x")
    assert audit.anchor(engine).count == 0


def test_secrets_in_details_are_not_stored(engine: Engine) -> None:
    audit.record(
        engine,
        actor="ops",
        action=AuditAction.CONFIG_RELOADED,
        target="targets.erp",
        details={
            "note": "login with password=hunter2",
            "password": "hunter2",
            "nested": {"api_token": "tok-abc123", "keep": "visible"},
            "url": "https://bob:s3cr3t@erp.example/api",
            "has_secret": True,
        },
    )
    stored = row(engine, 1)["details"]
    for secret in ("hunter2", "tok-abc123", "s3cr3t"):
        assert secret not in stored
    listed = audit.entries(engine, limit=1)[0]["details"]
    assert listed["note"] == "login with password=***"
    assert listed["password"] == "***"
    assert listed["nested"] == {"api_token": "***", "keep": "visible"}
    assert listed["url"] == "https://bob:***@erp.example/api"
    assert listed["has_secret"] is True
    assert audit.verify(engine).ok


def test_entries_newest_first_with_filters(engine: Engine) -> None:
    fill(engine, 6)
    newest = audit.entries(engine, limit=3)
    assert [e["id"] for e in newest] == [6, 5, 4]
    assert newest[0]["details"] == {"n": 6, "reason": "customer fixed", "ids": [6, 7]}
    by_action = audit.entries(engine, limit=50, action=AuditAction.DLQ_REPLAYED)
    assert [e["id"] for e in by_action] == [2]
    assert [e["id"] for e in audit.entries(engine, limit=50, actor="operator1")] == [5, 3, 1]


# --- tampering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("at", "shift"),
        ("actor", "someone-else"),
        ("action", "apikey.revoked"),
        ("target", "delivery/999"),
        ("details", '{"n":3,"reason":"changed"}'),
        ("details", "not json"),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
def test_editing_any_field_of_a_middle_entry_is_found(
    engine: Engine, column: str, value: str
) -> None:
    fill(engine, 5)
    new: Any = row(engine, 3)["at"] + timedelta(seconds=1) if value == "shift" else value
    set_row(engine, 3, **{column: new})
    assert broken(audit.verify(engine)) == (3, BreakKind.EDITED)
    assert audit.verify(engine).checked == 2


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    fill(engine, 5)
    old = row(engine, 3)
    forged = audit.entry_hash(
        at=old["at"],
        actor="someone-else",
        action=old["action"],
        target=old["target"],
        details={},
        prev_hash=old["prev_hash"],
    )
    set_row(engine, 3, actor="someone-else", details="{}", hash=forged)
    assert broken(audit.verify(engine)) == (4, BreakKind.CHAIN)


def test_deleting_a_middle_entry_is_found(engine: Engine) -> None:
    fill(engine, 5)
    delete_rows(engine, 3)
    result = audit.verify(engine)
    assert broken(result) == (4, BreakKind.GAP)
    assert "entry 3 deleted" in result.summary()


def test_deleting_the_first_entry_is_found(engine: Engine) -> None:
    fill(engine, 3)
    delete_rows(engine, 1)
    assert broken(audit.verify(engine)) == (2, BreakKind.GAP)


def test_deleting_and_renumbering_is_found(engine: Engine) -> None:
    fill(engine, 5)
    delete_rows(engine, 3)
    shift_ids(engine, above=3, by=-1)  # 4 → 3, 5 → 4: no gap left
    assert broken(audit.verify(engine)) == (3, BreakKind.CHAIN)


def forge(engine: Engine, entry_id: int, *, valid_hash: bool) -> None:
    at = utcnow()
    prev = row(engine, entry_id - 1)["hash"]
    digest = (
        audit.entry_hash(
            at=at, actor="intruder", action="apikey.created", target="k", details={}, prev_hash=prev
        )
        if valid_hash
        else "ab" * 32
    )
    with engine.begin() as conn:
        conn.execute(
            insert(audit_table).values(
                id=entry_id,
                at=at,
                actor="intruder",
                action="apikey.created",
                target="k",
                details="{}",
                prev_hash=prev,
                hash=digest,
            )
        )


def test_a_forged_entry_appended_with_a_made_up_hash_is_found(engine: Engine) -> None:
    fill(engine, 5)
    forge(engine, 6, valid_hash=False)
    assert broken(audit.verify(engine)) == (6, BreakKind.EDITED)


def test_a_forged_entry_inserted_in_the_middle_is_found(engine: Engine) -> None:
    fill(engine, 5)
    shift_ids(engine, above=2, by=1)  # make room at id 3
    forge(engine, 3, valid_hash=False)
    assert broken(audit.verify(engine)) == (3, BreakKind.EDITED)


def test_a_well_formed_inserted_entry_breaks_the_next_link(engine: Engine) -> None:
    fill(engine, 5)
    shift_ids(engine, above=2, by=1)
    forge(engine, 3, valid_hash=True)
    assert broken(audit.verify(engine)) == (4, BreakKind.CHAIN)


CONTENT = ("at", "actor", "action", "target", "details")


@pytest.mark.parametrize(
    "columns", [CONTENT, (*CONTENT, "prev_hash", "hash")], ids=["contents", "whole-rows"]
)
def test_swapping_two_entries_is_found(engine: Engine, columns: tuple[str, ...]) -> None:
    fill(engine, 5)
    two, three = row(engine, 2), row(engine, 3)
    if "hash" in columns:
        set_row(engine, 2, hash="0" * 64)  # hashes are unique: free row 3's first
    set_row(engine, 3, **{c: two[c] for c in columns})
    set_row(engine, 2, **{c: three[c] for c in columns})
    expected = BreakKind.CHAIN if "hash" in columns else BreakKind.EDITED
    assert broken(audit.verify(engine)) == (2, expected)


# --- the tail and anchors -----------------------------------------------------------------


def test_truncating_the_tail_needs_an_anchor(engine: Engine) -> None:
    records = fill(engine, 5)
    mark = audit.anchor(engine)
    assert mark == audit.Anchor(count=5, head=records[-1].hash)
    assert audit.verify(engine, expect=mark).ok

    delete_rows(engine, 4, 5)
    plain = audit.verify(engine)
    assert plain.ok and plain.checked == 3  # a shorter chain is still a chain
    anchored = audit.verify(engine, expect=mark)
    assert broken(anchored) == (None, BreakKind.TRUNCATED)
    assert "3 entries where the anchor counted 5" in anchored.summary()


def test_an_anchor_still_holds_after_later_appends(engine: Engine) -> None:
    fill(engine, 3)
    mark = audit.anchor(engine)
    fill(engine, 2)
    assert audit.verify(engine, expect=mark).ok


def test_a_rewritten_chain_fails_its_anchor(engine: Engine) -> None:
    fill(engine, 3)
    mark = audit.anchor(engine)
    delete_rows(engine, 1, 2, 3)
    fill(engine, 3)  # a new, internally consistent chain of the same length
    assert audit.verify(engine).ok
    assert broken(audit.verify(engine, expect=mark)) == (3, BreakKind.ANCHOR)


# --- concurrency --------------------------------------------------------------------------


def test_concurrent_appends_never_fork_the_chain(engine: Engine) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def append(worker: int) -> None:
        try:
            start.wait()
            for n in range(25):
                audit.record(
                    engine,
                    actor=f"worker{worker}",
                    action=AuditAction.DLQ_REPLAYED,
                    target=f"delivery/{worker}-{n}",
                    details={"n": n},
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    result = audit.verify(engine)
    assert result.ok and result.checked == 100
    with engine.connect() as conn:
        assert list(conn.execute(select(A.id).order_by(A.id)).scalars()) == list(range(1, 101))


# --- the CLI ------------------------------------------------------------------------------


def o2c(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(O2C_DATABASE_URL=f"sqlite:///{db}", COLUMNS="250")
    return subprocess.run(
        [sys.executable, "-c", "from hub.cli.main import entry; entry()", "audit", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_cli_verify_intact_and_tampered(tmp_path: Path) -> None:
    engine, _url = make_store("sqlite", tmp_path)
    records = fill(engine, 3)
    head = records[-1].hash

    ok = o2c(tmp_path / "hub.db", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"OK: 3 entries, chain intact, head {head}"

    anchor = o2c(tmp_path / "hub.db", "anchor", "--json")
    assert anchor.returncode == 0, anchor.stderr
    assert '"count": 3' in anchor.stdout and head in anchor.stdout

    listed = o2c(tmp_path / "hub.db", "list", "--action", "quarantine.replayed", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"target": "delivery/1"' in listed.stdout

    set_row(engine, 2, actor="someone-else")
    tampered = o2c(tmp_path / "hub.db", "verify")
    assert tampered.returncode == 1
    lines = tampered.stderr.strip().splitlines()
    assert len(lines) == 1, tampered.stderr
    assert lines[0].startswith("BROKEN: entry 2: edited:")

    set_row(engine, 2, actor=records[1].actor)  # restored: intact again
    delete_rows(engine, 3)
    truncated = o2c(tmp_path / "hub.db", "verify", "--expect-count", "3", "--expect-hash", head)
    assert truncated.returncode == 1
    assert truncated.stderr.strip().startswith("BROKEN: truncated:")
    assert o2c(tmp_path / "hub.db", "verify").returncode == 0
    engine.dispose()
