"""Database writes in a process of their own (``writer_process``, ``QUIXOTIC_WRITER_PROCESS``): started at the
first database write, answering as the writer lane does, replaced when it dies, told to every request that waited
on it, and stopped with the server. A server of this module's own, with the writer process asked for by name, so
what is tested does not depend on the default."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from support.raw_http import Answer, RawClient
from support.server import LocalServer, start_server

from quixotic.server import admin, formats
from quixotic.server.auth import Caller
from quixotic.server.settings import ServerSettings
from quixotic.server.writer_process import WriteAnswer, WriteRequest, WriterProcess

pytestmark = pytest.mark.local_only("starts a server of its own and signals its processes")

ROWS = "/v1/tablesdb/wp/tables/notes/rows"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    base = tmp_path_factory.mktemp("writer-process")
    server = start_server(base / "data", base / "server.log", env={"QUIXOTIC_WRITER_PROCESS": "on"})
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def project(own_server: LocalServer) -> admin.ProjectCredentials:
    return own_server.new_project("writer process")


@pytest.fixture(scope="module")
def raw(own_server: LocalServer, project: admin.ProjectCredentials) -> RawClient:
    return RawClient(own_server.url, project.project_id, project.api_key)


def writer_pids(server_pid: int) -> list[int]:
    """The server's child processes that are its writer process (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server_pid and b"quixotic.server.writer_process" in command and " Z " not in stat:
            found.append(int(entry.name))
    return found


def the_writer(server: LocalServer) -> int:
    pids = writer_pids(server.process.pid)
    assert len(pids) == 1, pids
    return pids[0]


def wait_gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if " Z " in Path(f"/proc/{pid}/stat").read_text():  # exited, not yet reaped
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def post_rows(raw: RawClient, rows: list[dict[str, object]]) -> Answer:
    return raw.send("POST", ROWS, json.dumps({"rows": rows}), {"Content-Type": "application/json"})


def test_no_writer_process_until_the_first_database_write(
    own_server: LocalServer, project: admin.ProjectCredentials
) -> None:
    db = TablesDB(own_server.client(project.project_id, project.api_key))
    assert db.list()["total"] == 0  # a read: on the loop, no writer process
    assert writer_pids(own_server.process.pid) == []
    db.create("wp", "Writer process")
    first = the_writer(own_server)
    db.create_table("wp", "notes", "Notes")
    db.create_varchar_column("wp", "notes", "title", 64, True)
    deadline = time.monotonic() + 30
    while db.list_columns("wp", "notes")["columns"][0]["status"] != "available":  # built by its own worker
        assert time.monotonic() < deadline, "the column was never built"
        time.sleep(0.05)
    assert the_writer(own_server) == first  # one process for every write


def test_writes_and_their_errors_come_back_as_the_lane_answers_them(
    own_server: LocalServer, project: admin.ProjectCredentials, raw: RawClient
) -> None:
    created = post_rows(raw, [{"$id": f"n{i}", "title": f"note {i}"} for i in range(500)])
    assert created.status == 201, created.body
    assert created.content_type == "application/json"
    assert created.json()["total"] == 500
    db = TablesDB(own_server.client(project.project_id, project.api_key))
    assert db.get_row("wp", "notes", "n499")["title"] == "note 499"
    assert db.list_rows("wp", "notes")["total"] == 500

    again = post_rows(raw, [{"$id": "n1", "title": "twice"}])
    assert (again.status, again.json()["type"]) == (409, "row_already_exists")
    broken = raw.send("POST", ROWS, b"{not json", {"Content-Type": "application/json"})
    assert (broken.status, broken.json()["type"]) == (400, "general_argument_invalid")
    unknown = post_rows(raw, [{"$id": "u1", "title": "t", "colour": "red"}])
    assert unknown.status == 400, unknown.body
    assert "colour" in unknown.json()["message"]
    missing = raw.send("POST", "/v1/tablesdb/wp/tables/nope/rows", json.dumps({"rowId": "x", "data": {"title": "t"}}),
                       {"Content-Type": "application/json"})  # fmt: skip
    assert (missing.status, missing.json()["type"]) == (404, "table_not_found")
    assert db.list_rows("wp", "notes")["total"] == 500  # none of the refused writes left anything


def test_ctrl_c_in_a_terminal_does_not_stop_the_writer_process_on_its_own(
    own_server: LocalServer, raw: RawClient
) -> None:
    """SIGINT reaches the whole process group; the writer process stops when the server closes its channel."""
    writer = the_writer(own_server)
    os.kill(writer, signal.SIGINT)
    answer = post_rows(raw, [{"$id": "after-sigint", "title": "still served"}])
    assert answer.status == 201, answer.body
    assert the_writer(own_server) == writer


def test_a_killed_writer_process_is_replaced_and_keeps_what_it_wrote(
    own_server: LocalServer, project: admin.ProjectCredentials, raw: RawClient
) -> None:
    before = the_writer(own_server)
    os.kill(before, signal.SIGKILL)
    assert wait_gone(before)
    answer = post_rows(raw, [{"$id": "after-kill", "title": "written by the next one"}])
    assert answer.status == 201, answer.body
    assert the_writer(own_server) != before
    db = TablesDB(own_server.client(project.project_id, project.api_key))
    assert db.get_row("wp", "notes", "n0")["title"] == "note 0"
    assert db.get_row("wp", "notes", "after-kill")["title"] == "written by the next one"


def sleeping_in(pid: int) -> str:
    """Where in the kernel ``pid`` waits (``/proc/<pid>/wchan``): the socket read while it waits for a request."""
    return Path(f"/proc/{pid}/wchan").read_text().strip()


