"""The part of the ORDERS05 and INVOIC02 definitions the hub writes and reads.

No licensed IDoc XSD is available (see ``../shared/fixtures/README.md``), so the segments,
their field order and their lengths are written down here from SAP's public descriptions
of the structures. Every field is a CHAR field in the IDoc (numbers included); ``length``
is the CHAR length. Sources, as published by SAP or read from the ABAP dictionary:

* ``EDI_DC40`` (control record): help.sap.com "EDI_DC - IDoc Control Record" (SAP Library,
  ME 6.0) and the dictionary structure EDI_DC40 (TABNAM 10, MANDT 3, DOCNUM 16, DOCREL 4,
  STATUS 2, DIRECT 1, OUTMOD 1, ..., IDOCTYP 30, MESTYP 30, SNDPOR 10, SNDPRT 2, SNDPRN 10,
  RCVPOR 10, RCVPRT 2, RCVPRN 10, CREDAT 8, CRETIM 6).
* ``E1EDK01``: dictionary structure E1EDK01 / E2EDK01005 (CURCY 3, HWAER 3, WKURS 12,
  KUNDEUINR 20, EIGENUINR 20, BSART 4, BELNR 35, WKURS_M 12, in that order).
* ``E1EDKA1``: partner fields as in the EDI partner segments (data elements EDI3035_A
  PARVW 3, PARTNER 17, EDI3036_A..D NAME1..4 35, EDI3042_A/C STRAS/STRS2 35, EDI3164_A
  ORT01 35, EDI3251_A PSTLZ 9, EDI3207_A LAND1 3), then TELF1 25, REGIO 3, IHREZ 30.
* ``E1EDK02`` / ``E1EDP02``: QUALF 3, BELNR 35, POSNR/ZEILE 6, DATUM 8.
* ``E1EDK03``: IDDAT 3, DATUM 8, UZEIT 6. ``E1EDK14``: QUALF 3, ORGID 35.
* ``E1EDK04`` / ``E1EDP04`` (taxes): MWSKZ 7 and MSATZ 17 (data elements EDI5279_A and
  EDI5278_A, the same as in the condition segments), MWSBT 18 (an EDI amount, CHAR 18 like
  every EDI5004 amount), KTEXT 50.
* ``E1EDK05`` / ``E1EDP05`` (conditions): ALCKZ 3, KSCHL 4, KOTXT 80, BETRG 18, KPERC 8,
  KRATE 15, UPRBS 9, MEAUN 3, ..., MWSKZ 7, MSATZ 17 (dictionary structure E1EDP05).
* ``E1EDP01``: POSEX 6, ..., MENGE 15, MENEE 3, BMNG2 15, PMENE 3, ABFTZ 7, VPREI 15,
  PEINH 9, NETWR 18 (dictionary structure E1EDP01).
* ``E1EDP19``: QUALF 3, IDTNR 35, KTEXT 70. ``E1EDP26``: QUALF 3, BETRG 18.
* ``E1EDS01``: SUMID 3, SUMME 18, SUNIT 3, WAERQ 3 (dictionary structure E1EDS01; the
  amount field is SUMME, not BETRG).

Segment order: ORDERS05 follows SAP's published list of the ORDERS basic types (E1EDK01,
E1EDK14, E1EDK03, E1EDK04, E1EDK05, E1EDKA1, E1EDK02, ..., E1EDP01 with E1EDP02, E1EDP03,
E1EDP04, E1EDP05, E1EDP20, E1EDPA1, E1EDP19, ..., then E1EDS01). INVOIC02 puts the partners
first and the organisational data last (E1EDK01, E1EDKA1, E1EDK02, E1EDK03, E1EDK05,
E1EDK04, ..., E1EDK14, E1EDP01 with E1EDP02, E1EDP03, E1EDP19, E1EDP26, E1EDPA1, E1EDP05,
E1EDP04, ..., then E1EDS01). Check both against transaction WE30/WE60 of the partner's
release before go-live: a receiver that validates against its own XSD is strict about
order.

Only the fields the hub fills or reads are listed; their relative order is SAP's. Reading
ignores fields and segments that are not listed here, as SAP's own inbound does for
fields it does not process.

Cutting: a text is never cut silently, with one exception SAP makes itself. SAP's own
outbound fills the E1EDKA1 name, street and city fields from address fields that are
longer (ADRC NAME1 40, STREET 60, CITY1 40 against 35 in the segment) and cuts them to the
segment's length; the hub does the same for exactly those fields (``cut=True``).
Identifiers, codes, amounts and every other text longer than its field are an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["char", "quantity", "amount", "price", "rate", "integer", "ratio", "date", "time"]
"""How a value is written into its CHAR field.

