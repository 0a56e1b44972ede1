"""The bad-input probes of issue 17, kept: each case goes through HTTP to the real server and must get a
4xx in Appwrite's error JSON, naming the parameter where there is one, and leave the project's stored
data exactly as it was. Then: a write whose answer cannot be encoded is rolled back (no 5xx leaves a
write behind)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.raw_http import RawClient, snapshot
from support.sdk import wait_available
from support.server import LocalServer

from quixotic.server import admin


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    path: str
    body: bytes | str = b""
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 400
    type: str = "general_argument_invalid"
    names: str = ""  # the parameter the message must name (as `name`)


def _multipart(parts: list[tuple[str, str]], boundary: str = "X") -> bytes:
    """``parts`` as (headers block, content) pairs."""
    out = "".join(f"--{boundary}\r\n{head}\r\n\r\n{content}\r\n" for head, content in parts)
    return (out + f"--{boundary}--\r\n").encode()


def _field(name: str, value: str) -> tuple[str, str]:
    return (f'Content-Disposition: form-data; name="{name}"', value)


def _file(name: str, filename: str, content: str) -> tuple[str, str]:
    return (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"', content)


def _huge_name(what: str, path: str, **fields: str) -> Case:
    """A create at ``path`` (its other ``fields`` valid) whose name is 100,000 characters long."""
    body = json.dumps({**fields, "name": "a" * 100_000})
    return Case(f"a 100,000-character {what} name", "POST", path, body, names="name")


MP = (("Content-Type", "multipart/form-data; boundary=X"),)
ROWS = "/v1/tablesdb/db/tables/t/rows"
FILES = "/v1/storage/buckets/b/files"
DEEP = "[" * 5000 + "]" * 5000

CASES = [
    Case("row with a lone surrogate", "POST", ROWS, '{"rowId":"r2","data":{"name":"\\ud800"}}', names="data"),
    Case("bulk rows with a lone surrogate", "POST", ROWS, '{"rows":[{"$id":"r2","name":"\\udfff"}]}', names="rows"),
    Case("upsert with a lone surrogate key", "PUT", ROWS + "/r2", '{"data":{"\\ud800":"x"}}', names="data"),
    Case("user name with a lone surrogate", "POST", "/v1/users", '{"userId":"u2","name":"\\udfff"}', names="name"),
    Case("prefs with NaN", "PATCH", "/v1/users/u1/prefs", '{"prefs":{"x":NaN}}', names="prefs"),
    Case("prefs with Infinity", "PATCH", "/v1/users/u1/prefs", '{"prefs":{"x":-Infinity}}', names="prefs"),
    Case("prefs with 1e999", "PATCH", "/v1/users/u1/prefs", '{"prefs":{"x":1e999}}', names="prefs"),
    Case("prefs nested 5,000 deep", "PATCH", "/v1/users/u1/prefs", '{"prefs":{"a":' + DEEP + "}}", names="prefs"),
    Case(
        "prefs nested 100 deep",
        "PATCH",
        "/v1/users/u1/prefs",
        '{"prefs":' + '{"a":' * 100 + "1" + "}" * 101,
        names="prefs",
    ),
    Case("row data nested 5,000 deep", "POST", ROWS, '{"rowId":"r2","data":{"name":' + DEEP + "}}", names="data"),
    Case("a body nested 5,000 deep", "POST", "/v1/users", '{"userId":' + DEEP + "}", names="userId"),
    Case("NaN for a float column", "POST", ROWS, '{"rowId":"r2","data":{"f":NaN}}', names="data"),
    Case(
        "4,000 digits for a float column", "POST", ROWS, '{"rowId":"r2","data":{"f":' + "9" * 4000 + "}}", names="data"
    ),
    Case(
        "5,000 digits for an integer column",
        "POST",
        ROWS,
        '{"rowId":"r2","data":{"i":' + "9" * 5000 + "}}",
        names="data",
    ),
    Case(
        "an integer column beyond 64 bits", "POST", ROWS, '{"rowId":"r2","data":{"i":' + "9" * 30 + "}}", names="data"
    ),
    Case("execution headers as a list", "POST", "/v1/functions/fn1/executions", '{"headers":["a"]}', names="headers"),
    Case("prefs as a list", "PATCH", "/v1/users/u1/prefs", '{"prefs":["a"]}', names="prefs"),
    Case("increment by NaN", "PATCH", ROWS + "/r1/i/increment", '{"value":NaN}', names="value"),
    Case("a query key 500 brackets deep", "GET", "/v1/users?queries" + "[a]" * 500 + "=1", names="queries"),
    Case("101 queries", "GET", "/v1/users?" + "&".join("queries[]=" + "%7B%7D" for _ in range(101)), names="queries"),
    Case(
        "a query value with a lone surrogate",
        "GET",
        "/v1/users?queries[]=" + quote('{"method":"equal","attribute":"name","values":["\\ud800"]}'),
        names="queries",
    ),
    Case(
        "a cursor with a lone surrogate",
        "GET",
        ROWS + "?queries[]=" + quote('{"method":"cursorAfter","values":["\\udfff"]}'),
        names="queries",
    ),
    Case(
        "a bulk delete whose query holds a lone surrogate",
        "DELETE",
        ROWS,
        json.dumps({"queries": ['{"method":"equal","attribute":"name","values":["\\ud800"]}']}),
        names="queries",
    ),
    Case("a 10,000-character search", "GET", "/v1/users?search=" + "a" * 10000, names="search"),
    Case("a 10,000-character table search", "GET", "/v1/tablesdb/db/tables?search=" + "a" * 10000, names="search"),
    _huge_name("database", "/v1/tablesdb", databaseId="d2"),
    _huge_name("table", "/v1/tablesdb/db/tables", tableId="t2"),
    _huge_name("function", "/v1/functions", functionId="fn2", runtime="python-3.12"),
    Case("a 129-character user name", "PATCH", "/v1/users/u1/name", json.dumps({"name": "a" * 129}), names="name"),
    Case("1,001 labels", "PUT", "/v1/users/u1/labels", json.dumps({"labels": ["a"] * 1001}), names="labels"),
    Case(
        "101 permissions",
        "PUT",
        "/v1/tablesdb/db/tables/t/rows/r1",
        json.dumps({"permissions": ['read("any")'] * 101}),
        names="permissions",
    ),
    Case("a 37-character row ID", "POST", ROWS, json.dumps({"rowId": "a" * 37, "data": {"name": "x"}}), names="rowId"),
    Case("an ID with a trailing newline", "GET", "/v1/users/u1%0a", names="userId"),
    Case("an ID with CR/LF", "GET", "/v1/users/u1%0d%0ax", names="userId"),
    Case("a row ID with a trailing newline", "GET", ROWS + "/r1%0a", names="rowId"),
    Case("a create with a trailing-newline ID", "POST", "/v1/users", json.dumps({"userId": "u3\n"}), names="userId"),
    Case("CR/LF where the router has no route", "GET", "/v1/health%0d%0a", status=404, type="general_route_not_found"),
    Case("an unknown route", "GET", "/v1/nothing/here", status=404, type="general_route_not_found"),
    Case("a method no route takes", "PROPFIND", "/v1/users", status=404, type="general_route_not_found"),
    Case(
        "a 5,000-digit response format",
        "POST",
        "/v1/users",
        '{"userId":"u1"}',
        (("X-Appwrite-Response-Format", "1.9." + "9" * 5000),),
        status=409,
        type="user_already_exists",
    ),
    Case("a body that is not JSON", "POST", "/v1/users", b"{nope"),
    Case("a body that is not UTF-8", "POST", "/v1/users", b'{"userId":"\xed\xa0\x80"}'),
    Case("a JSON array body", "POST", "/v1/users", b"[1,2]"),
    Case("multipart without a boundary", "POST", FILES, b"x", (("Content-Type", "multipart/form-data"),)),
    Case("multipart with a JSON body", "POST", FILES, b'{"fileId":"f2"}', MP),
    Case("multipart with a nameless part", "POST", FILES, _multipart([("Content-Disposition: form-data", "v")]), MP),
    Case("multipart with bad part headers", "POST", FILES, _multipart([("Nonsense", "v")]), MP),
    Case("multipart with 1,500 fields", "POST", FILES, _multipart([_field(f"f{i}", "v") for i in range(1500)]), MP),
    Case(
        "multipart with 1,500 files",
        "POST",
        FILES,
        _multipart([_field("fileId", "f2"), *(_file(f"x{i}", "a.txt", "v") for i in range(1500))]),
        MP,
    ),
    Case(
        "a 2 MB multipart field",
        "POST",
        FILES,
        _multipart([_field("fileId", "f2"), _field("permissions[]", "a" * 2_000_000), _file("file", "a.txt", "v")]),
        MP,
    ),
    Case("a 13 MB JSON body", "POST", "/v1/tablesdb", json.dumps({"databaseId": "d2", "name": "a" * 13_000_000})),
    Case(
        "a 256-character file name",
        "POST",
        FILES,
        _multipart([_field("fileId", "f2"), _file("file", "a" * 256, "v")]),
        MP,
        names="file",
    ),
    Case(  # python-multipart refuses a part header this long itself
        "a 100,000-character file name",
        "POST",
        FILES,
        _multipart([_field("fileId", "f2"), _file("file", "a" * 100_000, "v")]),
        MP,
    ),
    Case(
        "a Content-Range of 5,000 digits",
        "POST",
        FILES,
        _multipart([_field("fileId", "f2"), _file("file", "a.txt", "abc")]),
        (*MP, ("Content-Range", "bytes 0-2/" + "9" * 5000)),
        type="storage_invalid_content_range",
    ),
    Case(
        "a Range of 5,000 digits",
        "GET",
        FILES + "/f1/download",
        b"",
        (("Range", "bytes=0-" + "9" * 5000),),
        status=416,
        type="storage_invalid_range",
    ),
    Case("a 5,000-digit preview width", "GET", FILES + "/f1/preview?width=" + "9" * 5000, names="width"),
    Case("a preview width beyond 32 bits", "GET", FILES + "/f1/preview?width=" + "9" * 12, names="width"),
]


@pytest.fixture(scope="module")
def seeded(server: LocalServer) -> Iterator[tuple[admin.ProjectCredentials, RawClient]]:
    """A project with a database, a table (string, float and integer columns), a row, a user, a bucket
    with a file and a function: what the cases aim at, and what must not change."""
    project = server.new_project()
    client: Client = server.client(project.project_id, project.api_key)
    tdb = TablesDB(client)
    tdb.create("db", "db")
    tdb.create_table("db", "t", "t")
    tdb.create_varchar_column("db", "t", "name", 100, False)
    tdb.create_float_column("db", "t", "f", False)
    tdb.create_integer_column("db", "t", "i", False)
    for key in ("name", "f", "i"):
        wait_available(tdb, "db", "t", key)
    tdb.create_row("db", "t", "r1", {"name": "first", "f": 1.5, "i": 1})
    Users(client).create("u1", name="one")
    Storage(client).create_bucket("b", "b")
    from appwrite.input_file import InputFile

    Storage(client).create_file("b", "f1", InputFile.from_bytes(b"hello", "hello.txt"))
    Functions(client).create("fn1", "fn1", "python-3.12")
    raw = RawClient(server.url, project.project_id, project.api_key)
    yield project, raw
    raw.close()


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
@pytest.mark.local_only("reads the local server's SQLite or files")
def test_bad_input_is_refused_and_changes_nothing(
    case: Case, seeded: tuple[admin.ProjectCredentials, RawClient], server: LocalServer
) -> None:
    project, raw = seeded
    before = snapshot(server.data_dir, project.project_id)
    answer = raw.send(case.method, case.path, case.body, dict(case.headers))
    assert answer.content_type.startswith("application/json"), (answer.status, answer.body[:200])
    error = answer.json()
    assert (answer.status, error["type"], error["code"]) == (case.status, case.type, case.status), error["message"]
    assert error["message"] and error["version"]
    if case.names:
        assert f"`{case.names}`" in error["message"], error["message"]
    assert snapshot(server.data_dir, project.project_id) == before
    # The data it aimed at still serves.
    for path in ("/v1/users", "/v1/users/u1", ROWS, ROWS + "/r1", FILES, "/v1/functions"):
        assert raw.send("GET", path).status == 200, path


@pytest.mark.parametrize("length", ["9" * 5000, "13000000", "-1", "x"])
@pytest.mark.local_only("reads the local server's SQLite or files")
def test_a_content_length_that_is_absurd_or_too_large_is_refused(
    length: str, seeded: tuple[admin.ProjectCredentials, RawClient], server: LocalServer
) -> None:
    """h11 refuses a Content-Length that is not a number (a plain 400 before the app); one over the cap
    is refused by the app before it reads the body."""
    project, raw = seeded
    before = snapshot(server.data_dir, project.project_id)
    conn = raw.by_hand("POST", "/v1/users", ("Content-Length", length), timeout=30)
    try:
        conn.endheaders(b'{"userId":"u9"}')
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    assert reply.status == 400, body
    if length == "13000000":
        assert json.loads(body)["type"] == "general_argument_invalid"
    assert snapshot(server.data_dir, project.project_id) == before


def test_a_body_over_the_cap_is_refused_while_read(seeded: tuple[admin.ProjectCredentials, RawClient]) -> None:
    """A chunked body declares no length: the cap stops it while it streams in."""
    _, raw = seeded
    conn = raw.by_hand("POST", "/v1/tablesdb", ("Transfer-Encoding", "chunked"))
    try:
        conn.endheaders()
        piece = b"a" * (1024 * 1024)
        conn.send(b'%x\r\n{"databaseId":"d3","name":"\r\n' % len(b'{"databaseId":"d3","name":"'))
        try:
            for _ in range(14):
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b'2\r\n"}\r\n0\r\n\r\n')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the rest arrived
        reply = conn.getresponse()
        error = json.loads(reply.read())
    finally:
        conn.close()
    assert (reply.status, error["type"]) == (400, "general_argument_invalid")
    assert "larger than" in error["message"]


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_a_write_whose_answer_cannot_be_encoded_is_rolled_back(
    server: LocalServer, project: admin.ProjectCredentials, client: Client
) -> None:
    """A user stored by an older version with a lone surrogate in its name: changing its labels renders
    the user, the rendering fails, and the change is rolled back with the 500 instead of committed."""
    users = Users(client)
    users.create("u1", name="ok")
    conn = sqlite3.connect(server.data_dir / "quixotic.db", timeout=30)
    try:
        where = "project=? AND kind='user' AND _uid='u1'"
        (data,) = conn.execute(f"SELECT data FROM meta WHERE {where}", (project.project_id,)).fetchone()
        broken = json.loads(data)
        broken["name"] = "\ud800"
        with conn:
            conn.execute(f"UPDATE meta SET data=? WHERE {where}", (json.dumps(broken), project.project_id))
        with pytest.raises(AppwriteException) as info:
            users.update_labels("u1", ["vip"])
        assert (info.value.code, info.value.type) == (500, "general_unknown")
        (after,) = conn.execute(f"SELECT data FROM meta WHERE {where}", (project.project_id,)).fetchone()
    finally:
        conn.close()
    assert json.loads(after)["labels"] == []  # not written
    assert json.loads(after) == broken


SURROGATE_OUTPUT = """
def main(context):
    context.log("log \\ud800 line")
    context.error("error \\udfff line")
    return context.res.text("body", 200, {"x-odd": "v\\ud800"})
