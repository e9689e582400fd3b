"""JMESPath source expressions, compiled once, evaluated over Decimal-exact JSON.

Source documents are parsed with ``parse_float=Decimal`` so money never passes through
float. Stock JMESPath type-checks numbers by Python type name and would reject Decimal
in ``sum()``, ``abs()`` or ``max()``; the function table below accepts it as a number.
There is no Python evaluation anywhere in a mapping: only JMESPath and named transforms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import jmespath
from jmespath import exceptions as jp_errors
from jmespath import functions as jp_functions
from jmespath.parser import ParsedResult

from hub.exactjson import dumps_exact


class _DecimalAwareFunctions(jp_functions.Functions):
    def _get_allowed_pytypes(self, types: Any) -> tuple[list[Any], list[Any]]:
        allowed, subtypes = super()._get_allowed_pytypes(types)  # type: ignore[misc]
        if "float" in allowed:
            allowed.append("Decimal")
        subtypes = [(*group, "Decimal") if "float" in group else group for group in subtypes]
        return allowed, subtypes

    def _convert_to_jmespath_type(self, pyobject: str) -> str:
        if pyobject == "Decimal":
            return "number"
        result: str = super()._convert_to_jmespath_type(pyobject)  # type: ignore[misc]
        return result

    @jp_functions.signature({"types": []})
    def _func_type(self, arg: Any) -> str:
        if isinstance(arg, Decimal):
            return "number"
        result: str = super()._func_type(arg)  # type: ignore[misc]
        return result

    @jp_functions.signature({"types": []})
    def _func_to_string(self, arg: Any) -> str:
        return arg if isinstance(arg, str) else to_json_text(arg)

    @jp_functions.signature({"types": []})
    def _func_to_number(self, arg: Any) -> int | Decimal | None:
        if isinstance(arg, bool) or arg is None or isinstance(arg, list | dict):
            return None
        if isinstance(arg, int | Decimal):
            return arg
        try:
            number = Decimal(str(arg).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None


def to_json_text(value: Any) -> str:
    """JSON text of ``value`` with Decimals written as exact JSON numbers."""
    return dumps_exact(value)


def _exact_literals(node: Any) -> None:
    """Turn float literals (`0.5`) into Decimal so they add and compare exactly."""
    if isinstance(node, dict):
        if node.get("type") == "literal":
            node["value"] = _decimalize(node["value"])
        for child in node.get("children", ()):
            _exact_literals(child)


def _decimalize(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_decimalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _decimalize(v) for k, v in value.items()}
    return value


_OPTIONS = jmespath.Options(custom_functions=_DecimalAwareFunctions())


class ExpressionSyntaxError(ValueError):
    """A JMESPath expression does not parse; ``position`` is the 0-based offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


class ExpressionRuntimeError(ValueError):
    """A JMESPath expression failed on this document (e.g. a function's type check)."""


@dataclass(frozen=True)
class Expression:
    """A compiled JMESPath expression and the field names it reads."""

    text: str
    parsed: ParsedResult = field(repr=False, compare=False)
    names: frozenset[str] = field(default=frozenset(), compare=False)
    keys: tuple[str, ...] | None = field(default=None, compare=False)
    """For plain paths (``a.b.c``): the keys, looked up directly without the interpreter."""

    def search(self, data: Any) -> Any:
        if self.keys is not None:
            value = data
            for key in self.keys:
                if not isinstance(value, dict):
                    return None
                value = value.get(key)
            return value
        try:
            return self.parsed.search(data, options=_OPTIONS)
        except jp_errors.JMESPathError as exc:
            raise ExpressionRuntimeError(f"{self.text!r}: {exc}") from exc
        except (TypeError, ArithmeticError) as exc:  # e.g. a number added to text
            raise ExpressionRuntimeError(f"{self.text!r}: {exc}") from exc

    @property
    def is_simple_path(self) -> bool:
        """True for plain dotted paths like ``billing_address.city``."""
        return self.keys is not None


def _field_names(node: dict[str, Any], out: set[str]) -> None:
    if node.get("type") == "field":
        out.add(str(node["value"]))
    for child in node.get("children", ()):
        if isinstance(child, dict):
            _field_names(child, out)


_FUNCTION_NAMES = frozenset(_DecimalAwareFunctions.FUNCTION_TABLE)


def _unknown_functions(node: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if node.get("type") == "function_expression" and node["value"] not in _FUNCTION_NAMES:
        found.append(str(node["value"]))
    for child in node.get("children", ()):
        if isinstance(child, dict):
            found.extend(_unknown_functions(child))
    return found


def compile_expression(text: str) -> Expression:
    """Parse ``text``; a syntax error carries the position of the offending token."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionSyntaxError("an expression must be a non-empty string", 0)
    try:
        parsed = jmespath.compile(text)
    except jp_errors.IncompleteExpressionError as exc:
        position = exc.lex_position if isinstance(exc.lex_position, int) else len(text)
        raise ExpressionSyntaxError("invalid JMESPath: incomplete expression", position) from exc
    except jp_errors.ParseError as exc:
        position = exc.lex_position if isinstance(exc.lex_position, int) else 0
        token = exc.token_value
        raise ExpressionSyntaxError(
            f"invalid JMESPath: {exc.msg} at token {token!r}", position
        ) from exc
    except jp_errors.JMESPathError as exc:
        raise ExpressionSyntaxError(f"invalid JMESPath: {exc}", 0) from exc
    tree = cast(dict[str, Any], parsed.parsed)
    unknown = _unknown_functions(tree)
    if unknown:
        known = ", ".join(sorted(_FUNCTION_NAMES))
        call = re.search(rf"(?<![\w$]){re.escape(unknown[0])}\s*\(", text)
        raise ExpressionSyntaxError(
            f"unknown JMESPath function {unknown[0]}(); known: {known}",
            call.start() if call else 0,
        )
    _exact_literals(tree)
    names: set[str] = set()
    _field_names(tree, names)
    return Expression(text=text, parsed=parsed, names=frozenset(names), keys=_plain_keys(tree))


def _plain_keys(node: dict[str, Any]) -> tuple[str, ...] | None:
    """The keys of a path made only of field lookups, else None."""
    if node.get("type") == "field":
        return (str(node["value"]),)
    if node.get("type") == "subexpression":
        keys: tuple[str, ...] = ()
        for child in node.get("children", ()):
            sub = _plain_keys(child)
            if sub is None:
                return None
            keys += sub
        return keys
    return None


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: empty list/object/string, false and null are false."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True
