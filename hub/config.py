"""The hub's configuration: ``hub.yaml`` plus ``O2C_*`` environment overrides.

Nothing is read at import time. :func:`load_settings` is the factory; it

1. picks the file: the ``path`` argument, else ``$O2C_CONFIG``, else ``./config/hub.yaml``
   if that exists, else the bundled default (:func:`hub.paths.bundled_config_dir`);
2. reads it with :mod:`hub.yamlsource`, so every problem can name ``file:line:column``;
3. replaces secret references -- ``{$env: NAME}`` and ``{$file: PATH}`` -- wherever a value
   is expected (a ``$file`` path is relative to the config file; one trailing newline of the
   file's content is dropped);
4. makes relative paths absolute: every path setting written in the file
   (``mappings.paths``, ``routes.file``, ``invoicing.pricing``, ``invoicing.rates_file``,
   ``invoicing.contracts``) is relative to the config file's directory, so the hub reads
   the same files whatever directory it is started from; a relative SQLite database path
   (``sqlite:///hub.db``) is relative to the *current working directory*, so that the
   bundled default never puts the database inside the installed package, and so that it
   behaves as SQLAlchemy would; paths given in ``O2C_*`` variables are relative to the
   working directory too;
5. applies ``O2C_*`` overrides: every leaf setting has exactly one variable, its dotted key
   upper-cased with ``.`` turned into ``_`` (``server.port`` -> ``O2C_SERVER_PORT``,
   ``mappings.control_totals.on_mismatch`` -> ``O2C_MAPPINGS_CONTROL_TOTALS_ON_MISMATCH``).
   The table is built from the models, so underscores inside key names are never ambiguous.
   List settings take comma-separated values. Settings inside an optional section
   (``invoicing``, ``invoicing.tax``) have variables too (``O2C_INVOICING_SERIES``), but a
   variable only overrides a key of a section the file has: it cannot create the section,
   which needs keys no single variable gives (the seller), so a variable for a section the
   file leaves out is an error naming the section. ``O2C_CONFIG``, ``O2C_DEBUG`` and
   ``O2C_DISABLED_PLUGINS`` are reserved for other uses; any other unknown ``O2C_*``
   variable is an error that suggests the closest known name;
6. validates everything with the pydantic models below and refuses placeholder secrets when
   ``environment: production``.

Every problem found is collected and raised together as one :class:`~hub.errors.ConfigError`,
one problem per line: ``file:line:column: key.path: reason`` for the file and
``environment variable O2C_X (key.path): reason`` for the environment. Secret values never
appear in messages, ``repr``, ``str`` or :meth:`Settings.redacted`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from hub.errors import ConfigError, SourceFileError
from hub.invoicing.settings import InvoicingSettings
from hub.paths import bundled_config_dir, bundled_mappings_dir
from hub.queue.breaker import BreakerConfig
from hub.security.signatures import SignatureConfig
from hub.yamlsource import LocatedDocument, PathKey, load_located_file

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "MIN_SECRET_LENGTH",
    "RESERVED_ENV",
    "ControlTotalsSettings",
    "DatabaseSettings",
    "LoggingSettings",
    "MappingsSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "WorkersSettings",
    "bundled_config_dir",
    "bundled_mappings_dir",
    "config_path",
    "env_var_names",
    "load_settings",
    "placeholder_reason",
]

ENV_PREFIX = "O2C_"
CONFIG_ENV = "O2C_CONFIG"
RESERVED_ENV = frozenset({CONFIG_ENV, "O2C_DEBUG", "O2C_DISABLED_PLUGINS"})
"""``O2C_*`` variables that are not settings; :func:`load_settings` ignores them."""

MIN_SECRET_LENGTH = 16
"""The shortest secret accepted when ``environment: production``."""

MASK = "***"

# Every model: unknown keys are errors, settings are immutable, and a validation error never
# echoes its input (which may be a secret) -- not even in ``str(ValidationError)``. Written
# out in each class because the pydantic mypy plugin only reads a literal ConfigDict(...).


# --------------------------------------------------------------------------- models


class DatabaseSettings(BaseModel):
    """Where the hub keeps its state."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(
        default="sqlite:///hub.db",
        min_length=1,
        description=(
            "SQLAlchemy-style database URL. A relative SQLite path (`sqlite:///hub.db`) is "
            "made absolute against the current working directory when the settings are "
            "loaded; `sqlite:////abs/path.db` is absolute. A password in the URL is masked "
            "in every display; prefer a secret reference such as `{$env: DATABASE_URL}`."
        ),
    )
    echo: bool = Field(
        default=False,
        description="Log every SQL statement the hub sends (a development aid; very noisy).",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", _mask_url_password(self.url)
        yield "echo", self.echo


class ServerSettings(BaseModel):
    """The HTTP API server."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Interface the HTTP server listens on; `0.0.0.0` listens on all of them.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port of the HTTP server.")
    workers: int = Field(default=1, ge=1, description="Number of HTTP server worker processes.")
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body accepted (bytes); larger ones are refused with 413.",
    )


class WorkersSettings(BaseModel):
    """The background workers that move documents between systems."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    concurrency: int = Field(
        default=4, ge=1, description="How many jobs the background workers run at once."
    )
    poll_interval_ms: int = Field(
        default=1000,
        ge=1,
        description=(
            "How long an idle worker waits before looking for new jobs, in whole "
            "milliseconds (an integer, so the value means exactly what was written)."
        ),
    )

    lease_seconds: int = Field(
        default=120,
        ge=5,
        description=(
            "How long a claimed delivery stays with its worker before another may take it "
            "over (a worker that died). Keep it above the slowest target's timeout."
        ),
    )
    poison_after: int = Field(
        default=3,
        ge=1,
        description=(
            "A delivery whose worker lost it this many times (crashed mid-delivery) is "
            "parked as poison instead of being tried again."
        ),
    )
    shutdown_grace_seconds: int = Field(
        default=30,
        ge=0,
        description="On SIGTERM, how long in-flight deliveries may take to finish.",
    )
    breaker: BreakerConfig = Field(
        default_factory=BreakerConfig,
        description="Per-target circuit breaker: pause a failing target's whole queue.",
    )

    @property
    def poll_interval(self) -> timedelta:
        """``poll_interval_ms`` as a :class:`~datetime.timedelta`."""
        return timedelta(milliseconds=self.poll_interval_ms)


