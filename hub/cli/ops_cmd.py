"""``o2c messages``, ``o2c dlq`` and ``o2c targets``: operating the pipeline."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hub import ops
from hub.audit import AuditAction, record
from hub.cli.mapping_cmd import ConfigOption
from hub.cli.output import err, out
from hub.clock import utcnow
from hub.config import load_settings
from hub.errors import HubError, NotFoundError
from hub.queue.breakers import BreakerBoard
from hub.runtime import Runtime, runtime_from

messages_app = typer.Typer(help="Inspect, search and replay messages.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: grouped by cause, replayable.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _runtime(config: Any) -> Runtime:
    runtime = runtime_from(load_settings(config))
    runtime.upgrade_if_embedded()
    runtime.require_current_schema()
    return runtime


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


@messages_app.command("show")
def show(
    message_id: Annotated[str, typer.Argument(help="Message id (from ingest or search).")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The whole timeline: received, mapping version, each delivery and attempt."""
    timeline = ops.message_timeline(_runtime(config).engine, message_id)
    if as_json:
        _dump(timeline)
        return
    out.print(
        Text(
            f"message {timeline['id']}  {timeline['system']}/{timeline['kind']} "
            f"{timeline['external_id']} v{timeline['version']}  received "
            f"{_when(timeline['received_at'])}  correlation {timeline['correlation_id']}"
        )
    )
    out.print(
        Text(
            f"mapped by {timeline['mapping_name']} {timeline['mapping_version']}"
            + ("  FLAGGED: " + str(timeline["discrepancies"]) if timeline["flagged"] else "")
        )
    )
    refs = ", ".join(f"{r['system']}={r['value']}" for r in timeline["references"])
    out.print(Text(f"known as: {refs}"))
    for d in timeline["deliveries"]:
        ref = f" → {d['target_reference']}" if d["target_reference"] else ""
        out.print(
            Text(
                f"\ndelivery {d['id']} to {d['target']} via {d['route']}: "
                f"{d['status']}{ref}  (attempts {d['attempts']})"
            )
        )
        for a in d["attempt_log"]:
            line = (
                f"  #{a['number']} {_when(a['started_at'])} {a['duration_ms']} ms "
                f"{a['outcome']}" + (f" HTTP {a['status_code']}" if a["status_code"] else "")
            )
            if a["error"]:
                line += f": {a['error']}"
            elif a["response_summary"]:
                line += f": {a['response_summary']}"
            out.print(Text(line))
            if a["request_summary"]:
                out.print(Text(f"     sent {a['request_summary']}", style="dim"))
        if d["status"] in ("retrying",) and d["next_attempt_at"]:
            out.print(Text(f"  next attempt {_when(d['next_attempt_at'])}"))


