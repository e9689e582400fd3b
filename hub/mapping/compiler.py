"""Turns a mapping file into a checked, ready-to-run tree — or refuses it with positions.

Everything that can be known without a document is checked here, once: the file's
structure, every JMESPath expression, every transform and its arguments, every output
field against the target model (unknown and read-only fields are refused), lookup
tables. Problems are collected and reported together as ``file:line:column: reason``.
"""

from __future__ import annotations

import csv
import difflib
import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from hub.errors import Issue, MappingCompileError, UnknownNameError
from hub.mapping.expressions import Expression, ExpressionSyntaxError, compile_expression
from hub.mapping.format import ControlSource, FieldSpec, MappingFile
from hub.mapping.shapes import (
    TargetType,
    accepts_any_field,
    field_names,
    resolve_shape,
    target_type,
)
from hub.mapping.transforms import (
    TRANSFORMS,
    ArgumentError,
    Fn,
    TransformContext,
    build_transform,
)
from hub.yamlsource import (
    LocatedDocument,
    Location,
    PathKey,
    load_located,
    load_located_file,
)

if TYPE_CHECKING:
    from hub.mapping.engine import MappingResult

NodeKind = Literal["value", "object", "list"]


@dataclass(frozen=True)
class CompiledTransform:
    name: str
    fn: Fn
    location: Location


@dataclass
class Node:
    """One compiled field spec."""

    name: str
    kind: NodeKind
    location: Location
    target: TargetType
    source: Expression | None = None
    scope_root: bool = False
    const: Any = None
    has_const: bool = False
    sequence: tuple[int, int] | None = None
    transforms: list[CompiledTransform] = field(default_factory=list)
    when: Expression | None = None
    children: dict[str, Node] = field(default_factory=dict)
    each: Expression | None = None
    where: Expression | None = None
    item: Node | None = None
    names: frozenset[str] = frozenset()
    """Field names read in this node's context (for the unmapped-fields policy)."""
    owns_context: bool = False
    """True when the node reads its own object (root, `from`, list item), not its parent's."""


@dataclass(frozen=True)
class ControlCheck:
    target: str
    source: Expression
    transforms: list[CompiledTransform]
    location: Location


@dataclass
class CompiledMapping:
    """A loaded mapping, ready to apply to any number of documents."""

    name: str
    file: str
    system: str
    kind: str
    direction: Literal["inbound", "outbound"]
    shape_name: str
    shape: type[BaseModel]
    declared_version: str
    content_hash: str
    root: Node
    unmapped_policy: Literal["ignore", "report", "reject"]
    unmapped_ignore: list[str]
    controls: list[ControlCheck]
    control_on_mismatch: Literal["reject", "flag"] | None
    control_tolerance: Decimal | None
    description: str | None = None

    def is_ignored(self, path: str) -> bool:
        """True when an unmapped source path matches an ``unmapped.ignore`` glob (cached)."""
        cache = self._ignored_cache
        found = cache.get(path)
        if found is None:
            found = bool(self._ignore_re.match(path)) if self.unmapped_ignore else False
            if len(cache) < 10_000:
                cache[path] = found
        return found

    @cached_property
    def _ignore_re(self) -> re.Pattern[str]:
        return re.compile("|".join(fnmatch.translate(p) for p in self.unmapped_ignore))

    @cached_property
    def _ignored_cache(self) -> dict[str, bool]:
        return {}

    @property
    def version(self) -> str:
        """Declared version plus content hash: recorded with every document produced."""
        return f"{self.declared_version}+sha256:{self.content_hash[:12]}"

    def apply(
        self,
        source: Any,
        *,
        explain: bool = False,
        on_mismatch: Literal["reject", "flag"] = "reject",
        tolerance: Decimal | None = None,
        force_on_mismatch: Literal["reject", "flag"] | None = None,
    ) -> MappingResult:
        """Map one document; see :func:`hub.mapping.engine.apply_mapping`."""
        from hub.mapping.engine import apply_mapping

        return apply_mapping(
            self,
            source,
            explain=explain,
            on_mismatch=on_mismatch,
            tolerance=tolerance,
            force_on_mismatch=force_on_mismatch,
        )


