"""Appwrite queries (1.5+ JSON form) parsed, validated and compiled to SQLite SQL text.

This module is pure: it never touches a database. ``compile_queries`` turns a list of parsed
:class:`Query` objects into a ``WHERE`` expression with ``?`` placeholders, an ordering, a page window
and an unresolved cursor; the caller owns the connection and runs the SQL.

Physical layout the SQL targets (one table per resource): ``_uid`` ($id), ``_seq`` ($sequence),
``_createdAt`` / ``_updatedAt`` (normalised ISO text), ``_permissions`` and a JSON ``data`` column holding
the user attributes. A user attribute ``x`` is read as ``json_extract(data, '$."x"')``.

Semantic choices (where Appwrite on MariaDB cannot be copied exactly):

* String comparison is case-sensitive and by code point everywhere (``equal``, ``lessThan``,
  ``startsWith``, ``endsWith``, ``contains``, ordering). MariaDB's ``utf8mb4_unicode_ci`` collation
  would make them case-insensitive; SQLite's ``LIKE`` is only ASCII-case-insensitive, so matching is
  done with ``substr``/``instr`` instead, which needs no wildcard escaping at all.
* Every filter is false on a null or missing attribute except ``isNull``. That includes the negated
  filters (``notEqual``, ``notBetween``, ``notStartsWith``, ``notEndsWith``, ``notContains``,
  ``notSearch``), like SQL's three-valued logic in MariaDB: ask for ``isNull`` to get those rows.
* ``equal``/``notEqual`` on an array attribute mean ``contains``/``notContains`` (element tests).
* ``notEqual`` with several values means "equal to none of them".
* ``search`` uses :func:`search_matches` (registered by the caller as SQL function ``qx_search``).
* Several ``limit`` or ``offset`` queries: the first one wins (as in Appwrite); several cursors are an
  error.
* NULLs sort first in ascending order and last in descending order (SQLite and MariaDB agree), and
  the ordering always ends with ``$sequence`` in the direction of the first order query (ascending
  when there is none), which makes it total so that keyset paging is exact.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import validation
from quixotic.server.clock import normalize_iso

__all__ = [
    "FILTER_METHODS",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_QUERIES",
    "MAX_QUERY_LENGTH",
    "MAX_VALUES",
    "SYSTEM_FIELDS",
    "Compiled",
    "Field",
    "Query",
    "compile_queries",
    "keyset_condition",
    "order_by_clause",
    "parse_queries",
    "parse_query",
    "search_matches",
]

MAX_QUERIES: Final = 100
MAX_QUERY_LENGTH: Final = 4096
MAX_VALUES: Final = 500
MAX_LIMIT: Final = 2**63 - 1  # self-hosted Appwrite sets no upper bound on limit
MAX_OFFSET: Final = 5000
# Nesting of and/or; the 4096-character limit already bounds it, this keeps recursion shallow.
MAX_DEPTH: Final = 10

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

_INVALID: Final = "general_query_invalid"
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_$.\-]+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Field:
    """Schema of one queryable attribute (string formats such as email/enum/url/ip are ``string``)."""

    type: str
    array: bool = False
    fulltext: bool = False
    elements: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Query:
    """One parsed query; for ``and``/``or`` the values are the nested :class:`Query` objects."""

    method: str
    attribute: str
    values: tuple[Any, ...]


@dataclass
class Compiled:
    """SQL pieces for one list request; ``order`` always ends with the ``$sequence`` tiebreak."""

    where: str
    params: list[Any]
    order: list[tuple[str, str, str]]
    limit: int
    offset: int
    cursor: tuple[str, str] | None
    select: list[str] | None


# Attributes every resource table has, with their physical columns.
SYSTEM_FIELDS: Final[Mapping[str, tuple[str, Field]]] = {
    "$id": ("_uid", Field("string")),
    "$sequence": ("_seq", Field("integer")),
    "$createdAt": ("_createdAt", Field("datetime")),
    "$updatedAt": ("_updatedAt", Field("datetime")),
}
# Physical columns that are never NULL (no "OR x IS NULL" needed in keyset conditions).
_NOT_NULL_COLUMNS: Final = frozenset(column for column, _ in SYSTEM_FIELDS.values())
# Extra names a select query may mention (they are not filterable).
_SELECTABLE_SYSTEM: Final = frozenset({*SYSTEM_FIELDS, "$permissions", "$tableId", "$collectionId", "$databaseId", "*"})

_COMPARISONS: Final = {
    "lessThan": "<",
    "lessThanEqual": "<=",
    "greaterThan": ">",
    "greaterThanEqual": ">=",
}
FILTER_METHODS: Final = frozenset(
    {
        "equal",
        "notEqual",
        *_COMPARISONS,
        "between",
        "notBetween",
        "isNull",
        "isNotNull",
        "startsWith",
        "notStartsWith",
        "endsWith",
        "notEndsWith",
        "contains",
        "notContains",
        "search",
        "notSearch",
        "and",
        "or",
    }
)
_OTHER_METHODS: Final = frozenset({"select", "orderAsc", "orderDesc", "limit", "offset", "cursorAfter", "cursorBefore"})
# Methods Appwrite knows but this server does not implement: a clearer error than "invalid method".
_UNSUPPORTED_METHODS: Final = frozenset(
    {
        "exists",
        "notExists",
        "containsAny",
        "containsAll",
        "regex",
        "orderRandom",
        "elemMatch",
        "distanceEqual",
        "distanceNotEqual",
        "distanceGreaterThan",
        "distanceLessThan",
        "intersects",
        "notIntersects",
        "crosses",
        "notCrosses",
        "overlaps",
        "notOverlaps",
        "touches",
        "notTouches",
    }
)
_NEGATED: Final = {
    "notEqual": "equal",
    "notContains": "contains",
    "notStartsWith": "startsWith",
    "notEndsWith": "endsWith",
    "notSearch": "search",
}
_SCALAR_ONLY: Final = frozenset(
    {
        *_COMPARISONS,
        "between",
        "notBetween",
        "startsWith",
        "notStartsWith",
        "endsWith",
        "notEndsWith",
        "search",
        "notSearch",
    }
)


def _invalid(message: str) -> ApiError:
    return ApiError(_INVALID, f"Invalid query: {message}")


# --------------------------------------------------------------------------------------------- parsing


def parse_query(raw: str) -> Query:
    """Parse one query JSON string; only structure is checked here, the schema in ``compile_queries``."""
    if not isinstance(raw, str):
        raise _invalid(f"Must be a string, got {type(raw).__name__}")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise _invalid("Syntax error") from None
    if "\\u" in raw:  # only a \u escape makes a lone surrogate, which SQLite cannot take as a value
        validation.check_tree(document, "queries", int64=False)
    return _from_document(document, 0)


def _from_document(document: Any, depth: int) -> Query:
    """Build a :class:`Query` from its decoded JSON object, recursing into and/or."""
    if not isinstance(document, dict):
        raise ApiError(_INVALID, f"Invalid query. Must be an object, got {_json_type(document)}")
    method = document.get("method")
    attribute = document.get("attribute", "")
    values = document.get("values", [])
    if not isinstance(method, str):
        raise ApiError(_INVALID, f"Invalid query method. Must be a string, got {_json_type(method)}")
    if attribute is None:
        attribute = ""
    if not isinstance(attribute, str):
        raise ApiError(_INVALID, f"Invalid query attribute. Must be a string, got {_json_type(attribute)}")
    if values is None:
        values = []
    if not isinstance(values, list):
        raise ApiError(_INVALID, f"Invalid query values. Must be an array, got {_json_type(values)}")
    if method in _UNSUPPORTED_METHODS:
        raise _invalid(f'Query method "{method}" is not supported by this server')
    if method not in FILTER_METHODS and method not in _OTHER_METHODS:
        raise ApiError(_INVALID, f"Invalid query method: {method}")
    if len(values) > MAX_VALUES:
        raise _invalid(f'Query on attribute "{attribute}" has more than {MAX_VALUES} values')
    if method in ("and", "or"):
        if depth >= MAX_DEPTH:
            raise _invalid(f"Queries may be nested at most {MAX_DEPTH} levels deep")
        return Query(method, attribute, tuple(_from_document(value, depth + 1) for value in values))
    return Query(method, attribute, tuple(values))


def parse_queries(raw: Sequence[str]) -> list[Query]:
    """Parse the ``queries`` request parameter (at most 100 strings of at most 4096 characters)."""
    if (
        isinstance(raw, str)
        or len(raw) > MAX_QUERIES
        or any(not isinstance(item, str) or len(item) > MAX_QUERY_LENGTH for item in raw)
    ):
        # Appwrite rejects these in the parameter validator, before any query is parsed.
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `queries` param: Value must a valid array no longer than {MAX_QUERIES} items and "
            f"Value must be a valid string and no longer than {MAX_QUERY_LENGTH} chars",
        )
    return [parse_query(item) for item in raw]


def _json_type(value: Any) -> str:
    """PHP-ish type names for error messages."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ------------------------------------------------------------------------------------------- compiling


