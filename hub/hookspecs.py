"""Every extension point of the hub, as pluggy hook specifications.

Adapters (the bundled ones and third-party packages alike) implement these hooks in a
module registered under the entry-point group ``o2c_hub.adapters``. Hooks only register
things; behaviour lives in the classes they register (see :mod:`hub.adapter`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from hub.adapter import AdapterRegistry
    from hub.mapping.shapes import ShapeRegistry

PROJECT = "o2c_hub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hub_register_adapters(registry: AdapterRegistry) -> None:
    """Add adapter classes: ``registry.add(MyAdapter)``.

    Called once when the plugin manager is built. The class's ``name`` is the ``type``
    that routes.yaml uses for targets of that system.
    """


@hookspec
def hub_register_shapes(registry: ShapeRegistry) -> None:
    """Add target shapes outbound mappings may write: ``registry.add("sap", "A_SalesOrder",
    Model)`` makes ``shape: sap.A_SalesOrder`` available."""
