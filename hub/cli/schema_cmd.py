"""``o2c schema KIND``: the JSON Schema of a canonical document kind."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from hub.canonical import KINDS, model_for
from hub.cli.output import out


def schema(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    input_: Annotated[
        bool,
        typer.Option("--input", help="Schema of what a mapping writes (no computed totals)."),
    ] = False,
) -> None:
    """Print the JSON Schema of a canonical document kind (e.g. `o2c schema order`)."""
    model = model_for(kind)
    mode: Literal["validation", "serialization"] = "validation" if input_ else "serialization"
    out.print_json(json.dumps(model.model_json_schema(mode=mode)))
