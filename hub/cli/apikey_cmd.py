"""``o2c apikey``: create, list and revoke API keys."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.mapping_cmd import ConfigOption
from hub.cli.ops_cmd import _actor, _runtime, _when
from hub.cli.output import err, out
from hub.security import apikeys

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A name for the client, e.g. magento-prod.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: inbound:<system>, inbound:*, ops:read, ops:replay, admin."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is kept."""
    runtime = _runtime(config)
    key = apikeys.create_key(
        runtime.engine, name, [s.strip() for s in scopes.split(",") if s.strip()], actor=_actor()
    )
    err.print(f"API key {name!r} created; store it now, it cannot be shown again:")
    out.print(key, markup=False, highlight=False)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")], config: ConfigOption = None
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    apikeys.revoke_key(_runtime(config).engine, name, actor=_actor())
    out.print(f"API key {name!r} revoked")


@app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json")] = False, config: ConfigOption = None
) -> None:
    """Keys with their scopes and last use (never the keys themselves)."""
    rows = apikeys.list_keys(_runtime(config).engine)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table("name", "prefix", "scopes", "created", "last used", "revoked")
    for r in rows:
        table.add_row(
            r["name"],
            r["prefix"],
            ", ".join(r["scopes"]),
            _when(r["created_at"]),
            _when(r["last_used_at"]),
            _when(r["revoked_at"]),
        )
    out.print(table)
