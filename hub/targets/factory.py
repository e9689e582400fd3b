"""Builds target objects (adapter instances) from the routes file's target configurations."""

from __future__ import annotations

from collections.abc import Mapping

from hub.adapter import Adapter
from hub.routing import TargetConfig


def build_targets(configs: Mapping[str, TargetConfig]) -> dict[str, Adapter]:
    """One adapter instance per configured target."""
    return {name: spec.adapter(name, spec.config) for name, spec in configs.items()}


def target_secrets(targets: Mapping[str, Adapter]) -> tuple[str, ...]:
    """Secret values that must never appear in stored errors."""
    return tuple(secret for target in targets.values() for secret in target.secrets())
