"""Readers that do not wait for writers: the real server over HTTP through the SDK while its writer connection is
held (by a bulk-writing client, or by another process's open write transaction), reads inside a write seeing that
write, and another process's writes seen at once; plus the store's own contract on real SQLite files (query-only
readers, one snapshot per read, the writer's view for a thread that holds the writer lock, every connection closed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from column_specs import column
from support.sdk import raises_api
from support.server import LocalServer

from quixotic.server import admin
from quixotic.server.ids import new_id
from quixotic.server.store import READER_MMAP, Store

LOCAL = pytest.mark.local_only("holds the local server's SQLite file from another process")
DB, T = "rd", "items"


@pytest.fixture
def items(server: LocalServer, project: admin.ProjectCredentials) -> TablesDB:
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    tdb.create(DB, "Readers")
    tdb.create_table(DB, T, "Items", columns=[column("n"), column("title", "string", size=64)])
    tdb.create_rows(DB, T, [{"$id": f"r{i}", "n": i, "title": f"item {i}"} for i in range(20)])
    return tdb


def _row_table(data_dir: Path, project: str) -> str:
    """The SQL table that holds the rows of ``DB``/``T`` (``r_<seq>``, see ``store``)."""
    with sqlite3.connect(data_dir / "quixotic.db") as conn:
        seq = conn.execute(
            "SELECT _seq FROM meta WHERE project=? AND kind='table' AND parent=? AND _uid=?", (project, DB, T)
        ).fetchone()[0]
    return f"r_{seq}"


@contextmanager
def held_writer(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """Another process's view: a write transaction open on the server's database until the block ends (rolled
    back), so every write of the server waits for it (``busy_timeout``)."""
    conn = sqlite3.connect(data_dir / "quixotic.db", isolation_level=None, timeout=1)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, or a failure naming the wait when it takes more than ``seconds``."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call)
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            pytest.fail(f"no answer within {seconds} s: the read waited for the writer")


@LOCAL
def test_keyed_reads_answer_while_a_write_waits_for_the_writer(
    server: LocalServer, project: admin.ProjectCredentials, items: TablesDB
) -> None:
    table = _row_table(server.data_dir, project.project_id)
    writer = TablesDB(server.client(project.project_id, project.api_key))
    pool = ThreadPoolExecutor(1)
    try:
        with held_writer(server.data_dir) as other:
            # Another process's uncommitted change: no read of the server may see it.
            other.execute(f"UPDATE {table} SET data=json_set(data, '$.n', 999) WHERE _uid='r1'")
            created = pool.submit(writer.create_row, DB, T, "late", {"n": 100, "title": "late"})
            time.sleep(0.5)  # the create is in the server now, waiting for the SQLite write lock
            assert not created.done()
            # The key lookup, a row, a list with its total, the table's metadata: each answers at once.
            reader = TablesDB(server.client(project.project_id, project.api_key))
            for _ in range(5):
                assert within(5, lambda: reader.get_row(DB, T, "r1"))["n"] == 1
            listing = within(5, lambda: reader.list_rows(DB, T, [Query.limit(5)]))
            assert listing["total"] == 20 and len(listing["rows"]) == 5
            assert within(5, lambda: reader.get_table(DB, T))["$id"] == T
            with raises_api(404, "row_not_found"):
                within(5, lambda: reader.get_row(DB, T, "late"))
            assert not created.done(), "the create waits for the other process's write lock"
        # The other process let go (rolled back): the waiting create goes through.
        assert created.result(timeout=30)["$id"] == "late"
    finally:
        pool.shutdown()
    # ... and the rolled-back change never shows.
    assert writer.get_row(DB, T, "late")["n"] == 100
    assert writer.get_row(DB, T, "r1")["n"] == 1


def test_keyed_gets_keep_answering_during_bulk_writes(
    server: LocalServer, project: admin.ProjectCredentials, items: TablesDB
) -> None:
    stop = threading.Event()
    written: list[int] = []

    def bulk() -> None:
        tdb = TablesDB(server.client(project.project_id, project.api_key))
        batch = 0
        while not stop.is_set():
            rows = [{"$id": f"b{batch}_{j}", "n": j, "title": "bulk"} for j in range(500)]
            written.append(tdb.create_rows(DB, T, rows)["total"])
            batch += 1

    reader = TablesDB(server.client(project.project_id, project.api_key))
    thread = threading.Thread(target=bulk)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not written and time.monotonic() < deadline:  # the first batch is in; more are on the way
            assert reader.get_row(DB, T, "r2")["n"] == 2
        gets = 0
        batches_before = len(written)
        while len(written) < batches_before + 2 and time.monotonic() < deadline:
            assert within(10, lambda: reader.get_row(DB, T, "r3"))["title"] == "item 3"
            gets += 1
    finally:
        stop.set()
        thread.join(timeout=120)
    assert written and all(total == 500 for total in written)
    assert gets >= 2, "reads went on while the bulk writes ran"
    assert reader.list_rows(DB, T, [Query.limit(1)])["total"] == 20 + 500 * len(written)


def test_a_read_inside_a_write_sees_that_write(server: LocalServer, items: TablesDB) -> None:
    """A row transaction stages an update; a read in that transaction replays it inside the writer's uncommitted
    transaction and must see it, while a read outside sees the committed row."""
    tx = items.create_transaction()
    items.update_row(DB, T, "r4", {"n": 44}, transaction_id=tx["$id"])
    items.create_row(DB, T, "staged", {"n": 7, "title": "staged"}, transaction_id=tx["$id"])
    assert items.get_row(DB, T, "r4", transaction_id=tx["$id"])["n"] == 44
    assert items.get_row(DB, T, "staged", transaction_id=tx["$id"])["n"] == 7
    assert items.get_row(DB, T, "r4")["n"] == 4
    with raises_api(404, "row_not_found"):
        items.get_row(DB, T, "staged")
    items.update_transaction(tx["$id"], commit=True)
    assert items.get_row(DB, T, "r4")["n"] == 44
    # A bulk write and its answer in one request: every row it wrote read back in the answer.
    made = items.upsert_rows(DB, T, [{"$id": "r5", "n": 55, "title": "five"}, {"$id": "u1", "n": 1, "title": "u"}])
    assert sorted((r["$id"], r["n"]) for r in made["rows"]) == [("r5", 55), ("u1", 1)]


def _cli(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "quixotic.cli", "local", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


@LOCAL
def test_another_process_writing_the_data_dir_is_seen_at_once(
    server: LocalServer, project: admin.ProjectCredentials, items: TablesDB
) -> None:
    for _ in range(3):  # the server's reader connections have been used (and pooled) before the other writes
        assert items.get_row(DB, T, "r6")["n"] == 6
    made = _cli("project", "create", "p" + new_id(), "--data", str(server.data_dir))
    other = TablesDB(server.client(made["projectId"], made["apiKey"]))
    assert other.list()["total"] == 0
    script = (
        "import sys; from quixotic.server.store import Store\n"
        "store = Store(sys.argv[1])\n"
        "with store.tx() as conn:\n"
        f'    conn.execute("UPDATE {_row_table(server.data_dir, project.project_id)} SET data=json_set(data,'
        " '$.n', 66) WHERE _uid='r6'\")\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(server.data_dir)], check=True, timeout=60)
    assert items.get_row(DB, T, "r6")["n"] == 66
    assert items.list_rows(DB, T, [Query.equal("n", [66])])["total"] == 1


# --- the store's contract, on real SQLite files ---------------------------------------------------------------


def _db_fds(path: Path) -> int:
    """How many of this process's open files are the database or its WAL."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path / "quixotic.db")):
            count += 1
    return count


