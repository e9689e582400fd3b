"""``o2c mapping``: check, test, explain and list mappings."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hub.cli.output import err, out
from hub.config import Settings, load_settings
from hub.errors import MappingApplyError, MappingCompileError, SourceFileError
from hub.mapping import MappingResult, registry
from hub.mapping.format import mapping_json_schema
from hub.yamlsource import read_source_text

app = typer.Typer(
    help="Check, test and explain YAML field mappings.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $O2C_CONFIG or config/hub.yaml)."),
]

SCHEMA_FILE = "mapping.schema.json"


class Policy(StrEnum):
    """Control-total policy chosen on the command line."""

    reject = "reject"
    flag = "flag"


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def read_json(path: Path) -> Any:
    """A JSON document with exact decimals; unreadable or invalid files are one-line errors."""
    text = read_source_text(path)
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SourceFileError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


@app.command("check")
def check(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Mapping files or names; default: every mapping in mappings.paths."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Compile mappings and report every problem as file:line:column: reason."""
    dirs = list(_settings(config).mappings.paths)
    refs = files or list(registry.discover(dirs))
    if not refs:
        err.print("no mapping files found in: " + ", ".join(str(d) for d in dirs))
        raise typer.Exit(1)
    failed = 0
    for ref in refs:
        try:
            mapping = registry.load(ref, dirs)
        except (MappingCompileError, SourceFileError) as exc:
            failed += 1
            issues = exc.issues if isinstance(exc, MappingCompileError) else [exc.message]
            for issue in issues:
                err.print(str(issue), style="red", markup=False)
            continue
        out.print(f"ok  {mapping.name}  {mapping.version}  → {mapping.shape_name}")
    if failed:
        raise typer.Exit(1)


def _print_explain(result: MappingResult) -> None:
    table = Table(title=f"explain: {result.mapping} {result.mapping_version}", show_lines=False)
    for column in ("field", "value", "source", "transforms", "mapping line"):
        table.add_column(column, overflow="fold")
    for entry in result.explain:
        table.add_row(
            Text(entry.field),
            Text(str(entry.value)),
            Text(entry.source),
            Text(" → ".join(entry.transforms) or "-"),
            Text(entry.location.rsplit(":", 2)[-2] if ":" in entry.location else entry.location),
        )
    err.print(table)


@app.command("test")
def run_test(
    mapping: Annotated[str, typer.Argument(help="Mapping file or name (magento/order.inbound).")],
    input_file: Annotated[Path, typer.Argument(metavar="INPUT.json", help="Source document.")],
    explain: Annotated[
        bool, typer.Option("--explain", help="Show where every output value came from.")
    ] = False,
    on_mismatch: Annotated[
        Policy | None,
        typer.Option(
            "--on-mismatch",
            help="Control-total policy for this run, overriding the mapping and the hub "
            "config (default: the mapping's, else mappings.control_totals.on_mismatch).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Map one document and print the result as JSON, or every error (exit 1)."""
    settings = _settings(config)
    dirs = list(settings.mappings.paths)
    compiled = registry.load(mapping, dirs)
    source = read_json(input_file)
    defaults = settings.mappings.control_totals
    try:
        result = compiled.apply(
            source,
            explain=explain,
            on_mismatch=defaults.on_mismatch,
            tolerance=defaults.tolerance,
            force_on_mismatch=on_mismatch.value if on_mismatch else None,
        )
    except MappingApplyError as exc:
        for issue in exc.issues:
            err.print(str(issue), style="red", markup=False)
        err.print(f"{len(exc.issues)} problem(s) mapping {input_file}", style="red")
        raise typer.Exit(1) from None
    out.print_json(result.document.model_dump_json())
    if explain:
        _print_explain(result)
    for name in result.unmapped:
        err.print(f"[yellow]unmapped source field:[/yellow] {name}", markup=True)
    for discrepancy in result.discrepancies:
        err.print(
            f"[yellow]control-total discrepancy (flagged):[/yellow] {discrepancy}", markup=True
        )
    err.print(f"mapped with {result.mapping} {result.mapping_version}", style="dim")


@app.command("list")
def list_mappings(config: ConfigOption = None) -> None:
    """List the mappings found in mappings.paths, with their versions."""
    dirs = list(_settings(config).mappings.paths)
    table = Table("name", "system", "kind", "direction", "version", "file")
    for name, path in registry.discover(dirs).items():
        try:
            m = registry.load(str(path), dirs)
            table.add_row(name, m.system, m.kind, m.direction, m.version, str(path))
        except (MappingCompileError, SourceFileError):
            table.add_row(name, "-", "-", "-", "[red]invalid[/red]", str(path))
    out.print(table)


@app.command("schema")
def schema(
    check_file: Annotated[
        Path | None,
        typer.Option("--check", help="Exit 1 if this committed schema file is stale."),
    ] = None,
) -> None:
    """Print the JSON Schema of the mapping format (editors use it for completion)."""
    text = json.dumps(mapping_json_schema(), indent=2, sort_keys=True) + "\n"
    if check_file is None:
        out.print(text, end="", markup=False)
        return
    current = check_file.read_text(encoding="utf-8") if check_file.exists() else ""
    if current != text:
        err.print(f"{check_file} is stale: run `o2c mapping schema > {check_file}`", style="red")
        raise typer.Exit(1)
    out.print(f"{check_file} is current")
