"""Operating the pipeline from the shell: ingest, targets, search, timeline, replay, dlq."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SAMPLES
from tests.pipeline_support import MAPPING_DIRS, order, write_routes


def o2c(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    env.update(
        O2C_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
        O2C_ROUTES_FILE=str(tmp_path / "routes.yaml"),
        O2C_MAPPINGS_PATHS=",".join(str(p) for p in MAPPING_DIRS),
        COLUMNS="250",
    )
    return subprocess.run(
        [sys.executable, "-c", "from hub.cli.main import entry; entry()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_ingest_search_show_replay_and_targets(tmp_path: Path) -> None:
    write_routes(tmp_path, "http://127.0.0.1:9", targets=["erp", "crm"])
    (tmp_path / "a.json").write_bytes(order(1))
    (tmp_path / "b.json").write_bytes(order(1))  # the same document again
    result = o2c(
        tmp_path, "ingest", "magento", "order", str(tmp_path / "a.json"), str(tmp_path / "b.json")
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert "duplicate" in second and second.startswith(first)
    message_id = first.strip()

    found = o2c(tmp_path, "messages", "search", "--external-id", "T00000001", "--json")
    assert [m["id"] for m in json.loads(found.stdout)] == [message_id]

    shown = o2c(tmp_path, "messages", "show", message_id)
    assert shown.returncode == 0, shown.stderr
    assert "magento/order T00000001 v1" in shown.stdout
    assert "delivery" in shown.stdout and "to erp" in shown.stdout and "to crm" in shown.stdout

    plan = o2c(tmp_path, "messages", "replay", message_id, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("never sent") == 2

    targets = o2c(tmp_path, "targets", "--json")
    rows = {r["target"]: r for r in json.loads(targets.stdout)}
    assert rows["erp"]["queued"] == 1 and rows["erp"]["breaker"] == "closed"

    empty = o2c(tmp_path, "dlq", "list")
    assert "no dead letters" in empty.stdout


def test_unmappable_document_is_quarantined_and_listed(tmp_path: Path) -> None:
    write_routes(tmp_path, "http://127.0.0.1:9")
    broken = ROOT / "tests" / "fixtures" / "magento" / "broken" / "no-currency.json"
    result = o2c(tmp_path, "ingest", "magento", "order", str(broken))
    assert result.returncode == 1
    assert "quarantined as" in result.stderr and "currency" in result.stderr
    listed = o2c(tmp_path, "messages", "quarantined", "--json")
    (entry,) = json.loads(listed.stdout)
    assert entry["system"] == "magento" and entry["status"] == "open"
    dry = o2c(tmp_path, "messages", "replay", entry["id"], "--dry-run")
    assert json.loads(dry.stdout)["would_ingest"] is False


def test_unknown_message_is_a_clear_error(tmp_path: Path) -> None:
    write_routes(tmp_path, "http://127.0.0.1:9")
    result = o2c(tmp_path, "messages", "show", "nope")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no message 'nope'"


def test_dlq_replay_needs_a_selection(tmp_path: Path) -> None:
    write_routes(tmp_path, "http://127.0.0.1:9")
    result = o2c(tmp_path, "dlq", "replay")
    assert result.returncode == 1
    assert "give delivery ids" in result.stderr


def test_sample_orders_ingest(tmp_path: Path) -> None:
    write_routes(tmp_path, "http://127.0.0.1:9")
    files = [str(p) for p in sorted(SAMPLES.glob("*.json"))]
    result = o2c(tmp_path, "ingest", "magento", "order", *files)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == len(files)
