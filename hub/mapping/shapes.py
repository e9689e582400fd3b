"""Output shapes a mapping may write: canonical kinds and adapters' target models.

``canonical.<kind>`` names a canonical document. ``generic.json`` is any JSON object (for generic
webhook targets). ``<system>.<Name>`` names a model an
adapter publishes in ``adapters/<system>/shapes.py`` as ``SHAPES = {"Name": Model}``.
The mapping compiler walks the shape's fields to refuse unknown or read-only fields.
"""

from __future__ import annotations

import importlib
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
    if not prefix.isidentifier():
        raise UnknownNameError(f"shape {name!r}: {prefix!r} is not a system name")
    try:
        module = importlib.import_module(f"adapters.{prefix}.shapes")
    except ModuleNotFoundError:
        raise UnknownNameError(f"shape {name!r}: no adapter {prefix!r} publishes shapes") from None
    shapes: dict[str, type[BaseModel]] = getattr(module, "SHAPES", {})
    if rest not in shapes:
        known = ", ".join(sorted(shapes)) or "none"
        raise UnknownNameError(f"shape {name!r}: adapter {prefix!r} has no {rest!r} (has {known})")
    return shapes[rest]


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
