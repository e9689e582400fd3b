"""``o2c config``: show and check the hub's configuration.

Problems are raised as :class:`~hub.errors.ConfigError`; the main CLI prints them and exits
with code 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hub.config import env_var_names, load_settings

app = typer.Typer(
    help="Show and check the hub's configuration (hub.yaml plus O2C_* variables).",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=(
            "Config file to read. Default: $O2C_CONFIG, else ./config/hub.yaml if it "
            "exists, else the bundled default."
        ),
        dir_okay=False,
    ),
]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(value, dotted))
        else:
            out[dotted] = value
    return out


def _display(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(str(item) for item in value) or "(none)"
    return str(value)


@app.command("show")
def show(
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the settings as JSON instead of a table.")
    ] = False,
) -> None:
    """Print the effective settings (file plus O2C_* overrides), secrets masked."""
    settings = load_settings(config)
    data = settings.redacted()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    env_names = {key: name for name, key in env_var_names().items()}
    table = Table(title=f"Effective settings from {settings.source_file}", title_justify="left")
    table.add_column("Setting", style="bold", overflow="fold")
    table.add_column("Value", overflow="fold")
    table.add_column("From", style="dim", overflow="fold")
    table.add_column("Override with", style="dim", overflow="fold")
    for key, value in _flatten(data).items():
        table.add_row(
            key,
            Text(_display(value)),  # values are data, never rich markup
            settings.origins.get(key, ""),
            env_names.get(key, ""),
        )
    Console().print(table)


@app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the configuration; print OK, or every problem found (exit code 1)."""
    settings = load_settings(config)
    typer.echo(f"OK: {settings.source_file}")
