"""A mapping is refused at load with file:line:column and a one-line reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.errors import MappingCompileError
from hub.mapping import load_mapping_file, load_mapping_text
from hub.mapping.format import mapping_json_schema
from tests.conftest import FIXTURES, MAPPINGS

BAD = FIXTURES / "mappings"


def issues_of(path: Path) -> list[str]:
    with pytest.raises(MappingCompileError) as info:
        load_mapping_file(path)
    return [str(i) for i in info.value.issues]


def test_bad_jmespath_points_into_the_expression() -> None:
    (issue,) = issues_of(BAD / "bad-jmespath.yaml")
    # line 7: `  currency: "order_currency_code[?"` - the error is at the end of the expression
    assert issue.startswith(f"{BAD / 'bad-jmespath.yaml'}:7:")
    column = int(issue.split(":")[2])
    assert column == len('  currency: "order_currency_code[?') + 1
    assert "JMESPath" in issue
    assert "\n" not in issue


def test_unknown_canonical_field_names_it_and_suggests() -> None:
    (issue,) = issues_of(BAD / "unknown-field.yaml")
    assert issue.startswith(f"{BAD / 'unknown-field.yaml'}:11:7: ")
    assert "unknown field 'quantity_ordered' of OrderLine" in issue
    assert "did you mean 'quantity'" in issue


def test_unknown_transform_names_it_and_suggests() -> None:
    (issue,) = issues_of(BAD / "unknown-transform.yaml")
    assert issue.startswith(f"{BAD / 'unknown-transform.yaml'}:9:25: ")
    assert "unknown transform 'uppercase'" in issue
    assert "did you mean 'upper'" in issue


HEADER = "version: 1\nsystem: magento\nkind: order\ndirection: inbound\n"


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        ("fields:\n  totals: grand_total\n", "6:3", "computed and cannot be mapped"),
        ("fields:\n  currency: {from: a, const: EUR}\n", "6:13", "only one of from, const"),
        (
            "fields:\n  currency: {from: a, transforms: [{truncate: 0}]}\n",
            "6:37",
            "positive length",
        ),
        (
            "fields:\n  currency: {from: a, transforms: [{map: {lookup: nope}}]}\n",
            "6:37",
            "unknown lookup table 'nope'",
        ),
        (
            "fields:\n  currency: {from: a, transforms: [{datetime: {timezone: Mars/Base}}]}\n",
            "6:37",
            "unknown time zone",
        ),
        ("fields:\n  currency: {from: a, colour: red}\n", "6:23", "unknown key 'colour'"),
        ("fields:\n  order_number: nofn(a)\n", "6:17", "unknown JMESPath function nofn()"),
        (
            "fields:\n  lines: {each: items, fields: {sku: {sequence: {start: 1}}}}\n",
            "6:38",
            "String should",
        ),
        ("fields:\n  currency: {sequence: {start: 1}}\n", "6:14", "only counts items inside"),
        ("fields:\n  buyer: {each: x, fields: {name: a}}\n", "6:10", "`each` builds a list"),
    ],
)
def test_each_mistake_is_located(body: str, where: str, words: str) -> None:
    text = HEADER + body
    if "String should" in words:  # sequence into a str field is a runtime error, not load
        load_mapping_text(text, "m.yaml")
        return
    with pytest.raises(MappingCompileError) as info:
        load_mapping_text(text, "m.yaml")
    rendered = [str(i) for i in info.value.issues]
    assert any(r.startswith(f"m.yaml:{where}:") and words in r for r in rendered), rendered


def test_every_problem_is_reported_at_once() -> None:
    text = (
        HEADER + "fields:\n  colour: a\n  currency: 'x[?'\n  status: {from: s, transforms: [zap]}\n"
    )
    with pytest.raises(MappingCompileError) as info:
        load_mapping_text(text, "m.yaml")
    assert len(info.value.issues) == 3


def test_outbound_mapping_needs_a_shape() -> None:
    text = "version: 1\nsystem: sap\nkind: order\ndirection: outbound\nfields:\n  a: b\n"
    with pytest.raises(MappingCompileError, match="must name its `shape`"):
        load_mapping_text(text, "m.yaml")


def test_unknown_shape_is_refused() -> None:
    text = HEADER.replace("direction: inbound", "direction: outbound") + (
        "shape: sap.A_Nothing\nfields:\n  a: b\n"
    )
    with pytest.raises(MappingCompileError, match="no 'A_Nothing'") as info:
        load_mapping_text(text, "m.yaml")
    assert str(info.value.issues[0]).startswith("m.yaml:5:8:")


def test_yaml_syntax_error_is_located() -> None:
    from hub.errors import SourceFileError

    with pytest.raises(SourceFileError, match=r"^m.yaml:6:\d+: YAML syntax error"):
        load_mapping_text(HEADER + "fields: [unclosed\n", "m.yaml")


def test_version_changes_with_content() -> None:
    a = load_mapping_text(HEADER + "fields:\n  order_number: increment_id\n", "a.yaml")
    b = load_mapping_text(HEADER + "fields:\n  order_number: entity_id\n", "a.yaml")
    assert a.version.startswith("1+sha256:") and a.version != b.version


def test_csv_lookup_content_is_part_of_the_version(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        HEADER + "lookups:\n  t: {csv: t.csv, key: k, value: v}\n"
        "fields:\n  currency: {from: c, transforms: [{map: {lookup: t}}]}\n",
        encoding="utf-8",
    )
    (tmp_path / "t.csv").write_text("k,v\neuro,EUR\n", encoding="utf-8")
    first = load_mapping_file(mapping).version
    (tmp_path / "t.csv").write_text("k,v\neuro,EUR\ndollar,USD\n", encoding="utf-8")
    assert load_mapping_file(mapping).version != first


def test_csv_lookup_with_wrong_column_is_refused(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        HEADER + "lookups:\n  t: {csv: t.csv, key: code, value: v}\nfields:\n  currency: c\n",
        encoding="utf-8",
    )
    (tmp_path / "t.csv").write_text("k,v\n", encoding="utf-8")
    with pytest.raises(MappingCompileError, match="has no column 'code'"):
        load_mapping_file(mapping)


def test_bundled_mappings_compile() -> None:
    for path in sorted(MAPPINGS.rglob("*.yaml")):
        load_mapping_file(path)


def test_committed_mapping_schema_is_current() -> None:
    committed = json.loads((MAPPINGS / "mapping.schema.json").read_text(encoding="utf-8"))
    assert committed == mapping_json_schema(), (
        "mappings/mapping.schema.json is stale: run `o2c mapping schema > "
        "mappings/mapping.schema.json`"
    )


def test_bundled_mappings_satisfy_the_committed_schema() -> None:
    import jsonschema
    import yaml

    schema = json.loads((MAPPINGS / "mapping.schema.json").read_text(encoding="utf-8"))
    for path in sorted(MAPPINGS.rglob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("  notes: {each: tags, transforms: [lower]}\n", "`transforms` does not apply"),
        ("  notes: {each: tags, from: x}\n", "`from` does not apply"),
        ("  currency: {from: c, transforms: [map]}\n", "'map' needs arguments"),
        ("  currency: {from: c, transforms: [default]}\n", "'default' needs arguments"),
    ],
)
def test_keys_that_would_do_nothing_are_refused(body: str, words: str) -> None:
    with pytest.raises(MappingCompileError, match=words):
        load_mapping_text(HEADER + "fields:\n" + body, "m.yaml")


def test_unquoted_boolean_map_keys_match_booleans() -> None:
    mapping = load_mapping_text(
        HEADER + "fields:\n  order_number: n\n  currency:\n    from: 'eur_flag'\n"
        "    transforms: [{map: {values: {true: EUR, false: USD}}}]\n",
        "m.yaml",
    )
    compiled = mapping.root.children["currency"].transforms[0]
    assert compiled.fn(True) == "EUR"
    assert compiled.fn(False) == "USD"


def test_mappings_below_a_folder_called_samples_are_found(tmp_path: Path) -> None:
    from hub.mapping import registry

    base = tmp_path / "samples" / "mappings"
    (base / "shop").mkdir(parents=True)
    (base / "shop" / "order.inbound.yaml").write_text(
        HEADER + "fields:\n  order_number: n\n", encoding="utf-8"
    )
    (base / "shop" / "samples").mkdir()
    (base / "shop" / "samples" / "x.yaml").write_text("not: a mapping\n", encoding="utf-8")
    assert list(registry.discover([base])) == ["shop/order.inbound"]
