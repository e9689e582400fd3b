"""Entry point of ``o2c``: global options and the error boundary.

Errors the hub raises on purpose (:class:`~hub.errors.HubError`) print as one red line
and exit 1; a traceback appears only with ``--debug`` (or ``O2C_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from hub import __version__
from hub.cli import (
    adapters_cmd,
    apikey_cmd,
    audit_cmd,
    billing_cmd,
    config_cmd,
    demo_cmd,
    invoice_cmd,
    mapping_cmd,
    ops_cmd,
    pipeline_cmd,
    poll_cmd,
    schema_cmd,
)
from hub.cli.output import err
from hub.errors import HubError

app = typer.Typer(
    name="o2c",
    help="O2C Hub: order-to-cash integration hub for B2B commerce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(mapping_cmd.app, name="mapping")
app.add_typer(config_cmd.app, name="config")
app.command("schema")(schema_cmd.schema)
app.command("demo")(demo_cmd.demo)
app.add_typer(pipeline_cmd.db_app, name="db")
app.command("ingest")(pipeline_cmd.ingest)
app.command("worker")(pipeline_cmd.worker)
app.command("serve")(pipeline_cmd.serve)
app.add_typer(poll_cmd.app, name="poll")
app.add_typer(ops_cmd.messages_app, name="messages")
app.add_typer(ops_cmd.dlq_app, name="dlq")
app.command("targets")(ops_cmd.targets)
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(apikey_cmd.app, name="apikey")
app.add_typer(adapters_cmd.app, name="adapters")
app.add_typer(invoice_cmd.app, name="invoice")
app.add_typer(invoice_cmd.credit_app, name="credit")
app.add_typer(billing_cmd.app, name="billing")

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"o2c-hub {__version__}")
        raise typer.Exit


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for errors (or set O2C_DEBUG=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """O2C Hub: shop orders to ERP, invoices, payments - configured in YAML."""
    _state["debug"] = debug or os.environ.get("O2C_DEBUG", "") not in ("", "0")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by tests).

    Usage errors are typer's to print (with the usage line); errors the hub raises on
    purpose print as one line; anything else is a bug and keeps its traceback.
    """
    try:
        app(args=argv, prog_name="o2c", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except HubError as exc:
        if _state["debug"]:
            raise
        err.print(f"error: {exc.message}", style="red", markup=False, highlight=False)
        return 1
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(run())
