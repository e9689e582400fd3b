"""Every bundled adapter has a conformance test class (hub.testing.conformance)."""

from __future__ import annotations

import importlib
from pathlib import Path

from hub.plugins import build_plugins
from hub.testing.conformance import AdapterConformance

TESTS = Path(__file__).resolve().parent


def _conformance_classes() -> list[type[AdapterConformance]]:
    found: list[type[AdapterConformance]] = []
    for path in sorted(TESTS.glob("test_conformance_*.py")):
        module = importlib.import_module(f"tests.{path.stem}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, AdapterConformance)
                and value is not AdapterConformance
                and value.__name__.startswith("Test")
            ):
                found.append(value)
    return found


def test_every_bundled_adapter_has_a_conformance_class() -> None:
    plugins = build_plugins({})
    bundled = [cls for cls in plugins.adapters if cls.__module__.startswith("adapters.")]
    assert bundled, "the bundled adapters register through the entry points"
    covered = {cls.adapter_class for cls in _conformance_classes()}
    missing = sorted(cls.name for cls in bundled if cls not in covered)
    assert not missing, (
        f"bundled adapters without a conformance test class: {', '.join(missing)}; add "
        "tests/test_conformance_<name>.py subclassing hub.testing.conformance.AdapterConformance"
    )


def test_each_conformance_class_points_at_its_scenarios() -> None:
    for cls in _conformance_classes():
        assert cls.scenario_file.is_file(), f"{cls.__name__}: {cls.scenario_file} is missing"
