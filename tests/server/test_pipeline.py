"""The request pipeline (``app.lane_of``, ``worker.Lane``): where each handler runs, and that nothing waits on
itself. Function code that calls the API back from a synchronous execution and from an event-triggered one
(whose execution the writer lane's own call dispatched), bodies decoded off the loop with the same errors,
and the server process running httptools and uvloop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB
from column_specs import column
from support.raw_http import RawClient
from support.server import LocalServer
from test_functions import deploy, wait_for

from quixotic.server import admin
from quixotic.server.app import _OWN_TRANSACTIONS, LOOP, POOL, WRITER, lane_of, uvicorn_impl
from quixotic.server.console.routes import with_console
from quixotic.server.registry import load_all

IMPLEMENTED = [op for op in with_console().operations if op.id in load_all()]

RELAY = """
import json, os
from urllib import request as rq

def call(context, method, path, body=None):
    req = rq.Request(os.environ["APPWRITE_FUNCTION_API_ENDPOINT"] + path, method=method,
                     data=None if body is None else json.dumps(body).encode(), headers={
                         "X-Appwrite-Project": os.environ["APPWRITE_FUNCTION_PROJECT_ID"],
                         "X-Appwrite-Key": context.req.headers["x-appwrite-key"],
                         "Content-Type": "application/json"})
    try:
        with rq.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except Exception as exc:
        return getattr(exc, "code", str(exc)), None

def main(context):
    rows = "/tablesdb/pl/tables/audit/rows"
    if context.req.headers.get("x-appwrite-trigger") == "event":
        source = json.loads(context.req.body_text)
        status, _ = call(context, "POST", rows, {"rowId": "from_" + source["$id"], "data": {"note": "event"}})
        return context.res.json({"status": status})
    out = []
    for i in range(3):
        out.append(call(context, "POST", rows, {"rowId": f"sync{i}", "data": {"note": "sync"}})[0])
    status, listing = call(context, "GET", rows)
    out.append(status)
    return context.res.json({"statuses": out, "total": listing and listing["total"]})
"""


def test_every_implemented_operation_has_a_lane_and_blocking_work_never_runs_on_the_loop_or_the_writer() -> None:
    assert len(IMPLEMENTED) > 200
    lanes = {op.appwrite_id: lane_of(op, {}) for op in IMPLEMENTED}
    assert set(lanes.values()) == {LOOP, WRITER, POOL}
    for op in IMPLEMENTED:
        lane = lane_of(op, {})
        if lane == LOOP:
            assert op.method == "GET", op.id
            assert lane_of(op, {"transactionId": "t1"}) == WRITER  # replays the transaction under the writer lock
        if op.id in _OWN_TRANSACTIONS or "multipart" in op.consumes or op.tag in ("account", "users"):
            assert lane == POOL, op.id  # waits on other threads, moves files, hashes passwords
        if op.produces not in ("application/json", ""):
            assert lane == POOL, op.id  # downloads, previews
    for op_id in ("functionsCreateExecution", "functionsCreateDeployment", "storageCreateFile",
                  "storageGetFileDownload", "functionsGetDeploymentDownload", "healthGetStorageLocal"):  # fmt: skip
        assert lanes[op_id] == POOL, op_id
    for op_id in ("tablesDBGetRow", "tablesDBListRows", "databasesGetDocument", "healthGet"):
        assert lanes[op_id] == LOOP, op_id
    for op_id in ("tablesDBCreateRow", "tablesDBUpsertRows", "tablesDBUpdateTransaction", "databasesCreateDocument"):
        assert lanes[op_id] == WRITER, op_id
    # A read sent as a POST (queries in the body, maybe a transactionId there too): the writer lane, never the loop.
    assert lanes["tablesDBCreateQuery"] == WRITER


@pytest.fixture
def relay(client: Client) -> Functions:
    fn = Functions(client)
    db = TablesDB(client)
    db.create("pl", "Pipeline")
    db.create_table("pl", "src", "Sources", columns=[column("name", "string", size=32)])
    db.create_table("pl", "audit", "Audit", columns=[column("note", "string", size=32)])
    fn.create("relay", "Relay", "python-3.11", entrypoint="main.py", scopes=["rows.read", "rows.write"], timeout=30)
    dep = deploy(fn, "relay", {"main.py": RELAY})
    assert dep["status"] == "ready", dep["buildLogs"]
    wait_for(lambda: fn.get("relay")["deploymentId"] == dep["$id"])
    return fn


def test_a_synchronous_execution_writes_and_reads_through_the_api(relay: Functions, client: Client) -> None:
    """The execution holds its request's thread until the function returns; the function's own writes (the
    writer lane) and reads (the loop) must go through meanwhile."""
    result = relay.create_execution("relay", path="/")
    assert result["status"] == "completed", result
    body = json.loads(result["responseBody"])
    assert body == {"statuses": [201, 201, 201, 200], "total": 3}
    assert TablesDB(client).get_row("pl", "audit", "sync2")["note"] == "sync"


def test_an_event_triggered_execution_writes_back_through_the_api(relay: Functions, client: Client) -> None:
    """The create's events are dispatched in the writer lane's own call, after its commit: the execution they
    start must not hold that call, or its write back (through the writer lane) would wait on itself."""
    relay.update("relay", "Relay", events=["databases.pl.tables.src.rows.*.create"])
    db = TablesDB(client)
    db.create_row("pl", "src", "s1", {"name": "first"})
    db.create_rows("pl", "src", [{"$id": "s2", "name": "second"}, {"$id": "s3", "name": "third"}])
    for source in ("s1", "s2", "s3"):
        found = wait_for(lambda s=source: _row_or_none(db, "audit", f"from_{s}"), 60)
        assert found["note"] == "event"


def _row_or_none(db: TablesDB, table: str, row_id: str) -> dict[str, Any] | None:
    listing = db.list_rows("pl", table)
    return next((r for r in listing["rows"] if r["$id"] == row_id), None)


def test_bodies_decoded_off_the_loop_answer_as_before(server: LocalServer, project: admin.ProjectCredentials) -> None:
    raw = RawClient(server.url, project.project_id, project.api_key)
    TablesDB(server.client(project.project_id, project.api_key)).create("bodies", "Bodies")
    for path in ("/v1/tablesdb/bodies/tables", "/v1/users", "/v1/functions"):  # the writer lane and the pool
        for body, words in ((b"{not json", "JSON"), (b"[1, 2]", "must be a JSON object"), (b"{}", "not optional")):
            answer = raw.send("POST", path, body)
            assert answer.status == 400, (path, body, answer.body)
            assert answer.json()["type"] == "general_argument_invalid"
            assert words in answer.json()["message"], answer.json()
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    assert tdb.list_tables("bodies")["total"] == 0


@pytest.mark.local_only("reads the local server process's loaded libraries")
def test_the_server_runs_httptools_and_uvloop(server: LocalServer) -> None:
    assert uvicorn_impl() == {"http": "httptools", "loop": "uvloop"}  # uvicorn[standard] is a dependency
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "httptools" in maps and "uvloop" in maps
