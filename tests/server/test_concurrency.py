"""Concurrent writers against the real local server: several SDK clients (one per thread, each call on
its own HTTP connection, as the SDK makes them) and a second process create rows and increment the
same row at once. No update may be lost and no row may be half-written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from column_specs import column

from quixotic.server import admin

THREADS = 8
PER_THREAD = 25


@pytest.fixture
def counter_table(tdb: TablesDB) -> str:
    tdb.create("db", "DB")
    tdb.create_table(
        "db",
        "t",
        "T",
        columns=[column("n"), column("x", "double"), column("who", "string", size=16)],
        indexes=[{"key": "one_who", "type": "unique", "columns": ["who"]}],
    )
    tdb.create_row("db", "t", "counter", {"n": 0, "x": 0.0})
    return "t"


def run_threads(work: Callable[[int], Any], threads: int = THREADS) -> list[Any]:
    """Run ``work(i)`` for i in 0..threads-1 at once (released together by a barrier)."""
    barrier = threading.Barrier(threads)

    def start(i: int) -> Any:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(start, range(threads)))


def test_concurrent_increments_lose_nothing(server: Any, project: admin.ProjectCredentials, counter_table: str) -> None:
    def work(_: int) -> list[int]:
        tdb = TablesDB(server.client(project.project_id, project.api_key))  # one SDK client per thread
        seen = []
        for _ in range(PER_THREAD):
            seen.append(tdb.increment_row_column("db", counter_table, "counter", "n")["n"])
            tdb.decrement_row_column("db", counter_table, "counter", "x", 0.5)
        return seen

    results = run_threads(work)
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    row = tdb.get_row("db", counter_table, "counter")
    assert row["n"] == THREADS * PER_THREAD
    assert row["x"] == -0.5 * THREADS * PER_THREAD
    # Every increment answered a distinct value: each saw its own write, none overwrote another.
    values = sorted(v for seen in results for v in seen)
    assert values == list(range(1, THREADS * PER_THREAD + 1))


def test_concurrent_increments_respect_max(server: Any, project: admin.ProjectCredentials, counter_table: str) -> None:
    limit = 50

    def work(_: int) -> tuple[int, int]:
        tdb = TablesDB(server.client(project.project_id, project.api_key))
        ok = refused = 0
        for _ in range(PER_THREAD):
            try:
                tdb.increment_row_column("db", counter_table, "counter", "n", 1, max=limit)
                ok += 1
            except AppwriteException as exc:
                assert (exc.code, exc.type) == (400, "column_limit_exceeded")
                refused += 1
        return ok, refused

    results = run_threads(work)
    assert sum(ok for ok, _ in results) == limit
    assert sum(refused for _, refused in results) == THREADS * PER_THREAD - limit
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    assert tdb.get_row("db", counter_table, "counter")["n"] == limit


def test_concurrent_creates(server: Any, project: admin.ProjectCredentials, counter_table: str) -> None:
    def work(i: int) -> list[dict[str, Any]]:
        tdb = TablesDB(server.client(project.project_id, project.api_key))
        made = [tdb.create_row("db", counter_table, f"r{i}-{j}", {"n": j}) for j in range(PER_THREAD // 2)]
        bulk = tdb.create_rows("db", counter_table, [{"$id": f"b{i}-{j}", "n": j} for j in range(10)])
        return made + list(bulk["rows"])

    results = run_threads(work)
    created = [row for rows in results for row in rows]
    assert len(created) == THREADS * (PER_THREAD // 2 + 10)
    assert len({r["$sequence"] for r in created}) == len(created)
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    listed = tdb.list_rows("db", counter_table, [Query.limit(1000)])
    assert listed["total"] == len(created) + 1
    assert {r["$id"] for r in listed["rows"]} == {r["$id"] for r in created} | {"counter"}


def test_racing_for_the_same_id_and_unique_value(
    server: Any, project: admin.ProjectCredentials, counter_table: str
) -> None:
    def work(i: int) -> tuple[str, str]:
        tdb = TablesDB(server.client(project.project_id, project.api_key))
        outcomes = []
        for data_id, data in (("same-id", {"n": i}), (f"own-{i}", {"who": "winner"})):
            try:
                tdb.create_row("db", counter_table, data_id, data)
                outcomes.append("created")
            except AppwriteException as exc:
                outcomes.append(str(exc.type))
        return outcomes[0], outcomes[1]

    results = run_threads(work)
    assert sorted(r[0] for r in results) == ["created"] + ["row_already_exists"] * (THREADS - 1)
    assert sorted(r[1] for r in results) == ["created"] + ["row_unique_constraint_violation"] * (THREADS - 1)
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    assert tdb.list_rows("db", counter_table, [Query.equal("who", "winner")])["total"] == 1


def test_two_processes_increment_the_same_row(
    server: Any, project: admin.ProjectCredentials, counter_table: str
) -> None:
    child = textwrap.dedent(
        f"""
        from appwrite.client import Client
        from appwrite.services.tables_db import TablesDB
        client = Client().set_endpoint({server.url!r}).set_project({project.project_id!r})
        tdb = TablesDB(client.set_key({project.api_key!r}))
        for _ in range({PER_THREAD * 2}):
            tdb.increment_row_column("db", {counter_table!r}, "counter", "n")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", child]) for _ in range(2)]

    def work(_: int) -> None:
        tdb = TablesDB(server.client(project.project_id, project.api_key))
        for _ in range(PER_THREAD):
            tdb.increment_row_column("db", counter_table, "counter", "n")

    run_threads(work, threads=2)
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    assert tdb.get_row("db", counter_table, "counter")["n"] == 2 * PER_THREAD * 2 + 2 * PER_THREAD
