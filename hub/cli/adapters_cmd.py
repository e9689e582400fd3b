"""``o2c adapters``: the installed adapter plugins, their capabilities and options."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from hub.cli.output import out
from hub.plugins import plugins

app = typer.Typer(help="Installed adapters (plugins) and their options.", no_args_is_help=True)


@app.command("list")
def list_adapters() -> None:
    """Each adapter with its version, capabilities and the plugin that registered it."""
    found = plugins()
    table = Table("adapter", "version", "capabilities", "plugin", "hooks", "description")
    for cls in found.adapters:
        plugin = found.adapters.sources.get(cls.name, "")
        entry = next((n for n, mod in found.loaded.items() if mod == plugin), plugin)
        table.add_row(
            cls.name,
            cls.version,
            ", ".join(sorted(cls.capabilities)),
            entry,
            ", ".join(found.hooks_of(entry)),
            Text(cls.description),
        )
    out.print(table)
    if found.shapes.names():
        out.print(Text("shapes for outbound mappings: " + ", ".join(found.shapes.names())))
    if found.disabled:
        out.print(Text("disabled by O2C_DISABLED_PLUGINS: " + ", ".join(found.disabled)))


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Adapter name, e.g. http.")]) -> None:
    """The adapter's configuration schema (the options of a routes.yaml target)."""
    cls = plugins().adapters.get(name)
    out.print_json(json.dumps(cls.Config.model_json_schema()))
