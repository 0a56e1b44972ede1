"""Tests for ``quixotic.server.queries``: literal cases for parsing and validation, and property tests
that run the compiled SQL on an in-memory SQLite table and compare with a naive Python evaluator."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import reference_filter as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quixotic.errors import ApiError
from quixotic.server.clock import to_iso
from quixotic.server.queries import (
    Compiled,
    Field,
    Query,
    compile_queries,
    keyset_condition,
    order_by_clause,
    parse_queries,
    parse_query,
    search_matches,
)

SYSTEM = ("$id", "$sequence", "$createdAt", "$updatedAt")


# ------------------------------------------------------------------------------------------- helpers


def to_dict(query: Query) -> dict[str, Any]:
    """The SDK's JSON shape of a query."""
    result: dict[str, Any] = {"method": query.method}
    if query.attribute:
        result["attribute"] = query.attribute
    result["values"] = [to_dict(v) if isinstance(v, Query) else v for v in query.values]
    return result


def to_json(query: Query) -> str:
    return json.dumps(to_dict(query), ensure_ascii=False, separators=(",", ":"))


def q(method: str, attribute: str = "", *values: Any) -> Query:
    return Query(method, attribute, tuple(values))


def make_db(docs: Sequence[Mapping[str, Any]]) -> sqlite3.Connection:
    """The physical layout the compiler targets, with ``qx_search`` registered as the server does."""
    con = sqlite3.connect(":memory:")
    con.create_function("qx_search", 2, lambda t, s: int(search_matches(t, s)), deterministic=True)
    con.execute(
        "CREATE TABLE t (_uid TEXT, _seq INTEGER, _createdAt TEXT, _updatedAt TEXT, _permissions TEXT, data TEXT)"
    )
    for doc in docs:
        data = {k: v for k, v in doc.items() if k not in SYSTEM}
        con.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, '[]', ?)",
            (doc["$id"], doc["$sequence"], doc["$createdAt"], doc["$updatedAt"], json.dumps(data, ensure_ascii=False)),
        )
    return con


def cursor_values(con: sqlite3.Connection, compiled: Compiled, row_id: str) -> tuple[Any, ...]:
    columns = ", ".join(expr for _, expr, _ in compiled.order)
    row = con.execute(f"SELECT {columns} FROM t WHERE _uid = ?", [row_id]).fetchone()
    assert row is not None
    return tuple(row)


def run_sql(con: sqlite3.Connection, compiled: Compiled) -> list[str]:
    """What the server does with a :class:`Compiled`: resolve the cursor, fetch, flip for 'before'."""
    where, params = compiled.where, list(compiled.params)
    before = False
    if compiled.cursor is not None:
        side, row_id = compiled.cursor
        before = side == "before"
        condition, extra = keyset_condition(compiled.order, cursor_values(con, compiled, row_id), before)
        where = f"({where}) AND {condition}"
        params += extra
    sql = (
        f"SELECT _uid FROM t WHERE {where} ORDER BY {order_by_clause(compiled.order, reverse=before)} LIMIT ? OFFSET ?"
    )
    ids = [row[0] for row in con.execute(sql, [*params, compiled.limit, compiled.offset])]
    return ids[::-1] if before else ids