def _json_path(key: str) -> str:
    """SQL literal of the JSON path to a top-level key; the key is quoted so ``.`` and ``$`` are literal."""
    if not _ATTRIBUTE_KEY.fullmatch(key):
        raise ValueError(f"attribute key {key!r} cannot be addressed safely")
    return f"'$.\"{key}\"'"


@dataclass(frozen=True)
class _Target:
    """A resolved attribute: its schema and the SQL that reads it."""

    name: str
    field: Field
    expr: str  # scalar value (for arrays: the JSON text of the array)
    elements: str | None  # table-valued source of array elements, arrays only


def _resolve(attribute: str, fields: Mapping[str, Field], data_column: str) -> _Target:
    system = SYSTEM_FIELDS.get(attribute)
    if system is not None:
        return _Target(attribute, system[1], system[0], None)
    field = fields.get(attribute)
    if field is None:
        raise _invalid(f"Attribute not found in schema: {attribute}")
    path = _json_path(attribute)
    elements = f"json_each({data_column}, {path})" if field.array else None
    return _Target(attribute, field, f"json_extract({data_column}, {path})", elements)


def _coerce(value: Any, target: _Target) -> Any:
    """Check a query value against the attribute type and convert it to its stored SQL form."""
    kind = target.field.type
    result: Any = None
    if kind == "string":
        if isinstance(value, str):
            result = value
    elif kind == "integer":
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            result = value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            result = int(value)
        elif target.name == "$sequence" and isinstance(value, str) and value.isascii() and value.isdigit():
            result = int(value)  # SDKs may pass the sequence as text
        if result is not None and not _INT64_MIN <= result <= _INT64_MAX:
            result = None
    elif kind == "double":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            result = value
            if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
                result = float(value)
    elif kind == "boolean":
        if isinstance(value, bool):
            result = int(value)  # json_extract yields 1/0 for JSON true/false
    elif kind == "datetime":
        if isinstance(value, str):
            try:
                result = normalize_iso(value)
            except (ValueError, OverflowError):
                result = None
    else:
        raise ValueError(f"unknown field type {kind!r} for attribute {target.name!r}")
    if result is None:
        raise _invalid(f'Query value is invalid for attribute "{target.name}"')
    return result


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


