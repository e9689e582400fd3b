"""Where the shipped validation artefacts are: the official schemas and compiled rules.

The files under ``hub/einvoice/rules/`` are byte-for-byte copies of the official releases
(sources, commits and licences in the top-level NOTICE; SHA-256 sums in
``rules/ubl.sha256``). They ship inside the ``hub`` package so that a wheel or a fresh
clone validates without the shared test fixtures.

The paths are real files on disk (lxml and Saxon open them by name, and the UBL XSDs
import their ``../common/`` modules relatively), so the package must be installed
unpacked, which is what pip and uv do with a wheel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = [
    "EN16931_UBL_XSLT",
    "PEPPOL_UBL_XSLT",
    "RULES_DIR",
    "UBL_CREDITNOTE_XSD",
    "UBL_INVOICE_XSD",
    "UBL_SHA256SUMS",
]

RULES_DIR: Final[Path] = Path(__file__).resolve().parent / "rules"
"""Root of the shipped artefacts."""

UBL_INVOICE_XSD: Final[Path] = RULES_DIR / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd"
"""OASIS UBL 2.1 Invoice schema (imports ``../common/``)."""

UBL_CREDITNOTE_XSD: Final[Path] = RULES_DIR / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd"
"""OASIS UBL 2.1 CreditNote schema (imports ``../common/``)."""

EN16931_UBL_XSLT: Final[Path] = RULES_DIR / "en16931-1.3.16" / "EN16931-UBL-validation.xslt"
"""CEN/TC 434 EN 16931 rules for UBL, validation artefacts 1.3.16 (Schematron as XSLT 2.0)."""

PEPPOL_UBL_XSLT: Final[Path] = RULES_DIR / "peppol-billing-2026.5" / "PEPPOL-EN16931-UBL.xslt"
"""Peppol BIS Billing 3.0.21 (May 2026 release) rules for UBL (Schematron as XSLT 2.0)."""

UBL_SHA256SUMS: Final[Path] = RULES_DIR / "ubl.sha256"
"""``sha256sum -c`` list of the UBL artefacts above, relative to :data:`RULES_DIR`."""
