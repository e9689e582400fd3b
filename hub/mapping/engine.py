"""Applies a compiled mapping to one document: evaluate, validate, check control totals.

Every problem in a document is reported, not just the first: the output field, the
concrete source path (``items[3].qty_ordered``), the rule and the mapping's YAML line.
A value that resolves to nothing is left out, so the target model says plainly that a
required field is missing — never a silent null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from hub.errors import ControlTotalError, Issue, MappingApplyError
from hub.mapping.compiler import CompiledMapping, CompiledTransform, ControlCheck, Node
from hub.mapping.expressions import ExpressionRuntimeError, is_truthy
from hub.mapping.transforms import TransformError, _to_decimal

_OMIT = object()


@dataclass(frozen=True)
class ExplainEntry:
    """Where one output value came from."""

    field: str
    source: str
    value: Any
    raw: Any
    transforms: list[str]
    location: str


@dataclass(frozen=True)
class Discrepancy:
    """A control total the mapped document does not reproduce."""

    field: str
    source: str
    mapped: Decimal
    expected: Decimal

    @property
    def difference(self) -> Decimal:
        return self.mapped - self.expected

    def __str__(self) -> str:
        return (
            f"{self.field} = {self.mapped} but source {self.source} = {self.expected} "
            f"(difference {self.difference:+})"
        )


@dataclass
class MappingResult:
    """The mapped document and everything learnt while mapping it."""

    document: BaseModel
    mapping: str
    mapping_version: str
    explain: list[ExplainEntry] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Accepted despite a control-total discrepancy (policy ``flag``)."""
        return bool(self.discrepancies)