def _default_routes_file() -> Path:
    return bundled_config_dir() / "routes.yaml"


class RoutesSettings(BaseModel):
    """Where the routes and targets are configured."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    file: Path = Field(
        default_factory=_default_routes_file,
        description=(
            "The routes file (targets and routes). A relative path in the config file is "
            "relative to the config file's directory. Default: the bundled routes.yaml."
        ),
    )


class LoggingSettings(BaseModel):
    """What the hub logs and how."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="Least severe level that is logged: DEBUG, INFO, WARNING or ERROR.",
    )
    format: Literal["json", "console"] = Field(
        default="console",
        description=(
            "`console` for human-readable lines, `json` for one JSON object per line "
            "(for log collectors)."
        ),
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class ControlTotalsSettings(BaseModel):
    """What happens when a mapped document's totals disagree with the source's totals."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    on_mismatch: Literal["reject", "flag"] = Field(
        default="reject",
        description=(
            "`reject` refuses a document whose mapped totals differ from the source's "
            "control totals; `flag` lets it through but marks it for review."
        ),
    )
    tolerance: Decimal = Field(
        default=Decimal("0.00"),
        ge=0,
        allow_inf_nan=False,
        description=(
            "Largest difference between mapped and source totals that still counts as a "
            "match, in the document's currency (a decimal, never a float)."
        ),
    )


def _default_mapping_paths() -> tuple[Path, ...]:
    return (bundled_mappings_dir(),)


class MappingsSettings(BaseModel):
    """Where mapping files are found and how their results are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    paths: tuple[Path, ...] = Field(
        default_factory=_default_mapping_paths,
        description=(
            "Directories searched for mapping files, in order. Relative entries in the "
            "config file are relative to the config file's directory; relative entries in "
            "`O2C_MAPPINGS_PATHS` (comma-separated) are relative to the working directory. "
            "Default: the mappings bundled with the hub."
        ),
    )
    control_totals: ControlTotalsSettings = Field(
        default_factory=ControlTotalsSettings,
        description="How mapped totals are checked against the source document's totals.",
    )


class SecuritySettings(BaseModel):
    """Secrets the hub needs."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key used to sign tokens and webhooks. Never write it into the file: use "
            "`{$env: NAME}` or `{$file: PATH}`. In production it must be a real secret of "
            f"at least {MIN_SECRET_LENGTH} characters, not a placeholder such as `changeme`."
        ),
    )
    inbound_signatures: dict[str, SignatureConfig] = Field(
        default_factory=dict,
        description=(
            "Per source system, how its calls are signed: `scheme: adobe_commerce` with the "
            "public key from the Commerce admin, or `scheme: hmac_sha256` with shared "
            "secrets (by reference) and a replay window. A system listed here must sign "
            "every call; unsigned or badly signed calls get 401."
        ),
    )


class Settings(BaseModel):
    """The hub's effective configuration. Build it with :func:`load_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    environment: Literal["development", "production"] = Field(
        default="development",
        description="`production` turns on the strict checks (no placeholder secrets).",
    )
    database: DatabaseSettings = Field(
        default_factory=DatabaseSettings, description="Where the hub keeps its state."
    )
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="The HTTP API server."
    )
    workers: WorkersSettings = Field(
        default_factory=WorkersSettings, description="The background workers."
    )
    logging: LoggingSettings = Field(
        default_factory=LoggingSettings, description="What the hub logs and how."
    )
    mappings: MappingsSettings = Field(
        default_factory=MappingsSettings,
        description="Where mapping files are found and how their results are checked.",
    )
    routes: RoutesSettings = Field(
        default_factory=RoutesSettings, description="Where the routes and targets are."
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="Secrets the hub needs."
    )
    invoicing: InvoicingSettings | None = Field(
        default=None,
        description="Invoices from shipments: the seller, number series, pricing rules, "
        "ECB rates and VAT rules. Without it the hub issues no invoices.",
    )

    _source_file: Path | None = PrivateAttr(default=None)
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.environment != "production":
            return self
        for leaf in _leaves():
            if not leaf.secret:
                continue
            value = _get_attr_path(self, leaf.path)
            if isinstance(value, SecretStr):
                reason = placeholder_reason(value.get_secret_value())
                if reason is not None:
                    raise PydanticCustomError(
                        "placeholder_secret",
                        "{key}: {reason}",
                        {"key": leaf.key, "reason": reason},
                    )
        return self

    @property
    def source_file(self) -> Path | None:
        """The config file these settings were read from (None if built directly)."""
        return self._source_file

    @property
    def origins(self) -> Mapping[str, str]:
        """Where each leaf setting came from, by dotted key.

        ``file:line:column``, ``environment variable O2C_X`` or ``default``; empty when the
        settings were built directly rather than by :func:`load_settings`. An optional
        section that is not configured (``invoicing: null``) is listed by its own key, not
        by the leaves it would have.
        """
        return MappingProxyType(self._origins)

    def redacted(self) -> dict[str, Any]:
        """The settings as JSON-ready data for display, with every secret shown as ``***``.

        Passwords inside URLs are masked too.
        """
        data: dict[str, Any] = self.model_dump(mode="json")
        for leaf in _leaves():
            if leaf.secret and _get_attr_path(self, leaf.path) is not None:
                _set_path(data, leaf.path, MASK)
        data["database"]["url"] = _mask_url_password(self.database.url)
        return data


