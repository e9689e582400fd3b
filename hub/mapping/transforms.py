"""Named transforms a mapping applies to a value, in order, after its source expression.

Each transform has a name, typed arguments (validated when the mapping loads) and a pure
function. ``TRANSFORMS`` is the registry; the mapping-format JSON Schema and the docs are
generated from it, so a transform that exists is a transform that is documented.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from hub import money


class TransformError(ValueError):
    """A transform refused a value; ``rule`` names the transform."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class ArgumentError(ValueError):
    """A transform's arguments are wrong (reported at mapping load)."""


Fn = Callable[[Any], Any]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecimalArgs(_Args):
    places: int | None = Field(None, ge=0, le=12, description="Round half up to this many places.")


class DateArgs(_Args):
    format: str | None = Field(None, description="strptime format; ISO 8601 when absent.")


class DateTimeArgs(_Args):
    format: str | None = Field(None, description="strptime format; ISO 8601 when absent.")
    timezone: str = Field("UTC", description="IANA zone for values without an offset.")


class MapArgs(_Args):
    values: dict[str, Any] | None = Field(None, description="Inline table: source → result.")
    lookup: str | None = Field(None, description="Name of a table in the mapping's lookups.")
    default: Any = Field(None, description="Result for keys not in the table.")
    strict: bool = Field(True, description="Unknown keys are an error (unless default is set).")
    passthrough: bool = Field(False, description="Unknown keys pass through unchanged.")


class SplitArgs(_Args):
    separator: str = Field(description="Where to cut.")
    index: int | None = Field(None, description="Keep only this part (0-based, -1 = last).")


class BoolArgs(_Args):
    true: list[Any] = Field(default_factory=lambda: [True, 1, "1", "true", "yes", "y", "on"])
    false: list[Any] = Field(default_factory=lambda: [False, 0, "0", "false", "no", "n", "off"])


@dataclass(frozen=True)
class TransformContext:
    """What transforms may read besides the value: the mapping's lookup tables."""

    lookups: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class TransformType:
    """A named transform: its argument type and how to build its function."""

    name: str
    summary: str
    args: Any  # a type for TypeAdapter; None when the transform takes no arguments
    build: Callable[[Any, TransformContext], Fn]
    needs_args: bool = False
    """True when a bare name would be meaningless (map, default)."""


def _skip_none(fn: Fn) -> Fn:
    def wrapped(value: Any) -> Any:
        return None if value is None else fn(value)

    return wrapped


