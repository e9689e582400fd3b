"""Builds target objects from the routes file's target configurations."""

from __future__ import annotations

from collections.abc import Mapping

from hub.routing import TargetConfig
from hub.targets.base import Target
from hub.targets.http import HttpTarget, HttpTargetConfig


def build_targets(configs: Mapping[str, TargetConfig]) -> dict[str, Target]:
    """One target per configured name."""
    targets: dict[str, Target] = {}
    for name, config in configs.items():
        fields = config.model_dump(exclude={"type"})
        fields["headers"] = {k: v.get_secret_value() for k, v in config.headers.items()}
        targets[name] = HttpTarget(name, HttpTargetConfig.model_validate(fields))
    return targets


def target_secrets(configs: Mapping[str, TargetConfig]) -> tuple[str, ...]:
    """Secret values that must never appear in stored errors."""
    return tuple(v.get_secret_value() for c in configs.values() for v in c.headers.values() if v)