"""


def test_function_output_with_lone_surrogates_is_served(client: Client) -> None:
    """Code we run is not held to input limits, but what it writes is served: its logs, errors and
    headers with lone surrogates come back with U+FFFD, and the executions still list."""
    from server.test_functions import deploy

    fn = Functions(client)
    fn.create("odd", "Odd", "python-3.11", entrypoint="main.py", commands="", timeout=5)
    dep = deploy(fn, "odd", {"main.py": SURROGATE_OUTPUT})
    assert dep["status"] == "ready", dep["buildLogs"]
    done = fn.create_execution("odd")
    assert done["status"] == "completed", done
    assert "log \ufffd line" in done["logs"] and "error \ufffd line" in done["errors"]
    assert {"name": "x-odd", "value": "v\ufffd"} in done["responseHeaders"]
    listed = fn.list_executions("odd")
    assert listed["total"] == 1 and listed["executions"][0]["logs"] == done["logs"]


@pytest.mark.local_only("reads the local server's SQLite")
def test_function_output_is_stored_scrubbed(
    server: LocalServer, project: admin.ProjectCredentials, client: Client
) -> None:
    """The record itself holds valid Unicode (what a backup or the doctor reads), not only the answer."""
    from server.test_functions import deploy

    fn = Functions(client)
    fn.create("odd2", "Odd", "python-3.11", entrypoint="main.py", commands="", timeout=5)
    assert deploy(fn, "odd2", {"main.py": SURROGATE_OUTPUT})["status"] == "ready"
    done = fn.create_execution("odd2")
    conn = sqlite3.connect(server.data_dir / "quixotic.db", timeout=30)
    try:
        where = "project=? AND kind='execution' AND _uid=?"
        (data,) = conn.execute(f"SELECT data FROM meta WHERE {where}", (project.project_id, done["$id"])).fetchone()
    finally:
        conn.close()
    stored = json.loads(data)
    assert "log \ufffd line" in stored["logs"] and "error \ufffd line" in stored["errors"]
    assert "\\ud800" not in data and "\\udfff" not in data  # no escaped lone surrogate left in the JSON text
