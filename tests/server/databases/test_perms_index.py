"""The permissions side table of a rows table (``p_<n>``, ``databases.perm_index``) stays in step with the rows'
stored permissions after every kind of write: single, bulk, transactional, a write that rolls back, a table or
database dropped and made again, and a data folder from before side tables. A client's list read through it
finds exactly the rows the JSON permissions grant, as the ``instr`` test it replaces did."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import time
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.account import Account
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support import spawn
from support.server import LocalServer

from quixotic.server import auth
from quixotic.server import store as st
from quixotic.server.databases import perm_index

PASSWORD = "correct horse battery"
ALICE = 'read("user:alice")'


def _db(srv: LocalServer) -> sqlite3.Connection:
    return sqlite3.connect(srv.data_dir / "quixotic.db", isolation_level=None)


def _row_table(conn: sqlite3.Connection, project: str, table_id: str) -> str:
    (seq,) = conn.execute(
        "SELECT _seq FROM meta WHERE project=? AND kind='table' AND _uid=?", (project, table_id)
    ).fetchone()
    return f"r_{seq}"


def _assert_in_step(conn: sqlite3.Connection, row_sql: str) -> set[tuple[str, str, str]]:
    """The side table holds exactly one entry per (type, role, row) of the stored permissions; returns them."""
    wanted = set()
    for uid, perms in conn.execute(f"SELECT _uid, _permissions FROM {row_sql}"):
        for p in json.loads(perms):
            kind, _, rest = p.partition('("')
            wanted.add((kind, rest[:-2], uid))
    held = set(
        conn.execute(
            f"SELECT p._type, p._role, r._uid FROM {perm_index.name(row_sql)} p JOIN {row_sql} r ON r._seq = p._row"
        )
    )
    (orphans,) = conn.execute(
        f"SELECT count(*) FROM {perm_index.name(row_sql)} WHERE _row NOT IN (SELECT _seq FROM {row_sql})"
    ).fetchone()
    assert held == wanted and orphans == 0
    return held


def _readable(conn: sqlite3.Connection, row_sql: str, role: str) -> set[str]:
    """The rows whose stored permissions let ``role`` read them (the tests grant alice nothing wider)."""
    return {
        uid
        for (uid, perms) in conn.execute(f"SELECT _uid, _permissions FROM {row_sql}")
        if f'read("{role}")' in json.loads(perms)
    }


def _alice(srv: LocalServer, project: str, key: Client) -> TablesDB:
    Users(key).create("alice", "alice@example.com", password=PASSWORD)
    secret = Account(key).create_email_password_session("alice@example.com", PASSWORD)["secret"]
    return TablesDB(srv.client(project, None).set_session(secret))


def _table(tdb: TablesDB, table_id: str = "t") -> None:
    tdb.create_table("db", table_id, table_id, permissions=['create("users")'], row_security=True,
                     columns=[{"key": "n", "type": "integer", "required": False}])  # fmt: skip


def _listed(tdb: TablesDB, table_id: str = "t") -> tuple[int, set[str]]:
    got = tdb.list_rows("db", table_id, [Query.limit(100)])
    return got["total"], {r["$id"] for r in got["rows"]}


@pytest.mark.local_only("reads the server's SQLite file")
def test_side_table_follows_every_write(own_server: LocalServer) -> None:
    project = own_server.new_project()
    key_client = own_server.client(project.project_id, project.api_key)
    tdb = TablesDB(key_client)
    alice = _alice(own_server, project.project_id, key_client)
    tdb.create("db", "db")
    _table(tdb)
    conn = _db(own_server)
    r = _row_table(conn, project.project_id, "t")
    assert _assert_in_step(conn, r) == set()

    def check() -> None:
        _assert_in_step(conn, r)
        readable = _readable(conn, r, "user:alice")
        assert _listed(alice) == (len(readable), readable)

    tdb.create_row("db", "t", "k1", {"n": 1}, [ALICE, 'update("any")'])
    alice.create_row("db", "t", "a1", {"n": 2})  # the creator's own permissions
    check()
    tdb.update_row("db", "t", "k1", permissions=['read("user:bob")'])
    tdb.update_row("db", "t", "a1", {"n": 3})  # data only: entries kept
    check()
    tdb.upsert_row("db", "t", "u1", {"n": 4}, [ALICE])
    tdb.upsert_row("db", "t", "u1", {"n": 5}, ['delete("user:alice")'])
    tdb.increment_row_column("db", "t", "u1", "n")
    check()
    tdb.create_rows("db", "t", [{"$id": f"b{i}", "n": i, "$permissions": [ALICE] if i % 2 else []} for i in range(6)])
    tdb.upsert_rows("db", "t", [{"$id": "b0", "n": 9, "$permissions": [ALICE, 'update("users")']}])
    tdb.update_rows("db", "t", {"n": 7}, [Query.less_than("n", 3)])
    tdb.delete_rows("db", "t", [Query.equal("$id", ["b1", "b2"])])
    tdb.delete_row("db", "t", "k1")
    check()

    # A bulk create that fails on its last row writes nothing, side entries included.
    before = _assert_in_step(conn, r)
    with pytest.raises(AppwriteException):
        tdb.create_rows("db", "t", [{"$id": "new1", "$permissions": [ALICE]}, {"$id": "b0", "$permissions": [ALICE]}])
    assert _assert_in_step(conn, r) == before

    # Transactions: staged writes leave no entries until the commit applies them; a rollback none.
    txn = tdb.create_transaction()["$id"]
    where = {"databaseId": "db", "tableId": "t"}
    tdb.create_operations(txn, [
        {"action": "create", **where, "rowId": "x1", "data": {"n": 1, "$permissions": [ALICE]}},
        {"action": "update", **where, "rowId": "b0", "data": {"$permissions": []}},
        {"action": "delete", **where, "rowId": "b3"},
    ])  # fmt: skip
    assert _assert_in_step(conn, r) == before
    tdb.update_transaction(txn, commit=True)
    check()
    assert {"x1"} <= _readable(conn, r, "user:alice") and "b0" not in _readable(conn, r, "user:alice")
    kept = _assert_in_step(conn, r)
    txn = tdb.create_transaction()["$id"]
    tdb.create_row("db", "t", "x2", {"n": 1}, [ALICE], transaction_id=txn)
    tdb.update_transaction(txn, rollback=True)
    assert _assert_in_step(conn, r) == kept

    # A table dropped takes its side table; made again, it starts empty and follows its own rows.
    tdb.delete_table("db", "t")
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name LIKE ?", (perm_index.name(r) + "%",)
    ).fetchone() == (0,)
    _table(tdb)
    r = _row_table(conn, project.project_id, "t")
    assert _assert_in_step(conn, r) == set()
    alice.create_row("db", "t", "again", {"n": 1})
    check()
    tdb.delete("db")
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name LIKE ?", (perm_index.name(r) + "%",)
    ).fetchone() == (0,)


@pytest.mark.local_only("stops its server and rewrites its data folder as an older version left it")
def test_old_data_folder_gets_its_side_tables(tmp_path: Path) -> None:
    with spawn.own_server(tmp_path) as srv:
        project = srv.new_project()
        key_client = srv.client(project.project_id, project.api_key)
        tdb = TablesDB(key_client)
        _alice(srv, project.project_id, key_client)
        tdb.create("db", "db")
        for table_id in ("read_first", "write_first"):
            _table(tdb, table_id)
            tdb.create_rows("db", table_id, [{"$id": f"r{i}", "n": i, "$permissions": [ALICE] if i % 3 == 0 else []}
                                             for i in range(30)])  # fmt: skip
    conn = sqlite3.connect(tmp_path / "data" / "quixotic.db", isolation_level=None)
    tables = {t: _row_table(conn, project.project_id, t) for t in ("read_first", "write_first")}
    for r in tables.values():  # as a version before side tables left it, with a row it wrote itself
        p = perm_index.name(r)
        for part in ("_insert", "_update", "_delete"):
            conn.execute(f"DROP TRIGGER {p}{part}")
        conn.execute(f"DROP TABLE {p}")
        conn.execute(f"INSERT INTO {r} (_uid, _createdAt, _updatedAt, _permissions, data) VALUES "
                     "('old', '2024-01-01T00:00:00.000+00:00', '2024-01-01T00:00:00.000+00:00', ?, '{\"n\": 99}')",
                     (json.dumps([ALICE]),))  # fmt: skip
    conn.close()

    with spawn.own_server(tmp_path) as srv:  # the same folder, as the newer version
        secret = Account(srv.client(project.project_id, project.api_key)).create_email_password_session(
            "alice@example.com", PASSWORD
        )["secret"]
        alice = TablesDB(srv.client(project.project_id, None).set_session(secret))
        tdb = TablesDB(srv.client(project.project_id, project.api_key))
        conn = sqlite3.connect(tmp_path / "data" / "quixotic.db", isolation_level=None)
        # First use a client's list: it tests the JSON, and has the worker make (and fill) the side table.
        expected = _readable(conn, tables["read_first"], "user:alice")
        assert "old" in expected and _listed(alice, "read_first") == (len(expected), expected)
        deadline = time.monotonic() + 20
        while not perm_index.present(conn, tables["read_first"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        _assert_in_step(conn, tables["read_first"])
        assert _listed(alice, "read_first") == (len(expected), expected)
        # First use a write that fails: nothing stays, the next write makes it.
        with pytest.raises(AppwriteException):
            tdb.create_row("db", "write_first", "r1", {"n": 1})
        assert not perm_index.present(conn, tables["write_first"])
        tdb.update_row("db", "write_first", "old", permissions=['read("user:bob")'])
        _assert_in_step(conn, tables["write_first"])
        expected = _readable(conn, tables["write_first"], "user:alice")
        assert "old" not in expected and _listed(alice, "write_first") == (len(expected), expected)


def test_side_table_condition_matches_the_json_test() -> None:
    """On random permission lists, the side table's condition picks the rows ``auth.readable_sql`` picks."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    st.create_schema(conn)
    conn.execute(st.ROW_TABLE_DDL.format(name="r_1"))
    conn.execute("BEGIN")
    perm_index.ensure(conn, "p", "r_1")
    conn.execute("COMMIT")
    rng = random.Random(7)
    roles = ["any", "users", "guests", "user:a", "user:b", "team:t", "team:t/owner", "label:x"]
    actions = ["read", "update", "delete", "create"]
    grants = [f'{a}("{r}")' for a, r in itertools.product(actions, roles)]
    for i in range(300):
        perms = rng.sample(grants, rng.randint(0, 6))
        conn.execute(
            "INSERT INTO r_1 (_uid, _createdAt, _updatedAt, _permissions) VALUES (?, '', '', ?)",
            (f"r{i}", json.dumps(perms)),
        )
    for i in range(0, 300, 7):  # changed permissions and deleted rows too
        conn.execute("UPDATE r_1 SET _permissions=? WHERE _uid=?", (json.dumps(rng.sample(grants, 3)), f"r{i}"))
    conn.execute("DELETE FROM r_1 WHERE _seq % 11 = 0")
    for held in itertools.combinations(roles, 3):
        for action in ("read", "update"):
            caller = auth.Caller("p", frozenset(), "users", roles=held)
            old_where, old_params = auth.readable_sql(caller, action)
            new_where, new_params = perm_index.readable("r_1", held, action)
            old = conn.execute(f"SELECT _uid FROM r_1 WHERE {old_where} ORDER BY _seq", old_params).fetchall()
            new = conn.execute(f"SELECT _uid FROM r_1 WHERE {new_where} ORDER BY _seq", new_params).fetchall()
            assert old == new
            for cap in (5000, 3):  # and the side table's own count, capped, is that many rows
                sql, values = perm_index.readable_count("r_1", held, cap, action)
                assert conn.execute(sql, values).fetchone()[0] == min(len(old), cap), (held, action, cap)