def _to_decimal(value: Any, rule: str = "decimal") -> Decimal:
    if isinstance(value, bool):
        raise TransformError(rule, f"expected a number, got boolean {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # only from JMESPath literals; repr is the typed text
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise TransformError(rule, f"{value!r} is not a number") from None
        if not result.is_finite():
            raise TransformError(rule, f"{value!r} is not a finite number")
        return result
    raise TransformError(rule, f"expected a number, got {type(value).__name__}")


def _decimal(args: DecimalArgs, _: TransformContext) -> Fn:
    quantum = None if args.places is None else Decimal(1).scaleb(-args.places)

    def fn(value: Any) -> Decimal:
        result = _to_decimal(value)
        return result if quantum is None else result.quantize(quantum, rounding=ROUND_HALF_UP)

    return _skip_none(fn)


def _int(_: None, __: TransformContext) -> Fn:
    def fn(value: Any) -> int:
        number = _to_decimal(value, "int")
        if number != number.to_integral_value():
            raise TransformError("int", f"{value!r} is not a whole number")
        return int(number)

    return _skip_none(fn)


def _bool(args: BoolArgs, _: TransformContext) -> Fn:
    def norm(v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    trues = [norm(v) for v in args.true]
    falses = [norm(v) for v in args.false]

    def fn(value: Any) -> bool:
        v = norm(value)
        if any(v == t and type(v) is type(t) for t in trues):
            return True
        if any(v == f and type(v) is type(f) for f in falses):
            return False
        if isinstance(v, Decimal) and v in (0, 1):
            return v == 1
        raise TransformError("bool", f"{value!r} is not a recognised boolean")

    return _skip_none(fn)


def _string(_: None, __: TransformContext) -> Fn:
    def fn(value: Any) -> str:
        if isinstance(value, dict | list):
            raise TransformError("string", f"expected a scalar, got {type(value).__name__}")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _skip_none(fn)


def _text(name: str, op: Callable[[str], str]) -> Callable[[None, TransformContext], Fn]:
    def build(_: None, __: TransformContext) -> Fn:
        def fn(value: Any) -> str:
            if not isinstance(value, str):
                raise TransformError(name, f"expected text, got {type(value).__name__}")
            return op(value)

        return _skip_none(fn)

    return build


def _date(args: DateArgs, _: TransformContext) -> Fn:
    def fn(value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise TransformError("date", f"expected a date string, got {type(value).__name__}")
        try:
            if args.format:
                return datetime.strptime(value.strip(), args.format).date()
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            fmt = args.format or "ISO 8601 (YYYY-MM-DD)"
            raise TransformError("date", f"{value!r} does not match {fmt}") from None

    return _skip_none(fn)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ArgumentError(f"unknown time zone {name!r} (use an IANA name)") from None


def _datetime(args: DateTimeArgs, _: TransformContext) -> Fn:
    zone = _zone(args.timezone)

    def fn(value: Any) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            text = value.strip()
            try:
                if args.format:
                    parsed = datetime.strptime(text, args.format)
                else:
                    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                fmt = args.format or "ISO 8601"
                raise TransformError("datetime", f"{value!r} does not match {fmt}") from None
        else:
            raise TransformError("datetime", f"expected text, got {type(value).__name__}")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)

    return _skip_none(fn)


_MISSING = object()


def _map_key(value: Any) -> str:
    """Table keys are text; booleans read as YAML/JSON spell them, numbers without padding."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 10.0 -> "10", 1.50 -> "1.5", never 1E+1
    return value if isinstance(value, str) else str(value)


def _numbers(value: Any, rule: str) -> list[Decimal]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TransformError(rule, f"expected a list of numbers, got {type(value).__name__}")
    return [_to_decimal(v, rule) for v in value if v is not None]


def _sum(_: None, __: TransformContext) -> Fn:
    return lambda value: sum(_numbers(value, "sum"), Decimal(0))


def _subtract(_: None, __: TransformContext) -> Fn:
    def fn(value: Any) -> Decimal | None:
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            raise TransformError("subtract", f"expected [minuend, subtrahend...], got {value!r}")
        first, *rest = [Decimal(0) if v is None else _to_decimal(v, "subtract") for v in value]
        return first - sum(rest, Decimal(0))

    return fn


def _map(args: MapArgs, ctx: TransformContext) -> Fn:
    if (args.values is None) == (args.lookup is None):
        raise ArgumentError("map needs exactly one of 'values' (inline) or 'lookup' (a name)")
    if args.lookup is not None:
        if args.lookup not in ctx.lookups:
            known = ", ".join(sorted(ctx.lookups)) or "none defined"
            raise ArgumentError(f"unknown lookup table {args.lookup!r} (lookups: {known})")
        table: Mapping[str, Any] = ctx.lookups[args.lookup]
        label = f"lookup {args.lookup!r}"
    else:
        table = args.values or {}
        label = "the inline map"
    has_default = "default" in args.model_fields_set

    def fn(value: Any) -> Any:
        key = _map_key(value)
        found = table.get(key, _MISSING)
        if found is not _MISSING:
            return found
        if args.passthrough:
            return value
        if has_default or not args.strict:
            return args.default
        sample = ", ".join(repr(k) for k in list(table)[:8])
        raise TransformError("map", f"{value!r} is not in {label} (keys include {sample})")

    return _skip_none(fn)


class _PlainFormatter(string.Formatter):
    """str.format without attribute or index access: templates cannot reach into objects."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if "." in field_name or "[" in field_name:
            raise TransformError("format", f"placeholder {{{field_name}}} may not use . or [")
        return super().get_field(field_name, args, kwargs)


_FORMATTER = _PlainFormatter()


def _format(template: str, _: TransformContext) -> Fn:
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ArgumentError(f"bad format template {template!r}: {exc}") from None
    for _lit, name, _spec, _conv in parsed:
        if name and ("." in name or "[" in name):
            raise ArgumentError(f"placeholder {{{name}}} may not use . or [")

    def fn(value: Any) -> str:
        try:
            if isinstance(value, list):
                return _FORMATTER.format(template, *("" if v is None else v for v in value))
            if isinstance(value, dict):
                return _FORMATTER.format(template, **value)
            return _FORMATTER.format(template, value)
        except (IndexError, KeyError, ValueError) as exc:
            raise TransformError(
                "format", f"template {template!r} cannot format {value!r}: {exc}"
            ) from None

    return _skip_none(fn)


def _join(separator: str, _: TransformContext) -> Fn:
    def fn(value: Any) -> str:
        if not isinstance(value, list):
            raise TransformError("join", f"expected a list, got {type(value).__name__}")
        parts = [str(v).strip() for v in value if v is not None and str(v).strip() != ""]
        return separator.join(parts)

    return _skip_none(fn)


def _split(args: SplitArgs, _: TransformContext) -> Fn:
    def fn(value: Any) -> Any:
        if not isinstance(value, str):
            raise TransformError("split", f"expected text, got {type(value).__name__}")
        parts = [p.strip() for p in value.split(args.separator)]
        if args.index is None:
            return parts
        try:
            return parts[args.index]
        except IndexError:
            return None

    return _skip_none(fn)


def _default(fallback: Any, _: TransformContext) -> Fn:
    def fn(value: Any) -> Any:
        return fallback if value is None or value == "" else value

    return fn


def _required(message: str | None, _: TransformContext) -> Fn:
    def fn(value: Any) -> Any:
        if value is None or value in ("", []):
            raise TransformError("required", message or "a value is required but none was found")
        return value

    return fn


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: 0 equals 0.0 (both numbers), but 0 does not equal false."""
    numbers = (int, Decimal, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        return _to_decimal(a) == _to_decimal(b)
    return type(a) is type(b) and a == b


def _null_if(values: list[Any], _: TransformContext) -> Fn:
    def fn(value: Any) -> Any:
        return None if any(_same(value, v) for v in values) else value

    return fn


def _country(_: None, __: TransformContext) -> Fn:
    def fn(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise TransformError("country", f"expected a country name or code, got {value!r}")
        try:
            found = pycountry.countries.lookup(value.strip())
        except LookupError:
            raise TransformError("country", f"{value!r} is not a known country") from None
        return str(found.alpha_2)

    return _skip_none(fn)


def _currency(_: None, __: TransformContext) -> Fn:
    def fn(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise TransformError("currency", f"expected a currency code, got {value!r}")
        text = value.strip()
        code = text.upper()
        if not money.is_currency(code):
            try:
                code = str(pycountry.currencies.lookup(text).alpha_3)
            except LookupError:
                raise TransformError("currency", f"{value!r} is not an ISO 4217 currency") from None
        if not money.is_currency(code):
            raise TransformError("currency", f"{value!r} ({code}) is not an invoicing currency")
        return code

    return _skip_none(fn)


def _negate(_: None, __: TransformContext) -> Fn:
    return _skip_none(lambda value: -_to_decimal(value, "negate"))


def _abs(_: None, __: TransformContext) -> Fn:
    return _skip_none(lambda value: abs(_to_decimal(value, "abs")))


def _truncate(length: int, _: TransformContext) -> Fn:
    if length < 1:
        raise ArgumentError("truncate needs a positive length")

    def fn(value: Any) -> str:
        text = value if isinstance(value, str) else str(value)
        return text[:length]

    return _skip_none(fn)


_ALL = [
    TransformType(
        "decimal",
        "Exact decimal number, optionally rounded half up.",
        DecimalArgs,
        _decimal,
    ),
    TransformType(
        "int",
        "Whole number; 2.5 is an error.",
        None,
        _int,
    ),
    TransformType(
        "bool",
        "true/false from 1/0, yes/no, true/false.",
        BoolArgs,
        _bool,
    ),
    TransformType(
        "string",
        "Text form of a scalar.",
        None,
        _string,
    ),
    TransformType(
        "upper",
        "Upper case.",
        None,
        _text("upper", str.upper),
    ),
    TransformType(
        "lower",
        "Lower case.",
        None,
        _text("lower", str.lower),
    ),
    TransformType(
        "strip",
        "Trim surrounding white space.",
        None,
        _text("strip", str.strip),
    ),
    TransformType(
        "date",
        "Calendar date from text (format optional).",
        DateArgs,
        _date,
    ),
    TransformType(
        "datetime",
        "Timezone-aware UTC datetime; naive values are in `timezone`.",
        DateTimeArgs,
        _datetime,
    ),
    TransformType(
        "map",
        "Value map: inline `values` or a named `lookup` table.",
        MapArgs,
        _map,
        needs_args=True,
    ),
    TransformType(
        "format",
        "Template with {} / {0} / {name} placeholders.",
        str,
        _format,
    ),
    TransformType(
        "join",
        "Join a list's non-empty items with a separator.",
        str,
        _join,
    ),
    TransformType(
        "split",
        "Split text by a separator, optionally keep one part.",
        SplitArgs,
        _split,
    ),
    TransformType(
        "default",
        "Use this value when the source is null or empty.",
        Any,
        _default,
        needs_args=True,
    ),
    TransformType(
        "required",
        "Fail when the value is null or empty (message optional).",
        str | None,
        _required,
    ),
    TransformType(
        "null_if",
        "Treat these values as null (e.g. '' or 0).",
        list[Any],
        _null_if,
    ),
    TransformType(
        "country",
        "ISO 3166-1 alpha-2 from a code or English name.",
        None,
        _country,
    ),
    TransformType(
        "currency",
        "ISO 4217 code from a code or name.",
        None,
        _currency,
    ),
    TransformType(
        "sum",
        "Sum of a list of numbers; nulls and a missing list count as 0.",
        None,
        _sum,
    ),
    TransformType(
        "subtract",
        "First number of a list minus the others (nulls as 0).",
        None,
        _subtract,
    ),
    TransformType(
        "negate",
        "Change the sign of a number.",
        None,
        _negate,
    ),
    TransformType(
        "abs",
        "Absolute value of a number.",
        None,
        _abs,
    ),
    TransformType(
        "truncate",
        "Cut text to at most N characters.",
        StrictInt,
        _truncate,
    ),
]
TRANSFORMS: dict[str, TransformType] = {t.name: t for t in _ALL}

ArgMode = Literal["none", "optional", "required"]


def arg_mode(kind: TransformType) -> ArgMode:
    """Whether a transform can be written as a bare name, must have arguments, or both."""
    if kind.args is None:
        return "none"
    if kind.needs_args:
        return "required"
    try:
        TypeAdapter(kind.args).validate_python({} if _is_model(kind.args) else None)
    except ValidationError:
        return "required"
    return "optional"


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def build_transform(name: str, raw_args: Any, has_args: bool, ctx: TransformContext) -> Fn:
    """Validate ``raw_args`` for transform ``name`` and return its function.

    Raises KeyError for an unknown name and ArgumentError for bad arguments.
    """
    kind = TRANSFORMS[name]
    if kind.args is None:
        if has_args and not (raw_args is None or raw_args is True or raw_args == {}):
            raise ArgumentError(f"transform {name!r} takes no arguments")
        return kind.build(None, ctx)
    if not has_args:
        if kind.needs_args:
            raise ArgumentError(f"transform {name!r} needs arguments, e.g. {{{name}: ...}}")
        raw_args = {} if _is_model(kind.args) else None
    try:
        args = TypeAdapter(kind.args).validate_python(raw_args)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        where = f" ({loc})" if loc else ""
        raise ArgumentError(f"bad arguments for {name!r}{where}: {first['msg']}") from None
    return kind.build(args, ctx)
