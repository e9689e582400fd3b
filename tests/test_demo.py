"""`o2c demo`: Magento → hub → SAP on loopback ends with every order in SAP once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def test_demo_puts_every_order_in_sap_once_with_faults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2C_")}
    result = subprocess.run(
        [
            sys.executable,
            *("-c", "from hub.cli.main import entry; entry()"),
            *("demo", "--orders", "200", "--duration", "5", "--fault-rate", "0.15"),
            *("--workdir", str(tmp_path / "demo")),
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every one of 200 orders is in SAP once; nothing pending." in result.stdout
    assert "shop orders with 2+ SAP orders │" in result.stdout
    # the database is left to explore: one message per order, each delivered once
    with sqlite3.connect(tmp_path / "demo" / "hub.db") as db:
        messages = db.execute("SELECT count(DISTINCT external_id) FROM message").fetchone()[0]
        statuses = dict(db.execute("SELECT status, count(*) FROM delivery GROUP BY status"))
    assert messages == 200
    assert statuses == {"delivered": 200}
