"""``o2c poll``: poll source systems for changed documents (``sources:`` in routes.yaml)."""

from __future__ import annotations

import asyncio
import getpass
import json
import signal
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from hub.audit import AuditAction, record
from hub.cli.mapping_cmd import ConfigOption
from hub.cli.output import err, out
from hub.clock import utcnow
from hub.config import load_settings
from hub.errors import NotFoundError
from hub.logs import configure_logging
from hub.polling import CursorState, CursorStore, Poller, PollRun, PollScheduler
from hub.runtime import Runtime, runtime_from

app = typer.Typer(
    help="Poll source systems for changed documents (the `sources:` of routes.yaml).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _runtime(config: Any) -> Runtime:
    runtime = runtime_from(load_settings(config))
    runtime.upgrade_if_embedded()
    runtime.require_current_schema()
    return runtime


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _cursor(cursor: dict[str, Any] | None, limit: int = 60) -> str:
    if cursor is None:
        return "(start)"
    text = json.dumps(cursor, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(run: PollRun) -> Text:
    if run.skipped:
        return Text(f"skipped: polled by {run.held_by}", style="yellow")
    if run.error is not None:
        return Text(f"failed: {_clip(run.error)}", style="red")
    return Text("more to come" if run.more else "caught up", style="green")


def _add(total: PollRun, run: PollRun) -> PollRun:
    return PollRun(
        source=total.source,
        documents=total.documents + run.documents,
        created=total.created + run.created,
        duplicates=total.duplicates + run.duplicates,
        quarantined=total.quarantined + run.quarantined,
        pages=total.pages + run.pages,
        cursor=run.cursor,
        error=run.error,
        more=run.more,
        held_by=run.held_by,
        retry_after=run.retry_after,
    )


def _summary(runs: list[PollRun]) -> Table:
    table = Table("source", "documents", "new", "duplicates", "quarantined", "cursor", "result")
    for r in runs:
        table.add_row(
            r.source,
            str(r.documents),
            str(r.created),
            str(r.duplicates),
            str(r.quarantined),
            Text(_cursor(r.cursor)),
            _outcome(r),
        )
    return table


def _signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


class _Tally:
    """One source's runs added up, shown as a progress line while they go."""

    def __init__(self, name: str, progress: Progress) -> None:
        self.name = name
        self.progress = progress
        self.total = PollRun(name)
        self.task = progress.add_task(f"{name}: polling", total=None)

    def add(self, run: PollRun) -> None:
        self.total = _add(self.total, run)

    def show(self, run: PollRun) -> None:
        done = _add(self.total, run)
        self.progress.update(
            self.task,
            description=f"{self.name}: {done.documents} documents ({done.created} new, "
            f"{done.duplicates} duplicates, {done.quarantined} quarantined)",
        )


async def _catch_up(pollers: list[Poller], stop: asyncio.Event) -> list[PollRun]:
    """Each source in turn, run after run, until it has nothing more (or fails)."""
    runs: list[PollRun] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        for poller in pollers:
            tally = _Tally(poller.name, progress)
            poller.on_progress = tally.show
            while True:
                run = await poller.run(stop)
                tally.add(run)
                if not run.more or run.error is not None or run.skipped or stop.is_set():
                    break
            progress.remove_task(tally.task)
            runs.append(tally.total)
            if stop.is_set():
                break
    return runs


@app.command("run")
def run(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Sources to poll (default: every enabled source).", show_default=False),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once/--forever",
            help="Poll until caught up, then exit; or keep polling every `every` seconds "
            "until SIGTERM or Ctrl-C.",
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Ingest what changed in the source systems since the stored cursors.

    Exit code 1 when a source failed (its error is also kept for `o2c poll status`).
    """
    runtime = _runtime(config)
    pollers = runtime.pollers(sources or None)
    if not pollers:
        err.print(f"no enabled sources in {runtime.routes.file or 'routes.yaml'}")
        raise typer.Exit(0)

    async def main() -> list[PollRun]:
        stop = asyncio.Event()
        _signals(stop)
        try:
            if once:
                return await _catch_up(pollers, stop)
            totals = {p.name: PollRun(p.name) for p in pollers}

            def report(result: PollRun) -> None:
                totals[result.source] = _add(totals[result.source], result)
                if result.documents or result.error:
                    err.print(
                        Text(
                            f"{_when(utcnow())} {result.source}: {result.documents} documents "
                            f"({result.created} new, {result.duplicates} duplicates, "
                            f"{result.quarantined} quarantined)"
                            + (f"; {result.error}" if result.error else "")
                        )
                    )

            names = ", ".join(p.name for p in pollers)
            err.print(Text(f"polling {names} until SIGTERM or Ctrl-C"))
            await PollScheduler(pollers, on_run=report).run(stop)
            return list(totals.values())
        finally:
            for poller in pollers:
                await poller.aclose()

    secrets = [secret for p in pollers for secret in p.adapter.secrets()]
    configure_logging(runtime.settings.logging, secrets=secrets)
    runs = asyncio.run(main())
    out.print(_summary(runs))
    if once and any(r.error is not None for r in runs):
        raise typer.Exit(1)


def _status_row(name: str, state: CursorState | None, enabled: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "source": name,
        "enabled": enabled,
        "last_run_at": state.last_run_at if state else None,
        "last_success_at": state.last_success_at if state else None,
        "documents_total": state.documents_total if state else 0,
        "last_error": state.last_error if state else None,
        "leased_by": state.lease_holder(now) if state else None,
        "cursor": state.cursor if state else None,
    }


@app.command("status")
def status(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Every source: last run, last success, documents so far, last error, cursor."""
    runtime = _runtime(config)
    states = {s.source: s for s in CursorStore(runtime.engine).all()}
    rows = [
        _status_row(name, states.get(name), "yes" if source.enabled else "no")
        for name, source in runtime.routes.sources.items()
    ]
    rows += [
        _status_row(name, state, "not configured")
        for name, state in states.items()
        if name not in runtime.routes.sources
    ]
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        err.print(f"no sources in {runtime.routes.file or 'routes.yaml'}")
        return
    table = Table(
        "source", "enabled", "last run", "last success", "documents", "last error", "polled by"
    )
    table.add_column("cursor", overflow="fold")
    for r in rows:
        table.add_row(
            r["source"],
            r["enabled"],
            _when(r["last_run_at"]),
            _when(r["last_success_at"]),
            str(r["documents_total"]),
            Text(_clip(r["last_error"] or "-", 120), style="red" if r["last_error"] else ""),
            r["leased_by"] or "-",
            Text(_cursor(r["cursor"], 200)),
        )
    out.print(table)


@app.command("reset")
def reset(
    source: Annotated[str, typer.Argument(help="The source whose cursor to forget.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Forget a source's cursor: its next run starts from the adapter's configured start.

    Documents read again are recognised as duplicates; changed ones become new versions.
    """
    runtime = _runtime(config)
    store = CursorStore(runtime.engine)
    state = store.get(source)
    if state is None:
        if source not in runtime.routes.sources:
            known = ", ".join(sorted(runtime.routes.sources)) or "none"
            raise NotFoundError(f"no source {source!r} (sources: {known})")
        err.print(f"{source} has no cursor yet: its next run starts from the configured start")
        return
    if state.cursor is None:
        err.print(f"{source} has no cursor: its next run starts from the configured start")
        return
    if not yes:
        typer.confirm(
            f"Forget the cursor of {source}, {_cursor(state.cursor, 200)}? Its next run "
            "reads from the adapter's configured start",
            abort=True,
            err=True,
        )
    before = store.reset(source)
    record(
        runtime.engine,
        actor=f"cli:{getpass.getuser()}",
        action=AuditAction.POLL_CURSOR_RESET,
        target=source,
        details={"cursor": before.cursor},
    )
    out.print(Text(f"{source}: cursor {_cursor(before.cursor, 200)} forgotten"))
