"""Output shapes a mapping may write: canonical kinds and adapters' target models.

``canonical.<kind>`` names a canonical document. ``generic.json`` is any JSON object (for generic
webhook targets). ``<system>.<Name>`` names a model an
adapter publishes in ``adapters/<system>/shapes.py`` as ``SHAPES = {"Name": Model}``.
The mapping compiler walks the shape's fields to refuse unknown or read-only fields.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from hub.canonical import model_for
from hub.errors import UnknownNameError


class GenericJson(BaseModel):
    """Any JSON object: the shape of an outbound mapping for a generic webhook target.

    Field names are free; values are checked only by their transforms.
    """

    model_config = ConfigDict(extra="allow")


def accepts_any_field(model: type[BaseModel]) -> bool:
    """True for shapes that take arbitrary field names (``generic.json``)."""
    return model.model_config.get("extra") == "allow"


class ShapeRegistry:
    """Target shapes by ``<system>.<Name>``, filled by ``hub_register_shapes`` hooks."""

    def __init__(self) -> None:
        self._shapes: dict[str, type[BaseModel]] = {}

    def add(self, system: str, name: str, model: type[BaseModel]) -> None:
        self._shapes[f"{system}.{name}"] = model

    def get(self, name: str) -> type[BaseModel] | None:
        return self._shapes.get(name)

    def names(self) -> list[str]:
        return sorted(self._shapes)


def resolve_shape(name: str) -> type[BaseModel]:
    """The model for a shape name; unknown names raise UnknownNameError with a hint."""
    if name == "generic.json":
        return GenericJson
    prefix, _, rest = name.partition(".")
    if not rest:
        raise UnknownNameError(
            f"shape {name!r} must look like 'canonical.order' or 'sap.A_SalesOrder'"
        )
    if prefix == "canonical":
        return model_for(rest)
    from hub.plugins import plugins

    registry = plugins().shapes
    found = registry.get(name)
    if found is None:
        same = [n for n in registry.names() if n.startswith(f"{prefix}.")]
        if not same:
            raise UnknownNameError(
                f"shape {name!r}: no installed adapter publishes {prefix!r} shapes"
            )
        raise UnknownNameError(
            f"shape {name!r}: adapter {prefix!r} has no {rest!r} "
            f"(has {', '.join(n.split('.', 1)[1] for n in same)})"
        )
    return found


@dataclass(frozen=True)
class TargetType:
    """What an output field holds, as far as the mapping compiler cares."""

    kind: Literal["model", "list", "dict", "scalar", "any"]
    model: type[BaseModel] | None = None
    inner: TargetType | None = None

    def describe(self) -> str:
        if self.kind == "model" and self.model is not None:
            return self.model.__name__
        if self.kind in ("list", "dict") and self.inner is not None:
            return f"{self.kind} of {self.inner.describe()}"
        return self.kind


def target_type(annotation: Any) -> TargetType:
    """Classify a field annotation, looking through Optional and Annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return target_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return target_type(options[0])
        return TargetType("any")
    if origin is list:
        (inner,) = get_args(annotation) or (Any,)
        return TargetType("list", inner=target_type(inner))
    if origin is dict:
        args = get_args(annotation)
        return TargetType("dict", inner=target_type(args[1] if len(args) == 2 else Any))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return TargetType("model", model=annotation)
    if annotation is Any:
        return TargetType("any")
    return TargetType("scalar")


def field_names(model: type[BaseModel]) -> tuple[list[str], list[str]]:
    """(writable field names, computed read-only names) of ``model``."""
    return list(model.model_fields), list(model.model_computed_fields)