def expect_invalid(queries: Sequence[Query], fields: Mapping[str, Field], fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        compile_queries(queries, fields)
    assert caught.value.type == "general_query_invalid"
    assert fragment in str(caught.value.message)


# ------------------------------------------------------------------------------------------- parsing


def test_parse_simple_and_defaults() -> None:
    assert parse_query('{"method":"equal","attribute":"status","values":["active"]}') == Query(
        "equal", "status", ("active",)
    )
    assert parse_query('{"method":"orderDesc","attribute":"$createdAt"}') == Query("orderDesc", "$createdAt", ())
    assert parse_query('{"method":"limit","values":[25]}') == Query("limit", "", (25,))
    assert parse_query('{"method":"isNull","attribute":"x","values":null}') == Query("isNull", "x", ())


def test_parse_nested() -> None:
    raw = json.dumps(
        {
            "method": "or",
            "values": [
                {"method": "equal", "attribute": "a", "values": [1]},
                {
                    "method": "and",
                    "values": [
                        {"method": "isNull", "attribute": "b"},
                        {"method": "lessThan", "attribute": "c", "values": [2]},
                    ],
                },
            ],
        }
    )
    parsed = parse_query(raw)
    assert parsed == q("or", "", q("equal", "a", 1), q("and", "", q("isNull", "b"), q("lessThan", "c", 2)))
    assert to_json(parsed) and parse_query(to_json(parsed)) == parsed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "Invalid query: Syntax error"),
        ("[1, 2]", "Invalid query. Must be an object, got array"),
        ('{"attribute":"x"}', "Invalid query method. Must be a string, got NULL"),
        ('{"method":"equal","attribute":3,"values":[1]}', "Invalid query attribute. Must be a string, got integer"),
        ('{"method":"equal","attribute":"x","values":"a"}', "Invalid query values. Must be an array, got string"),
        ('{"method":"frobnicate","values":[]}', "Invalid query method: frobnicate"),
        ('{"method":"regex","attribute":"x","values":["a"]}', 'Query method "regex" is not supported'),
        ('{"method":"or","values":["x","y"]}', "Invalid query. Must be an object, got string"),
    ],
)
def test_parse_errors(raw: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_query(raw)
    assert caught.value.type == "general_query_invalid"
    assert message in caught.value.message


def test_parse_limits() -> None:
    values = json.dumps({"method": "equal", "attribute": "x", "values": list(range(501))})
    with pytest.raises(ApiError, match="more than 500 values"):
        parse_query(values)
    parse_query(json.dumps({"method": "equal", "attribute": "x", "values": list(range(500))}))
    nested: dict[str, Any] = {"method": "isNull", "attribute": "x"}
    for _ in range(12):
        nested = {"method": "and", "values": [nested, nested]} if False else {"method": "and", "values": [nested]}
    with pytest.raises(ApiError, match="nested"):
        parse_query(json.dumps(nested))
    with pytest.raises(ApiError) as caught:
        parse_queries(['{"method":"limit","values":[1]}'] * 101)
    assert caught.value.type == "general_argument_invalid"
    with pytest.raises(ApiError) as caught:
        parse_queries(['{"method":"equal","attribute":"x","values":["' + "a" * 4100 + '"]}'])
    assert caught.value.type == "general_argument_invalid"
    assert len(parse_queries(['{"method":"limit","values":[1]}'] * 100)) == 100


# ---------------------------------------------------------------------------------------- validation

FIELDS = {
    "name": Field("string", fulltext=True),
    "plain": Field("string"),
    "age": Field("integer"),
    "score": Field("double"),
    "ok": Field("boolean"),
    "at": Field("datetime"),
    "tags": Field("string", array=True),
    "na.me": Field("string"),
}


@pytest.mark.parametrize(
    ("queries", "fragment"),
    [
        ([q("equal", "nope", "x")], "Invalid query: Attribute not found in schema: nope"),
        ([q("orderAsc", "nope")], "Attribute not found in schema: nope"),
        ([q("select", "", "name", "nope")], "Attribute not found in schema: nope"),
        ([q("search", "plain", "x")], 'Searching by attribute "plain" requires a fulltext index'),
        ([q("notSearch", "plain", "x")], "requires a fulltext index"),
        ([q("equal", "age", "1")], 'Query value is invalid for attribute "age"'),
        ([q("equal", "age", True)], 'Query value is invalid for attribute "age"'),
        ([q("equal", "age", 1.5)], 'Query value is invalid for attribute "age"'),
        ([q("equal", "age", 2**63)], 'Query value is invalid for attribute "age"'),
        ([q("equal", "score", "1")], 'Query value is invalid for attribute "score"'),
        ([q("equal", "score", float("nan"))], 'Query value is invalid for attribute "score"'),
        ([q("equal", "ok", 1)], 'Query value is invalid for attribute "ok"'),
        ([q("equal", "name", 1)], 'Query value is invalid for attribute "name"'),
        ([q("equal", "name", None)], 'Query value is invalid for attribute "name"'),
        ([q("equal", "at", "yesterday")], 'Query value is invalid for attribute "at"'),
        ([q("equal", "tags", 3)], 'Query value is invalid for attribute "tags"'),
        ([q("equal", "$sequence", "x1")], 'Query value is invalid for attribute "$sequence"'),
        ([q("equal", "name")], "require at least one value"),
        ([q("lessThan", "age", 1, 2)], "require exactly one value"),
        ([q("between", "age", 1)], "require exactly two values"),
        ([q("search", "name")], "require exactly one value"),
        ([q("lessThan", "tags", "a")], 'Cannot query lessThan on attribute "tags" because it is an array'),
        ([q("startsWith", "tags", "a")], "because it is an array"),
        ([q("startsWith", "age", 1)], 'Cannot query startsWith on attribute "age" because it is not a string'),
        ([q("contains", "age", 1)], "because it is not an array or string"),
        ([q("notContains", "ok", True)], "because it is not an array or string"),
        ([q("orderAsc", "tags")], "because it is an array"),
        ([q("limit", "", 0)], "Invalid limit: Value must be a valid range between 1 and"),
        ([q("limit", "", 2**63)], "Invalid limit"),
        ([q("limit", "", "5")], "Invalid limit"),
        ([q("limit", "", True)], "Invalid limit"),
        ([q("limit", "")], "Invalid limit"),
        ([q("offset", "", -1)], "Invalid offset: Value must be a valid range between 0 and 5,000"),
        ([q("offset", "", 5001)], "Invalid offset"),
        ([q("cursorAfter", "", "a"), q("cursorBefore", "", "b")], "Only one cursor"),
        ([q("cursorAfter", "", "a"), q("cursorAfter", "", "b")], "Only one cursor"),
        ([q("cursorAfter", "", 3)], "Invalid cursorAfter"),
        ([q("cursorBefore", "", "")], "Invalid cursorBefore"),
        ([q("and", "", q("equal", "age", 1))], "and queries require at least two queries"),
        ([q("or", "")], "or queries require at least two queries"),
        ([q("and", "", q("equal", "age", 1), q("limit", "", 1))], "can only contain filter queries, got limit"),
        ([q("or", "", q("equal", "age", 1), q("orderAsc", "age"))], "can only contain filter queries"),
        ([q("or", "", q("equal", "age", 1), q("equal", "age", "x"))], "invalid for attribute"),
        ([q("select", "")], "select queries require at least one value"),
        ([q("select", "", 3)], "select values must be attribute names"),
        ([q("bogus", "age", 1)], "Invalid query method: bogus"),
    ],
)
def test_invalid_queries(queries: list[Query], fragment: str) -> None:
    expect_invalid(queries, FIELDS, fragment)


def test_defaults_and_paging_values() -> None:
    compiled = compile_queries([], FIELDS)
    assert (compiled.where, compiled.params, compiled.limit, compiled.offset) == ("1", [], 25, 0)
    assert compiled.order == [("$sequence", "_seq", "ASC")]
    assert compiled.cursor is None and compiled.select is None
    assert compile_queries([], FIELDS, default_limit=7).limit == 7
    # The first limit/offset wins, as in Appwrite; integral floats are accepted.
    compiled = compile_queries([q("limit", "", 5.0), q("limit", "", 9), q("offset", "", 3), q("offset", "", 4)], FIELDS)
    assert (compiled.limit, compiled.offset) == (5, 3)
    assert compile_queries([q("limit", "", 5000), q("offset", "", 5000)], FIELDS).limit == 5000
    assert compile_queries([q("cursorBefore", "", "row1")], FIELDS).cursor == ("before", "row1")
    assert compile_queries([q("cursorAfter", "", "row1")], FIELDS).cursor == ("after", "row1")


def test_select() -> None:
    compiled = compile_queries([q("select", "", "name", "$id"), q("select", "", "age", "name")], FIELDS)
    assert compiled.select == ["name", "$id", "age"]
    assert compile_queries([q("select", "", "name", "*")], FIELDS).select is None
    assert compile_queries([q("select", "", "$permissions", "$tableId")], FIELDS).select == ["$permissions", "$tableId"]


def test_order_tiebreak() -> None:
    data = "json_extract(data, '$.\"age\"')"
    assert compile_queries([q("orderDesc", "age")], FIELDS).order == [
        ("age", data, "DESC"),
        ("$sequence", "_seq", "DESC"),
    ]
    assert compile_queries([q("orderAsc", "age"), q("orderDesc", "name")], FIELDS).order[-1] == (
        "$sequence",
        "_seq",
        "ASC",
    )
    # An explicit $sequence (or an empty attribute) makes the order total: nothing follows it.
    assert compile_queries([q("orderDesc", ""), q("orderAsc", "age")], FIELDS).order == [("$sequence", "_seq", "DESC")]
    assert compile_queries([q("orderAsc", "age"), q("orderDesc", "age")], FIELDS).order == [
        ("age", data, "ASC"),
        ("$sequence", "_seq", "ASC"),
    ]
    assert compile_queries([q("orderAsc", "$createdAt")], FIELDS).order[0] == ("$createdAt", "_createdAt", "ASC")


def test_value_coercion_in_params() -> None:
    compiled = compile_queries(
        [
            q("equal", "age", 2.0),
            q("equal", "ok", True),
            q("lessThan", "at", "2020-10-15T08:38:00+02:00"),
            q("equal", "$sequence", "12"),
            q("equal", "score", 3),
        ],
        FIELDS,
    )
    assert compiled.params == [2, 1, "2020-10-15T06:38:00.000+00:00", 12, 3]
    assert isinstance(compiled.params[0], int)


def test_json_path_quoting_and_data_column() -> None:
    compiled = compile_queries([q("equal", "na.me", "x")], FIELDS, data_column="t.data")
    assert "json_extract(t.data, '$.\"na.me\"')" in compiled.where
    with pytest.raises(ValueError):
        compile_queries([q("equal", "bad'key", "x")], {"bad'key": Field("string")})


def test_unknown_field_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        compile_queries([q("equal", "x", "a")], {"x": Field("geometry")})


# ------------------------------------------------------------------------------------ literal SQL cases

LITERAL_DOCS: list[dict[str, Any]] = [
    {
        "$id": "a",
        "$sequence": 1,
        "$createdAt": "2020-01-01T00:00:00.000+00:00",
        "$updatedAt": "2020-01-01T00:00:00.000+00:00",
        "plain": "100% sure_thing",
        "age": 3,
        "tags": ["x", "y"],
        "name": "Hello brave world",
        "ok": True,
    },
    {
        "$id": "b",
        "$sequence": 2,
        "$createdAt": "2021-01-01T00:00:00.000+00:00",
        "$updatedAt": "2021-01-01T00:00:00.000+00:00",
        "plain": "100 percent",
        "age": None,
        "tags": [],
        "name": "hello-there",
        "ok": False,
    },
    {
        "$id": "c",
        "$sequence": 3,
        "$createdAt": "2022-01-01T00:00:00.000+00:00",
        "$updatedAt": "2022-01-01T00:00:00.000+00:00",
        "plain": "Abc\\d",
        "name": None,
    },
    {
        "$id": "d",
        "$sequence": 4,
        "$createdAt": "2023-01-01T00:00:00.000+00:00",
        "$updatedAt": "2023-01-01T00:00:00.000+00:00",
        "plain": "abc",
        "age": 7,
        "tags": ["y"],
        "name": "Brávé",
    },
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (q("contains", "plain", "%"), ["a"]),
        (q("contains", "plain", "_"), ["a"]),
        (q("contains", "plain", "0%"), ["a"]),
        (q("contains", "plain", "\\"), ["c"]),
        (q("contains", "plain", "ABC"), []),
        (q("equal", "plain", "ABC"), []),
        (q("equal", "plain", "abc", "Abc\\d"), ["c", "d"]),
        (q("lessThan", "plain", "a"), ["a", "b", "c"]),
        (q("startsWith", "plain", "abc"), ["d"]),
        (q("startsWith", "plain", "Abc", "100 "), ["b", "c"]),
        (q("startsWith", "plain", "a_c"), []),
        (q("endsWith", "plain", "\\d"), ["c"]),
        (q("endsWith", "plain", ""), ["a", "b", "c", "d"]),
        (q("notEndsWith", "plain", "c", "g"), ["b", "c"]),
        (q("notStartsWith", "plain", "1"), ["c", "d"]),
        (q("isNull", "age"), ["b", "c"]),
        (q("isNotNull", "age"), ["a", "d"]),
        (q("notEqual", "age", 3), ["d"]),
        (q("notEqual", "age", 3, 7), []),
        (q("equal", "age", 3, 7), ["a", "d"]),
        (q("notBetween", "age", 4, 10), ["a"]),
        (q("between", "age", 3, 7), ["a", "d"]),
        (q("contains", "tags", "y"), ["a", "d"]),
        (q("equal", "tags", "x", "zz"), ["a"]),
        (q("notContains", "tags", "x"), ["b", "d"]),
        (q("notEqual", "tags", "y"), ["b"]),
        (q("isNull", "tags"), ["c"]),
        (q("search", "name", "hel"), ["a", "b"]),
        (q("search", "name", "bra"), ["a"]),  # accent-sensitive, unlike MariaDB's unicode_ci
        (q("search", "name", "BRÁ"), ["d"]),
        (q("search", "name", "THERE zzz"), ["b"]),
        (q("notSearch", "name", "hello"), ["d"]),
        (q("equal", "ok", False), ["b"]),
        (q("greaterThan", "$createdAt", "2021-06-01T00:00:00Z"), ["c", "d"]),
        (q("lessThanEqual", "$createdAt", "2021-01-01T01:00:00+01:00"), ["a", "b"]),
        (q("equal", "$id", "c"), ["c"]),
        (q("greaterThan", "$sequence", 2), ["c", "d"]),
        (q("or", "", q("isNull", "age"), q("equal", "plain", "abc")), ["b", "c", "d"]),
        (
            q("and", "", q("isNotNull", "age"), q("or", "", q("equal", "age", 7), q("contains", "tags", "x"))),
            ["a", "d"],
        ),
    ],
)
def test_literal_semantics(query: Query, expected: list[str]) -> None:
    con = make_db(LITERAL_DOCS)
    compiled = compile_queries([query], FIELDS)
    assert run_sql(con, compiled) == expected
    assert reference.run(LITERAL_DOCS, [query], FIELDS) == expected