class _Compiler:
    def __init__(self, doc: LocatedDocument, base_dir: Path) -> None:
        self.doc = doc
        self.base_dir = base_dir
        self.issues: list[Issue] = []
        self.extra_bytes: list[bytes] = []
        self.root_names: set[str] = set()
        """Names read by `scope: root` fields anywhere: they count as read at the root."""

    def fail(self, path: PathKey, message: str, *, key: bool = False, offset: int = 0) -> None:
        loc = self.doc.at(path, key=key)
        if offset:
            loc = self._inside_value(loc, offset)
        self.issues.append(Issue(where=str(loc), message=message))

    def _inside_value(self, loc: Location, offset: int) -> Location:
        line = self.doc.line_text(loc.line)
        quoted = loc.column - 1 < len(line) and line[loc.column - 1] in "'\""
        return Location(loc.file, loc.line, loc.column + offset + (1 if quoted else 0))

    def expression(self, text: str | None, path: PathKey) -> Expression | None:
        if text is None:
            return None
        try:
            return compile_expression(text)
        except ExpressionSyntaxError as exc:
            self.fail(path, str(exc), offset=exc.position)
            return None

    def transforms(
        self, raw: list[str | dict[str, Any]], path: PathKey, ctx: TransformContext
    ) -> list[CompiledTransform]:
        out: list[CompiledTransform] = []
        for i, call in enumerate(raw):
            here = (*path, i)
            if isinstance(call, str):
                name, args, has_args, name_path = call, None, False, here
            elif isinstance(call, dict) and len(call) == 1:
                name, args = next(iter(call.items()))
                has_args, name_path = True, (*here, name)
            else:
                self.fail(here, "a transform is a name or a one-key mapping {name: arguments}")
                continue
            if name not in TRANSFORMS:
                hint = difflib.get_close_matches(name, TRANSFORMS, n=1)
                more = f"; did you mean {hint[0]!r}?" if hint else ""
                self.fail(name_path, f"unknown transform {name!r}{more}", key=has_args)
                continue
            try:
                fn = build_transform(name, args, has_args, ctx)
            except ArgumentError as exc:
                self.fail(name_path, str(exc), key=has_args)
                continue
            out.append(CompiledTransform(name, fn, self.doc.at(name_path, key=has_args)))
        return out

    def node(
        self,
        spec: FieldSpec,
        name: str,
        path: PathKey,
        target: TargetType,
        ctx: TransformContext,
        in_list: bool,
    ) -> Node:
        loc = self.doc.at(path, key=True) if path and path[-1] == name else self.doc.at(path)
        has_const = "const" in spec.model_fields_set
        sources = [s for s in ("from_", "const", "sequence") if s in spec.model_fields_set]
        if len(sources) > 1:
            labels = ", ".join("from" if s == "from_" else s for s in sources)
            self.fail(path, f"give only one of from, const, sequence (found {labels})")
        if spec.fields is not None and spec.each is None and (has_const or spec.sequence):
            self.fail(path, "`fields` builds an object; it cannot also take const or sequence")
        if spec.sequence is not None and not in_list:
            self.fail((*path, "sequence"), "`sequence` only counts items inside `each`", key=True)
        if spec.where is not None and spec.each is None:
            self.fail((*path, "where"), "`where` filters the items of `each`; add `each`", key=True)
        if spec.item is not None and spec.each is None:
            self.fail((*path, "item"), "`item` describes the items of `each`; add `each`", key=True)

        node = Node(
            name=name,
            kind="value",
            location=loc,
            target=target,
            source=self.expression(spec.from_, (*path, "from")),
            scope_root=spec.scope == "root",
            const=spec.const,
            has_const=has_const,
            sequence=(spec.sequence.start, spec.sequence.step) if spec.sequence else None,
            transforms=self.transforms(spec.transforms, (*path, "transforms"), ctx),
            when=self.expression(spec.when, (*path, "when")),
        )
        if node.scope_root and node.source is not None:
            self.root_names |= node.source.names
        if spec.each is not None:
            for key in ("from_", "const", "sequence", "transforms"):
                if key in spec.model_fields_set:
                    label = "from" if key == "from_" else key
                    self.fail(
                        (*path, label),
                        f"`{label}` does not apply to a list built with `each`; "
                        "put it under `item` (values) or in `fields` (objects)",
                        key=True,
                    )
            node.kind = "list"
            node.each = self.expression(spec.each, (*path, "each"))
            if target.kind not in ("list", "any"):
                self.fail(path, f"`each` builds a list but {name!r} is a {target.describe()}")
            inner = target.inner if target.kind == "list" and target.inner else TargetType("any")
            item_path = (*path, "item") if spec.item is not None else path
            item_spec = spec.item or FieldSpec.model_validate(
                {"fields": spec.fields} if spec.fields is not None else {"from": "@"}
            )
            if not ({"from_", "const", "sequence", "fields", "each"} & item_spec.model_fields_set):
                item_spec = item_spec.model_copy(update={"from_": "@"})
                item_spec.model_fields_set.add("from_")
            if spec.fields is not None and spec.item is not None:
                self.fail(path, "give either `fields` (objects) or `item` (values), not both")
            node.item = self.node(item_spec, name, item_path, inner, ctx, in_list=True)
            node.item.owns_context = True
            node.where = self.expression(spec.where, (*path, "where"))
        elif spec.fields is not None:
            node.kind = "object"
            if target.kind == "model" and target.model is not None:
                writable, computed = field_names(target.model)
                for child_name, child_spec in spec.fields.items():
                    child_path = (*path, "fields", child_name)
                    if child_name in computed:
                        self.fail(
                            child_path,
                            f"{child_name!r} of {target.model.__name__} is computed and cannot "
                            "be mapped",
                            key=True,
                        )
                        continue
                    if child_name not in writable and accepts_any_field(target.model):
                        node.children[child_name] = self.node(
                            child_spec, child_name, child_path, TargetType("any"), ctx, in_list
                        )
                        continue
                    if child_name not in writable:
                        hint = difflib.get_close_matches(child_name, writable, n=1)
                        more = f"; did you mean {hint[0]!r}?" if hint else ""
                        self.fail(
                            child_path,
                            f"unknown field {child_name!r} of {target.model.__name__}{more}",
                            key=True,
                        )
                        continue
                    child_target = target_type(target.model.model_fields[child_name].annotation)
                    node.children[child_name] = self.node(
                        child_spec, child_name, child_path, child_target, ctx, in_list
                    )
            elif target.kind in ("dict", "any"):
                inner = target.inner if target.inner else TargetType("any")
                for child_name, child_spec in spec.fields.items():
                    child_path = (*path, "fields", child_name)
                    node.children[child_name] = self.node(
                        child_spec, child_name, child_path, inner, ctx, in_list
                    )
            else:
                self.fail(path, f"`fields` builds an object but {name!r} is a {target.describe()}")
        elif spec.from_ is None and not has_const and spec.sequence is None:
            self.fail(path, "a field needs one of from, const, sequence, fields or each")

        node.owns_context = node.source is not None
        names: set[str] = set()
        if node.kind == "object":
            for child in node.children.values():
                names |= _context_names(child)
        node.names = frozenset(names)
        if node.kind == "list" and node.item is not None and node.where is not None:
            node.item.names = node.item.names | node.where.names
        return node

    def lookups(self, raw: MappingFile) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {}
        for name, table in raw.lookups.items():
            if isinstance(table, dict):
                tables[name] = {str(k): v for k, v in table.items()}
                continue
            path = (self.base_dir / table.csv).resolve()
            try:
                data = path.read_bytes()
                rows = list(csv.DictReader(data.decode("utf-8-sig").splitlines()))
            except (OSError, UnicodeDecodeError) as exc:
                self.fail(("lookups", name, "csv"), f"cannot read lookup CSV {table.csv}: {exc}")
                continue
            self.extra_bytes.append(data)
            header = rows[0].keys() if rows else []
            missing = [c for c in (table.key, table.value) if c not in header]
            if missing:
                self.fail(
                    ("lookups", name),
                    f"{table.csv} has no column {missing[0]!r} (columns: {', '.join(header)})",
                )
                continue
            tables[name] = {row[table.key]: row[table.value] for row in rows}
        return tables


