"""Route matching (``spec.RouteTable``'s trie, ``console.routes.Routes``) against a reference linear scan.

The reference is the matching the server had before the trie: the method's routes sorted by literal weight
(stable, so spec order breaks ties), the first whose pattern matches the whole path wins, the server spec's
table before the console's. Every route of both tables, hostile variants of each and random paths must
resolve as it does.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from quixotic.server.console.routes import Routes, console_table, with_console
from quixotic.server.spec import Operation, RouteTable, route_table

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
Found = tuple[str, str, dict[str, str]] | None  # (operation ID, its path, its path parameters)


def _scan(table: RouteTable, method: str, path: str) -> Found:
    ops = sorted((op for op in table.operations if op.method == method), key=lambda o: o.literal_weight, reverse=True)
    for op in ops:
        found = op.pattern.fullmatch(path)
        if found:
            return op.id, op.path, found.groupdict()
    return None


def reference(tables: tuple[RouteTable, ...], method: str, path: str) -> Found:
    for table in tables:
        found = _scan(table, method, path)
        if found is not None:
            return found
    return None


def resolved(routes: Routes | RouteTable, method: str, path: str) -> Found:
    found = routes.match(method, path)
    if found is None:
        return None
    op, params = found
    return op.id, op.path, params


def concrete(op: Operation, fill: str = "v{}~") -> str:
    """``op``'s path with each ``{param}`` replaced by a value no literal segment equals."""
    segments = op.path.strip("/").split("/")
    return "/" + "/".join(fill.format(i) if seg.startswith("{") else seg for i, seg in enumerate(segments))


def _skeleton(path: str) -> tuple[str, ...]:
    return tuple("{}" if seg.startswith("{") else seg for seg in path.strip("/").split("/"))


ROUTES = with_console()
TABLES = ROUTES.tables
ALL_OPS = [op for table in TABLES for op in table.operations]
VOCABULARY = sorted({seg for op in ALL_OPS for seg in op.path.strip("/").split("/") if not seg.startswith("{")})


def test_both_tables_are_large_and_every_route_is_checked() -> None:
    assert len(route_table().operations) > 300 and len(console_table().operations) > 30
    assert len(ALL_OPS) == len(route_table().operations) + len(console_table().operations)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: f"{op.method} {op.path} {op.appwrite_id}")
def test_every_route_resolves_as_the_scan_does(op: Operation) -> None:
    path = concrete(op)
    got = resolved(ROUTES, op.method, path)
    assert got == reference(TABLES, op.method, path)
    assert got is not None
    op_id, op_path, params = got
    if (op_id, op_path) != (op.id, op.path):  # only a route of the same shape, earlier in order, may take it
        assert _skeleton(op_path) == _skeleton(op.path)
    else:
        names = [seg[1:-1] for seg in op.path.strip("/").split("/") if seg.startswith("{")]
        assert sorted(params) == sorted(names)
        assert all(value.startswith("v") for value in params.values())


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: f"{op.method} {op.path} {op.appwrite_id}")
def test_hostile_variants_of_every_route(op: Operation) -> None:
    path = concrete(op)
    variants = [
        path + "\n",  # a trailing newline: `$` would have let it through
        path + "/",
        path + "/x",
        path.rsplit("/", 1)[0],
        path.replace("/", "//", 1),
        path.upper(),
        concrete(op, "{}\n"),  # a newline inside each parameter
        concrete(op, ""),  # empty parameters never match
        concrete(op, "%2F{}"),
        path[1:],  # no leading slash
    ]
    for variant in variants:
        for method in (op.method, op.method.lower()):
            assert resolved(ROUTES, method, variant) == reference(TABLES, method.upper(), variant), (method, variant)
    assert resolved(ROUTES, op.method, path + "\n") != (op.id, op.path, {})  # never a literal route with "\n"


def test_the_literal_route_wins_over_a_parameter() -> None:
    got = resolved(ROUTES, "GET", "/tablesdb/transactions")
    assert got is not None and got[1] == "/tablesdb/transactions"
    got = resolved(ROUTES, "GET", "/tablesdb/mydb")
    assert got is not None and got[1] == "/tablesdb/{databaseId}" and got[2] == {"databaseId": "mydb"}


