"""Finds mapping files in the configured directories and loads them by name or path.

A mapping's name is its path below a mappings directory without ``.yaml``:
``mappings/magento/order.inbound.yaml`` is ``magento/order.inbound``. Earlier
directories win, so an integrator's directory listed first overrides a bundled mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from hub.errors import UnknownNameError
from hub.mapping.compiler import CompiledMapping, load_mapping_file

MAPPING_SUFFIX = ".yaml"


def _is_mapping_file(path: Path, base: Path) -> bool:
    """A YAML file below ``base``, not inside a samples folder of the mappings tree."""
    if path.suffix != MAPPING_SUFFIX or not path.is_file():
        return False
    return "samples" not in path.relative_to(base).parts


def discover(dirs: Sequence[Path]) -> dict[str, Path]:
    """name → file of every mapping below ``dirs``; earlier directories win."""
    found: dict[str, Path] = {}
    for base in dirs:
        if not base.is_dir():
            continue
        for path in sorted(base.rglob(f"*{MAPPING_SUFFIX}")):
            if not _is_mapping_file(path, base):
                continue
            name = path.relative_to(base).with_suffix("").as_posix()
            found.setdefault(name, path)
    return found


def mapping_name(path: Path, dirs: Iterable[Path]) -> str:
    """The registry name of ``path`` if it lies in a mappings directory, else its stem."""
    resolved = path.resolve()
    for base in dirs:
        try:
            return resolved.relative_to(base.resolve()).with_suffix("").as_posix()
        except ValueError:
            continue
    return path.stem


def resolve(ref: str, dirs: Sequence[Path]) -> Path:
    """A mapping file from a path or a registry name like ``magento/order.inbound``."""
    as_path = Path(ref)
    if as_path.suffix == MAPPING_SUFFIX or as_path.exists():
        return as_path
    known = discover(dirs)
    if ref in known:
        return known[ref]
    names = ", ".join(sorted(known)) or "none found"
    raise UnknownNameError(f"no mapping {ref!r}; known mappings: {names}")


def load(ref: str, dirs: Sequence[Path]) -> CompiledMapping:
    """Load and compile a mapping by path or name."""
    path = resolve(ref, dirs)
    return load_mapping_file(path, mapping_name(path, dirs))


def find(system: str, kind: str, direction: str, dirs: Sequence[Path]) -> CompiledMapping:
    """The mapping for a system, document kind and direction (``<system>/<kind>.<dir>``)."""
    return load(f"{system}/{kind}.{direction}", dirs)
