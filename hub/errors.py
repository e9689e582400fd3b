"""Every error the hub raises on purpose, in one tree.

::

    HubError                      base; ``status`` is what the HTTP layer answers with
    ├── ConfigError               hub.yaml, an O2C_ variable or a secret reference is wrong
    ├── SourceFileError           a YAML or CSV file cannot be read or parsed (file:line:column)
    ├── UnknownNameError          no canonical kind, target shape or transform of that name
    ├── MoneyError                an unknown currency or an amount that cannot be money
    ├── MappingError
    │   ├── MappingCompileError   a mapping file is refused at load; one issue per problem
    │   └── MappingApplyError     a document could not be mapped; one issue per field
    │       └── ControlTotalError the mapped totals disagree with the source's own totals
    ├── RouteError                routes.yaml is invalid (file:line:column)
    ├── StoreError                the database cannot be reached or is not migrated
    ├── NotFoundError             no message, delivery or quarantined document with that id
    └── DeliveryError             a target refused or failed a delivery (raised by adapters)
        ├── TransientError        worth retrying later: 5xx, overload, a lost connection
        │   ├── TargetUnavailable connection refused or reset, DNS failure
        │   ├── TargetTimeout     no answer in time (the call may or may not have landed)
        │   └── RateLimited       429 / 503 with Retry-After: wait at least ``retry_after``
        └── PermanentError        retrying cannot help: fix data or config, then replay
            ├── AuthFailed        401 / 403: credentials wrong or lacking rights
            ├── Rejected          400 / 404 / 409 / 422: the target refused the document
            └── MasterDataMissing an unknown customer, material, ... (names it)

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


class RouteError(HubError):
    """The routes configuration is invalid."""

    status = 400


class StoreError(HubError):
    """The hub's database is unavailable or not at the expected schema version."""

    status = 503


class NotFoundError(HubError):
    """No such message, delivery or quarantined document."""

    status = 404


class DeliveryError(HubError):
    """Delivery to a target failed.

    ``target`` names the target; ``status_code`` is the target's HTTP status when there
    was one; ``detail`` is the target's own message (secrets already filtered).
    """

    status = 502

    def __init__(
        self,
        message: str | None = None,
        *,
        target: str | None = None,
        status_code: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.target = target
        self.status_code = status_code
        self.detail = detail


class TransientError(DeliveryError):
    """The target failed in a way that may pass; the delivery will be retried."""


class TargetUnavailable(TransientError):
    """The target could not be reached (connection refused, reset or DNS failure)."""


class TargetTimeout(TransientError):
    """The target did not answer in time; the call may have landed, so the retry must
    be idempotent."""


class RateLimited(TransientError):
    """The target asked us to slow down (429 or 503 with Retry-After)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        target: str | None = None,
        status_code: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, target=target, status_code=status_code, detail=detail)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """The target refused the delivery; retrying will not help until data or config change."""


class AuthFailed(PermanentError):
    """The target refused our credentials (401/403); check the target's secret."""


class Rejected(PermanentError):
    """The target rejected the document as invalid (400/404/409/422)."""


class MasterDataMissing(PermanentError):
    """The target lacks master data the document refers to (customer, material, ...).

    ``missing`` names what is missing verbatim, e.g. ``material WG-4410-9`` or ``customer
    1000099``: dead letters are grouped by it (numbers included), so once that master
    data exists its whole group can be replayed.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        missing: str | None = None,
        target: str | None = None,
        status_code: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, target=target, status_code=status_code, detail=detail)
        self.missing = missing
