"""The shipped UBL validation artefacts (hub/einvoice/rules/) and the validators built on them.

Without ../shared: every artefact is where hub/einvoice/artefacts.py says, unmodified (its
SHA-256 in rules/ubl.sha256), the XSDs resolve their relative imports, and the wheel build
takes them along. With ../shared (marker ``shared``): the shipped files are the fixtures
byte for byte, and the validators report for every official UBL example exactly what
``expected-results.json`` recorded.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from lxml import etree

from hub.einvoice import artefacts
from hub.einvoice.artefacts import (
    EN16931_UBL_XSLT,
    PEPPOL_UBL_XSLT,
    RULES_DIR,
    UBL_CREDITNOTE_XSD,
    UBL_INVOICE_XSD,
    UBL_SHA256SUMS,
)
from hub.einvoice.ubl import validate_ubl
from hub.einvoice.validation import validate
from tests.conftest import ROOT, SHARED

SHARED_EINVOICE = SHARED / "fixtures" / "einvoice"
without_shared = pytest.mark.skipif(
    not (SHARED_EINVOICE / "expected-results.json").is_file(),
    reason=f"needs {SHARED_EINVOICE} (../shared)",
)


def sums() -> dict[str, str]:
    entries = (line.split(maxsplit=1) for line in UBL_SHA256SUMS.read_text().splitlines())
    return {name: digest for digest, name in entries}


def test_every_artefact_is_shipped_unmodified() -> None:
    listed = sums()
    for path in (UBL_INVOICE_XSD, UBL_CREDITNOTE_XSD, EN16931_UBL_XSLT, PEPPOL_UBL_XSLT):
        assert path.is_file(), path
        assert path.relative_to(RULES_DIR).as_posix() in listed
    assert len([n for n in listed if n.startswith("ubl-2.1/common/")]) == 14
    for name, digest in listed.items():
        assert hashlib.sha256((RULES_DIR / name).read_bytes()).hexdigest() == digest, name
    assert set(artefacts.__all__) >= {
        "UBL_INVOICE_XSD",
        "UBL_CREDITNOTE_XSD",
        "EN16931_UBL_XSLT",
        "PEPPOL_UBL_XSLT",
    }


@pytest.mark.parametrize("xsd", [UBL_INVOICE_XSD, UBL_CREDITNOTE_XSD], ids=["invoice", "credit"])
def test_schemas_resolve_their_relative_imports(xsd: Path) -> None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    etree.XMLSchema(etree.parse(str(xsd), parser))  # ../common/ found beside maindoc/


def test_the_wheel_takes_the_artefacts_along() -> None:
    """Hatch ships every file under a listed package that git does not ignore."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    wheel = config["targets"]["wheel"]
    assert "hub" in wheel["packages"]
    assert not {"exclude", "only-include", "artifacts"} & set(wheel)
    assert "hub" in config["targets"]["sdist"]["include"]
    ignored = (ROOT / ".gitignore").read_text().split()
    assert not [p for p in ignored if p.endswith((".xsd", ".xslt", ".sha256")) or "rules" in p]
    assert RULES_DIR.is_relative_to(ROOT / "hub")


# --- against the shared fixtures ---------------------------------------------------------


@pytest.mark.shared
@without_shared
def test_shipped_artefacts_are_the_shared_fixtures() -> None:
    for name in sums():
        folder = "xsd" if name.startswith("ubl-2.1/") else "schematron"
        shared = SHARED_EINVOICE / folder / name
        assert (RULES_DIR / name).read_bytes() == shared.read_bytes(), name


def expected_examples() -> list[tuple[str, dict[str, object]]]:
    path = SHARED_EINVOICE / "expected-results.json"
    if not path.is_file():
        return []
    results = json.loads(path.read_text())
    return sorted((k, v) for k, v in results.items() if k.startswith("examples/ubl/"))


@pytest.mark.shared
@without_shared
@pytest.mark.parametrize(
    ("name", "expected"),
    [pytest.param(n, e, id=Path(n).name) for n, e in expected_examples()],
)
def test_validators_agree_with_the_recorded_results(name: str, expected: dict[str, object]) -> None:
    document = (SHARED_EINVOICE / name).read_bytes()
    xsd = UBL_CREDITNOTE_XSD if expected["root"] == "CreditNote" else UBL_INVOICE_XSD
    for key, xslt in (("en16931-ubl", EN16931_UBL_XSLT), ("peppol-ubl", PEPPOL_UBL_XSLT)):
        report = validate(document, xsd=xsd, schematrons=[xslt])
        assert (not report.xsd_errors) == expected["xsd_valid"], report.xsd_errors
        recorded = expected[key]
        assert isinstance(recorded, dict)
        assert sorted({a.rule for a in report.fatal}) == sorted(recorded["fatal"]), key
        assert sorted({a.rule for a in report.warnings}) == sorted(recorded["warning"]), key
    combined = validate_ubl(document)
    peppol = expected["peppol-ubl"]
    assert isinstance(peppol, dict)
    assert combined.valid == (expected["xsd_valid"] and not peppol["fatal"])


@pytest.mark.shared
@without_shared
def test_every_ubl_example_has_a_recorded_result() -> None:
    on_disk = {f"examples/ubl/{p.name}" for p in (SHARED_EINVOICE / "examples" / "ubl").glob("*")}
    assert on_disk == {name for name, _ in expected_examples()}
    assert len(on_disk) == 10
