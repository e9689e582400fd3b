"""Console output shared by CLI commands: one place decides colours and streams."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
"""Results: documents, tables. Safe to pipe."""

err = Console(stderr=True, highlight=False, soft_wrap=True)
"""Errors, warnings and explanations."""
