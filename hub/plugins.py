"""The plugin manager: adapters and shapes from the ``o2c_hub.adapters`` entry points.

The bundled adapters register through the same entry-point group a third-party package
uses, so the hub has no list of its own adapters. ``O2C_DISABLED_PLUGINS`` (comma-separated
entry-point names) blocks plugins; ``check_pending`` makes a misspelt hook fail loudly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy

from hub import hookspecs
from hub.adapter import AdapterRegistry
from hub.errors import HubError
from hub.mapping.shapes import ShapeRegistry

ENTRY_POINT_GROUP = "o2c_hub.adapters"
DISABLED_ENV = "O2C_DISABLED_PLUGINS"


@dataclass
class Plugins:
    """What the installed plugins registered."""

    manager: pluggy.PluginManager
    adapters: AdapterRegistry
    shapes: ShapeRegistry
    loaded: dict[str, str] = field(default_factory=dict)
    """entry-point name → module."""
    disabled: tuple[str, ...] = ()

    def hooks_of(self, plugin_name: str) -> list[str]:
        plugin = self.manager.get_plugin(plugin_name)
        if plugin is None:
            return []
        return sorted(h.name for h in self.manager.get_hookcallers(plugin) or [])


def build_plugins(environ: Mapping[str, str] | None = None) -> Plugins:
    """Load every enabled plugin and collect what it registers."""
    env = os.environ if environ is None else environ
    disabled = tuple(n.strip() for n in env.get(DISABLED_ENV, "").split(",") if n.strip())
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    loaded: dict[str, str] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in disabled:
            manager.set_blocked(ep.name)
            continue
        try:
            module = ep.load()
        except Exception as exc:
            raise HubError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        manager.register(module, name=ep.name)
        loaded[ep.name] = ep.value
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise HubError(f"a plugin implements an unknown hook: {exc}") from exc
    adapters = AdapterRegistry()
    shapes = ShapeRegistry()
    manager.hook.hub_register_adapters(registry=adapters)
    manager.hook.hub_register_shapes(registry=shapes)
    return Plugins(manager, adapters, shapes, loaded, disabled)


@lru_cache(maxsize=1)
def plugins() -> Plugins:
    """The process-wide plugins (built on first use, from the environment)."""
    return build_plugins()