def test_literal_ordering_with_nulls() -> None:
    con = make_db(LITERAL_DOCS)
    assert run_sql(con, compile_queries([q("orderAsc", "age")], FIELDS)) == ["b", "c", "a", "d"]
    assert run_sql(con, compile_queries([q("orderDesc", "age")], FIELDS)) == ["d", "a", "c", "b"]
    assert run_sql(con, compile_queries([q("orderDesc", "age"), q("cursorAfter", "", "a")], FIELDS)) == ["c", "b"]
    assert run_sql(
        con, compile_queries([q("orderAsc", "age"), q("cursorBefore", "", "a"), q("limit", "", 1)], FIELDS)
    ) == ["c"]


# ------------------------------------------------------------------------------------------------ search


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("Hello World", "wor", True),
        ("Hello World", "WORLD", True),
        ("Hello World", "orld", False),
        ("Hello World", "xyz hel", True),
        ("Hello World", "", False),
        ("Hello World", "  *** ", False),
        ("Hello World", "hello*", True),
        ("Hello World", '"hello"', True),
        ("foo_bar", "bar", True),
        ("Ünïcode wörds", "wö", True),
        ("abc123 x", "abc1", True),
        (None, "x", False),
        ("", "x", False),
        ("Straße", "STRASSE", True),
    ],
)
def test_search_matches(text: str | None, query: str, expected: bool) -> None:
    assert search_matches(text, query) is expected


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='aAbß é1_-*"', max_size=12), st.text(alphabet='aAbß é1_-*"', max_size=6))
def test_search_matches_reference(text: str, query: str) -> None:
    assert search_matches(text, query) == reference.search(text, query)


