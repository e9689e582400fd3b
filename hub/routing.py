"""Routes: which targets receive which documents, through which mapping, with which retry.

``config/routes.yaml`` declares the targets (where deliveries go), the routes (what
goes there) and, optionally, the sources (targets the hub polls for changed documents,
see ``docs/polling.md``). Everything is checked at load and reported as
``file:line:column: reason``: an unknown target, a bad JMESPath condition, a mapping that
does not exist, a source whose adapter cannot poll.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.adapter import Adapter, Capability
from hub.errors import HubError, RouteError, UnknownNameError
from hub.mapping import CompiledMapping, registry
from hub.mapping.expressions import Expression, ExpressionSyntaxError, compile_expression, is_truthy
from hub.queue.retry import RetryPolicyConfig
from hub.yamlsource import LocatedDocument, load_located_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class TargetConfig:
    """A configured target: which adapter, and its validated options."""

    kind: str
    adapter: type[Adapter]
    config: BaseModel


class SourceMatch(_Strict):
    system: str
    kind: str


class RouteConfig(_Strict):
    """One route: documents of a source system and kind, to one target."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    source: SourceMatch
    target: str
    mapping: str | None = Field(
        None, description="Outbound mapping name; without it the canonical document is sent."
    )
    when: str | None = Field(None, description="JMESPath condition on the canonical document.")
    ordering_key: str | None = Field(
        None, description="JMESPath on the canonical document; default: its external id."
    )
    retry: RetryPolicyConfig = Field(default_factory=RetryPolicyConfig)


SOURCE_NAME = r"^[A-Za-z0-9_.:-]{1,64}$"
"""A source's name is the key of its poll cursor row (at most 64 characters)."""


class SourceConfig(_Strict):
    """One polled source: a target's connection, asked for documents changed since the
    stored cursor, each ingested as if the source system had pushed it."""

    target: str = Field(
        description="A target from `targets:` whose adapter can poll; its connection "
        "settings are reused."
    )
    system: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Inbound mapping system; default: the target's adapter type.",
    )
    kind: str = Field(min_length=1, max_length=64, description="Canonical kind, e.g. order.")
    every: float = Field(60, gt=0, description="Seconds between polls.")
    batch: int = Field(100, ge=1, le=1000, description="Documents per poll call (limit).")
    max_per_run: int = Field(
        10_000, ge=1, description="Documents per run before the source yields to others."
    )
    enabled: bool = Field(True, description="Polled by `o2c serve` and `o2c poll run`.")


class RoutesFile(_Strict):
    targets: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="name → {type: <adapter>, ...adapter options}"
    )
    routes: list[RouteConfig] = Field(default_factory=list)
    sources: dict[str, SourceConfig] = Field(
        default_factory=dict, description="name → a target to poll for changed documents"
    )


@dataclass(frozen=True)
class Route:
    """A compiled route."""

    name: str
    system: str
    kind: str
    target: str
    mapping: CompiledMapping | None
    when: Expression | None
    ordering_key: Expression | None
    retry: RetryPolicyConfig

    def matches(self, system: str, kind: str, canonical: dict[str, Any]) -> bool:
        if (self.system, self.kind) != (system, kind):
            return False
        return self.when is None or is_truthy(self.when.search(canonical))

    def ordering_key_for(self, canonical: dict[str, Any], default: str) -> str:
        """The route's ordering key for a document, else ``default`` (its entity's id)."""
        value = self.ordering_key.search(canonical) if self.ordering_key else None
        return str(value) if value not in (None, "") else default


@dataclass
class RouteTable:
    """All routes and targets, ready to match documents."""

    routes: list[Route] = field(default_factory=list)
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    file: str | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    """Polled sources by name; ``system`` is always filled in."""

    def for_document(self, system: str, kind: str, canonical: dict[str, Any]) -> list[Route]:
        return [r for r in self.routes if r.matches(system, kind, canonical)]

    def route(self, name: str) -> Route:
        for route in self.routes:
            if route.name == name:
                return route
        raise RouteError(f"no route named {name!r}")