@dataclass
class _Run:
    mapping: CompiledMapping
    root: Any
    explain: bool
    issues: list[Issue] = field(default_factory=list)
    entries: list[ExplainEntry] = field(default_factory=list)
    trace: dict[tuple[str | int, ...], tuple[Node, str]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    failed: set[tuple[str | int, ...]] = field(default_factory=set)

    def error(
        self,
        node: Node,
        out: tuple[str | int, ...],
        source: str,
        rule: str,
        msg: str,
        where: str | None = None,
    ) -> None:
        self.failed.add(out)
        self.issues.append(
            Issue(
                where=where or str(node.location),
                message=f"{_dotted(out)}: {msg} (source {source})",
                field=_dotted(out),
                source=source,
                rule=rule,
            )
        )


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(document)"


def _join(ctx_path: str, expr_text: str, simple: bool) -> str:
    if not ctx_path:
        return expr_text
    if expr_text == "@":
        return ctx_path
    return f"{ctx_path}.{expr_text}" if simple else f"{ctx_path} → {expr_text}"


def _search(
    run: _Run, node: Node, expr_ctx: Any, out: tuple[str | int, ...], src: str, expr: Any
) -> Any:
    try:
        return expr.search(expr_ctx)
    except ExpressionRuntimeError as exc:
        run.error(node, out, src, "expression", str(exc))
        return _OMIT


def _apply_transforms(
    run: _Run,
    node: Node,
    transforms: list[CompiledTransform],
    value: Any,
    out: tuple[str | int, ...],
    src: str,
) -> Any:
    for t in transforms:
        try:
            value = t.fn(value)
        except TransformError as exc:
            run.error(node, out, src, exc.rule, str(exc), where=str(t.location))
            return _OMIT
    return value


def _evaluate(
    run: _Run, node: Node, ctx: Any, ctx_path: str, out: tuple[str | int, ...], index: int | None
) -> Any:
    if node.when is not None:
        cond = _search(run, node, ctx, out, _join(ctx_path, node.when.text, False), node.when)
        if cond is _OMIT or not is_truthy(cond):
            return _OMIT

    if node.kind == "list":
        return _evaluate_list(run, node, ctx, ctx_path, out)

    src = ctx_path or "(document)"
    value: Any
    if node.has_const:
        value, src = node.const, "const"
    elif node.sequence is not None:
        start, step = node.sequence
        value, src = start + (index or 0) * step, "sequence"
    elif node.source is not None:
        base, base_path = (run.root, "") if node.scope_root else (ctx, ctx_path)
        src = _join(base_path, node.source.text, node.source.is_simple_path)
        value = _search(run, node, base, out, src, node.source)
        if value is _OMIT:
            return _OMIT
    else:
        value = ctx

    if node.kind == "object":
        if node.transforms:  # e.g. `required` on an object, or a default object
            value = _apply_transforms(run, node, node.transforms, value, out, src)
            if value is _OMIT:
                return _OMIT
        if value is None:
            run.trace[out] = (node, src)
            return _OMIT
        if not isinstance(value, dict):
            run.error(node, out, src, "type", f"expected an object, got {type(value).__name__}")
            return _OMIT
        return _evaluate_object(run, node, value, src if node.source else ctx_path, out, index)

    raw = value
    value = _apply_transforms(run, node, node.transforms, value, out, src)
    run.trace[out] = (node, src)
    if value is _OMIT or value is None:
        return _OMIT
    if run.explain:
        run.entries.append(
            ExplainEntry(
                field=_dotted(out),
                source=src,
                value=value,
                raw=raw,
                transforms=[t.name for t in node.transforms],
                location=str(node.location),
            )
        )
    return value


def _evaluate_object(
    run: _Run,
    node: Node,
    ctx: dict[str, Any],
    ctx_path: str,
    out: tuple[str | int, ...],
    index: int | None,
) -> Any:
    result: dict[str, Any] = {}
    for name, child in node.children.items():
        value = _evaluate(run, child, ctx, ctx_path, (*out, name), index)
        if value is not _OMIT:
            result[name] = value
    if node.owns_context:
        _check_unmapped(run, node, ctx, ctx_path)
    run.trace.setdefault(out, (node, ctx_path or "(document)"))
    return result


def _evaluate_list(
    run: _Run, node: Node, ctx: Any, ctx_path: str, out: tuple[str | int, ...]
) -> Any:
    assert node.each is not None
    assert node.item is not None
    each_src = _join(ctx_path, node.each.text, node.each.is_simple_path)
    items = _search(run, node, ctx, out, each_src, node.each)
    run.trace[out] = (node, each_src)
    if items is _OMIT or items is None:
        return _OMIT
    if not isinstance(items, list):
        run.error(node, out, each_src, "type", f"expected a list, got {type(items).__name__}")
        return _OMIT
    result: list[Any] = []
    for i, item in enumerate(items):
        item_path = f"{each_src}[{i}]" if node.each.is_simple_path else f"({each_src})[{i}]"
        if node.where is not None:
            keep = _search(run, node, item, out, item_path, node.where)
            if keep is _OMIT or not is_truthy(keep):
                continue
        out_i = (*out, len(result))
        value = _evaluate(run, node.item, item, item_path, out_i, len(result))
        if value is not _OMIT:
            result.append(value)
    return result


def _check_unmapped(run: _Run, node: Node, ctx: dict[str, Any], ctx_path: str) -> None:
    mapping = run.mapping
    if mapping.unmapped_policy == "ignore":
        return
    generic = _generic(ctx_path)
    for key in ctx:
        if key in node.names:
            continue
        pattern_path = f"{generic}.{key}" if generic else key
        if mapping.is_ignored(pattern_path):
            continue
        if pattern_path not in run.unmapped:
            run.unmapped.append(pattern_path)
        if mapping.unmapped_policy == "reject":
            concrete = f"{ctx_path}.{key}" if ctx_path else key
            run.issues.append(
                Issue(
                    where=str(node.location),
                    message=f"source field {concrete} is not mapped (unmapped policy: reject)",
                    source=concrete,
                    rule="unmapped",
                )
            )


def _generic(path: str) -> str:
    """items[3].product_option → items[].product_option, for ignore patterns."""
    out, skip = [], False
    for ch in path:
        if ch == "[":
            out.append("[]")
            skip = True
        elif ch == "]":
            skip = False
        elif not skip:
            out.append(ch)
    return "".join(out)


def _locate_validation_error(
    run: _Run, loc: tuple[str | int, ...]
) -> tuple[Node | None, str, bool]:
    probe = loc
    while probe:
        if probe in run.trace:
            node, src = run.trace[probe]
            return node, src, probe == loc
        probe = probe[:-1]
    if () in run.trace:
        root_node, root_src = run.trace[()]
        return root_node, root_src, loc == ()
    return None, "(document)", loc == ()


def apply_mapping(
    mapping: CompiledMapping,
    source: Any,
    *,
    explain: bool = False,
    on_mismatch: Literal["reject", "flag"] = "reject",
    tolerance: Decimal | None = None,
    force_on_mismatch: Literal["reject", "flag"] | None = None,
) -> MappingResult:
    """Map ``source`` (parsed JSON, Decimal numbers; or a model for outbound mappings).

    Control totals: the mapping's own ``on_mismatch`` and ``tolerance`` win over the
    defaults passed here (the hub config's); ``force_on_mismatch`` overrides both (a
    one-off test run). Raises MappingApplyError with every problem found, or
    ControlTotalError when the totals disagree and the policy is ``reject``.
    """
    if isinstance(source, dict) and mapping.direction == "outbound":
        source = _canonical_input(mapping, source)
    if isinstance(source, BaseModel):
        source = source.model_dump(mode="python")
    if not isinstance(source, dict):
        raise MappingApplyError(
            [Issue("(document)", f"expected a JSON object, got {type(source).__name__}")]
        )
    run = _Run(mapping=mapping, root=source, explain=explain)
    output = _evaluate(run, mapping.root, source, "", (), None)
    if output is _OMIT:
        output = {}
    document: BaseModel | None = None
    try:
        document = mapping.shape.model_validate(output)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            if any(loc[: len(f)] == f for f in run.failed):
                continue  # already reported where the value was produced
            node, src, exact = _locate_validation_error(run, loc)
            where = str(node.location) if node else mapping.file
            rule = str(err["type"])
            msg = str(err["msg"])
            if rule == "missing":
                msg = "required field has no value" if exact else "required field is not mapped"
            field_name = _dotted(loc)
            run.issues.append(
                Issue(
                    where=where,
                    message=f"{field_name}: {msg} (source {src})",
                    field=field_name,
                    source=src,
                    rule=rule,
                )
            )
    if run.issues:
        raise MappingApplyError(run.issues)
    assert document is not None

    result = MappingResult(
        document=document,
        mapping=mapping.name,
        mapping_version=mapping.version,
        explain=run.entries,
        unmapped=run.unmapped,
    )
    policy = force_on_mismatch or mapping.control_on_mismatch or on_mismatch
    limit = mapping.control_tolerance
    if limit is None:
        limit = tolerance if tolerance is not None else Decimal(0)
    _control_totals(mapping, run, result, policy, limit)
    return result


def _read_output(document: BaseModel, dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def _control_totals(
    mapping: CompiledMapping,
    run: _Run,
    result: MappingResult,
    policy: Literal["reject", "flag"],
    limit: Decimal,
) -> None:
    if not mapping.controls:
        return
    problems: list[Issue] = []
    for check in mapping.controls:
        expected = _control_source(run, check, problems)
        if expected is None:
            continue
        mapped = _read_output(result.document, check.target)
        mapped_dec = Decimal(0) if mapped is None else _to_decimal(mapped)
        if abs(mapped_dec - expected) > limit:
            result.discrepancies.append(
                Discrepancy(check.target, check.source.text, mapped_dec, expected)
            )
    if problems:
        raise MappingApplyError(problems)
    if result.discrepancies and policy == "reject":
        raise ControlTotalError(
            [
                Issue(
                    where=mapping.file,
                    message=f"control total: {d}",
                    field=d.field,
                    source=d.source,
                    rule="control_total",
                )
                for d in result.discrepancies
            ]
        )


def _control_source(run: _Run, check: ControlCheck, problems: list[Issue]) -> Decimal | None:
    try:
        value = check.source.search(run.root)
        for t in check.transforms:
            value = t.fn(value)
        if value is None:
            problems.append(
                Issue(
                    str(check.location),
                    f"control total {check.target}: source {check.source.text} has no value",
                    field=check.target,
                    source=check.source.text,
                    rule="control_total",
                )
            )
            return None
        return _to_decimal(value)
    except (ExpressionRuntimeError, TransformError) as exc:
        problems.append(
            Issue(
                str(check.location),
                f"control total {check.target}: {exc}",
                field=check.target,
                source=check.source.text,
                rule="control_total",
            )
        )
        return None


def _canonical_input(mapping: CompiledMapping, source: dict[str, Any]) -> Any:
    """An outbound mapping reads a canonical document: validate JSON input as one first,
    so amounts are Decimals and dates are dates, exactly as inside the hub."""
    from hub.canonical import model_for

    model = model_for(mapping.kind)
    data = {k: v for k, v in source.items() if k not in model.model_computed_fields}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MappingApplyError(
            [
                Issue(
                    "(input)",
                    f"{_dotted(tuple(e['loc']))}: {e['msg']}",
                    field=_dotted(tuple(e["loc"])),
                    rule=str(e["type"]),
                )
                for e in exc.errors()
            ],
        ) from None