# ---------------------------------------------------------------------------------------------- keyset


def test_keyset_condition_shapes() -> None:
    order = [("age", "A", "ASC"), ("$sequence", "_seq", "ASC")]
    assert keyset_condition(order, [None, 5], before=False) == ("(A IS NOT NULL OR (A IS NULL AND _seq > ?))", [5])
    assert keyset_condition(order, [None, 5], before=True) == ("(A IS NULL AND _seq < ?)", [5])
    _sql, params = keyset_condition(order, [3, 5], before=True)
    assert params == [3, 3, 5]
    assert keyset_condition([], [], before=False) == ("0", [])
    with pytest.raises(ValueError):
        keyset_condition(order, [1], before=False)


# ------------------------------------------------------------------------------------ property tests

NAME_POOL = ["title", "na.me", "with-dash", "d$x", "n_1", "Cnt", "tags", "nums"]
KINDS = ["string", "string", "integer", "double", "boolean", "datetime", "string[]", "integer[]"]
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("aAbB%_\\ é1-😀")),
        st.characters(codec="utf-8", exclude_characters="\x00"),
    ),
    max_size=5,
)
SHORT = st.text(alphabet="aAb%_ é", max_size=3)
INSTANTS = [
    datetime(2020, 10, 15, 6, 38, tzinfo=UTC),
    datetime(2020, 10, 15, 6, 38, 0, 123000, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
    datetime(2030, 1, 1, tzinfo=UTC),
]
ID_ALPHABET = "abAB09_-."


def stored_instant() -> st.SearchStrategy[str]:
    return st.sampled_from(INSTANTS).map(to_iso)


@st.composite
def query_instant(draw: st.DrawFn) -> str:
    """The same instants, written the several ways a client may write them."""
    moment = draw(st.sampled_from(INSTANTS))
    style = draw(st.sampled_from(["iso", "z", "offset", "naive", "micro"]))
    if style == "iso":
        return to_iso(moment)
    if style == "z":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if style == "offset":
        return moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    if style == "naive":
        return moment.replace(tzinfo=None).isoformat()
    return (moment + timedelta(microseconds=draw(st.integers(0, 999)))).isoformat(timespec="microseconds")


def scalar_values(kind: str, name: str, *, for_query: bool) -> st.SearchStrategy[Any]:
    if name == "$id":
        return st.text(alphabet=ID_ALPHABET, min_size=1, max_size=3)
    if name == "$sequence":
        return st.integers(0, 60)
    if kind == "string":
        return st.one_of(SHORT, TEXT)
    if kind == "integer":
        ints = st.one_of(st.integers(-3, 3), st.integers(-(2**53), 2**53))
        return st.one_of(ints, st.integers(-3, 3).map(float)) if for_query else ints
    if kind == "double":
        return st.one_of(
            st.integers(-12, 12).map(lambda i: i / 4),
            st.sampled_from([0.1, -0.0, 1e10, 2.5e-3, 1e300, -7.75]),
            st.integers(-3, 3),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "datetime":
        return query_instant() if for_query else stored_instant()
    raise AssertionError(kind)


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Field]:
    names = draw(st.lists(st.sampled_from(NAME_POOL), min_size=1, max_size=4, unique=True))
    fields: dict[str, Field] = {}
    for name in names:
        kind = draw(st.sampled_from(KINDS))
        if kind.endswith("[]"):
            fields[name] = Field(kind[:-2], array=True)
        else:
            fields[name] = Field(kind, fulltext=kind == "string" and draw(st.booleans()))
    return fields


@st.composite
def documents(draw: st.DrawFn, fields: Mapping[str, Field]) -> list[dict[str, Any]]:
    count = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 6, 7, 7, 8, 8, 9, 10]))
    ids = draw(
        st.lists(st.text(alphabet=ID_ALPHABET, min_size=1, max_size=3), min_size=count, max_size=count, unique=True)
    )
    sequences = draw(st.lists(st.integers(1, 60), min_size=count, max_size=count, unique=True))
    docs: list[dict[str, Any]] = []
    for row_id, sequence in zip(ids, sequences, strict=True):
        doc: dict[str, Any] = {
            "$id": row_id,
            "$sequence": sequence,
            "$createdAt": draw(stored_instant()),
            "$updatedAt": draw(stored_instant()),
        }
        for name, field in fields.items():
            presence = draw(st.sampled_from(["missing", "null", "value", "value", "value"]))
            if presence == "null":
                doc[name] = None
            elif presence == "value":
                values = scalar_values(field.type, name, for_query=False)
                doc[name] = draw(st.lists(values, max_size=3)) if field.array else draw(values)
        docs.append(doc)
    return docs