class _Compiler:
    """Holds the schema while a query tree is turned into SQL."""

    def __init__(self, fields: Mapping[str, Field], data_column: str) -> None:
        self.fields = fields
        self.data_column = data_column

    def filter(self, query: Query) -> tuple[str, list[Any]]:
        """SQL boolean expression for one filter query (NULL, i.e. false, on rows it does not match)."""
        method = query.method
        if method in ("and", "or"):
            return self._logical(query)
        if method not in FILTER_METHODS:
            raise _invalid(f'Method "{method}" is not a filter')
        target = _resolve(query.attribute, self.fields, self.data_column)
        field = target.field
        if field.array and method in _SCALAR_ONLY:
            raise _invalid(f'Cannot query {method} on attribute "{target.name}" because it is an array.')
        if method in ("isNull", "isNotNull"):
            return f"{target.expr} IS {'NOT ' if method == 'isNotNull' else ''}NULL", []
        self._check_applicable(method, target)
        values = [_coerce(value, target) for value in self._checked_values(query)]
        positive = _NEGATED.get(method)
        if positive is not None:
            # Negations are false on null, as in MariaDB; the positive form below is never NULL otherwise.
            sql, params = self._positive(positive, target, values)
            return f"({target.expr} IS NOT NULL AND NOT ({sql}))", params
        if method in ("between", "notBetween"):
            low, high = values
            return f"{target.expr} {'NOT ' if method == 'notBetween' else ''}BETWEEN ? AND ?", [low, high]
        if method in _COMPARISONS:
            return f"{target.expr} {_COMPARISONS[method]} ?", values
        return self._positive(method, target, values)

    @staticmethod
    def _check_applicable(method: str, target: _Target) -> None:
        """Reject methods the attribute's type cannot answer, before looking at the values."""
        field = target.field
        base = _NEGATED.get(method, method)
        if base in ("contains", "startsWith", "endsWith", "search") and not field.array:
            if field.type != "string":
                reason = "an array or string" if base == "contains" else "a string"
                raise _invalid(f'Cannot query {method} on attribute "{target.name}" because it is not {reason}.')
            if base == "search" and not field.fulltext:
                raise _invalid(f'Searching by attribute "{target.name}" requires a fulltext index.')

    def _checked_values(self, query: Query) -> tuple[Any, ...]:
        method, values = query.method, query.values
        if method in (*_COMPARISONS, "search", "notSearch"):
            if len(values) != 1:
                raise _invalid(f"{method} queries require exactly one value.")
        elif method in ("between", "notBetween"):
            if len(values) != 2:
                raise _invalid(f"{method} queries require exactly two values.")
        elif not values:
            raise _invalid(f"{method} queries require at least one value.")
        return values

    def _positive(self, method: str, target: _Target, values: list[Any]) -> tuple[str, list[Any]]:
        """equal / contains / startsWith / endsWith / search, true when any value matches."""
        expr = target.expr
        if target.elements is not None:  # equal and contains on arrays: holds any of the values
            return (
                f"EXISTS (SELECT 1 FROM {target.elements} AS qx_e WHERE qx_e.value IN ({_placeholders(len(values))}))",
                values,
            )
        if method == "equal":
            if len(values) == 1:
                return f"{expr} = ?", values
            return f"{expr} IN ({_placeholders(len(values))})", values
        if method == "search":
            return f"qx_search({expr}, ?)", values
        params: list[Any] = []
        parts: list[str] = []
        for value in values:
            if method == "contains":
                parts.append(f"instr({expr}, ?) > 0")
                params.append(value)
            elif method == "startsWith":
                parts.append(f"substr({expr}, 1, length(?)) = ?")
                params += [value, value]
            else:  # endsWith; an empty suffix gives start length+1 and matches ''
                parts.append(f"substr({expr}, length({expr}) - length(?) + 1) = ?")
                params += [value, value]
        return "(" + " OR ".join(parts) + ")", params

    def _logical(self, query: Query) -> tuple[str, list[Any]]:
        nested = query.values
        if len(nested) < 2:
            raise _invalid(f"{query.method} queries require at least two queries")
        parts: list[str] = []
        params: list[Any] = []
        for child in nested:
            if not isinstance(child, Query) or child.method not in FILTER_METHODS:
                name = child.method if isinstance(child, Query) else type(child).__name__
                raise _invalid(f"{query.method} queries can only contain filter queries, got {name}")
            sql, child_params = self.filter(child)
            parts.append(f"({sql})")
            params += child_params
        return "(" + f" {query.method.upper()} ".join(parts) + ")", params