def _resolve_refs(
    doc: LocatedDocument, value: Any, at: tuple[str | int, ...], base: Path, problems: list[str]
) -> Any:
    """``{$env: NAME}`` and ``{$file: PATH}`` anywhere in the file, for target secrets."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("$env", "$file"):
            kind, ref = next(iter(value.items()))
            if kind == "$env":
                if str(ref) not in os.environ:
                    problems.append(_located(doc, at, f"environment variable {ref} is not set"))
                    return None
                return os.environ[str(ref)]
            file = (base / str(ref)).resolve()
            try:
                return file.read_text(encoding="utf-8").removesuffix("\n")
            except OSError:
                problems.append(_located(doc, at, f"secret file {ref} cannot be read"))
                return None
        return {k: _resolve_refs(doc, v, (*at, k), base, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(doc, v, (*at, i), base, problems) for i, v in enumerate(value)]
    return value


def _located(doc: LocatedDocument, path: tuple[str | int, ...], message: str) -> str:
    return f"{doc.at(path)}: {message}"


def load_routes(path: Path, mapping_dirs: Sequence[Path]) -> RouteTable:
    """Read and check ``routes.yaml``; every problem is reported at once."""
    doc = load_located_file(path)
    data = doc.data if doc.data is not None else {}
    ref_problems: list[str] = []
    data = _resolve_refs(doc, data, (), path.parent, ref_problems)
    if ref_problems:
        raise RouteError("\n".join(ref_problems))
    try:
        raw = RoutesFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc)
            problems.append(_located(doc, loc, f"{dotted}: {err['msg']}"))
        raise RouteError("\n".join(problems)) from None

    problems = []
    targets = _targets(doc, raw.targets, problems)
    routes: list[Route] = []
    seen: set[str] = set()
    for i, cfg in enumerate(raw.routes):
        here: tuple[str | int, ...] = ("routes", i)
        if cfg.name in seen:
            problems.append(_located(doc, (*here, "name"), f"duplicate route name {cfg.name!r}"))
        seen.add(cfg.name)
        if cfg.target not in raw.targets:
            hint = difflib.get_close_matches(cfg.target, raw.targets, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            problems.append(
                _located(doc, (*here, "target"), f"unknown target {cfg.target!r}{more}")
            )
        mapping = None
        if cfg.mapping:
            try:
                mapping = registry.load(cfg.mapping, list(mapping_dirs))
            except HubError as exc:
                problems.append(_located(doc, (*here, "mapping"), exc.message))
        exprs: dict[str, Expression | None] = {}
        for key in ("when", "ordering_key"):
            text = getattr(cfg, key)
            exprs[key] = None
            if text is not None:
                try:
                    exprs[key] = compile_expression(text)
                except ExpressionSyntaxError as exc:
                    problems.append(_located(doc, (*here, key), str(exc)))
        routes.append(
            Route(
                name=cfg.name,
                system=cfg.source.system,
                kind=cfg.source.kind,
                target=cfg.target,
                mapping=mapping,
                when=exprs["when"],
                ordering_key=exprs["ordering_key"],
                retry=cfg.retry,
            )
        )
    sources = _sources(doc, raw, targets, mapping_dirs, problems)
    if problems:
        raise RouteError("\n".join(problems))
    return RouteTable(routes=routes, targets=targets, file=str(path), sources=sources)


def _sources(
    doc: LocatedDocument,
    raw: RoutesFile,
    targets: dict[str, TargetConfig],
    mapping_dirs: Sequence[Path],
    problems: list[str],
) -> dict[str, SourceConfig]:
    """Check each source: a valid name, a known target that can poll, an inbound mapping."""
    found: dict[str, SourceConfig] = {}
    for name, cfg in raw.sources.items():
        here: tuple[str | int, ...] = ("sources", name)
        if not re.match(SOURCE_NAME, name):
            problems.append(
                f"{doc.at(here, key=True)}: source name {name!r} must be 1 to 64 letters, "
                "digits or _ . : -"
            )
        if cfg.target not in raw.targets:
            hint = difflib.get_close_matches(cfg.target, raw.targets, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            problems.append(
                _located(doc, (*here, "target"), f"unknown target {cfg.target!r}{more}")
            )
            continue
        target = targets.get(cfg.target)
        if target is None:
            continue  # the target itself is invalid and already reported
        if Capability.POLL not in target.adapter.capabilities:
            problems.append(
                _located(
                    doc,
                    (*here, "target"),
                    f"target {cfg.target!r} cannot be polled: its adapter {target.kind!r} "
                    "has no 'poll' capability",
                )
            )
            continue
        system = cfg.system or target.kind
        try:
            registry.find(system, cfg.kind, "inbound", list(mapping_dirs))
        except UnknownNameError:
            known = registry.discover(list(mapping_dirs))
            system_known = any(n.startswith(f"{system}/") for n in known)
            at = (*here, "system") if cfg.system and not system_known else (*here, "kind")
            advice = "" if cfg.system else " (set `system:` to the system the documents are from)"
            problems.append(
                _located(doc, at, f"no inbound mapping {system}/{cfg.kind}.inbound{advice}")
            )
            continue
        except HubError as exc:
            problems.append(_located(doc, (*here, "kind"), exc.message))
            continue
        found[name] = cfg.model_copy(update={"system": system})
    return found


def _targets(
    doc: LocatedDocument, raw: dict[str, dict[str, Any]], problems: list[str]
) -> dict[str, TargetConfig]:
    from hub.plugins import plugins

    registry = plugins().adapters
    found: dict[str, TargetConfig] = {}
    for name, spec in raw.items():
        here: tuple[str | int, ...] = ("targets", name)
        kind = spec.get("type")
        if not isinstance(kind, str):
            problems.append(_located(doc, here, f"target {name!r} needs a `type` (an adapter)"))
            continue
        if kind not in registry:
            known = ", ".join(a.name for a in registry) or "none"
            problems.append(
                _located(
                    doc, (*here, "type"), f"no adapter {kind!r} is installed (installed: {known})"
                )
            )
            continue
        adapter = registry.get(kind)
        try:
            options = adapter.Config.model_validate({k: v for k, v in spec.items() if k != "type"})
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                problems.append(
                    _located(
                        doc,
                        (*here, *loc),
                        f"targets.{name}.{'.'.join(map(str, loc))}: {err['msg']}",
                    )
                )
            continue
        found[name] = TargetConfig(kind, adapter, options)
    return found
