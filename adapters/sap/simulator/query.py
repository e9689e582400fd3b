"""OData V2 URL syntax: key predicates, ``$filter``, ``$orderby``, ``$select``, ``$expand``.

``$filter`` supports what clients of SAP's A2X services send: comparisons (``eq ne gt ge lt
le``) of a property with a literal, ``and`` / ``or`` / ``not`` and parentheses, and the
functions ``substringof``, ``startswith``, ``endswith``, ``tolower``, ``toupper``, ``trim``
and ``length``. Literals: ``'text'`` (``''`` for a quote), numbers (with an optional ``M``,
``L``, ``d`` or ``f`` suffix), ``true``/``false``, ``null``, ``datetime'…'``,
``datetimeoffset'…'``, ``guid'…'`` and ``time'…'``. A literal compared with a property is
read as that property's type. Errors are :class:`SapError` 400s.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from adapters.sap.simulator.edm import (
    ALPHA_PROPERTIES,
    EdmValueError,
    EntityType,
    Property,
    alpha,
    parse_value,
)
from adapters.sap.simulator.errors import BUSI_EXCEPTION, SapError

__all__ = [
    "ExpandTree",
    "Filter",
    "format_key",
    "parse_expand",
    "parse_filter",
    "parse_key",
    "parse_orderby",
    "parse_select",
    "sort_records",
    "split_path",
]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<prefixed>(?:datetimeoffset|datetime|guid|time|binary|X)'(?:[^']|'')*')
      | (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMlLdDfF]?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_./]*)
      | (?P<punct>[(),=])
    )""",
    re.VERBOSE,
)
COMPARISONS: Final = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS: Final = ("substringof", "startswith", "endswith", "tolower", "toupper", "trim", "length")


def _bad(text: str) -> SapError:
    return SapError(400, BUSI_EXCEPTION, text)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _bad(f"Invalid token detected at position {position + 1} of '{text}'")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


# ------------------------------------------------------------------ literals


@dataclass(frozen=True)
class _Literal:
    """A literal as written; read as a property's type when compared with one."""

    kind: str  # string, number, bool, null, datetime, datetimeoffset, guid, time
    text: str


def _literal(token: _Token) -> _Literal:
    if token.kind == "string":
        return _Literal("string", token.text[1:-1].replace("''", "'"))
    if token.kind == "number":
        return _Literal("number", token.text.rstrip("mMlLdDfF"))
    if token.kind == "prefixed":
        prefix, _, rest = token.text.partition("'")
        return _Literal(prefix.lower(), rest[:-1].replace("''", "'"))
    if token.kind == "name" and token.text in ("true", "false"):
        return _Literal("bool", token.text)
    if token.kind == "name" and token.text == "null":
        return _Literal("null", "")
    raise _bad(f"'{token.text}' is not a literal")


def _literal_value(literal: _Literal, prop: Property | None) -> Any:
    """The Python value of ``literal``, as ``prop``'s type when there is one."""
    if literal.kind == "null":
        return None
    if prop is None:
        if literal.kind == "number":
            try:
                return Decimal(literal.text)
            except InvalidOperation:
                raise _bad(f"'{literal.text}' is not a number") from None
        if literal.kind == "bool":
            return literal.text == "true"
        return literal.text
    edm = prop.edm_type
    try:
        if edm == "Edm.String" and literal.kind == "string":
            return alpha(literal.text) if prop.name in ALPHA_PROPERTIES else literal.text
        if edm in ("Edm.Decimal", "Edm.Double", "Edm.Single") and literal.kind in (
            "number",
            "string",
        ):
            return Decimal(literal.text)
        if edm.startswith(("Edm.Int", "Edm.Byte", "Edm.SByte")) and literal.kind == "number":
            return int(Decimal(literal.text))
        if edm == "Edm.Boolean" and literal.kind == "bool":
            return literal.text == "true"
        if edm in ("Edm.DateTime", "Edm.DateTimeOffset") and literal.kind in (
            "datetime",
            "datetimeoffset",
        ):
            loose = Property(prop.name, prop.edm_type, display_format=prop.display_format)
            return parse_value(loose, literal.text)
        if edm == "Edm.Time" and literal.kind == "time":
            return parse_value(prop, literal.text)
        if edm == "Edm.Guid" and literal.kind == "guid":
            return parse_value(prop, literal.text)
    except (EdmValueError, InvalidOperation, ValueError):
        pass
    raise _bad(f"Invalid literal {literal.text!r} for property '{prop.name}' of type {edm}")


# ------------------------------------------------------------------ $filter


Filter = Callable[[dict[str, Any]], Any]


