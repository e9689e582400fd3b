"""``o2c audit``: check, list and anchor the hash-chained audit trail."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hub import audit
from hub.cli.mapping_cmd import ConfigOption
from hub.cli.output import err, out
from hub.config import load_settings
from hub.errors import HubError
from hub.runtime import Runtime, runtime_from

app = typer.Typer(
    help="The audit trail of operator actions: verify its hash chain, list, anchor.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _runtime(config: Any) -> Runtime:
    runtime = runtime_from(load_settings(config))
    runtime.upgrade_if_embedded()
    runtime.require_current_schema()
    return runtime


def _expected(count: int | None, head: str | None) -> audit.Anchor | None:
    if count is None and head is None:
        return None
    if count is None or head is None:
        raise HubError("give both --expect-count and --expect-hash (from `o2c audit anchor`)")
    head = head.strip().lower()
    if not _HEX64.fullmatch(head):
        raise HubError("--expect-hash must be 64 hexadecimal characters")
    return audit.Anchor(count=count, head=head)


@app.command("verify")
def verify(
    expect_count: Annotated[
        int | None,
        typer.Option("--expect-count", min=0, help="Entry count from an earlier anchor."),
    ] = None,
    expect_hash: Annotated[
        str | None,
        typer.Option("--expect-hash", help="Head hash from the same anchor."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Recompute every entry's hash and the chain; exit 1 at the first broken entry.

    Removing entries from the end cannot be seen without an anchor: pass the count and
    hash printed by `o2c audit anchor` earlier to catch that too.
    """
    expect = _expected(expect_count, expect_hash)
    result = audit.verify(_runtime(config).engine, expect=expect)
    if result.ok:
        out.print(Text(result.summary()))
        return
    err.print(Text(result.summary(), style="red"))
    raise typer.Exit(1)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_entries(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N entries.")] = 50,
    action: Annotated[
        audit.AuditAction | None, typer.Option("--action", help="Only this action.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The newest entries first: when, who, what, on which target, with details."""
    rows = audit.entries(_runtime(config).engine, limit=limit, action=action, actor=actor)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        out.print("no audit entries")
        return
    table = Table()
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("actor", overflow="fold")
    table.add_column("action", no_wrap=True)
    table.add_column("target", overflow="fold")
    table.add_column("details", overflow="fold")
    for row in rows:
        details = row["details"]
        shown = details if isinstance(details, str) else audit.canonical_json(details)
        table.add_row(
            str(row["id"]),
            _when(row["at"]),
            Text(row["actor"]),
            Text(row["action"]),
            Text(row["target"]),
            Text(shown),
        )
    out.print(table)


@app.command("anchor")
def anchor(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Print the entry count and head hash: keep them outside the hub's database."""
    mark = audit.anchor(_runtime(config).engine)
    if as_json:
        out.print_json(json.dumps({"count": mark.count, "head": mark.head}))
        return
    out.print(Text(f"{mark.count} entries, head {mark.head}"))
    err.print(
        Text(
            "keep these outside the database; check later with: o2c audit verify "
            f"--expect-count {mark.count} --expect-hash {mark.head}",
            style="dim",
        )
    )
