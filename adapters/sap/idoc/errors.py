"""The one error the IDoc package raises: a document that cannot be written or read.

It is a :class:`~hub.errors.MappingApplyError` (HTTP 422, one :class:`~hub.errors.Issue` per
problem) because building or reading an IDoc is mapping a document between the canonical
model and SAP's shape. Each issue's ``where`` names the segment, its position among its
siblings of that type (1-based) and the field, e.g. ``E1EDP01[3].MENGE`` or
``E1EDP01[1]/E1EDP19[1].IDTNR``; the control record is ``EDI_DC40.<field>``.
"""

from __future__ import annotations

from hub.errors import Issue, MappingApplyError


class IdocError(MappingApplyError):
    """The IDoc could not be built or read."""


def fail(where: str, message: str) -> IdocError:
    """An :class:`IdocError` with one issue (raise it)."""
    return IdocError([Issue(where=where, message=message)])