# --------------------------------------------------------------------------- leaf table


@dataclass(frozen=True)
class _Leaf:
    """One setting that holds a value (not a section)."""

    path: tuple[str, ...]
    is_list: bool
    is_path: bool
    secret: bool
    optional_sections: tuple[tuple[str, ...], ...] = ()
    """The optional sections (``invoicing``) the leaf is inside, outermost first: it exists
    only when they are configured."""

    @property
    def key(self) -> str:
        return ".".join(self.path)

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + "_".join(self.path).upper()


def _section(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model of a section field, and whether it is optional (``Model | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = get_args(annotation)
    if get_origin(annotation) in (Union, UnionType) and type(None) in args:
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1 and len(args) == 2:
            return models[0], True
    return None, False


def _walk_fields(
    model: type[BaseModel],
    prefix: tuple[str, ...],
    optional: tuple[tuple[str, ...], ...] = (),
) -> Iterator[_Leaf]:
    """Every leaf under ``model``, optional sections (``invoicing``) included, so that
    their paths are resolved and their keys can be overridden like any other."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        path = (*prefix, name)
        section, is_optional = _section(annotation)
        if section is not None:
            yield from _walk_fields(section, path, (*optional, path) if is_optional else optional)
            continue
        args = get_args(annotation)
        yield _Leaf(
            path=path,
            is_list=get_origin(annotation) in (tuple, list, set, frozenset),
            is_path=annotation is Path or Path in args,
            secret=annotation is SecretStr or SecretStr in args,
            optional_sections=optional,
        )


@cache
def _leaves() -> tuple[_Leaf, ...]:
    return tuple(_walk_fields(Settings, ()))


@cache
def _env_table() -> dict[str, _Leaf]:
    table: dict[str, _Leaf] = {}
    for leaf in _leaves():
        other = table.get(leaf.env_name)
        if other is not None or leaf.env_name in RESERVED_ENV:
            clash = other.key if other is not None else "a reserved variable"
            msg = f"{leaf.key} and {clash} would share {leaf.env_name}"
            raise RuntimeError(msg)
        table[leaf.env_name] = leaf
    return table


def env_var_names() -> dict[str, str]:
    """Every ``O2C_*`` override the hub reads, mapped to the dotted key it sets."""
    return {name: leaf.key for name, leaf in _env_table().items()}


# --------------------------------------------------------------------------- helpers


_PLACEHOLDER_WORDS = (
    "changeme",
    "replaceme",
    "placeholder",
    "password",
    "secret",
    "example",
    "default",
    "dummy",
    "todo",
    "test",
    "xxx",
)


def placeholder_reason(value: str) -> str | None:
    """Why ``value`` is not acceptable as a production secret, or None if it is.

    Refused: empty values, values shorter than :data:`MIN_SECRET_LENGTH`, one character
    repeated, and values made only of placeholder words (``changeme``, ``password``,
    ``secret``, ``xxx`` ...) with at most some digits and punctuation around them.
    """
    if not value.strip():
        return "is empty; production needs a real secret"
    normalized = re.sub(r"[^a-z0-9]", "", value.lower())
    remainder = normalized
    for word in _PLACEHOLDER_WORDS:
        remainder = remainder.replace(word, "")
    if (
        len(set(value)) == 1
        or not normalized
        or (remainder != normalized and (not remainder or remainder.isdigit()))
    ):
        return "looks like a placeholder; production needs a real secret"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters; production needs a real secret"
    return None


_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@?#]*:)[^@/?#]*(?P<at>@)")


def _mask_url_password(url: str) -> str:
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", url, count=1)


_SQLITE_URL = re.compile(
    r"^(?P<scheme>sqlite(?:\+[A-Za-z0-9_]+)?):///(?P<path>[^?]*)(?P<query>\?.*)?$"
)


def _absolute_sqlite_url(url: str, base: Path) -> str:
    match = _SQLITE_URL.match(url)
    if match is None:
        return url
    path = match["path"]
    if not path or path == ":memory:" or path.startswith("file:") or Path(path).is_absolute():
        return url
    return f"{match['scheme']}:///{os.path.normpath(base / path)}{match['query'] or ''}"


def _absolute_path(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value:
        return value
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _get_path(data: Any, path: PathKey) -> tuple[bool, Any]:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            return False, None
        data = data[part]
    return True, data


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    """Set ``data[a][b]...`` creating sections; False if a section in the way is no mapping."""
    node: Any = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return False
        node = child
    node[path[-1]] = value
    return True


def _get_attr_path(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path``; None inside an optional section that is not configured."""
    for part in path:
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def _model_at(path: PathKey) -> type[BaseModel] | None:
    model: type[BaseModel] = Settings
    for part in path:
        if not isinstance(part, str) or part not in model.model_fields:
            return None
        section, _ = _section(model.model_fields[part].annotation)
        if section is None:
            return None
        model = section
    return model


def _absent_section(data: dict[str, Any], leaf: _Leaf) -> tuple[str, ...] | None:
    """The outermost optional section of ``leaf`` that ``data`` does not configure."""
    for section in leaf.optional_sections:
        found, value = _get_path(data, section)
        if not found or value is None:
            return section
    return None


# --------------------------------------------------------------------------- loading


class _Problems:
    """Problems found so far, deduplicated, file ones in file order, then the environment."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[Any, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._found)

    def add(self, sort_key: tuple[Any, ...], text: str) -> None:
        self._found.setdefault(text, sort_key)

    def message(self) -> str:
        return "\n".join(sorted(self._found, key=lambda text: (self._found[text], text)))


@dataclass
class _Load:
    """The state of one :func:`load_settings` call."""

    doc: LocatedDocument
    environ: Mapping[str, str]
    config_dir: Path
    cwd: Path
    problems: _Problems
    env_sources: dict[tuple[str | int, ...], str]
    referenced: set[str]

    def report(
        self, path: PathKey, reason: str, *, key: bool = False, at: PathKey | None = None
    ) -> None:
        """Record a problem about the value (or, with ``key``, the key) at ``path``.

        ``at`` points the file location somewhere more precise than ``path`` itself.
        """
        for depth in range(len(path), 0, -1):
            name = self.env_sources.get(tuple(path[:depth]))
            if name is not None:
                text = f"environment variable {name} ({_dotted(path)}): {reason}"
                self.problems.add((1, name), text)
                return
        where = self.doc.at(path if at is None else at, key=key)
        text = f"{where}: {_dotted(path)}: {reason}"
        self.problems.add((0, where.file, where.line, where.column), text)

    def report_env(self, name: str, reason: str) -> None:
        self.problems.add((1, name), f"environment variable {name}: {reason}")


_UNSET = object()


def _resolve_refs(load: _Load, value: Any, path: PathKey) -> Any:
    """Replace ``{$env: NAME}`` / ``{$file: PATH}`` everywhere; _UNSET where one fails."""
    if isinstance(value, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in value):
            return _resolve_ref(load, value, path)
        out: dict[Any, Any] = {}
        for k, v in value.items():
            resolved = _resolve_refs(load, v, (*path, k))
            if resolved is not _UNSET:
                out[k] = resolved
        return out
    if isinstance(value, list):
        items = [_resolve_refs(load, v, (*path, i)) for i, v in enumerate(value)]
        return [item for item in items if item is not _UNSET]
    return value


def _resolve_ref(load: _Load, ref: dict[Any, Any], path: PathKey) -> Any:
    if len(ref) != 1 or next(iter(ref)) not in ("$env", "$file"):
        load.report(path, "a secret reference is written {$env: NAME} or {$file: PATH}")
        return _UNSET
    kind, arg = next(iter(ref.items()))
    arg_path = (*path, kind)
    if not isinstance(arg, str) or not arg.strip():
        what = "an environment variable name" if kind == "$env" else "a file path"
        load.report(path, at=arg_path, reason=f"{kind} needs {what}")
        return _UNSET
    if kind == "$env":
        load.referenced.add(arg)
        if arg not in load.environ:
            load.report(path, at=arg_path, reason=f"environment variable {arg} is not set")
            return _UNSET
        return load.environ[arg]
    file = Path(arg).expanduser()
    if not file.is_absolute():
        file = load.config_dir / file
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        load.report(path, at=arg_path, reason=f"secret file {file} not found")
        return _UNSET
    except UnicodeDecodeError:  # its message would quote bytes of the secret
        load.report(path, at=arg_path, reason=f"secret file {file} is not UTF-8 text")
        return _UNSET
    except OSError as exc:
        load.report(
            path, at=arg_path, reason=f"cannot read secret file {file}: {exc.strerror or 'error'}"
        )
        return _UNSET
    return text.removesuffix("\n").removesuffix("\r")


def _make_file_paths_absolute(load: _Load, data: dict[str, Any]) -> None:
    for leaf in _leaves():
        found, value = _get_path(data, leaf.path)
        if not found:
            continue
        if leaf.is_path and leaf.is_list and isinstance(value, list):
            _set_path(data, leaf.path, [_absolute_path(v, load.config_dir) for v in value])
        elif leaf.is_path:
            _set_path(data, leaf.path, _absolute_path(value, load.config_dir))


def _apply_env(load: _Load, data: dict[str, Any]) -> None:
    table = _env_table()
    for name in sorted(load.environ):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        leaf = table.get(name)
        if leaf is None and name in load.referenced:
            continue  # read by a {$env: NAME} reference in the file, not a setting
        if leaf is None:
            close = difflib.get_close_matches(name, [*table, *sorted(RESERVED_ENV)], n=1)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "`o2c config show` lists the known settings"
            )
            load.report_env(name, f"not a known setting; {hint}")
            continue
        missing = _absent_section(data, leaf)
        if missing is not None:
            load.report_env(name, _no_section_reason(leaf, missing))
            continue
        raw = load.environ[name]
        value: Any = raw
        if leaf.is_list:
            value = [item.strip() for item in raw.split(",") if item.strip()]
            if leaf.is_path:
                value = [_absolute_path(item, load.cwd) for item in value]
        elif leaf.is_path:
            value = _absolute_path(raw, load.cwd)
        if _set_path(data, leaf.path, value):
            load.env_sources[leaf.path] = name
        # else: the section in the way is not a mapping; validation reports that.


def _no_section_reason(leaf: _Leaf, section: tuple[str, ...]) -> str:
    """Why an override of ``leaf`` is refused: its optional ``section`` is not configured."""
    key = ".".join(section)
    model = _model_at(section)
    required = [
        f"{key}.{name}"
        for name, info in (model.model_fields.items() if model is not None else ())
        if info.is_required()
    ]
    needs = f" (it needs {', '.join(required)})" if required else ""
    return (
        f"sets {leaf.key}, but the config file has no `{key}:` section; a variable overrides "
        f"a key of a section and does not create one: add `{key}:`{needs} to the config file"
    )


def _check_placeholders(load: _Load, data: dict[str, Any]) -> None:
    """Production refuses placeholder secrets -- checked before validation so that this
    problem is reported together with every other one."""
    if data.get("environment", "development") != "production":
        return
    for leaf in _leaves():
        found, value = _get_path(data, leaf.path)
        if leaf.secret and found and isinstance(value, str):
            reason = placeholder_reason(value)
            if reason is not None:
                load.report(leaf.path, reason)


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _report_validation_error(load: _Load, data: dict[str, Any], error: ErrorDetails) -> None:
    kind = error["type"]
    loc: PathKey = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if kind == "placeholder_secret":
        load.report(tuple(str(ctx["key"]).split(".")), str(ctx["reason"]))
        return
    # Pydantic adds non-data steps to ``loc`` for some types; keep the part found in data.
    depth = 0
    while depth < len(loc) and _get_path(data, loc[: depth + 1])[0]:
        depth += 1
    if kind == "extra_forbidden":
        section = _model_at(loc[:-1])
        known = list(section.model_fields) if section is not None else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(known)}"
        load.report(loc, f"unknown setting; {hint}", key=True)
        return
    messages = {
        "model_type": "should be a mapping of settings",
        "model_attributes_type": "should be a mapping of settings",
        "tuple_type": "should be a list",
        "list_type": "should be a list",
        "path_type": "should be a path (a string)",
    }
    load.report(loc[: max(depth, 1)], messages.get(kind) or _lowercase_first(error["msg"]))


def _choose_config(path: Path | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    if path is not None:
        return path, False
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named).expanduser(), True
    local = Path("config") / "hub.yaml"
    if local.is_file():
        return local, False
    return bundled_config_dir() / "hub.yaml", False


def config_path(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The file :func:`load_settings` reads for these arguments.

    ``path`` if given, else ``$O2C_CONFIG``, else ``./config/hub.yaml`` if it exists, else
    the bundled default.
    """
    return _choose_config(path, os.environ if environ is None else environ)[0]


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file, apply ``O2C_*`` overrides and return validated settings.

    ``environ`` defaults to :data:`os.environ` as it is at call time. Raises
    :class:`~hub.errors.ConfigError` listing every problem, one per line.
    """
    env: Mapping[str, str] = dict(os.environ if environ is None else environ)
    file, from_env = _choose_config(path, env)
    try:
        doc = load_located_file(file)
    except SourceFileError as exc:
        prefix = f"environment variable {CONFIG_ENV}: " if from_env else ""
        raise ConfigError(f"{prefix}{exc.message}") from exc
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        msg = f"{doc.at(())}: (top level): should be a mapping of settings"
        raise ConfigError(msg)

    load = _Load(
        doc=doc,
        environ=env,
        config_dir=file.absolute().parent,
        cwd=Path.cwd(),
        problems=_Problems(),
        env_sources={},
        referenced=set(),
    )
    resolved = _resolve_refs(load, data, ())
    if not isinstance(resolved, dict):
        if resolved is not _UNSET:
            load.report((), "should be a mapping of settings")
        resolved = {}
    data = resolved
    _make_file_paths_absolute(load, data)
    _apply_env(load, data)
    found, url = _get_path(data, ("database", "url"))
    if not found:  # the default is relative too
        url = DatabaseSettings.model_fields["url"].default
    if isinstance(url, str) and isinstance(data.get("database", {}), dict):
        _set_path(data, ("database", "url"), _absolute_sqlite_url(url, load.cwd))
    _check_placeholders(load, data)

    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            _report_validation_error(load, data, error)
    if load.problems or settings is None:
        # ``from None``: the chained ValidationError would carry the raw input, secrets too.
        raise ConfigError(load.problems.message() or f"{file}: invalid configuration") from None

    settings._source_file = file
    settings._origins = _origins(load, settings)
    return settings


def _origins(load: _Load, settings: Settings) -> dict[str, str]:
    """Origin of every leaf, and of each optional section that is not configured."""
    origins: dict[str, str] = {}
    for leaf in _leaves():
        absent = next(
            (s for s in leaf.optional_sections if _get_attr_path(settings, s) is None), None
        )
        if absent is None:
            origins[leaf.key] = _origin(load, leaf)
        elif ".".join(absent) not in origins:
            where = load.doc.values.get(absent)
            origins[".".join(absent)] = str(where) if where is not None else "default"
    return origins


def _origin(load: _Load, leaf: _Leaf) -> str:
    name = load.env_sources.get(leaf.path)
    if name is not None:
        return f"environment variable {name}"
    if leaf.path in load.doc.values:
        return str(load.doc.values[leaf.path])
    return "default"