def _page_number(query: Query, low: int, high: int) -> int:
    value = query.values[0] if len(query.values) == 1 else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"Invalid {query.method}: Value must be a valid range between {low:,} and {high:,}")
    return value


def compile_queries(
    queries: Sequence[Query],
    fields: Mapping[str, Field],
    *,
    default_limit: int = 25,
    data_column: str = "data",
) -> Compiled:
    """Validate ``queries`` against ``fields`` (user attributes) and build the SQL pieces.

    System attributes ($id, $sequence, $createdAt, $updatedAt) are always available and read from their
    unqualified columns; ``data_column`` may be qualified (``t.data``) for the user attributes.
    """
    compiler = _Compiler(fields, data_column)
    conditions: list[str] = []
    params: list[Any] = []
    order: list[tuple[str, str, str]] = []
    limit: int | None = None
    offset: int | None = None
    cursor: tuple[str, str] | None = None
    select: list[str] | None = None
    for query in queries:
        method = query.method
        if method in FILTER_METHODS:
            sql, filter_params = compiler.filter(query)
            conditions.append(sql)
            params += filter_params
        elif method in ("orderAsc", "orderDesc"):
            name = query.attribute or "$sequence"  # Appwrite: no attribute means internal order
            target = _resolve(name, fields, data_column)
            if target.field.array:
                raise _invalid(f'Cannot order by attribute "{name}" because it is an array.')
            order.append((name, target.expr, "ASC" if method == "orderAsc" else "DESC"))
        elif method == "limit":
            number = _page_number(query, 1, MAX_LIMIT)
            limit = number if limit is None else limit
        elif method == "offset":
            number = _page_number(query, 0, MAX_OFFSET)
            offset = number if offset is None else offset
        elif method in ("cursorAfter", "cursorBefore"):
            if cursor is not None:
                raise _invalid("Only one cursor query is allowed")
            value = query.values[0] if len(query.values) == 1 else None
            if not isinstance(value, str) or not value:
                raise _invalid(f"Invalid {method}: Cursor must be the ID of a row")
            cursor = ("after" if method == "cursorAfter" else "before", value)
        elif method == "select":
            if not query.values:
                raise _invalid("select queries require at least one value.")
            select = [] if select is None else select
            for name in query.values:
                if not isinstance(name, str):
                    raise _invalid("select values must be attribute names")
                if name not in _SELECTABLE_SYSTEM and name not in fields:
                    raise _invalid(f"Attribute not found in schema: {name}")
                if name not in select:
                    select.append(name)
        else:
            raise ApiError(_INVALID, f"Invalid query method: {method}")
    return Compiled(
        where=" AND ".join(f"({c})" for c in conditions) if conditions else "1",
        params=params,
        order=_total_order(order),
        limit=default_limit if limit is None else limit,
        offset=0 if offset is None else offset,
        cursor=cursor,
        select=None if select is None or "*" in select else select,
    )


