"""The adapter conformance kit: one test class every adapter's tests subclass.

An adapter is conformant when, against its simulator, it validates its configuration,
reports health and refused credentials clearly, parses and maps every sample, delivers,
has ONE effect per delivery however often it is delivered (also after an answer was lost
in a timeout), classifies every failure the way the queue expects, and never lets a
secret into an error. Writing the tests for a new adapter takes a few lines::

    from hub.testing.conformance import AdapterConformance, ConformanceHarness

    class TestAcmeConformance(AdapterConformance):
        adapter_class = AcmeAdapter
        scenario_file = Path(acme.__file__).parent / "conformance.yaml"

        @pytest.fixture(scope="class")
        @classmethod
        def harness(cls) -> Iterator[ConformanceHarness]:
            with run_acme_simulator() as url:
                yield AcmeHarness(url)

The harness (one small class, :class:`ConformanceHarness`) is what knows the simulator:
configurations, fault injection, preparing what a delivery needs, counting records. The
scenarios are data (YAML, :class:`Scenarios`): invalid configurations with the field each
must be refused for, samples with what they must map to, deliveries, and any status an
adapter classifies differently from the hub's table (:mod:`hub.queue.disposition`).

The kit needs pytest (a test-time dependency); nothing in the hub imports this module.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.adapter import Adapter, Capability
from hub.errors import (
    AuthFailed,
    DeliveryError,
    PermanentError,
    RateLimited,
    TargetTimeout,
    TargetUnavailable,
)
from hub.mapping import registry
from hub.paths import bundled_mappings_dir
from hub.queue.disposition import classify_status
from hub.targets.base import Delivery, DeliveryResult

__all__ = [
    "CLASSIFIED_STATUSES",
    "AdapterConformance",
    "ConformanceHarness",
    "DeliveryScenario",
    "Fault",
    "SampleScenario",
    "Scenarios",
]

T = TypeVar("T")

CLASSIFIED_STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
"""The statuses every adapter is checked against."""


# --------------------------------------------------------------------------- scenarios


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InvalidConfig(_Strict):
    """A configuration the adapter must refuse, and a fragment the refusal must contain."""

    config: dict[str, Any]
    error: str = Field(min_length=1, description="e.g. the field name: base_url")


class SampleScenario(_Strict):
    """Source documents (files, globs relative to the scenario file) and what each maps to."""

    system: str
    kind: str
    files: list[str] = Field(min_length=1)
    expect: dict[str, Any] = Field(
        default_factory=dict,
        description="Canonical fields every sample must have, dotted paths to values; "
        "the value `present` only checks that the field is set.",
    )
    expect_each: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per file name: canonical fields and values."
    )


class DeliveryScenario(_Strict):
    """One delivery the adapter must make exactly once."""

    name: str
    kind: str
    setup: dict[str, Any] = Field(
        default_factory=dict, description="What the harness prepares; harness-specific."
    )
    creates: bool = Field(
        True,
        description="The delivery creates a record (false: it sets a value, like stock).",
    )


class Scenarios(_Strict):
    """The data half of a conformance run (the YAML file)."""

    adapter: str
    invalid_configs: list[InvalidConfig] = Field(default_factory=list)
    samples: list[SampleScenario] = Field(default_factory=list)
    deliveries: list[DeliveryScenario] = Field(min_length=1)
    lookup: bool = Field(
        True,
        description="Check `lookup` (false where the target itself recognises a repeat and "
        "offers no read, e.g. SAP's journal entry service).",
    )
    statuses: list[int] = Field(
        default_factory=lambda: list(CLASSIFIED_STATUSES),
        description="The HTTP statuses to check (a transport without HTTP, like RFC, "
        "lists none; timeouts, refused connections and credentials are checked anyway).",
    )
    classification: dict[int, str] = Field(
        default_factory=dict,
        description="Status → hub error class name, where the adapter differs from the "
        "hub's disposition table (hub.queue.disposition; 429, and 503 with Retry-After, "
        "are RateLimited there).",
    )

    @classmethod
    def load(cls, path: Path) -> Scenarios:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise AssertionError(f"{path}: not a conformance scenario file:\n{exc}") from exc


# --------------------------------------------------------------------------- harness


@dataclass(frozen=True)
class Fault:
    """What the simulator does wrong until :meth:`ConformanceHarness.clear_faults`.

    ``status``: every call answers this HTTP status (with ``Retry-After: retry_after`` when
    set). ``slow``: every call answers after longer than the configured timeout.
    ``land_then_timeout``: a call that creates a record commits it, then holds the answer
    back past the timeout.
    """

    kind: Literal["status", "slow", "land_then_timeout"]
    status: int = 0
    retry_after: int | None = None


class ConformanceHarness(ABC):
    """The simulator side of a conformance run, written once per adapter."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """A valid configuration (as routes.yaml gives it) pointing at the simulator, with
        a timeout of a second or two (the timeout checks wait for it)."""

    @abstractmethod
    def bad_credentials(self) -> dict[str, Any]:
        """``config()`` with credentials the simulator refuses."""

    @abstractmethod
    def unreachable(self) -> dict[str, Any]:
        """``config()`` pointing at a loopback port nothing listens on."""

    @abstractmethod
    def secrets(self) -> list[str]:
        """Every credential value in ``config()`` and ``bad_credentials()``."""

    @abstractmethod
    def inject(self, fault: Fault) -> None:
        """Make the simulator misbehave (see :class:`Fault`)."""

    @abstractmethod
    def clear_faults(self) -> None:
        """Back to answering normally."""

    @abstractmethod
    def prepare(self, scenario: DeliveryScenario, key: str) -> Delivery:
        """Get the simulator ready for the scenario (e.g. create the order it invoices) and
        return its delivery with ``key`` as the idempotency key."""

    @abstractmethod
    def records(self, scenario: DeliveryScenario, delivery: Delivery) -> int:
        """How many records in the simulator the delivery's effect left (want: 1)."""

    def close(self) -> None:  # noqa: B027 - a default: nothing to release
        """Release the harness's own connections (the fixture calls it)."""


