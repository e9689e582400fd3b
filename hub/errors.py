"""Every error the hub raises on purpose, in one tree.

::

    HubError                      base; ``status`` is what the HTTP layer answers with
    ├── ConfigError               hub.yaml, an O2C_ variable or a secret reference is wrong
    ├── SourceFileError           a YAML or CSV file cannot be read or parsed (file:line:column)
    ├── UnknownNameError          no canonical kind, target shape or transform of that name
    ├── MoneyError                an unknown currency or an amount that cannot be money
    └── MappingError
        ├── MappingCompileError   a mapping file is refused at load; one issue per problem
        └── MappingApplyError     a document could not be mapped; one issue per field
            └── ControlTotalError the mapped totals disagree with the source's own totals

Each class's docstring is its default message. Third-party exceptions are translated at
the boundary with ``raise ... from exc``; code above that boundary sees only these.
"""

from __future__ import annotations

from dataclasses import dataclass


class HubError(Exception):
    """The hub could not do what was asked."""

    status: int = 500

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(HubError):
    """The hub's configuration is invalid."""


class SourceFileError(HubError):
    """A configuration or mapping file could not be read."""

    status = 400


class UnknownNameError(HubError):
    """No such kind, shape or transform."""

    status = 404


class MoneyError(HubError):
    """The amount or currency is not valid money."""

    status = 422


@dataclass(frozen=True)
class Issue:
    """One problem, located: ``where`` is ``file:line:column`` or a field path."""

    where: str
    message: str
    field: str | None = None
    source: str | None = None
    rule: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class MappingError(HubError):
    """A mapping could not be used."""

    status = 422

    def __init__(self, issues: list[Issue], message: str | None = None) -> None:
        self.issues = list(issues)
        if message is None:
            message = "; ".join(str(i) for i in self.issues) or (self.__doc__ or "").strip()
        super().__init__(message)


class MappingCompileError(MappingError):
    """The mapping file is invalid and was not loaded."""

    status = 400


class MappingApplyError(MappingError):
    """The document does not satisfy the mapping or the canonical model."""


class ControlTotalError(MappingApplyError):
    """The mapped document's totals disagree with the source document's own totals."""