class _Parser:
    def __init__(self, text: str, entity_type: EntityType) -> None:
        self.text = text
        self.entity_type = entity_type
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _bad(f"Invalid filter expression: '{self.text}' ends too early")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise _bad(f"Invalid filter expression: '{self.text}' ('{text}' expected)")

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in words:
            self.position += 1
            return token.text
        return None

    # Each operand is (evaluate, property or None, literal or None): a literal is only
    # turned into a value once it is known what it is compared with.
    def parse(self) -> Filter:
        evaluate = self.boolean(self.or_expr())
        if self.peek() is not None:
            raise _bad(
                f"Invalid filter expression: '{self.text}' (unexpected '{self.take().text}')"
            )
        return evaluate

    def boolean(self, operand: tuple[Filter, Property | None, _Literal | None]) -> Filter:
        evaluate, _, literal = operand
        if literal is not None:
            value = _literal_value(literal, None)
            return lambda record: value
        return evaluate

    def or_expr(self) -> tuple[Filter, Property | None, _Literal | None]:
        left = self.and_expr()
        while self.keyword("or"):
            left = (_either(self.boolean(left), self.boolean(self.and_expr())), None, None)
        return left

    def and_expr(self) -> tuple[Filter, Property | None, _Literal | None]:
        left = self.not_expr()
        while self.keyword("and"):
            left = (_both(self.boolean(left), self.boolean(self.not_expr())), None, None)
        return left

    def not_expr(self) -> tuple[Filter, Property | None, _Literal | None]:
        if self.keyword("not"):
            return (_negation(self.boolean(self.not_expr())), None, None)
        return self.comparison()

    def comparison(self) -> tuple[Filter, Property | None, _Literal | None]:
        left = self.primary()
        operator = self.keyword(*COMPARISONS)
        if operator is None:
            return left
        right = self.primary()
        return (_compare(operator, left, right), None, None)

    def primary(self) -> tuple[Filter, Property | None, _Literal | None]:
        token = self.take()
        if token.text == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind in ("string", "number", "prefixed") or token.text in (
            "true",
            "false",
            "null",
        ):
            literal = _literal(token)
            return (lambda record: None, None, literal)
        if token.kind == "name":
            following = self.peek()
            if following is not None and following.text == "(":
                return self.function(token.text)
            prop = self.entity_type.properties.get(token.text)
            if prop is None:
                raise _bad(f"Property {token.text} not found in type {self.entity_type.name}")
            name = prop.name
            return (lambda record: record.get(name), prop, None)
        raise _bad(f"Invalid filter expression: '{self.text}' (unexpected '{token.text}')")

    def function(self, name: str) -> tuple[Filter, Property | None, _Literal | None]:
        if name not in FUNCTIONS:
            raise _bad(f"Function '{name}' is not supported in $filter")
        self.expect("(")
        args = [self.or_expr()]
        while self.peek() is not None and self.peek_text() == ",":
            self.take()
            args.append(self.or_expr())
        self.expect(")")
        getters = [_as_text(arg) for arg in args]
        if name == "substringof" and len(getters) == 2:
            needle, haystack = getters
            return (lambda r: _text(needle(r)) in _text(haystack(r)), None, None)
        if name in ("startswith", "endswith") and len(getters) == 2:
            subject, part = getters
            if name == "startswith":
                return (lambda r: _text(subject(r)).startswith(_text(part(r))), None, None)
            return (lambda r: _text(subject(r)).endswith(_text(part(r))), None, None)
        if len(getters) == 1:
            (subject,) = getters
            prop = args[0][1]
            if name == "tolower":
                return (lambda r: _text(subject(r)).lower(), prop, None)
            if name == "toupper":
                return (lambda r: _text(subject(r)).upper(), prop, None)
            if name == "trim":
                return (lambda r: _text(subject(r)).strip(), prop, None)
            if name == "length":
                return (lambda r: Decimal(len(_text(subject(r)))), None, None)
        raise _bad(f"Wrong number of arguments for '{name}'")

    def peek_text(self) -> str:
        token = self.peek()
        return token.text if token is not None else ""


def _either(first: Filter, second: Filter) -> Filter:
    return lambda record: bool(first(record)) or bool(second(record))


def _both(first: Filter, second: Filter) -> Filter:
    return lambda record: bool(first(record)) and bool(second(record))


def _negation(inner: Filter) -> Filter:
    return lambda record: not inner(record)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_text(operand: tuple[Filter, Property | None, _Literal | None]) -> Filter:
    evaluate, _, literal = operand
    if literal is not None:
        value = _literal_value(literal, None)
        return lambda record: value
    return evaluate


def _compare(
    operator: str,
    left: tuple[Filter, Property | None, _Literal | None],
    right: tuple[Filter, Property | None, _Literal | None],
) -> Filter:
    def side(
        operand: tuple[Filter, Property | None, _Literal | None], other: Property | None
    ) -> Filter:
        evaluate, _, literal = operand
        if literal is None:
            return evaluate
        value = _literal_value(literal, other)
        return lambda record: value

    first = side(left, right[1])
    second = side(right, left[1])

    def compare(record: dict[str, Any]) -> bool:
        a, b = _comparable(first(record)), _comparable(second(record))
        if operator == "eq":
            return bool(a == b)
        if operator == "ne":
            return bool(a != b)
        if a is None or b is None:
            return False
        try:
            if operator == "gt":
                return bool(a > b)
            if operator == "ge":
                return bool(a >= b)
            if operator == "lt":
                return bool(a < b)
            return bool(a <= b)
        except TypeError:
            return False

    return compare


