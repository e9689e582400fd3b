"""The mapping file format, as pydantic models: validation at load and the JSON Schema.

A field spec is either a string (shorthand for ``{from: EXPR}``) or an object. The
committed ``mappings/mapping.schema.json`` is generated from these models and the
transform registry (``o2c mapping schema``); a test fails when it goes stale.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SequenceSpec(_Strict):
    """A running number over the items of the enclosing list (e.g. SAP item 10, 20, 30)."""

    start: int = Field(1, description="Value for the first item written.")
    step: int = Field(1, description="Increment per item.")


class FieldSpec(_Strict):
    """How one output field gets its value."""

    from_: str | None = Field(
        None, alias="from", description="JMESPath expression evaluated in the current context."
    )
    scope: Literal["local", "root"] = Field(
        "local", description="'root' evaluates `from` against the whole document, not the item."
    )
    const: Any = Field(None, description="A constant value instead of `from`.")
    sequence: SequenceSpec | None = Field(None, description="A running number inside `each`.")
    transforms: list[str | dict[str, Any]] = Field(
        default_factory=list, description="Named transforms applied in order."
    )
    when: str | None = Field(
        None, description="JMESPath condition; the field is left out if false."
    )
    fields: dict[str, FieldSpec] | None = Field(
        None, description="Nested object: output field → spec (context is `from` if given)."
    )
    each: str | None = Field(None, description="JMESPath yielding a list; one output item each.")
    where: str | None = Field(None, description="JMESPath filter evaluated on each item of `each`.")
    item: FieldSpec | None = Field(None, description="Spec for each item of a list of scalars.")
    description: str | None = Field(None, description="Why the field is mapped this way.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"from": data}
        if isinstance(data, bool | int) or data is None:
            raise ValueError(
                f"a field spec is an expression or a mapping, not {data!r}; YAML reads "
                "unquoted yes/no/on/off/null and numbers as values, so quote the expression"
            )
        return data


class UnmappedPolicy(_Strict):
    """What to do with source fields no expression reads."""

    policy: Literal["ignore", "report", "reject"] = Field(
        "report",
        description="ignore: drop silently; report: list them with the result; reject: error.",
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Source paths deliberately not mapped; globs allowed (items[].base_*).",
    )


class CsvLookup(_Strict):
    """A value-map table read from a CSV file beside the mapping."""

    csv: str = Field(description="Path relative to the mapping file.")
    key: str = Field(description="Column holding the source value.")
    value: str = Field(description="Column holding the result.")


class ControlSource(_Strict):
    """A source amount with optional transforms (decimal is always applied last)."""

    from_: str = Field(alias="from")
    transforms: list[str | dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"from": data}
        return data


class ControlTotals(_Strict):
    """Source amounts the mapped document must reproduce."""

    on_mismatch: Literal["reject", "flag"] | None = Field(
        None,
        description="reject: the document goes to quarantine; flag: accepted with a "
        "discrepancy flag. Unset: the hub's configured default.",
    )
    tolerance: Decimal | None = Field(
        None, ge=0, description="Largest difference accepted; unset: the hub's configured one."
    )
    checks: dict[str, ControlSource] = Field(
        description="Output path (e.g. totals.grand_total) → source amount expression."
    )


class MappingFile(_Strict):
    """One mapping: one system, one document kind, one direction."""

    version: int | str = Field(description="The mapping's own version, bumped by its author.")
    description: str | None = None
    system: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="e.g. magento, sap.")
    kind: str = Field(description="Canonical document kind, e.g. order.")
    direction: Literal["inbound", "outbound"] = Field(
        description="inbound: system → canonical; outbound: canonical → system."
    )
    shape: str | None = Field(
        None,
        description="Output model: 'canonical.<kind>' (default inbound) or '<system>.<Name>'.",
    )
    unmapped: UnmappedPolicy = Field(default_factory=UnmappedPolicy)
    lookups: dict[str, Annotated[CsvLookup | dict[str, Any], Field(union_mode="left_to_right")]] = (
        Field(default_factory=dict, description="Named value maps for the `map` transform.")
    )
    fields: dict[str, FieldSpec] = Field(description="Output field → spec.")
    control_totals: ControlTotals | None = None


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema of the mapping format, transforms included."""
    from hub.mapping.transforms import TRANSFORMS, arg_mode

    schema = MappingFile.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema["$defs"]
    obj = defs.pop("FieldSpec")
    defs["FieldSpecObject"] = obj
    defs["FieldSpec"] = {
        "anyOf": [
            {"type": "string", "description": "Shorthand for {from: EXPR}."},
            {"$ref": "#/$defs/FieldSpecObject"},
        ]
    }
    src = defs.pop("ControlSource")
    defs["ControlSourceObject"] = src
    defs["ControlSource"] = {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/ControlSourceObject"}]}
    bare = sorted(n for n, t in TRANSFORMS.items() if arg_mode(t) != "required")
    with_args = []
    for name, kind in sorted(TRANSFORMS.items()):
        if kind.args is None:
            continue
        arg_schema = TypeAdapter(kind.args).json_schema()
        with_args.append(
            {
                "type": "object",
                "description": kind.summary,
                "properties": {name: arg_schema},
                "required": [name],
                "additionalProperties": False,
            }
        )
    defs["Transform"] = {"anyOf": [{"enum": bare}, *with_args]}
    text: dict[str, Any] = _replace_transform_lists(schema)
    text["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    text["$id"] = "https://o2c-hub.dev/schemas/mapping.schema.json"
    return text


def _replace_transform_lists(node: Any) -> Any:
    if isinstance(node, dict):
        if set(node) >= {"type", "items"} and node.get("type") == "array":
            items = node["items"]
            if isinstance(items, dict) and "anyOf" in items:
                kinds = [b.get("type") for b in items["anyOf"] if isinstance(b, dict)]
                if kinds == ["string", "object"]:
                    node = {**node, "items": {"$ref": "#/$defs/Transform"}}
        return {k: _replace_transform_lists(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_transform_lists(v) for v in node]
    return node
