"""Gapless invoice numbers: one counter row per series, advanced inside the issuing transaction.

A *series* is a key string: ``INV`` for invoices and ``CRN`` for credit notes, or one per
company and year (``ACME/INV/2026``, see :func:`series_key`) where the law or the
accountants want numbering to restart. Each series is a row of ``invoice_series`` holding
its number pattern and the last number issued. The invoice store
(:mod:`hub.invoicing.store`) calls :func:`allocate` in the same database transaction
that inserts the issued invoice::

    BEGIN                                    -- BEGIN IMMEDIATE on SQLite
      ... checks (order lines, credit notes) ...
      UPDATE invoice_series SET last_number = last_number + 1
       WHERE series = 'INV' RETURNING last_number, pattern
      INSERT INTO issued_invoice (... number ...)
    COMMIT

Why there is no gap and no duplicate
    The number and the invoice commit or roll back together: if anything fails after the
    ``UPDATE`` (a check, a constraint, the process dying), the increment is rolled back
    with the invoice and the next issuer gets the same number; a number therefore exists
    if and only if its invoice does. No sequence object is used: PostgreSQL sequences are
    not transactional (a rolled-back ``nextval`` leaves a gap), the counter row is.
    Duplicates are impossible because the ``UPDATE`` takes the row lock: on PostgreSQL a
    second issuer's ``UPDATE`` waits until the first commits or rolls back, then
    re-reads the row (READ COMMITTED re-checks the updated row) and adds one to the
    committed value; on SQLite every transaction of the hub's engine starts with
    ``BEGIN IMMEDIATE`` (``hub.store.db``), so writers run one after the other. The
    unique constraints on ``(series, seq)`` and ``number`` back this up.

Why no lock spans a network call
    The counter row is locked from its ``UPDATE`` to the ``COMMIT`` of that short local
    transaction, which only reads and writes this database. Posting the invoice to the
    ERP or the shop, or sending it to the customer, happens after the commit, from the
    outbox and the delivery queue (``hub.outbox``, ``hub.queue``), which retry on their
    own. A slow or unreachable ERP therefore never holds up numbering, and the number of
    an invoice that failed to post stays used, because the invoice exists. The cost: all
    issuers of one series take turns for the few milliseconds of the insert; use
    separate series (per company) where that matters.

Patterns
    A pattern is a :meth:`str.format` template with these fields (nothing else, no
    attribute or index access):

    ``{n}``       the number in the series, 1, 2, 3, ... (required); its format spec may
                  only pad: ``{n:06d}`` gives ``000042``; a number wider than the padding
                  grows (``1000000``), it is never cut
    ``{year}``    the invoice's issue year (BT-2), e.g. ``2026``
    ``{date}``    the issue date with a :meth:`~datetime.date.strftime` spec:
                  ``{date:%y}`` gives ``26``, ``{date:%m}`` the month
    ``{series}``  the series key itself

    Literal braces are doubled (``{{``). Examples: ``INV-{year}-{n:06d}`` gives
    ``INV-2026-000001``; ``{series}-{n}`` on series ``CRN`` gives ``CRN-1``. Numbers are
    unique across all series (a unique constraint), so patterns of different series must
    produce different numbers: give every series its own prefix. A number is at most
    :data:`NUMBER_MAX` characters.

    ``{year}`` does not restart the count: ``INV-{year}-{n:06d}`` on series ``INV``
    continues from ``INV-2026-000412`` to ``INV-2027-000413``. To restart each year, use
    one series per year (``series_key("INV", year=2027)``) and define it before the year
    starts; issuing into an undefined series is refused (:class:`UnknownSeries`), so a
    forgotten one cannot silently start a default pattern.

A series' pattern is fixed once the series exists: a changed pattern would issue numbers
of two formats in one sequence; start a new series instead.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.clock import utcnow
from hub.errors import HubError
from hub.store.tables import invoice_series_table

S = invoice_series_table.c

SERIES_MAX = 64
"""Longest series key."""
PATTERN_MAX = 255
"""Longest pattern."""
NUMBER_MAX = 64
"""Longest formatted number (the ``issued_invoice.number`` column)."""

FIELDS = frozenset({"n", "year", "date", "series"})
_N_SPEC = re.compile(r"0?[0-9]*d?")
_SERIES_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_SAMPLE_DATE = date(2026, 12, 31)


class NumberingError(HubError):
    """The invoice number series or pattern is invalid."""

    status = 422


class UnknownSeries(NumberingError):
    """No number series of that name is defined."""

    status = 404


class PatternError(NumberingError):
    """The number pattern is invalid."""


@dataclass(frozen=True)
class NumberPattern:
    """A validated number pattern (see the module docstring for the fields)."""

    text: str

    @classmethod
    def parse(cls, text: str) -> NumberPattern:
        """Check ``text`` and return it as a pattern; :class:`PatternError` says why not."""
        if not text or len(text) > PATTERN_MAX:
            raise PatternError(f"a number pattern has 1 to {PATTERN_MAX} characters: {text!r}")
        has_n = False
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise PatternError(f"number pattern {text!r}: {exc}") from None
        for _literal, field, spec, conversion in parsed:
            if field is None:
                continue
            if field not in FIELDS:
                known = ", ".join("{" + f + "}" for f in sorted(FIELDS))
                raise PatternError(
                    f"number pattern {text!r}: unknown field {{{field}}}; use {known}"
                )
            if conversion:
                raise PatternError(f"number pattern {text!r}: no conversion (!{conversion})")
            if spec and "{" in spec:
                raise PatternError(f"number pattern {text!r}: no nested fields in {{{field}}}")
            if field == "n":
                if not _N_SPEC.fullmatch(spec or ""):
                    raise PatternError(
                        f"number pattern {text!r}: {{n:{spec}}} may only pad the number, "
                        "e.g. {n:06d}"
                    )
                has_n = True
        if not has_n:
            raise PatternError(f"number pattern {text!r} has no {{n}}: numbers would repeat")
        pattern = cls(text)
        try:
            sample = pattern.format(1, series="S", issue_date=_SAMPLE_DATE)
        except (ValueError, TypeError) as exc:
            raise PatternError(f"number pattern {text!r}: {exc}") from None
        if not sample.strip():
            raise PatternError(f"number pattern {text!r} gives an empty number")
        return pattern

    def format(self, n: int, *, series: str, issue_date: date) -> str:
        """The number ``n`` of ``series`` for an invoice issued on ``issue_date``."""
        return self.text.format(n=n, year=issue_date.year, date=issue_date, series=series)


@dataclass(frozen=True)
class Series:
    """One series as stored."""

    series: str
    pattern: str
    last_number: int
    created_at: datetime
    updated_at: datetime

    @property
    def next_number(self) -> int:
        """The number the next issued invoice will get (if nothing else issues first)."""
        return self.last_number + 1


def series_key(prefix: str, *, company: str | None = None, year: int | None = None) -> str:
    """A series key per company and/or year: ``series_key("INV", company="ACME",
    year=2026)`` is ``ACME/INV/2026``; ``series_key("CRN")`` is ``CRN``."""
    parts = [p for p in (company, prefix, None if year is None else str(year)) if p]
    return check_series_key("/".join(parts))


def check_series_key(series: str) -> str:
    """``series`` if it is a valid key (letters, digits, ``.``, ``_``, ``/``, ``-``)."""
    if len(series) > SERIES_MAX or not _SERIES_KEY.fullmatch(series):
        raise NumberingError(
            f"series key {series!r}: 1 to {SERIES_MAX} characters, letters, digits, "
            "'.', '_', '/' or '-', starting with a letter or digit"
        )
    return series


def define_series(engine: Engine, series: str, pattern: str, *, first: int = 1) -> Series:
    """Create ``series`` with ``pattern``; its first invoice gets number ``first``.

    Idempotent: defining an existing series with the same pattern returns it unchanged
    (``first`` only applies on creation, e.g. to continue a predecessor system's
    numbering). A different pattern for an existing series is refused.
    """
    check_series_key(series)
    NumberPattern.parse(pattern)
    if first < 1:
        raise NumberingError(f"series {series!r}: the first number must be at least 1")
    existing = get_series(engine, series)
    if existing is None:
        now = utcnow()
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(invoice_series_table).values(
                        series=series,
                        pattern=pattern,
                        last_number=first - 1,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            pass  # another process defined it at the same moment: compare below
        existing = get_series(engine, series)
        assert existing is not None
    if existing.pattern != pattern:
        raise PatternError(
            f"series {series!r} exists with pattern {existing.pattern!r}, not {pattern!r}; "
            "a series keeps its pattern: define a new series instead"
        )
    return existing


def get_series(engine: Engine | Connection, series: str) -> Series | None:
    """The stored series, or None."""
    query = select(invoice_series_table).where(S.series == series)
    if isinstance(engine, Connection):
        row = engine.execute(query).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    return _series(row._mapping) if row is not None else None


def list_series(engine: Engine) -> list[Series]:
    """Every series, by key."""
    with engine.connect() as conn:
        rows = conn.execute(select(invoice_series_table).order_by(S.series)).all()
    return [_series(r._mapping) for r in rows]


def allocate(conn: Connection, series: str, *, issue_date: date) -> tuple[int, str]:
    """Take the next number of ``series``: (n, formatted number).

    Must run inside the transaction that stores the document numbered with it (the
    caller's ``engine.begin()``): the increment then commits or rolls back with the
    document, which is what makes the series gapless. Keep the rest of that transaction
    short and local; the series' row is locked until it ends.
    """
    row = conn.execute(
        update(invoice_series_table)
        .where(S.series == series)
        .values(last_number=S.last_number + 1, updated_at=utcnow())
        .returning(S.last_number, S.pattern)
    ).first()
    if row is None:
        raise UnknownSeries(
            f"no invoice number series {series!r}; define it first (with its pattern)"
        )
    n = int(row.last_number)
    number = NumberPattern(str(row.pattern)).format(n, series=series, issue_date=issue_date)
    if not number.strip() or len(number) > NUMBER_MAX:
        raise PatternError(
            f"series {series!r}: number {number!r} is empty or longer than {NUMBER_MAX} characters"
        )
    return n, number


def _series(row: RowMapping) -> Series:
    return Series(
        series=str(row["series"]),
        pattern=str(row["pattern"]),
        last_number=int(row["last_number"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