def methods_for(name: str, field: Field) -> list[str]:
    if field.array:
        return ["equal", "notEqual", "contains", "notContains", "isNull", "isNotNull"]
    methods = [
        "equal",
        "notEqual",
        "lessThan",
        "lessThanEqual",
        "greaterThan",
        "greaterThanEqual",
        "between",
        "notBetween",
        "isNull",
        "isNotNull",
    ]
    if field.type == "string":
        methods += ["startsWith", "notStartsWith", "endsWith", "notEndsWith", "contains", "notContains"]
        if field.fulltext:
            methods += ["search", "notSearch"]
    return methods


def all_fields(fields: Mapping[str, Field]) -> dict[str, Field]:
    return {**{name: reference.field_of(name, {}) for name in SYSTEM}, **fields}


def pieces(text: str) -> st.SearchStrategy[str]:
    """Substrings of a stored string, so that startsWith/endsWith/contains often match."""
    return st.tuples(st.integers(0, len(text)), st.integers(0, len(text))).map(lambda ij: text[ij[0] : ij[1]])


def query_values(name: str, field: Field, docs: Sequence[Mapping[str, Any]]) -> st.SearchStrategy[Any]:
    """Mostly values that occur in the documents (and pieces of them), sometimes arbitrary ones."""
    base = scalar_values(field.type, name, for_query=True)
    pool: list[Any] = []
    for doc in docs:
        value = doc.get(name)
        if value is None:
            continue
        for item in value if field.array else [value]:
            if item not in pool:
                pool.append(item)
    if not pool:
        return base
    known = st.sampled_from(pool)
    if field.type == "string":
        return st.one_of(known, known, known.flatmap(pieces), known.map(str.swapcase), base)
    return st.one_of(known, known, base)


