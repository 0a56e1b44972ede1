"""A deliberately naive, pure-Python evaluator of Appwrite queries, the oracle for the SQL compiler.

It works on documents as plain dicts (``$id``, ``$sequence``, ``$createdAt``, ``$updatedAt`` and the
user attributes; a missing key and ``None`` both mean null) and follows the semantics documented in
``quixotic.server.queries`` without sharing any code with it. It assumes the queries are valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any

from quixotic.server.queries import Field, Query

SYSTEM_TYPES = {"$id": "string", "$sequence": "integer", "$createdAt": "datetime", "$updatedAt": "datetime"}


def field_of(name: str, fields: Mapping[str, Field]) -> Field:
    if name in SYSTEM_TYPES:
        return Field(SYSTEM_TYPES[name])
    return fields[name]


def to_instant(text: str) -> datetime:
    """Datetimes are compared as instants here (the SQL compares normalised text)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Appwrite keeps milliseconds only.
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def comparable(value: Any, field: Field) -> Any:
    if value is None:
        return None
    if field.type == "datetime":
        return to_instant(value)
    if field.type == "boolean":
        return int(value)
    return value


def words(text: str) -> list[str]:
    return [w.casefold() for w in re.findall(r"[^\W_]+", text)]


def search(text: str | None, query: str) -> bool:
    if text is None:
        return False
    haystack = words(text)
    for needle in words(query):
        for word in haystack:
            if word.startswith(needle):
                return True
    return False


def matches(query: Query, doc: Mapping[str, Any], fields: Mapping[str, Field]) -> bool:
    method = query.method
    if method == "and":
        return all(matches(q, doc, fields) for q in query.values)
    if method == "or":
        return any(matches(q, doc, fields) for q in query.values)
    field = field_of(query.attribute, fields)
    raw = doc.get(query.attribute)
    if method == "isNull":
        return raw is None
    if method == "isNotNull":
        return raw is not None
    if raw is None:
        return False  # every other filter, negations included, is false on null
    values = [comparable(v, Field(field.type)) for v in query.values]
    if field.array:
        items = [comparable(v, Field(field.type)) for v in raw]
        hit = any(v in items for v in values)
        if method in ("equal", "contains"):
            return hit
        if method in ("notEqual", "notContains"):
            return not hit
        raise AssertionError(method)
    value = comparable(raw, field)
    if method == "equal":
        return value in values
    if method == "notEqual":
        return value not in values
    if method == "lessThan":
        return bool(value < values[0])
    if method == "lessThanEqual":
        return bool(value <= values[0])
    if method == "greaterThan":
        return bool(value > values[0])
    if method == "greaterThanEqual":
        return bool(value >= values[0])
    if method == "between":
        return bool(values[0] <= value <= values[1])
    if method == "notBetween":
        return not values[0] <= value <= values[1]
    if method == "startsWith":
        return any(value.startswith(v) for v in values)
    if method == "notStartsWith":
        return not any(value.startswith(v) for v in values)
    if method == "endsWith":
        return any(value.endswith(v) for v in values)
    if method == "notEndsWith":
        return not any(value.endswith(v) for v in values)
    if method == "contains":
        return any(v in value for v in values)
    if method == "notContains":
        return not any(v in value for v in values)
    if method == "search":
        return search(value, values[0])
    if method == "notSearch":
        return not search(value, values[0])
    raise AssertionError(f"unknown method {method}")


def _compare(a: Any, b: Any) -> int:
    """None first, then by value."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return int(a > b) - int(a < b)


def _sort_key(name: str, field: Field) -> Callable[[Mapping[str, Any]], Any]:
    def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
        return _compare(comparable(a.get(name), field), comparable(b.get(name), field))

    return cmp_to_key(compare)


def ordered(
    docs: Sequence[Mapping[str, Any]], queries: Sequence[Query], fields: Mapping[str, Field]
) -> list[Mapping[str, Any]]:
    """Filter and sort, without paging."""
    filters = [
        q
        for q in queries
        if q.method not in ("orderAsc", "orderDesc", "limit", "offset", "cursorAfter", "cursorBefore", "select")
    ]
    keys = [
        (q.attribute or "$sequence", q.method == "orderDesc") for q in queries if q.method in ("orderAsc", "orderDesc")
    ]
    keys.append(("$sequence", keys[0][1] if keys else False))
    rows = [d for d in docs if all(matches(q, d, fields) for q in filters)]
    # Stable sorts from the least significant key to the most significant one.
    for name, descending in reversed(keys):
        rows.sort(key=_sort_key(name, field_of(name, fields)), reverse=descending)
    return rows


def run(docs: Sequence[Mapping[str, Any]], queries: Sequence[Query], fields: Mapping[str, Field]) -> list[str]:
    """Ids of the page the queries ask for (limit defaults to 25)."""
    rows = [d["$id"] for d in ordered(docs, queries, fields)]
    limit = next((q.values[0] for q in queries if q.method == "limit"), 25)
    offset = next((q.values[0] for q in queries if q.method == "offset"), 0)
    cursor = next((q for q in queries if q.method in ("cursorAfter", "cursorBefore")), None)
    if cursor is not None:
        # The cursor row need not match the filters: its place in the ordering of all rows counts.
        orders = [q for q in queries if q.method in ("orderAsc", "orderDesc")]
        everything = [d["$id"] for d in ordered(docs, orders, fields)]
        at = everything.index(cursor.values[0])
        if cursor.method == "cursorAfter":
            side = set(everything[at + 1 :])
            rows = [r for r in rows if r in side]
        else:
            side = set(everything[:at])
            rows = [r for r in rows if r in side]
            # Appwrite fetches the reversed ordering (offset and limit apply there) and flips it back.
            end = max(0, len(rows) - offset)
            return rows[max(0, end - limit) : end]
    return rows[offset : offset + limit]
