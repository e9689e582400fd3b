"""JSON text with Decimals written digit for digit: money never passes through float."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any


def dumps_exact(value: Any) -> str:
    """Compact JSON of ``value`` where a Decimal is a JSON number with exactly its digits
    (``Decimal("19.90")`` → ``19.90``, ``Decimal("2")`` → ``2``).

    The standard library's C encoder does the work: each Decimal leaves it as a string
    wrapped in a per-call random marker, and the quoted markers are then replaced by the
    bare digits (a document's own text cannot contain a marker it has never seen).
    """
    marker = uuid.uuid4().hex

    def encode(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            if not obj.is_finite():
                raise ValueError(f"{obj} is not a JSON number")
            return f"{marker}{obj:f}{marker}"
        return str(obj)

    text = json.dumps(value, ensure_ascii=False, default=encode, separators=(",", ":"))
    if marker not in text:
        return text
    return re.sub(f'"{marker}(-?[0-9.]+){marker}"', r"\1", text)