def test_a_write_the_dying_writer_process_never_read_goes_to_the_next_one_once(
    own_server: LocalServer, project: admin.ProjectCredentials
) -> None:
    raw = RawClient(own_server.url, project.project_id, project.api_key)
    writer = the_writer(own_server)
    os.kill(writer, signal.SIGSTOP)  # it cannot read the request the server hands it
    answers: list[Answer] = []
    sender = threading.Thread(target=lambda: answers.append(post_rows(raw, [{"$id": "unread", "title": "moved"}])))
    try:
        sender.start()
        time.sleep(0.5)  # whether the server has handed it over yet or not, the stopped process has not read it
        assert sender.is_alive(), "the write was answered by a stopped writer process"
    finally:
        os.kill(writer, signal.SIGKILL)
    sender.join(30)
    (answer,) = answers
    assert answer.status == 201, answer.body
    assert the_writer(own_server) != writer
    db = TablesDB(own_server.client(project.project_id, project.api_key))
    assert db.get_row("wp", "notes", "unread")["title"] == "moved"
    assert db.list_rows("wp", "notes", [Query.equal("title", "moved")])["total"] == 1  # written once


def test_a_write_the_writer_process_was_running_when_it_died_is_told_and_not_applied(
    own_server: LocalServer, project: admin.ProjectCredentials
) -> None:
    raw = RawClient(own_server.url, project.project_id, project.api_key)
    writer = the_writer(own_server)
    assert sleeping_in(writer) == "unix_stream_read_generic"  # what "waiting for a request" looks like
    lock = sqlite3.connect(own_server.data_dir / "quixotic.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the writer process reads the request, then waits for the database
    answers: list[Answer] = []
    sender = threading.Thread(target=lambda: answers.append(post_rows(raw, [{"$id": "lost", "title": "never"}])))
    try:
        sender.start()
        deadline = time.monotonic() + 15
        while sleeping_in(writer) in ("unix_stream_read_generic", "0"):
            assert time.monotonic() < deadline, "the writer process never took the request"
            time.sleep(0.01)
        os.kill(writer, signal.SIGKILL)
        sender.join(30)
    finally:
        lock.rollback()
        lock.close()
    (answer,) = answers
    assert answer.status == 500, answer.body
    message = answer.json()["message"]
    assert "writer process stopped" in message and "completely or not at all" in message
    db = TablesDB(own_server.client(project.project_id, project.api_key))
    assert db.list_rows("wp", "notes", [Query.equal("$id", "lost")])["total"] == 0
    retried = post_rows(raw, [{"$id": "lost", "title": "retried"}])
    assert retried.status == 201, retried.body


def test_the_writer_process_stops_with_the_server(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", tmp_path / "server.log", env={"QUIXOTIC_WRITER_PROCESS": "on"})
    try:
        creds = server.new_project("stops")
        TablesDB(server.client(creds.project_id, creds.api_key)).create("db", "DB")
        writer = the_writer(server)
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    assert wait_gone(writer), "the writer process outlived its server"
    assert "did not stop" not in server.log_path.read_text()  # it stopped when told, not killed


def test_the_setting_reads_on_and_off_and_refuses_anything_else() -> None:
    assert ServerSettings.from_env({"QUIXOTIC_WRITER_PROCESS": "on"}).writer_process
    assert not ServerSettings.from_env({"QUIXOTIC_WRITER_PROCESS": " OFF "}).writer_process
    assert ServerSettings.from_env({}).writer_process == ServerSettings().writer_process
    with pytest.raises(ValueError, match=r"QUIXOTIC_WRITER_PROCESS='maybe'.*on or off"):
        ServerSettings.from_env({"QUIXOTIC_WRITER_PROCESS": "maybe"})


def test_an_answer_goes_to_its_own_request_when_an_earlier_one_was_given_up(tmp_path: Path) -> None:
    """A request whose client went away still takes its own answer off the channel, never the next request's."""
    fmt = formats.parse("1.8.0")
    assert fmt is not None
    caller = Caller("nowhere", frozenset({"rows.write"}), "applications")

    def request(path: str, body: bytes = b"", template: str = "", params: dict[str, str] | None = None) -> WriteRequest:
        headers = {"content-type": "application/json"}
        route = ("POST", template)
        return WriteRequest(route, params or {}, "POST", path, {}, body, headers, "localhost", fmt, None, caller)

    async def scenario() -> tuple[WriteAnswer, bool]:
        writes = WriterProcess(tmp_path / "data", ServerSettings())
        try:
            await writes.run(request("/warm-up"))  # started, its store made
            lock = sqlite3.connect(tmp_path / "data" / "quixotic.db", isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")  # the first request waits for the database in the writer process
            template = "/tablesdb/{databaseId}/tables/{tableId}/rows"
            row = request(
                "/tablesdb/db/tables/t/rows", b'{"rowId": "r"}', template, {"databaseId": "db", "tableId": "t"}
            )
            given_up = asyncio.ensure_future(writes.run(row))
            await asyncio.sleep(0.3)
            given_up.cancel()
            second = asyncio.ensure_future(writes.run(request("/not-a-write/second")))
            await asyncio.sleep(0.1)
            lock.rollback()
            lock.close()
            return await asyncio.wait_for(second, 30), given_up.cancelled()
        finally:
            writes.close()

    answer, cancelled = asyncio.run(scenario())
    assert cancelled
    assert answer.status == 404, answer.body
    assert b"/not-a-write/second" in answer.body