``quantity``: 3 decimals, as SAP writes quantities (MENGE_D has 3). ``amount``: exactly
the currency's minor unit. ``price``: at least the minor unit, more when the price has
more (BT-146). ``rate``: a percentage with at least 3 decimals ("19.000"). ``integer``:
no decimals. ``ratio``: an exchange rate with at least 5 decimals (KURSF is DEC 9,5).
``date``: YYYYMMDD. ``time``: HHMMSS. Negative numbers get the minus sign at the end
("12.50-"), which is how ABAP converts packed numbers to characters.
"""


@dataclass(frozen=True)
class FieldDef:
    """One field of a segment: SAP name, CHAR length, how values are written."""

    name: str
    length: int
    kind: Kind = "char"
    cut: bool = False
    """SAP's own outbound cuts longer source text to this field's length; so does the hub."""


@dataclass(frozen=True)
class SegmentDef:
    """A segment type: its fields in SAP's order."""

    name: str
    fields: tuple[FieldDef, ...]

    def field(self, name: str) -> FieldDef | None:
        for definition in self.fields:
            if definition.name == name:
                return definition
        return None

    def position(self, name: str) -> int:
        for i, definition in enumerate(self.fields):
            if definition.name == name:
                return i
        raise KeyError(name)


def _f(name: str, length: int, kind: Kind = "char", *, cut: bool = False) -> FieldDef:
    return FieldDef(name, length, kind, cut)


CONTROL = SegmentDef(
    "EDI_DC40",
    (
        _f("TABNAM", 10),
        _f("MANDT", 3),
        _f("DOCNUM", 16),
        _f("DOCREL", 4),
        _f("STATUS", 2),
        _f("DIRECT", 1),
        _f("OUTMOD", 1),
        _f("EXPRSS", 1),
        _f("TEST", 1),
        _f("IDOCTYP", 30),
        _f("CIMTYP", 30),
        _f("MESTYP", 30),
        _f("MESCOD", 3),
        _f("MESFCT", 3),
        _f("STD", 1),
        _f("STDVRS", 6),
        _f("STDMES", 6),
        _f("SNDPOR", 10),
        _f("SNDPRT", 2),
        _f("SNDPFC", 2),
        _f("SNDPRN", 10),
        _f("RCVPOR", 10),
        _f("RCVPRT", 2),
        _f("RCVPFC", 2),
        _f("RCVPRN", 10),
        _f("CREDAT", 8, "date"),
        _f("CRETIM", 6, "time"),
        _f("REFINT", 14),
        _f("REFGRP", 14),
        _f("REFMES", 14),
        _f("ARCKEY", 70),
        _f("SERIAL", 20),
    ),
)

_TAX_FIELDS = (
    _f("MWSKZ", 7),
    _f("MSATZ", 17, "rate"),
    _f("MWSBT", 18, "amount"),
    _f("TXJCD", 15),
    _f("KTEXT", 50),
)

_CONDITION_FIELDS = (
    _f("ALCKZ", 3),
    _f("KSCHL", 4),
    _f("KOTXT", 80),
    _f("BETRG", 18, "amount"),
    _f("KPERC", 8, "rate"),
    _f("KRATE", 15, "price"),
    _f("UPRBS", 9, "integer"),
    _f("MEAUN", 3),
    _f("KOBTR", 18, "amount"),
    _f("MWSKZ", 7),
    _f("MSATZ", 17, "rate"),
    _f("KOEIN", 3),
)