def test_a_trailing_newline_never_reaches_a_literal_route() -> None:
    assert resolved(ROUTES, "GET", "/health") is not None
    assert resolved(ROUTES, "GET", "/health\n") is None
    got = resolved(ROUTES, "GET", "/users/u1\n")  # a parameter takes it whole: the ID check refuses it later
    assert got is not None and got[2] == {"userId": "u1\n"}


def _raw(op_id: str, method: str, path: str) -> dict[str, object]:
    return {"id": op_id, "method": method, "path": path, "params": [], "scope": "public", "status": 200,
            "tag": "t", "type": "", "consumes": "", "produces": ""}  # fmt: skip


def test_an_earlier_table_wins_over_a_more_literal_route_of_a_later_one() -> None:
    """The server spec's table answers before the console's whatever the console has (they share no route
    today, so two small tables stand in for them)."""
    first = RouteTable([_raw("thingsGet", "GET", "/things/{thingId}"), _raw("thingsTwo", "GET", "/things/{other}")])
    second = RouteTable([_raw("thingsSpecial", "GET", "/things/special"), _raw("more", "GET", "/more/{id}")])
    routes = Routes(first, second)
    assert resolved(routes, "GET", "/things/special") == ("thingsGet", "/things/{thingId}", {"thingId": "special"})
    assert resolved(second, "GET", "/things/special") == ("thingsSpecial", "/things/special", {})
    assert resolved(routes, "GET", "/more/m1") == ("more", "/more/{id}", {"id": "m1"})
    assert resolved(routes, "POST", "/more/m1") is None
    for path in ("/things/special", "/things/x", "/more/m1", "/more", "/things/x/y"):
        assert resolved(routes, "GET", path) == reference((first, second), "GET", path)


def test_the_two_tables_are_tried_in_order() -> None:
    assert ROUTES.tables[0].operations == route_table().operations
    assert ROUTES.tables[1].operations == console_table().operations


segment = s.one_of(
    s.sampled_from(VOCABULARY),
    s.sampled_from(["", "\n", "v1", "x\n", " ", "%0a", "..", "{databaseId}", "ÿ", "\x00"]),
    s.text(alphabet=string.ascii_letters + string.digits + "-_.\n\x00é{}%", max_size=8),
)


@settings(max_examples=600, deadline=None)
@given(method=s.sampled_from([*METHODS, "get", "BREW", ""]), parts=s.lists(segment, max_size=10))
def test_random_paths_agree_with_the_scan(method: str, parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    assert resolved(ROUTES, method, path) == reference(TABLES, method.upper(), path)


@settings(max_examples=300, deadline=None)
@given(op=s.sampled_from(ALL_OPS), data=s.data())
def test_routes_with_random_parameter_values_agree_with_the_scan(op: Operation, data: s.DataObject) -> None:
    parts = [
        data.draw(s.one_of(segment, s.text(max_size=12))) if seg.startswith("{") else seg
        for seg in op.path.strip("/").split("/")
    ]
    path = "/" + "/".join(parts)
    assert resolved(ROUTES, op.method, path) == reference(TABLES, op.method, path)


def test_a_remembered_match_is_the_same_answer_in_a_fresh_dict() -> None:
    routes = with_console()
    path = "/tablesdb/db/tables/notes/rows/r1"
    first = routes.match("GET", path)
    assert first is not None
    first[1]["rowId"] = "changed by a caller"
    assert resolved(routes, "GET", path) == reference(TABLES, "GET", path)
    assert routes.match("GET", path) == (first[0], {"databaseId": "db", "tableId": "notes", "rowId": "r1"})
    assert routes.match("GET", "/no/such/route") is None
    assert routes.match("GET", "/no/such/route") is None  # a remembered miss stays a miss


def test_the_remembered_matches_stay_bounded() -> None:
    from quixotic.server.console import routes as module

    routes = with_console()
    for n in range(module._MATCHES_KEPT + 10):
        assert routes.match("GET", f"/users/u{n}") is not None
    assert len(routes._matches) <= module._MATCHES_KEPT
    long_id = "x" * (module._PATH_KEPT + 1)
    found = routes.match("GET", f"/users/{long_id}")
    assert found is not None and found[1] == {"userId": long_id}
    assert ("GET", f"/users/{long_id}") not in routes._matches  # long paths are matched each time
