"""Plugins: entry points, built-ins as plugins, third-party adapters, blocking, bad hooks."""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from hub import hookspecs, plugins
from hub.errors import HubError
from hub.routing import load_routes
from hub.targets.base import Delivery
from tests.pipeline_support import MAPPING_DIRS


def with_extra(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    real = plugins.entry_points

    def fake(group: str) -> list[EntryPoint]:
        return [*real(group=group), *extra]

    monkeypatch.setattr(plugins, "entry_points", fake)


def test_bundled_adapters_register_through_entry_points() -> None:
    found = plugins.build_plugins({})
    assert {"http", "sap"} <= set(found.loaded)
    assert "http" in found.adapters
    assert "sap" in found.adapters
    assert "sap.A_SalesOrder" in found.shapes.names()
    assert found.hooks_of("sap") == ["hub_register_adapters", "hub_register_shapes"]


def test_disabled_plugin_is_blocked() -> None:
    found = plugins.build_plugins({"O2C_DISABLED_PLUGINS": "sap"})
    assert "sap" not in found.loaded
    assert not [name for name in found.shapes.names() if name.startswith("sap.")]
    assert "magento.Invoice" in found.shapes.names()
    assert found.disabled == ("sap",)


def test_third_party_adapter_is_a_route_target(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_extra(
        monkeypatch,
        EntryPoint("echo", "tests.fixtures.plugins.echo_plugin", plugins.ENTRY_POINT_GROUP),
    )
    found = plugins.build_plugins({})
    monkeypatch.setattr(plugins, "plugins", lambda: found)
    routes = tmp_path / "routes.yaml"
    routes.write_text("targets:\n  crm: {type: echo, prefix: CRM}\nroutes: []\n", encoding="utf-8")
    table = load_routes(routes, MAPPING_DIRS)
    spec = table.targets["crm"]
    adapter = spec.adapter("crm", spec.config)
    delivery = Delivery("7", "m", "crm", "r", "order", {}, "k", "o", 1, "c")
    assert asyncio.run(adapter.deliver(delivery)).reference == "CRM-7"
    routes.write_text("targets:\n  crm: {type: echo, colour: red}\nroutes: []\n", encoding="utf-8")
    with pytest.raises(HubError, match=r"routes.yaml:2:.*targets.crm.colour"):
        load_routes(routes, MAPPING_DIRS)


def test_unknown_adapter_type_is_refused(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("targets:\n  crm: {type: salesforce}\nroutes: []\n", encoding="utf-8")
    with pytest.raises(HubError, match=r"no adapter 'salesforce' is installed \(installed: http"):
        load_routes(routes, MAPPING_DIRS)


def test_misspelt_hook_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    with_extra(
        monkeypatch,
        EntryPoint("bad", "tests.fixtures.plugins.misspelt_plugin", plugins.ENTRY_POINT_GROUP),
    )
    with pytest.raises(HubError, match="unknown hook"):
        plugins.build_plugins({})


def test_every_hook_is_documented_typed_and_prefixed() -> None:
    specs = [
        f
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(f, "o2c_hub_spec")
    ]
    assert {f.__name__ for f in specs} == {"hub_register_adapters", "hub_register_shapes"}
    for spec in specs:
        assert spec.__name__.startswith("hub_")
        assert spec.__doc__ and len(spec.__doc__) > 40
        assert all(
            p.annotation is not inspect.Parameter.empty
            for p in inspect.signature(spec).parameters.values()
        )