@st.composite
def leaf_filters(
    draw: st.DrawFn,
    fields: Mapping[str, Field],
    docs: Sequence[Mapping[str, Any]],
    name: str | None = None,
    method: str | None = None,
) -> Query:
    known = all_fields(fields)
    name = name or draw(st.sampled_from(sorted(known)))
    field = known[name]
    method = method or draw(st.sampled_from(methods_for(name, field)))
    values = query_values(name, field, docs)
    if method in ("isNull", "isNotNull"):
        chosen: list[Any] = []
    elif method in ("search", "notSearch"):
        chosen = [draw(st.text(alphabet="aAbé1 _%-", max_size=6))]
    elif method in ("between", "notBetween"):
        chosen = [draw(values), draw(values)]
    elif method in ("lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual"):
        chosen = [draw(values)]
    else:
        chosen = draw(st.lists(values, min_size=1, max_size=3))
    return Query(method, name, tuple(chosen))


def filters(fields: Mapping[str, Field], docs: Sequence[Mapping[str, Any]], depth: int = 2) -> st.SearchStrategy[Query]:
    leaf = leaf_filters(fields, docs)
    if depth == 0:
        return leaf
    nested = st.builds(
        Query,
        st.sampled_from(["and", "or"]),
        st.just(""),
        st.lists(filters(fields, docs, depth - 1), min_size=2, max_size=3).map(tuple),
    )
    return st.one_of(leaf, leaf, nested)


