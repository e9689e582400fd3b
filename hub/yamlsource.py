"""YAML loading that remembers where every value came from.

Mappings and config are written by people; an error that says ``routes.yaml:14:7`` is
fixed in seconds, one that says "invalid value" is not. PyYAML's composer already keeps a
mark on every node, so we build plain Python values from the node tree ourselves and keep
a side table from each value's path to its position.

Numbers with a fraction are read as :class:`~decimal.Decimal`, never float: money and
tolerances in these files must mean exactly what was typed. A value YAML recognises but
cannot build (the date ``2026-13-01``, an unknown ``!tag``) is a located
:class:`~hub.errors.SourceFileError` like a syntax error, never a bare ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from hub.errors import SourceFileError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in a named file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class LocatedDocument:
    """Plain data plus the position of every mapping key and value in its source."""

    data: Any
    file: str
    text: str = ""
    keys: dict[PathKey, Location] = field(default_factory=dict)
    values: dict[PathKey, Location] = field(default_factory=dict)

    def at(self, path: PathKey, *, key: bool = False) -> Location:
        """Position of ``path``; falls back to the nearest enclosing node that has one."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Location(self.file, 1, 1))

    def line_text(self, line: int) -> str:
        """The source text of a 1-based line, for pointing inside a value."""
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def _mark(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _key_text(key: object) -> str:
    """Mapping keys as text, spelt as YAML/JSON spell them (true, not True)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return key if isinstance(key, str) else str(key)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.doc = LocatedDocument(data=None, file=file)
        self._constructor = SafeConstructor()

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.doc.values[path] = _mark(self.file, node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            own = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
            self._constructor.flatten_mapping(node)
            explicit: set[str | int] = set()
            for key_node, value_node in node.value:
                key = self.build_scalar(key_node)
                if not isinstance(key, str | int | bool | float | Decimal) and key is not None:
                    raise SourceFileError(
                        f"{_mark(self.file, key_node)}: mapping keys must be strings"
                    )
                key_s: str | int = _key_text(key)
                if key_s in explicit:
                    raise SourceFileError(f"{_mark(self.file, key_node)}: duplicate key {key_s!r}")
                if id(key_node) in own:  # merged (<<) keys may be overridden, own keys not
                    explicit.add(key_s)
                self.doc.keys[(*path, key_s)] = _mark(self.file, key_node)
                out[key_s] = self.build(value_node, (*path, key_s))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.build_scalar(node)

    def build_scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise SourceFileError(f"{_mark(self.file, node)}: expected a plain value")
        if node.tag == _FLOAT_TAG:
            text = str(node.value).replace("_", "")
            try:
                return Decimal(text)
            except InvalidOperation:  # .inf / .nan: let YAML say what it is
                pass
        try:
            return self._constructor.construct_object(node)
        except ValueError as exc:  # 2026-13-01 matches YAML's timestamp but is no day
            what = "a date" if node.tag == _TIMESTAMP_TAG else "a value"
            raise SourceFileError(
                f"{_mark(self.file, node)}: {node.value!r} is not {what}: {exc}"
            ) from None


def load_located(text: str, file: str) -> LocatedDocument:
    """Parse one YAML document, keeping positions. Syntax errors name file:line:column."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise SourceFileError(f"{where}: YAML syntax error: {exc.problem}") from exc
    builder = _Builder(file)
    builder.doc.text = text
    if node is None:
        builder.doc.data = None
        return builder.doc
    try:
        builder.doc.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:  # e.g. an unknown !tag, a bad << merge
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise SourceFileError(f"{where}: YAML error: {exc.problem or exc.context}") from exc
    return builder.doc


def read_source_text(path: Path) -> str:
    """Read a UTF-8 file; a missing or unreadable file is a one-line SourceFileError."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SourceFileError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceFileError(f"{path}: cannot read: {exc}") from exc


def load_located_file(path: Path) -> LocatedDocument:
    """Read and parse ``path``, keeping positions."""
    return load_located(read_source_text(path), str(path))