SEGMENTS: Mapping[str, SegmentDef] = {
    s.name: s
    for s in (
        SegmentDef(
            "E1EDK01",
            (
                _f("ACTION", 3),
                _f("CURCY", 3),
                _f("HWAER", 3),
                _f("WKURS", 12, "ratio"),
                _f("ZTERM", 17),
                _f("KUNDEUINR", 20),
                _f("EIGENUINR", 20),
                _f("BSART", 4),
                _f("BELNR", 35),
                _f("WKURS_M", 12, "ratio"),
            ),
        ),
        SegmentDef("E1EDK14", (_f("QUALF", 3), _f("ORGID", 35))),
        SegmentDef("E1EDK03", (_f("IDDAT", 3), _f("DATUM", 8, "date"), _f("UZEIT", 6, "time"))),
        SegmentDef("E1EDK04", _TAX_FIELDS),
        SegmentDef("E1EDK05", _CONDITION_FIELDS),
        SegmentDef(
            "E1EDKA1",
            (
                _f("PARVW", 3),
                _f("PARTN", 17),
                _f("LIFNR", 17),
                _f("NAME1", 35, cut=True),
                _f("NAME2", 35, cut=True),
                _f("NAME3", 35, cut=True),
                _f("NAME4", 35, cut=True),
                _f("STRAS", 35, cut=True),
                _f("STRS2", 35, cut=True),
                _f("PFACH", 35),
                _f("ORT01", 35, cut=True),
                _f("COUNC", 9),
                _f("PSTLZ", 9),
                _f("PSTL2", 9),
                _f("LAND1", 3),
                _f("TELF1", 25),
                _f("REGIO", 3),
                _f("IHREZ", 30),
            ),
        ),
        SegmentDef(
            "E1EDK02",
            (
                _f("QUALF", 3),
                _f("BELNR", 35),
                _f("POSNR", 6),
                _f("DATUM", 8, "date"),
                _f("UZEIT", 6, "time"),
            ),
        ),
        SegmentDef(
            "E1EDP01",
            (
                _f("POSEX", 6),
                _f("ACTION", 3),
                _f("PSTYP", 1),
                _f("MENGE", 15, "quantity"),
                _f("MENEE", 3),
                _f("BMNG2", 15, "quantity"),
                _f("PMENE", 3),
                _f("VPREI", 15, "price"),
                _f("PEINH", 9, "integer"),
                _f("NETWR", 18, "amount"),
            ),
        ),
        SegmentDef(
            "E1EDP02",
            (
                _f("QUALF", 3),
                _f("BELNR", 35),
                _f("ZEILE", 6),
                _f("DATUM", 8, "date"),
                _f("UZEIT", 6, "time"),
            ),
        ),
        SegmentDef("E1EDP04", _TAX_FIELDS),
        SegmentDef("E1EDP05", _CONDITION_FIELDS),
        SegmentDef("E1EDP19", (_f("QUALF", 3), _f("IDTNR", 35), _f("KTEXT", 70))),
        SegmentDef("E1EDP26", (_f("QUALF", 3), _f("BETRG", 18, "amount"))),
        SegmentDef(
            "E1EDS01",
            (_f("SUMID", 3), _f("SUMME", 18, "amount"), _f("SUNIT", 3), _f("WAERQ", 3)),
        ),
    )
}


@dataclass(frozen=True)
class IdocType:
    """A basic type: its name, its message type and which segments go where, in order."""

    idoctyp: str
    mestyp: str
    layout: Mapping[str, tuple[str, ...]]
    """Parent segment ("" for the IDoc itself) to its child segment types, in SAP's order."""

    def children_of(self, parent: str) -> tuple[str, ...]:
        return self.layout.get(parent, ())

    def position(self, parent: str, child: str) -> int:
        return self.children_of(parent).index(child)


ORDERS05 = IdocType(
    idoctyp="ORDERS05",
    mestyp="ORDERS",
    layout={
        "": (
            "E1EDK01",
            "E1EDK14",
            "E1EDK03",
            "E1EDK04",
            "E1EDK05",
            "E1EDKA1",
            "E1EDK02",
            "E1EDP01",
            "E1EDS01",
        ),
        "E1EDP01": ("E1EDP02", "E1EDP04", "E1EDP05", "E1EDP19"),
    },
)

INVOIC02 = IdocType(
    idoctyp="INVOIC02",
    mestyp="INVOIC",
    layout={
        "": (
            "E1EDK01",
            "E1EDKA1",
            "E1EDK02",
            "E1EDK03",
            "E1EDK05",
            "E1EDK04",
            "E1EDK14",
            "E1EDP01",
            "E1EDS01",
        ),
        "E1EDP01": ("E1EDP02", "E1EDP19", "E1EDP26", "E1EDP05", "E1EDP04"),
    },
)