def test_reads_are_query_only_and_see_one_snapshot(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with store.tx() as conn:
            conn.execute("CREATE TABLE t (n INTEGER)")
            conn.execute("INSERT INTO t VALUES (1)")
        with store.read() as conn, pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO t VALUES (2)")
        with store.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
            done = threading.Event()

            def write() -> None:
                with store.tx() as w:
                    w.execute("INSERT INTO t VALUES (3)")
                done.set()

            threading.Thread(target=write).start()
            assert done.wait(10), "a write waited for a reader"
            assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1  # the read's own snapshot
        with store.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2
    finally:
        store.close()


def test_readers_map_the_file_and_count_what_was_written_since(tmp_path: Path) -> None:
    """A reader reads the file mapped (``READER_MMAP``: a count of a large table does not read its ID index again
    through the OS each time), and still sees each write committed before its snapshot, whether SQLite's automatic
    checkpoint has copied it into the file yet or it is still in the WAL."""
    store = Store(tmp_path)
    try:
        with store.tx() as conn:
            conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
        for batch in range(3):
            with store.tx() as conn:
                conn.executemany("INSERT INTO t VALUES (?)", [(f"{batch}-{i:06d}-{'x' * 24}",) for i in range(20_000)])
            with store.read() as conn:
                assert conn.execute("PRAGMA mmap_size").fetchone()[0] == READER_MMAP
                assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 20_000 * (batch + 1)
    finally:
        store.close()


def test_a_thread_that_holds_the_writer_reads_its_own_writes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with store.tx() as conn:
            conn.execute("CREATE TABLE t (n INTEGER)")
        seen_elsewhere: list[int] = []
        with store.tx() as conn:
            conn.execute("INSERT INTO t VALUES (1)")
            with store.read() as view:
                assert view.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
            other = threading.Thread(
                target=lambda: seen_elsewhere.append(_count(store)), name="another request"
            )  # fmt: skip
            other.start()
            other.join(10)
            assert seen_elsewhere == [0], "another thread reads the committed state, without waiting"
        with store.lock, store.read() as view:  # under the lock, outside a transaction: the writer connection
            assert view is store.conn
        with store.read() as conn:  # a write inside a read: the rest of the read sees it
            assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
            with store.tx() as w:
                w.execute("INSERT INTO t VALUES (2)")
            assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2
    finally:
        store.close()


def _count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])


