"""Magento's ``searchCriteria`` query language and the ``fields`` projection.

Query parameters arrive in PHP's bracket notation
(``searchCriteria[filterGroups][0][filters][0][field]=updated_at``). Both spellings Magento
accepts are read: camelCase (``filterGroups``, ``conditionType``, ``sortOrders``,
``pageSize``, ``currentPage``, as the Swagger parameters list them) and the snake_case
names of ``framework-search-criteria-interface`` (``filter_groups``, ``condition_type``…).

Semantics (Magento's ``FilterProcessor`` / ``Collection``):

* filters in one group are OR-ed, groups are AND-ed; ``condition_type`` defaults to ``eq``;
* ``in``/``nin`` take a comma-separated list; ``like``/``nlike`` use SQL ``%``/``_``
  wildcards, case-insensitive as MySQL's default collation; ``from``/``to`` are ``gteq``/
  ``lteq``; ``null``/``notnull`` ignore the value; an unknown condition type is read as
  ``eq`` (the simulator does not reproduce Magento's SQL errors);
* comparisons follow SQL: a missing (NULL) column matches no comparison; numbers compare
  as numbers when the filter value is numeric, everything else compares as text (Magento's
  ``YYYY-MM-DD HH:MM:SS`` timestamps order correctly as text);
* ``sort_orders`` apply in order (direction ``ASC`` unless ``DESC``), then entity id;
* ``page_size`` absent or 0 returns everything; ``current_page`` below 1 reads page 1 and
  past the end reads the **last page again** (``Framework\\Data\\Collection::getCurPage``
  clamps it); the ``search_criteria`` echo keeps the page the client asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.magento.simulator.state import MagentoError

__all__ = ["Criteria", "parse_criteria", "parse_fields", "project", "search"]

_TOKEN = re.compile(r"\[([^\]]*)\]")
_ALIASES = {
    "filterGroups": "filter_groups",
    "conditionType": "condition_type",
    "sortOrders": "sort_orders",
    "pageSize": "page_size",
    "currentPage": "current_page",
    "searchCriteria": "search_criteria",
}


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not rest:
        return [head]
    return [head, *_TOKEN.findall("[" + rest)]


def _nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = [_ALIASES.get(part, part) for part in _split_key(key)]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return root


def _listed(node: Any) -> list[Any]:
    """A bracket-notation "array" (dict keyed "0", "1", …) as a list in index order."""
    if isinstance(node, list):
        return node
    if not isinstance(node, dict):
        return []
    keyed = sorted(node.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 1 << 30)
    return [value for _, value in keyed]


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise MagentoError(
            400,
            'The "%value" value\'s type is invalid. The "%type" type was expected. '
            "Verify and try again.",
            {"value": str(value), "type": "int"},
        ) from None


class Criteria:
    """A parsed ``searchCriteria``."""

    def __init__(
        self,
        filter_groups: list[list[dict[str, str]]],
        sort_orders: list[dict[str, str]],
        page_size: int | None,
        current_page: int | None,
    ) -> None:
        self.filter_groups = filter_groups
        self.sort_orders = sort_orders
        self.page_size = page_size
        self.current_page = current_page

    def echo(self) -> dict[str, Any]:
        """The ``search_criteria`` block of a search result."""
        out: dict[str, Any] = {
            "filter_groups": [{"filters": list(group)} for group in self.filter_groups]
        }
        if self.sort_orders:
            out["sort_orders"] = list(self.sort_orders)
        if self.page_size is not None:
            out["page_size"] = self.page_size
        if self.current_page is not None:
            out["current_page"] = self.current_page
        return out


def parse_criteria(pairs: Iterable[tuple[str, str]]) -> Criteria:
    """Read ``searchCriteria`` from query pairs; 400 as Magento when it is missing."""
    root = _nest(pairs)
    if "search_criteria" not in root:
        raise MagentoError(
            400, '"%fieldName" is required. Enter and try again.', {"fieldName": "searchCriteria"}
        )
    raw = root["search_criteria"]
    criteria: dict[str, Any] = raw if isinstance(raw, dict) else {}
    groups: list[list[dict[str, str]]] = []
    for group in _listed(criteria.get("filter_groups")):
        filters = []
        for item in _listed(group.get("filters") if isinstance(group, dict) else None):
            if not isinstance(item, dict) or "field" not in item:
                continue
            filters.append(
                {
                    "field": str(item["field"]),
                    "value": str(item.get("value", "")),
                    "condition_type": str(item.get("condition_type") or "eq").lower(),
                }
            )
        if filters:
            groups.append(filters)
    sorts = []
    for item in _listed(criteria.get("sort_orders")):
        if isinstance(item, dict) and item.get("field"):
            direction = "DESC" if str(item.get("direction", "ASC")).upper() == "DESC" else "ASC"
            sorts.append({"field": str(item["field"]), "direction": direction})
    size = criteria.get("page_size")
    page = criteria.get("current_page")
    return Criteria(
        groups,
        sorts,
        None if size in (None, "") else _int(size),
        None if page in (None, "") else _int(page),
    )


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return None


def _as_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _compare(actual: Any, expected: str) -> int | None:
    """-1/0/1 as SQL would order ``actual`` against ``expected``; None for NULL."""
    if actual is None:
        return None
    left_number = _number(actual)
    right_number = _as_number(expected)
    if left_number is not None and right_number is not None:
        return (left_number > right_number) - (left_number < right_number)
    text = _text(actual)
    return (text > expected) - (text < expected)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for char in pattern:
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


_ORDERING: dict[str, Callable[[int], bool]] = {
    "eq": lambda c: c == 0,
    "neq": lambda c: c != 0,
    "gt": lambda c: c > 0,
    "gteq": lambda c: c >= 0,
    "from": lambda c: c >= 0,
    "lt": lambda c: c < 0,
    "lteq": lambda c: c <= 0,
    "to": lambda c: c <= 0,
}


def _matches(record: dict[str, Any], flt: dict[str, str]) -> bool:
    actual = record.get(flt["field"])
    condition = flt["condition_type"]
    value = flt["value"]
    if condition == "null":
        return actual is None
    if condition == "notnull":
        return actual is not None
    if actual is None:
        return False
    if condition in ("in", "nin"):
        hit = any(_compare(actual, part.strip()) == 0 for part in value.split(","))
        return hit if condition == "in" else not hit
    if condition in ("like", "nlike"):
        hit = _like(value).fullmatch(_text(actual)) is not None
        return hit if condition == "like" else not hit
    order = _compare(actual, value)
    test = _ORDERING.get(condition, _ORDERING["eq"])
    return order is not None and test(order)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    number = _number(value)
    if number is not None:
        return (1, number)
    return (2, _text(value))


def _aliased(criteria: Criteria, aliases: dict[str, str]) -> Criteria:
    def rename(entry: dict[str, str]) -> dict[str, str]:
        field = entry.get("field", "")
        return {**entry, "field": aliases.get(field, field)}

    return Criteria(
        [[rename(flt) for flt in group] for group in criteria.filter_groups],
        [rename(order) for order in criteria.sort_orders],
        criteria.page_size,
        criteria.current_page,
    )


def search(
    records: Iterable[dict[str, Any]],
    criteria: Criteria,
    id_field: str = "entity_id",
    aliases: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The records of the requested page and the total number that matched.

    ``aliases`` maps a column name searchCriteria may use to the document's key, e.g.
    customers are searched by ``entity_id`` (customer_entity's column) but carry ``id``.
    """
    if aliases:
        criteria = _aliased(criteria, aliases)
    hits = [
        record
        for record in records
        if all(any(_matches(record, flt) for flt in group) for group in criteria.filter_groups)
    ]
    hits.sort(key=lambda record: _sort_key(record.get(id_field)))
    for order in reversed(criteria.sort_orders):
        field = order["field"]
        hits.sort(
            key=lambda record, f=field: _sort_key(record.get(f)),  # type: ignore[misc]
            reverse=order["direction"] == "DESC",
        )
    total = len(hits)
    size = criteria.page_size or 0
    if size <= 0:
        return hits, total
    last_page = max(1, -(-total // size))
    page = min(max(criteria.current_page or 1, 1), last_page)
    start = (page - 1) * size
    return hits[start : start + size], total


# ------------------------------------------------------------------ fields projection

Fields = dict[str, "Fields | None"]


def parse_fields(spec: str) -> Fields:
    """``items[entity_id,increment_id,items[sku]],total_count`` as a nested dict."""
    pos = 0

    def level(depth: int) -> Fields:
        nonlocal pos
        out: Fields = {}
        name = ""
        while pos < len(spec):
            char = spec[pos]
            pos += 1
            if char == ",":
                if name.strip():
                    out.setdefault(name.strip(), None)
                name = ""
            elif char == "[":
                out[name.strip()] = level(depth + 1)
                name = ""
            elif char == "]":
                if depth == 0:
                    continue
                break
            else:
                name += char
        if name.strip():
            out.setdefault(name.strip(), None)
        return out

    if spec.count("[") > 32:
        raise MagentoError(400, "The fields parameter is nested too deeply.")
    return level(0)


def project(value: Any, fields: Fields) -> Any:
    """Keep only the named fields (recursively through lists), as Magento's ``fields``."""
    if isinstance(value, list):
        return [project(item, fields) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for name, sub in fields.items():
        if name in value:
            out[name] = value[name] if sub is None else project(value[name], sub)
    return out