# --------------------------------------------------------------------------- helpers


def _at(document: Any, dotted: str) -> Any:
    value = document
    for part in dotted.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _same(found: Any, wanted: Any) -> bool:
    if wanted == "present":
        return found not in (None, "", [], {})
    if isinstance(found, Decimal) or (
        isinstance(wanted, float | int) and not isinstance(wanted, bool)
    ):
        try:
            return Decimal(str(found)) == Decimal(str(wanted))
        except ArithmeticError:
            return False
    return bool(found == wanted)


def _lookup(delivery: Delivery) -> Callable[[Adapter], Awaitable[DeliveryResult | None]]:
    def action(adapter: Adapter) -> Awaitable[DeliveryResult | None]:
        return adapter.lookup(delivery)

    return action


def _error_text(error: BaseException) -> str:
    parts = [str(error), repr(error)]
    detail = getattr(error, "detail", None)
    if detail:
        parts.append(str(detail))
    return "\n".join(parts)


# --------------------------------------------------------------------------- the tests


class AdapterConformance:
    """Subclass with ``adapter_class``, ``scenario_file`` and a ``harness`` fixture.

    The class name of a subclass must start with ``Test`` for pytest to collect it; this
    base class is not collected itself.
    """

    adapter_class: ClassVar[type[Adapter]]
    scenario_file: ClassVar[Path]
    target_name: ClassVar[str] = "conformance"
    mapping_dirs: ClassVar[tuple[Path, ...]] = ()
    """Where the samples' inbound mappings are, before the bundled ones."""

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    @classmethod
    def scenarios(cls) -> Scenarios:
        found = Scenarios.load(cls.scenario_file)
        assert found.adapter == cls.adapter_class.name, (
            f"{cls.scenario_file} is for {found.adapter!r}, not {cls.adapter_class.name!r}"
        )
        return found

    @pytest.fixture
    def fresh(self, harness: ConformanceHarness) -> ConformanceHarness:
        harness.clear_faults()
        return harness

    def make(self, config: dict[str, Any]) -> Adapter:
        return self.adapter_class(
            self.target_name, self.adapter_class.Config.model_validate(config)
        )

    def call(self, config: dict[str, Any], action: Callable[[Adapter], Awaitable[T]]) -> T:
        """Run one adapter call on a fresh instance, closing it afterwards."""

        async def run() -> T:
            adapter = self.make(config)
            try:
                return await action(adapter)
            finally:
                await adapter.aclose()

        return asyncio.run(run())

    def deliver(self, config: dict[str, Any], delivery: Delivery) -> DeliveryResult:
        return self.call(config, lambda adapter: adapter.deliver(delivery))

    def failure(
        self, harness: ConformanceHarness, config: dict[str, Any], delivery: Delivery
    ) -> DeliveryError:
        """The error a delivery fails with; it must be a DeliveryError without secrets."""
        with pytest.raises(DeliveryError) as caught:
            self.deliver(config, delivery)
        self.assert_no_secret(harness, caught.value)
        return caught.value

    @staticmethod
    def assert_no_secret(harness: ConformanceHarness, error: BaseException) -> None:
        text = _error_text(error)
        for secret in harness.secrets():
            assert secret not in text, f"a secret leaked into the error: {type(error).__name__}"

    # ------------------------------------------------------------------ configuration

    def test_declares_its_surface(self) -> None:
        cls = self.adapter_class
        assert cls.name.isidentifier(), "an adapter needs a simple name"
        assert Capability.DELIVER in cls.capabilities
        assert issubclass(cls.Config, BaseModel)
        assert cls.Config.model_config.get("extra") == "forbid", (
            "the configuration model must refuse unknown options (a misspelt option "
            "silently ignored is a production incident)"
        )
        assert cls.Config.model_json_schema()["properties"], "the schema documents options"

    def test_valid_configuration_is_accepted(self, harness: ConformanceHarness) -> None:
        self.adapter_class.Config.model_validate(harness.config())

    def test_invalid_configurations_are_refused_naming_the_field(
        self, scenarios: Scenarios, harness: ConformanceHarness
    ) -> None:
        assert scenarios.invalid_configs, "list at least one invalid configuration"
        unknown = {**harness.config(), "no_such_option": 1}
        with pytest.raises(ValidationError, match="no_such_option"):
            self.adapter_class.Config.model_validate(unknown)
        for case in scenarios.invalid_configs:
            with pytest.raises(ValidationError) as caught:
                self.adapter_class.Config.model_validate(case.config)
            assert case.error in str(caught.value), (
                f"refusing {case.config} should mention {case.error!r}: {caught.value}"
            )
            for secret in harness.secrets():
                assert secret not in str(caught.value)

    # ------------------------------------------------------------------ health

    def test_health_ok(self, fresh: ConformanceHarness) -> None:
        self.call(fresh.config(), lambda adapter: adapter.health())

    def test_health_with_refused_credentials_is_a_clear_auth_failure(
        self, fresh: ConformanceHarness
    ) -> None:
        with pytest.raises(AuthFailed) as caught:
            self.call(fresh.bad_credentials(), lambda adapter: adapter.health())
        assert isinstance(caught.value, PermanentError)
        self.assert_no_secret(fresh, caught.value)
        assert len(str(caught.value)) > 20, "say what failed and what to check"

    # ------------------------------------------------------------------ inbound

    def test_every_sample_parses_and_maps(self, scenarios: Scenarios) -> None:
        if Capability.PARSE not in self.adapter_class.capabilities:
            pytest.skip(f"{self.adapter_class.name} takes no inbound documents")
        assert scenarios.samples, "an adapter that parses lists its samples"
        root = self.scenario_file.parent
        for sample in scenarios.samples:
            mapping = registry.find(
                sample.system, sample.kind, "inbound", [*self.mapping_dirs, bundled_mappings_dir()]
            )
            paths = sorted(p for pattern in sample.files for p in root.glob(pattern))
            assert paths, f"no sample files match {sample.files} under {root}"
            for path in paths:
                body = json.loads(path.read_bytes(), parse_float=Decimal)
                source = self.adapter_class.unwrap_inbound(sample.kind, body)
                document = mapping.apply(source).document.model_dump(mode="python")
                wanted = {**sample.expect, **sample.expect_each.get(path.name, {})}
                for field, value in wanted.items():
                    found = _at(document, field)
                    assert _same(found, value), f"{path.name}: {field} is {found!r}, not {value!r}"

    # ------------------------------------------------------------------ deliveries

    def test_deliver_creates_one_record(
        self, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        for scenario in scenarios.deliveries:
            delivery = fresh.prepare(scenario, f"{scenario.name}-once")
            result = self.deliver(fresh.config(), delivery)
            assert result.reference, f"{scenario.name}: a delivery returns the record's id"
            assert fresh.records(scenario, delivery) == 1, scenario.name

    def test_redelivery_leaves_one_record(
        self, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        for scenario in scenarios.deliveries:
            delivery = fresh.prepare(scenario, f"{scenario.name}-twice")
            first = self.deliver(fresh.config(), delivery)
            again = self.deliver(fresh.config(), delivery)
            assert again.reference == first.reference, scenario.name
            assert fresh.records(scenario, delivery) == 1, scenario.name

    def test_retry_after_a_lost_answer_leaves_one_record(
        self, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        for scenario in scenarios.deliveries:
            if not scenario.creates:
                continue
            delivery = fresh.prepare(scenario, f"{scenario.name}-lost")
            fresh.inject(Fault("land_then_timeout"))
            try:
                error = self.failure(fresh, fresh.config(), delivery)
            finally:
                fresh.clear_faults()
            assert isinstance(error, TargetTimeout), f"{scenario.name}: {error!r}"
            assert fresh.records(scenario, delivery) == 1, "the first attempt did land"
            self.deliver(fresh.config(), delivery)
            assert fresh.records(scenario, delivery) == 1, f"{scenario.name}: a second record"

    def test_lookup_finds_what_a_delivery_created(
        self, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        if Capability.LOOKUP not in self.adapter_class.capabilities or not scenarios.lookup:
            pytest.skip(f"{self.adapter_class.name} has no look-up here")
        for scenario in scenarios.deliveries:
            if not scenario.creates:
                continue
            delivery = fresh.prepare(scenario, f"{scenario.name}-lookup")
            before = self.call(fresh.config(), _lookup(delivery))
            assert before is None, f"{scenario.name}: found before it was delivered"
            made = self.deliver(fresh.config(), delivery)
            after = self.call(fresh.config(), _lookup(delivery))
            assert after is not None, f"{scenario.name}: not found after delivery"
            assert after.reference == made.reference, scenario.name

    # ------------------------------------------------------------------ failures

    @pytest.mark.parametrize("status", CLASSIFIED_STATUSES)
    def test_status_is_classified(
        self, status: int, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        if status not in scenarios.statuses:
            pytest.skip(f"HTTP {status} is not part of this transport (scenario statuses)")
        retry_after = 7 if status in (429, 503) else None
        verdict = classify_status(
            status, None if retry_after is None else str(retry_after), now=datetime.now(UTC)
        )
        expected = scenarios.classification.get(status) or verdict.error.__name__
        delivery = fresh.prepare(scenarios.deliveries[0], f"status-{status}")
        fresh.inject(Fault("status", status=status, retry_after=retry_after))
        try:
            error = self.failure(fresh, fresh.config(), delivery)
        finally:
            fresh.clear_faults()
        assert type(error).__name__ == expected, f"HTTP {status}: {error!r}"
        assert error.target == self.target_name
        if retry_after is not None and isinstance(error, RateLimited):
            assert error.retry_after == retry_after, "Retry-After is kept for the queue"

    def test_timeout_is_transient(self, scenarios: Scenarios, fresh: ConformanceHarness) -> None:
        delivery = fresh.prepare(scenarios.deliveries[0], "slow")
        fresh.inject(Fault("slow"))
        try:
            error = self.failure(fresh, fresh.config(), delivery)
        finally:
            fresh.clear_faults()
        assert isinstance(error, TargetTimeout), repr(error)

    def test_connection_refused_is_unavailable(
        self, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        delivery = fresh.prepare(scenarios.deliveries[0], "refused")
        error = self.failure(fresh, fresh.unreachable(), delivery)
        assert isinstance(error, TargetUnavailable), repr(error)

    def test_refused_credentials_fail_without_the_secret(
        self, scenarios: Scenarios, fresh: ConformanceHarness
    ) -> None:
        delivery = fresh.prepare(scenarios.deliveries[0], "bad-credentials")
        error = self.failure(fresh, fresh.bad_credentials(), delivery)
        assert isinstance(error, AuthFailed), repr(error)
        assert fresh.records(scenarios.deliveries[0], delivery) == 0