def test_a_thread_refused_the_writer_cannot_write(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with store.lock.refused():
            with store.read() as conn:
                assert conn.execute("SELECT 1").fetchone()[0] == 1
            with pytest.raises(RuntimeError, match="only reads"), store.tx():
                pass
            with pytest.raises(RuntimeError, match="only reads"):
                store.lock.acquire()
        with store.tx() as conn:  # the refusal ended with its block
            conn.execute("CREATE TABLE t (n INTEGER)")
    finally:
        store.close()


def test_close_closes_every_connection_and_keeps_the_files_private(tmp_path: Path) -> None:
    before = _db_fds(tmp_path)
    store = Store(tmp_path)
    with store.tx() as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
    barrier = threading.Barrier(4)

    def read(_: int) -> int:
        with store.read() as conn:
            barrier.wait(10)  # four reads at once: four reader connections
            return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(read, range(4))) == [0, 0, 0, 0]
    assert _db_fds(tmp_path) > before
    for suffix in ("", "-wal", "-shm"):
        assert (tmp_path / f"quixotic.db{suffix}").stat().st_mode & 0o777 == 0o600
    store.close()
    assert _db_fds(tmp_path) == before
    with pytest.raises(sqlite3.ProgrammingError), store.read():
        pass


def test_a_record_that_is_not_strict_json_is_never_stored(tmp_path: Path) -> None:
    """Defence in depth behind validation: NaN or Infinity in a record raises and the transaction writes
    nothing, so no read ever meets text that SQLite's json functions call malformed."""
    from quixotic.server import store as st

    store = Store(tmp_path)
    try:
        for bad in (float("nan"), float("inf")):
            with pytest.raises(ValueError), store.tx() as conn:
                st.meta_insert(conn, "p1", "user", "", "u1", {"prefs": {"x": bad}})
        with store.read() as conn:
            assert st.meta_get(conn, "p1", "user", "", "u1") is None
    finally:
        store.close()


def test_a_read_that_raises_gives_its_connection_back_and_releases_the_writer(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with pytest.raises(ValueError), store.read() as conn:
            assert conn.in_transaction
            raise ValueError("a handler failed")
        assert not conn.in_transaction, "the snapshot ended with the read"
        with store.read() as again, store.read() as inner:
            assert again is conn is inner  # back in the pool; a read inside a read goes on with it
        with pytest.raises(ValueError), store.lock, store.read() as view:
            assert view is store.conn
            raise ValueError("a write's read failed")
        assert not store.lock.held()
        done: list[bool] = []

        def take_and_give_back() -> None:
            taken = store.lock.acquire(timeout=5)
            if taken:
                store.lock.release()
            done.append(taken)

        other = threading.Thread(target=take_and_give_back)
        other.start()
        other.join(10)
        assert done == [True], "the writer lock was left held"
    finally:
        store.close()