def _context_names(node: Node) -> frozenset[str]:
    """Names a node reads from its parent's context."""
    names: set[str] = set()
    if node.scope_root:
        return frozenset()
    for expr in (node.source, node.when, node.each):
        if expr is not None:
            names |= expr.names
    if node.kind == "object" and node.source is None:
        names |= node.names
    return frozenset(names)


def _pydantic_issues(doc: LocatedDocument, exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors():
        path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        path = tuple("from" if p == "from_" else p for p in path)
        is_extra = err["type"] == "extra_forbidden"
        loc = doc.at(path, key=is_extra)
        dotted = ".".join(str(p) for p in path) or "(top level)"
        msg = f"unknown key {path[-1]!r}" if is_extra and path else f"{dotted}: {err['msg']}"
        issues.append(Issue(where=str(loc), message=msg))
    return issues


def compile_mapping(doc: LocatedDocument, name: str, base_dir: Path) -> CompiledMapping:
    """Compile a parsed mapping file; raises MappingCompileError listing every problem."""
    if not isinstance(doc.data, dict):
        raise MappingCompileError([Issue(str(doc.at(())), "a mapping file must be a YAML mapping")])
    try:
        raw = MappingFile.model_validate(doc.data)
    except ValidationError as exc:
        raise MappingCompileError(_pydantic_issues(doc, exc)) from None

    compiler = _Compiler(doc, base_dir)
    shape_name = raw.shape or (f"canonical.{raw.kind}" if raw.direction == "inbound" else "")
    if not shape_name:
        compiler.fail((), "an outbound mapping must name its `shape`, e.g. sap.A_SalesOrder")
        raise MappingCompileError(compiler.issues)
    try:
        shape = resolve_shape(shape_name)
    except UnknownNameError as exc:
        compiler.fail(("shape",) if raw.shape else ("kind",), exc.message)
        raise MappingCompileError(compiler.issues) from None

    ctx = TransformContext(lookups=compiler.lookups(raw))
    root_spec = FieldSpec.model_validate({"fields": raw.fields})
    root = compiler.node(root_spec, "", (), TargetType("model", model=shape), ctx, False)
    # positions for top-level fields live under ("fields", name)
    controls: list[ControlCheck] = []
    if raw.control_totals is not None:
        for target, src in raw.control_totals.checks.items():
            path: PathKey = ("control_totals", "checks", target)
            _check_output_path(compiler, shape, target, path)
            controls.append(_control(compiler, ctx, target, src, path))
    if compiler.issues:
        raise MappingCompileError(compiler.issues)
    root.owns_context = True
    root.names = root.names | compiler.root_names
    for check in controls:
        root.names = root.names | check.source.names

    digest = hashlib.sha256(doc.text.encode("utf-8"))
    for extra in compiler.extra_bytes:
        digest.update(extra)
    return CompiledMapping(
        name=name,
        file=doc.file,
        system=raw.system,
        kind=raw.kind,
        direction=raw.direction,
        shape_name=shape_name,
        shape=shape,
        declared_version=str(raw.version),
        content_hash=digest.hexdigest(),
        root=root,
        unmapped_policy=raw.unmapped.policy,
        unmapped_ignore=raw.unmapped.ignore,
        controls=controls,
        control_on_mismatch=raw.control_totals.on_mismatch if raw.control_totals else None,
        control_tolerance=raw.control_totals.tolerance if raw.control_totals else None,
        description=raw.description,
    )


def _check_output_path(
    compiler: _Compiler, shape: type[BaseModel], dotted: str, path: PathKey
) -> None:
    model: type[BaseModel] | None = shape
    for part in dotted.split("."):
        if model is None:
            compiler.fail(path, f"{dotted!r}: {part!r} is below a plain value", key=True)
            return
        annotation: Any
        if part in model.model_fields:
            annotation = model.model_fields[part].annotation
        elif part in model.model_computed_fields:
            annotation = model.model_computed_fields[part].return_type
        else:
            compiler.fail(path, f"{dotted!r}: {model.__name__} has no field {part!r}", key=True)
            return
        kind = target_type(annotation)
        model = kind.model if kind.kind == "model" else None


def _control(
    compiler: _Compiler, ctx: TransformContext, target: str, src: ControlSource, path: PathKey
) -> ControlCheck:
    shorthand = isinstance(compiler.doc.data["control_totals"]["checks"][target], str)
    expr = compiler.expression(src.from_, path if shorthand else (*path, "from"))
    transforms = compiler.transforms(src.transforms, (*path, "transforms"), ctx)
    return ControlCheck(
        target=target,
        source=expr or compile_expression("`null`"),
        transforms=transforms,
        location=compiler.doc.at(path, key=True),
    )


def load_mapping_text(text: str, file: str, name: str | None = None) -> CompiledMapping:
    """Compile mapping text (tests, previews); relative CSV lookups resolve from cwd."""
    doc = load_located(text, file)
    return compile_mapping(doc, name or Path(file).stem, Path(file).parent)


def load_mapping_file(path: Path, name: str | None = None) -> CompiledMapping:
    """Read and compile a mapping file."""
    return compile_mapping(load_located_file(path), name or path.stem, path.parent)
