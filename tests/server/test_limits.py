"""Input limits over the whole route table: for every parameter of every route the server implements,
generated from the spec, a value over its limit is refused with 400 ``general_argument_invalid`` that
names the parameter, and the project's data stays as it was.

- every string parameter: one character over its limit (``validation.text_limit``) and, in a JSON
  body, a lone surrogate (a URL cannot carry one: percent-decoding turns it into U+FFFD);
- every path parameter: over-long, and with CR/LF;
- every JSON body parameter, whatever its type: nested 5,000 deep, and NaN;
- every numeric parameter: a 5,000-digit value;
- every array parameter: one item over its limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from appwrite.client import Client
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.raw_http import RawClient, snapshot
from support.server import LocalServer

from quixotic.errors import ApiError
from quixotic.server import admin, auth, validation
from quixotic.server.registry import load_all
from quixotic.server.spec import Operation, Param, route_table

# Longer than h11 lets a request line be (16 KiB): such a query value cannot reach the app at all.
_URL_ROOM = 12_000
DEEP = "[" * 5000 + "]" * 5000


@dataclass(frozen=True)
class Probe:
    op: Operation
    param: Param
    kind: str
    path: str
    body: str = ""


def _operations() -> list[Operation]:
    """The routes the server implements that an API key may call (the scope check comes before the
    parameters: a session-only route answers 401 to a key, whatever it sends)."""
    table, handlers = route_table(), load_all()
    keyed = {*auth.ALL_SCOPES, "public"}
    ops = [table.by_id[op_id] for op_id in sorted(handlers) if op_id in table.by_id]
    return [op for op in ops if keyed & set(op.scopes)]


def _path(op: Operation, override: dict[str, str] | None = None) -> str:
    parts = []
    for segment in op.path.strip("/").split("/"):
        if segment.startswith("{"):
            name = segment[1:-1]
            parts.append((override or {}).get(name, "x1" if name.endswith("Id") else "k1"))
        else:
            parts.append(segment)
    return "/v1/" + "/".join(parts)


def _array_items(param: Param) -> str:
    limit = validation.ARRAY_LIMITS.get(param.name, validation.MAX_ARRAY)
    item = "{}" if param.items == "object" else ("1" if param.items in ("integer", "number") else '"a"')
    return "[" + ",".join([item] * (limit + 1)) + "]"


def _probes() -> Iterator[Probe]:
    for op in _operations():
        for param in op.params:
            name = param.name
            if param.where == "path":
                long = "a" * (validation.MAX_ID + 1 if name.endswith("Id") else validation.TEXT_LIMITS["key"] + 1)
                yield Probe(op, param, "path over-long", _path(op, {name: long}))
                yield Probe(op, param, "path CR/LF", _path(op, {name: "x%0d%0a1"}))
                continue
            if param.where == "query":
                if param.type == "string":
                    limit = validation.text_limit(op.id, name, param.format)
                    if limit < _URL_ROOM:
                        yield Probe(op, param, "query over-long", f"{_path(op)}?{name}={'a' * (limit + 1)}")
                elif param.type in ("integer", "number"):
                    yield Probe(op, param, "query 5,000 digits", f"{_path(op)}?{name}={'9' * 5000}")
                elif param.type == "array":
                    yield Probe(
                        op,
                        param,
                        "query array over-long",
                        _path(op) + "?" + "&".join(f"{quote(name)}[]=a" for _ in range(validation.MAX_ARRAY + 1)),
                    )
                continue
            path = _path(op)
            key = json.dumps(name)
            if param.type == "string" and param.format != "binary":
                limit = validation.text_limit(op.id, name, param.format)
                yield Probe(op, param, "body over-long", path, f'{{{key}:"{"a" * (limit + 1)}"}}')
                yield Probe(op, param, "body lone surrogate", path, f'{{{key}:"a\\ud800"}}')
            if param.type in ("integer", "number"):
                yield Probe(op, param, "body 5,000 digits", path, f"{{{key}:{'9' * 5000}}}")
            if param.type == "array":
                yield Probe(op, param, "body array over-long", path, f"{{{key}:{_array_items(param)}}}")
                yield Probe(op, param, "body array lone surrogate", path, f'{{{key}:["\\udfff"]}}')
            yield Probe(op, param, "body nested 5,000 deep", path, f"{{{key}:{DEEP}}}")
            yield Probe(op, param, "body NaN", path, f"{{{key}:NaN}}")


PROBES = list(_probes())


@pytest.fixture(scope="module")
def seeded(server: LocalServer) -> Iterator[tuple[admin.ProjectCredentials, RawClient]]:
    """A project with some data (a database, a table, a user), which no probe may change."""
    project = server.new_project()
    client: Client = server.client(project.project_id, project.api_key)
    TablesDB(client).create("x1", "x1")
    TablesDB(client).create_table("x1", "x1", "x1")
    Users(client).create("x1", name="x1")
    raw = RawClient(server.url, project.project_id, project.api_key)
    yield project, raw
    raw.close()


def test_the_route_table_yields_probes_of_every_kind() -> None:
    kinds = {p.kind for p in PROBES}
    assert len({p.op.id for p in PROBES}) > 150
    assert kinds >= {
        "path over-long",
        "path CR/LF",
        "query over-long",
        "query 5,000 digits",
        "body over-long",
        "body lone surrogate",
        "body 5,000 digits",
        "body nested 5,000 deep",
        "body NaN",
        "body array over-long",
    }


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_every_parameter_is_held_to_its_limits(
    seeded: tuple[admin.ProjectCredentials, RawClient], server: LocalServer
) -> None:
    """One test over all probes (thousands of requests on one connection); every failure is listed."""
    project, raw = seeded
    before = snapshot(server.data_dir, project.project_id)
    failures: list[str] = []
    for probe in PROBES:
        answer = raw.send(probe.op.method, probe.path, probe.body if probe.op.method != "GET" else "")
        label = f"{probe.op.id} {probe.param.name} ({probe.kind})"
        try:
            error = answer.json()
        except ValueError:
            failures.append(f"{label}: {answer.status} {answer.body[:120]!r}")
            continue
        if (answer.status, error.get("type")) != (400, "general_argument_invalid"):
            failures.append(f"{label}: {answer.status} {error.get('type')}: {error.get('message', '')[:160]}")
        elif f"`{probe.param.name}`" not in error["message"]:
            failures.append(f"{label}: does not name the parameter: {error['message'][:160]}")
    assert not failures, f"{len(failures)} of {len(PROBES)} probes:\n" + "\n".join(failures[:60])
    assert snapshot(server.data_dir, project.project_id) == before


class _Text(str):
    pass


class _Number(int):
    pass


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"a": "ok \ud800"}, "lone surrogate"),
        ({"a": _Text("sub \udfff")}, "lone surrogate"),  # a subclass goes the isinstance way
        ({"\udc00": 1}, "keys"),
        ([2**63], "64 bits"),
        ([_Number(2**64)], "64 bits"),
        ({"f": float("nan")}, "finite"),
        (json.loads("[" * (validation.MAX_DEPTH + 1) + "]" * (validation.MAX_DEPTH + 1)), "nested"),
        ({"r": validation.Refused("1e999 is not a number JSON can carry")}, "1e999"),
    ],
)
def test_check_tree_refuses_what_cannot_be_served(value: object, why: str) -> None:
    with pytest.raises(ApiError) as raised:
        validation.check_tree(value, "data")
    assert why in raised.value.message


def test_check_tree_takes_every_servable_shape() -> None:
    servable = {"ascii": "plain", "unicode": "café 😀", "n": -(2**63), "f": 1.5, "b": True, "none": None,
                "list": [_Text("x"), _Number(3), False, {"k": []}], "é": {"nested": [1, 2]}}  # fmt: skip
    validation.check_tree(servable, "data")
    validation.check_tree([2**70], "data", int64=False)