def _comparable(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def parse_filter(text: str, entity_type: EntityType) -> Filter:
    """A predicate over stored records for ``$filter=text``."""
    return _Parser(text, entity_type).parse()


# ------------------------------------------------------------------ $orderby, $select, $expand


def parse_orderby(text: str, entity_type: EntityType) -> list[tuple[str, bool]]:
    """``Prop [asc|desc], …`` as (property, descending) pairs."""
    order: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise _bad(f"Invalid $orderby expression '{text}'")
        if words[0] not in entity_type.properties:
            raise _bad(f"Property {words[0]} not found in type {entity_type.name}")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def sort_records(
    records: list[dict[str, Any]], order: list[tuple[str, bool]]
) -> list[dict[str, Any]]:
    """Stable sort by each key, last key first; None sorts before any value."""
    result = list(records)
    for name, descending in reversed(order):
        result.sort(
            key=lambda record: (record.get(name) is not None, _sort_value(record.get(name))),
            reverse=descending,
        )
    return result


def _sort_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime | datetime.timedelta | Decimal | bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    return str(value)


ExpandTree = dict[str, "ExpandTree"]


def parse_expand(
    text: str, entity_type: EntityType, navigation_type: Callable[[EntityType, str], EntityType]
) -> ExpandTree:
    """``to_Item,to_Item/to_PricingElement`` as a tree of navigation names."""
    tree: ExpandTree = {}
    for raw in text.split(","):
        path = raw.strip()
        if not path:
            raise _bad(f"Invalid $expand expression '{text}'")
        node = tree
        current = entity_type
        for step in path.split("/"):
            if step not in current.navigations:
                raise _bad(f"Navigation property {step} not found in type {current.name}")
            node = node.setdefault(step, {})
            current = navigation_type(current, step)
    return tree


def parse_select(text: str) -> list[str]:
    """``$select``: property names or ``*``, navigation paths with ``/``."""
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise _bad(f"Invalid $select expression '{text}'")
    return names


# ------------------------------------------------------------------ keys and paths


def split_path(path: str) -> list[str]:
    """Path segments, leaving slashes inside quoted key values alone."""
    segments: list[str] = []
    current: list[str] = []
    quoted = False
    for char in path:
        if char == "'":
            quoted = not quoted
        if char == "/" and not quoted:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return [segment for segment in segments if segment != ""]


def parse_key(text: str, entity_type: EntityType) -> tuple[Any, ...]:
    """The key tuple of ``('1')`` or ``(SalesOrder='1',SalesOrderItem='10')`` (without
    the parentheses), in the order of the type's keys."""
    tokens = _tokens(text)
    values: dict[str, Any] = {}
    position = 0
    keys = entity_type.keys
    if len(tokens) == 1 and len(keys) == 1:
        prop = entity_type.properties[keys[0]]
        return (_key_value(_literal(tokens[0]), prop),)
    while position < len(tokens):
        if (
            position + 2 >= len(tokens)
            or tokens[position].kind != "name"
            or tokens[position + 1].text != "="
        ):
            raise _bad(f"Invalid key predicate '({text})'")
        name = tokens[position].text
        if name not in keys or name in values:
            raise _bad(f"Invalid key predicate '({text})': {name} is not a key")
        values[name] = _key_value(_literal(tokens[position + 2]), entity_type.properties[name])
        position += 3
        if position < len(tokens):
            if tokens[position].text != ",":
                raise _bad(f"Invalid key predicate '({text})'")
            position += 1
    if set(values) != set(keys):
        raise _bad(f"Invalid key predicate '({text})': keys are {', '.join(keys)}")
    return tuple(values[key] for key in keys)


def _key_value(literal: _Literal, prop: Property) -> Any:
    return _literal_value(literal, prop)


def format_key(entity_type: EntityType, key: tuple[Any, ...]) -> str:
    """``('1')`` or ``(SalesOrder='1',SalesOrderItem='10')``."""

    def literal(name: str, value: Any) -> str:
        prop = entity_type.properties[name]
        if prop.edm_type == "Edm.String":
            return "'" + str(value or "").replace("'", "''") + "'"
        if prop.edm_type == "Edm.Guid":
            return f"guid'{value}'"
        if isinstance(value, datetime.datetime):
            return "datetime'" + value.strftime("%Y-%m-%dT%H:%M:%S") + "'"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    if len(entity_type.keys) == 1:
        return f"({literal(entity_type.keys[0], key[0])})"
    return (
        "("
        + ",".join(
            f"{name}={literal(name, value)}"
            for name, value in zip(entity_type.keys, key, strict=True)
        )
        + ")"
    )