def _total_order(order: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Drop repeated keys and end with the ``$sequence`` tiebreak (unique, so nothing follows it)."""
    result: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for name, expr, direction in order:
        if name in seen:
            continue
        seen.add(name)
        result.append((name, expr, direction))
        if name == "$sequence":
            return result
    result.append(("$sequence", "_seq", result[0][2] if result else "ASC"))
    return result


# ------------------------------------------------------------------------------------------- ordering


def _flip(direction: str) -> str:
    return "DESC" if direction == "ASC" else "ASC"


def order_by_clause(order: Sequence[tuple[str, str, str]], *, reverse: bool = False) -> str:
    """``ORDER BY`` body for ``order``; ``reverse`` gives the exact reverse (SQLite puts NULLs first
    in ASC and last in DESC, so flipping every direction reverses the whole ordering)."""
    return ", ".join(f"{expr} {_flip(d) if reverse else d}" for _, expr, d in order)


def keyset_condition(
    order: Sequence[tuple[str, str, str]], cursor_values: Sequence[Any], before: bool
) -> tuple[str, list[Any]]:
    """Rows strictly after (``before=False``) or before the cursor row in ``order``.

    ``cursor_values`` are the cursor row's values of each order expression, read with the same SQL
    (``SELECT <expr>, ... WHERE _uid = ?``). NULLs count as smaller than everything, as SQLite orders.

    Paging: for ``cursorAfter`` run ``WHERE <filters> AND <this> ORDER BY order_by_clause(order)
    LIMIT n``. For ``cursorBefore`` run ``WHERE <filters> AND <this, before=True> ORDER BY
    order_by_clause(order, reverse=True) LIMIT n`` (the n rows nearest the cursor) and reverse the
    fetched rows, so the page comes back in the requested order.
    """
    if len(order) != len(cursor_values):
        raise ValueError("one cursor value is needed per order expression")
    if not order:
        return "0", []
    # "Before" in an ordering is "after" in its reverse.
    keys = [(expr, _flip(d) if before else d, value) for (_, expr, d), value in zip(order, cursor_values, strict=True)]
    return _after(keys)


def _after(keys: Sequence[tuple[str, str, Any]]) -> tuple[str, list[Any]]:
    """after(k1..kn) = k1 beyond c1 OR (k1 level with c1 AND after(k2..kn))."""
    expr, direction, value = keys[0]
    beyond: tuple[str, list[Any]] | None
    if value is None:
        level: tuple[str, list[Any]] = (f"{expr} IS NULL", [])
        # NULL is the smallest value: everything non-null is beyond it ascending, nothing descending.
        beyond = (f"{expr} IS NOT NULL", []) if direction == "ASC" else None
    else:
        level = (f"{expr} = ?", [value])
        if direction == "ASC":
            beyond = (f"{expr} > ?", [value])
        elif expr in _NOT_NULL_COLUMNS:
            beyond = (f"{expr} < ?", [value])
        else:
            # Descending, NULLs come last: they are beyond every non-null cursor value.
            beyond = (f"({expr} < ? OR {expr} IS NULL)", [value])
    if len(keys) == 1:
        return beyond if beyond is not None else ("0", [])
    rest_sql, rest_params = _after(keys[1:])
    tie = (f"({level[0]} AND {rest_sql})", level[1] + rest_params)
    if beyond is None:
        return tie
    return f"({beyond[0]} OR {tie[0]})", beyond[1] + tie[1]


# --------------------------------------------------------------------------------------------- search


def search_matches(text: str | None, query: str) -> bool:
    """Fulltext match as Appwrite's MariaDB boolean-mode search with a trailing ``*``: true when any
    word of ``query`` is a case-insensitive prefix of a word of ``text`` (words: runs of letters/digits).
    Registered by the server as SQL function ``qx_search(text, query)``."""
    if not isinstance(text, str) or not isinstance(query, str):
        return False
    wanted = {word.casefold() for word in _WORD.findall(query)}
    if not wanted:
        return False
    words = {word.casefold() for word in _WORD.findall(text)}
    return any(word.startswith(prefix) for prefix in wanted for word in words)