def orders(fields: Mapping[str, Field]) -> st.SearchStrategy[Query]:
    sortable = [name for name, field in all_fields(fields).items() if not field.array] + [""]
    return st.builds(Query, st.sampled_from(["orderAsc", "orderDesc"]), st.sampled_from(sortable), st.just(()))


def draw_case(
    data: st.DataObject, *, min_filters: int = 0, min_orders: int = 0
) -> tuple[dict[str, Field], list[dict[str, Any]], list[Query]]:
    """A random schema, documents of it, and filters then orders over them."""
    fields = data.draw(schemas(), "fields")
    docs = data.draw(documents(fields), "docs")
    chosen = data.draw(st.lists(filters(fields, docs), min_size=min_filters, max_size=2), "filters")
    return fields, docs, chosen + data.draw(st.lists(orders(fields), min_size=min_orders, max_size=3), "orders")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_sql_matches_reference(data: st.DataObject) -> None:
    fields, docs, queries = draw_case(data, min_filters=1)
    if data.draw(st.booleans()):
        queries.append(Query("limit", "", (data.draw(st.integers(1, 10)),)))
    if data.draw(st.booleans()):
        queries.append(Query("offset", "", (data.draw(st.integers(0, 4)),)))
    if data.draw(st.booleans()) and docs:
        cursor_id = data.draw(st.sampled_from([d["$id"] for d in docs]))
        queries.append(Query(data.draw(st.sampled_from(["cursorAfter", "cursorBefore"])), "", (cursor_id,)))
    queries = data.draw(st.permutations(queries), "queries")

    parsed = parse_queries([to_json(query) for query in queries])
    assert parsed == queries  # the JSON round trip through the SDK's shape is lossless
    compiled = compile_queries(parsed, fields)
    assert compiled.order[-1][0] == "$sequence"
    assert compiled.where.count("?") == len(compiled.params)
    assert run_sql(make_db(docs), compiled) == reference.run(docs, queries, fields)