@messages_app.command("search")
def search(
    external_id: Annotated[
        str,
        typer.Option(
            "--external-id",
            "-e",
            help="Any system's id: shop order number, SAP number, invoice number.",
        ),
    ],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Find messages by any id they are known by."""
    found = ops.search(_runtime(config).engine, external_id)
    if as_json:
        _dump(found)
        return
    if not found:
        err.print(f"no message known as {external_id!r}")
        raise typer.Exit(1)
    table = Table("message", "system", "kind", "external id", "version", "received")
    for m in found:
        table.add_row(
            m["id"],
            m["system"],
            m["kind"],
            m["external_id"],
            str(m["version"]),
            _when(m["received_at"]),
        )
    out.print(table)


@messages_app.command("replay")
def replay(
    message_id: Annotated[str, typer.Argument(help="Message id, or a quarantined document id.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Re-map with the current mapping and send again (quarantined: ingest again)."""
    runtime = _runtime(config)
    try:
        plan = ops.replay_message(runtime.engine, runtime.routes, message_id, dry_run=dry_run)
    except NotFoundError:
        result = ops.replay_quarantined(runtime.ingestor, message_id, dry_run=dry_run)
        if not dry_run:
            record(
                runtime.engine,
                actor=_actor(),
                action=AuditAction.QUARANTINE_REPLAYED,
                target=message_id,
                details={"message_id": result.get("message_id")},
            )
        _dump(result)
        return
    if not dry_run:
        record(
            runtime.engine, actor=_actor(), action=AuditAction.MESSAGE_REPLAYED, target=message_id
        )
    for d in plan.deliveries:
        head = f"delivery {d['delivery_id']} to {d['target']} ({d['status']})"
        if d["error"]:
            out.print(Text(f"{head}: cannot map now: {d['error']}", style="red"))
            continue
        if d["never_sent"]:
            out.print(Text(f"{head}: never sent; would send the current mapping's output"))
            continue
        if not d["changes"]:
            out.print(Text(f"{head}: no field changes"))
            continue
        out.print(Text(f"{head}: {len(d['changes'])} field(s) would change"))
        for change in d["changes"]:
            out.print(Text(f"  {change.path}: {change.before!r} → {change.after!r}"))
    if not dry_run:
        out.print(f"queued again: {len(plan.deliveries)} deliveries")


@messages_app.command("quarantined")
def list_quarantined(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Documents that could not be parsed or mapped, waiting for a fix and a replay."""
    rows = ops.quarantined(_runtime(config).engine)
    if as_json:
        _dump(rows)
        return
    table = Table("id", "system/kind", "received", "first problem")
    for r in rows:
        first = json.loads(r["errors"])[0]["message"] if r["errors"] else ""
        table.add_row(r["id"], f"{r['system']}/{r['kind']}", _when(r["received_at"]), Text(first))
    out.print(table)


@dlq_app.command("list")
def dlq_list(
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Dead letters grouped by cause, e.g. "42 deliveries: SKU 24-MB01 unknown in SAP"."""
    groups = ops.dead_letters(_runtime(config).engine, target)
    if as_json:
        _dump([g.__dict__ for g in groups])
        return
    if not groups:
        out.print("no dead letters")
        return
    for g in groups:
        out.print(Text(f"{g.count} deliveries to {g.target}: {g.fingerprint}", style="bold"))
        out.print(
            Text(f"  first {_when(g.oldest)}, last {_when(g.newest)}; e.g. {g.example_error}")
        )
        out.print(Text(f"  replay: o2c dlq replay --group '{g.fingerprint}' --target {g.target}"))


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Delivery ids.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="An error fingerprint.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter (of --target).")] = False,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    config: ConfigOption = None,
) -> None:
    """Send dead letters again with fresh attempts, once their cause is fixed."""
    if not ids and group is None and not all_:
        raise HubError("give delivery ids, --group FINGERPRINT, or --all --target T")
    if all_ and target is None:
        raise HubError("--all needs --target, so one target's letters are replayed at a time")
    count = ops.replay_dead(
        _runtime(config).engine, delivery_ids=ids or None, fingerprint=group, target=target
    )
    out.print(f"{count} deliveries queued again")


def targets(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Each target's breaker state, queue depth and oldest waiting delivery."""
    runtime = _runtime(config)
    board = BreakerBoard(runtime.engine, runtime.settings.workers.breaker.to_policy())
    rows = ops.targets_status(runtime.engine, board)
    if as_json:
        _dump(rows)
        return
    table = Table(
        "target",
        "breaker",
        "queued",
        "in flight",
        "delivered",
        "dead",
        "oldest waiting",
        "last failure",
    )
    now = utcnow()
    for r in rows:
        breaker = r["breaker"]
        if r["open_until"] and r["open_until"] > now:
            breaker += f" ({int((r['open_until'] - now).total_seconds())} s)"
        age = r["oldest_waiting_seconds"]
        table.add_row(
            r["target"],
            breaker,
            str(r["queued"]),
            str(r["in_flight"]),
            str(r["delivered"]),
            str(r["dead"]),
            "-" if age is None else f"{age:.0f} s",
            Text(r["last_failure"] or "-"),
        )
    out.print(table)
