"""Subscription queries, pure: which Query JSON strings a Realtime subscription may carry, and whether an
event's payload passes them (Appwrite's ``RuntimeQuery``).

Allowed: ``equal``, ``notEqual``, ``lessThan``, ``lessThanEqual``, ``greaterThan``, ``greaterThanEqual``,
``isNull``, ``isNotNull``, ``and``, ``or``, and ``select(["*"])`` (all events, the default). The queries of
one subscription must all pass; a condition on an attribute the payload lacks fails (``isNull`` too), and
a value list passes when one value does (``notEqual``: when none is equal). Equality is by value and type,
except that ints and floats compare as numbers; ordering compares numbers with numbers and strings with
strings, anything else fails.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server.queries import Query, parse_queries

ALLOWED: Final = (
    "equal", "notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual", "isNull", "isNotNull",
    "and", "or", "select",
)  # fmt: skip
SELECT_ALL: Final = '{"method":"select","values":["*"]}'
_ORDER: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "lessThan": operator.lt,
    "lessThanEqual": operator.le,
    "greaterThan": operator.gt,
    "greaterThanEqual": operator.ge,
}


class InvalidQuery(ValueError):
    """A subscription query that cannot be used; the message says why."""


def parse(raw: Sequence[Any]) -> tuple[list[str], list[Query]]:
    """The query strings a subscription reports (``select(*)`` when none) and the filters it applies
    (none for all events). Raises :class:`InvalidQuery`."""
    if not isinstance(raw, list | tuple) or any(not isinstance(item, str) for item in raw):
        raise InvalidQuery("queries must be a list of Query JSON strings.")
    try:
        parsed = parse_queries(list(raw))
    except ApiError as exc:
        raise InvalidQuery(exc.message.removeprefix("Invalid query: ")) from exc
    stack = list(parsed)
    while stack:
        query = stack.pop()
        if query.method not in ALLOWED:
            raise InvalidQuery(
                f"Query method '{query.method}' is not supported in Realtime queries. Allowed: {', '.join(ALLOWED)}"
            )
        if query.method == "select" and list(query.values) != ["*"]:
            raise InvalidQuery(
                'Only select("*") is allowed in Realtime queries. select("*") means "listen to all events".'
            )
        if query.method in ("and", "or"):
            stack.extend(query.values)
    if not parsed or any(q.method == "select" for q in parsed):
        return ([*raw] if parsed else [SELECT_ALL]), []
    return list(raw), parsed


def passes(queries: Sequence[Query], payload: Mapping[str, Any]) -> bool:
    """Whether ``payload`` passes every query (no queries: every payload passes)."""
    return all(_holds(q, payload) for q in queries)


def _holds(query: Query, payload: Mapping[str, Any]) -> bool:
    method = query.method
    if method == "and":
        return all(_holds(q, payload) for q in query.values)
    if method == "or":
        return any(_holds(q, payload) for q in query.values)
    if query.attribute not in payload:
        return False
    value = payload[query.attribute]
    if method == "isNull":
        return value is None
    if method == "isNotNull":
        return value is not None
    if method == "equal":
        return any(_same(value, target) for target in query.values)
    if method == "notEqual":
        return not any(_same(value, target) for target in query.values)
    compare = _ORDER[method]
    return any(_comparable(value, target) and compare(value, target) for target in query.values)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, target: Any) -> bool:
    if _number(value) and _number(target):
        return bool(value == target)
    return type(value) is type(target) and bool(value == target)


def _comparable(value: Any, target: Any) -> bool:
    return (_number(value) and _number(target)) or (isinstance(value, str) and isinstance(target, str))