STRING_FIELDS = {"s": Field("string", fulltext=True), "tags": Field("string", array=True)}


@pytest.mark.parametrize(
    ("name", "method"),
    [("s", method) for method in methods_for("s", STRING_FIELDS["s"])]
    + [("tags", method) for method in methods_for("tags", STRING_FIELDS["tags"])],
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_string_filters_match_reference(name: str, method: str, data: st.DataObject) -> None:
    """Every string and array method on its own, where wildcards, case and nulls are easiest to get wrong."""
    docs = data.draw(documents(STRING_FIELDS), "docs")
    query = data.draw(leaf_filters(STRING_FIELDS, docs, name, method), "query")
    compiled = compile_queries([query], STRING_FIELDS)
    assert run_sql(make_db(docs), compiled) == reference.run(docs, [query], STRING_FIELDS)


def assert_paging_is_exact(
    docs: Sequence[Mapping[str, Any]], queries: Sequence[Query], fields: Mapping[str, Field], size: int
) -> None:
    """Paging with cursorAfter from the start, and cursorBefore from the end, rebuilds the full list."""
    con = make_db(docs)
    everything = run_sql(con, compile_queries([*queries, Query("limit", "", (5000,))], fields))
    assert everything == reference.run(docs, [*queries, Query("limit", "", (5000,))], fields)

    forward: list[str] = []
    cursor: list[Query] = []
    for _ in range(len(docs) + 2):
        page = run_sql(con, compile_queries([*queries, Query("limit", "", (size,)), *cursor], fields))
        if not page:
            break
        assert len(page) <= size
        forward += page
        cursor = [Query("cursorAfter", "", (page[-1],))]
    assert forward == everything

    # Backwards from the end: the last page is the first `size` rows of the reversed ordering.
    compiled = compile_queries(queries, fields)
    backward = [
        row[0]
        for row in con.execute(
            f"SELECT _uid FROM t WHERE {compiled.where} ORDER BY {order_by_clause(compiled.order, reverse=True)}"
            " LIMIT ?",
            [*compiled.params, size],
        )
    ][::-1]
    for _ in range(len(docs) + 2):
        if not backward:
            break
        before = Query("cursorBefore", "", (backward[0],))
        page = run_sql(con, compile_queries([*queries, Query("limit", "", (size,)), before], fields))
        if not page:
            break
        assert len(page) <= size
        backward = page + backward
    assert backward == everything


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_keyset_paging_is_exact(data: st.DataObject) -> None:
    fields, docs, queries = draw_case(data, min_orders=1)
    assert_paging_is_exact(docs, queries, fields, data.draw(st.integers(1, 4), "page size"))


TIE_FIELDS = {"v": Field("integer"), "w": Field("boolean")}


@pytest.mark.parametrize("first", ["orderAsc", "orderDesc"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_keyset_paging_with_nulls_and_ties(first: str, data: st.DataObject) -> None:
    """Order keys full of NULLs and ties, where keyset conditions usually go wrong."""
    count = data.draw(st.integers(1, 10), "count")
    sequences = data.draw(st.permutations(range(1, count + 1)), "sequences")
    docs: list[dict[str, Any]] = []
    for index, sequence in enumerate(sequences):
        doc: dict[str, Any] = {
            "$id": f"r{index}",
            "$sequence": sequence,
            "$createdAt": to_iso(INSTANTS[0]),
            "$updatedAt": to_iso(INSTANTS[0]),
        }
        for name, values in (("v", [None, 0, 1, 2]), ("w", [None, True, False])):
            if data.draw(st.booleans()):
                doc[name] = data.draw(st.sampled_from(values))
        docs.append(doc)
    queries = [Query(first, "v", ()), *data.draw(st.lists(orders(TIE_FIELDS), max_size=2), "more orders")]
    assert_paging_is_exact(docs, queries, TIE_FIELDS, data.draw(st.integers(1, 3), "page size"))
