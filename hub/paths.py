"""Where the hub's bundled data lives: the default config and the shipped mappings.

Two layouts exist:

* an installed wheel: ``pyproject.toml`` force-includes the repository's ``config`` and
  ``mappings`` directories as ``hub/_bundled/config`` and ``hub/_bundled/mappings``;
* a source checkout or an editable install: they are ``<repo>/config`` and
  ``<repo>/mappings``, next to the ``hub`` package.

The wheel layout is checked first, so a stray ``config`` directory beside an installed
``hub`` package (in ``site-packages``) is never mistaken for the bundled one. Nothing here
runs at import time.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled_config_dir", "bundled_mappings_dir"]


def _bundled(name: str) -> Path:
    package_dir = Path(__file__).resolve().parent
    installed = package_dir / "_bundled" / name
    if installed.is_dir():
        return installed
    return package_dir.parent / name


def bundled_config_dir() -> Path:
    """The directory holding the bundled default ``hub.yaml`` (absolute)."""
    return _bundled("config")


def bundled_mappings_dir() -> Path:
    """The directory holding the mapping files shipped with the hub (absolute)."""
    return _bundled("mappings")