def test_side_table_count_sets_apart_rows_granted_to_two_roles() -> None:
    """An owner-only table is counted entry by entry; once two of the caller's roles are granted anything, a row
    granted to both is counted once (both ways of ``readable_count``, against the rows ``readable`` picks)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    st.create_schema(conn)
    conn.execute(st.ROW_TABLE_DDL.format(name="r_1"))
    conn.execute("BEGIN")
    perm_index.ensure(conn, "p", "r_1")
    conn.execute("COMMIT")

    def add(uid: str, *perms: str) -> None:
        conn.execute("INSERT INTO r_1 (_uid, _createdAt, _updatedAt, _permissions) VALUES (?, '', '', ?)",
                     (uid, json.dumps(list(perms))))  # fmt: skip

    def counted(held: tuple[str, ...]) -> tuple[int, int]:
        sql, values = perm_index.readable_count("r_1", held, 5000)
        where, params = perm_index.readable("r_1", held)
        return conn.execute(sql, values).fetchone()[0], len(
            conn.execute(f"SELECT 1 FROM r_1 WHERE {where}", params).fetchall()
        )

    for i in range(20):
        add(f"mine{i}", 'read("user:a")', 'update("user:a")')
    add("other", 'read("user:b")')
    assert counted(("any", "users", "user:a")) == (20, 20)  # one role granted: entries counted as they are
    add("shared", 'read("user:a")', 'read("any")')
    add("public", 'read("any")')
    assert counted(("any", "users", "user:a")) == (22, 22)  # "shared" once, though two of the roles grant it
    assert counted(("user:b",)) == (1, 1) and counted(()) == (0, 0)
