"""hub.yamlsource: YAML with a file:line:column for every value and every problem.

A value YAML recognises but cannot build (an impossible date, an unknown tag, a merge of a
scalar) is reported like a syntax error, as a located SourceFileError, because every loader
built on it (config, pricing rules, mappings, contracts) turns that error into one line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hub.errors import SourceFileError
from hub.yamlsource import Location, load_located, load_located_file


def error_of(text: str, file: str = "f.yaml") -> str:
    with pytest.raises(SourceFileError) as caught:
        load_located(text, file)
    return caught.value.message


def test_values_and_their_places() -> None:
    doc = load_located("a:\n  b: 2026-02-28\n  c: [1.5, x]\n", "f.yaml")
    assert doc.data == {"a": {"b": date(2026, 2, 28), "c": [Decimal("1.5"), "x"]}}
    assert doc.values[("a", "b")] == Location("f.yaml", 2, 6)
    assert doc.keys[("a", "c")] == Location("f.yaml", 3, 3)
    assert doc.at(("a", "c", 1)) == Location("f.yaml", 3, 12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a:\n  b: 2026-13-01\n", "f.yaml:2:6: '2026-13-01' is not a date: month must be in 1..12"),
        (
            "a: 2026-02-30\n",
            "f.yaml:1:4: '2026-02-30' is not a date: day is out of range for month",
        ),
        (
            "- [x, 2025-02-29]\n",
            "f.yaml:1:7: '2025-02-29' is not a date: day is out of range for month",
        ),
        ("2026-00-10: x\n", "f.yaml:1:1: '2026-00-10' is not a date: month must be in 1..12"),
        (
            "a: 2026-01-01 25:00:00\n",
            "f.yaml:1:4: '2026-01-01 25:00:00' is not a date: hour must be in 0..23",
        ),
    ],
)
def test_an_impossible_date_is_a_located_error(text: str, message: str) -> None:
    assert error_of(text) == message


def test_a_quoted_impossible_date_is_text() -> None:
    assert load_located("a: '2026-13-01'\n", "f.yaml").data == {"a": "2026-13-01"}


def test_values_yaml_cannot_build_are_located_errors() -> None:
    assert error_of("a: !foo x\n") == (
        "f.yaml:1:4: YAML error: could not determine a constructor for the tag '!foo'"
    )
    assert error_of("a:\n  <<: 1\n").startswith("f.yaml:2:7: YAML error: expected a mapping")


def test_syntax_errors_and_files_keep_their_messages(tmp_path: Path) -> None:
    assert error_of("a: [1, 2\n").startswith("f.yaml:2:1: YAML syntax error:")
    path = tmp_path / "c.yaml"
    path.write_text("start: 2026-13-01\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match=r"c\.yaml:1:8: '2026-13-01' is not a date"):
        load_located_file(path)
