"""TablesDB transactions (and the legacy API's, over the same engine) through the official SDK: staging,
reads inside a transaction, commit all or nothing, rollback, expiry, limits, other projects, conflicts
under concurrency, and a server killed in the middle of a big commit."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from column_specs import column
from support.sdk import Flavour
from support.server import LocalServer, start_server

from quixotic.server import admin
from quixotic.timestamps import parse_iso

pytestmark = pytest.mark.usefixtures("quiet_sdk")


def _error(exc: pytest.ExceptionInfo[AppwriteException]) -> tuple[int | None, str | None]:
    return exc.value.code, exc.value.type


def _table(api: Flavour, db: str = "db") -> None:
    api.create(db, "DB")
    api.create_table(
        db,
        "t",
        "T",
        **{api.word("columns"): [column("n"), column("name", "string", size=32)]},
        indexes=[{"key": "one_name", "type": "unique", api.word("columns"): ["name"]}],
    )


@pytest.fixture
def t(api: Flavour) -> Flavour:
    _table(api)
    api.create_row("db", "t", "a", {"n": 10, "name": "alpha"})
    return api


def _rows(api: Flavour) -> dict[str, Any]:
    listed = api.list_rows("db", "t")
    return {r["$id"]: r for r in listed[api.word("rows")]}


# --- create, get, list --------------------------------------------------------------------------


def test_create_get_list_and_ttl(t: Flavour) -> None:
    before = datetime.now(UTC)
    tx = t.create_transaction()
    assert tx["status"] == "pending" and tx["operations"] == 0
    assert set(tx) >= {"$id", "$createdAt", "$updatedAt", "expiresAt"}
    assert abs((parse_iso(tx["expiresAt"]) - before).total_seconds() - 300) < 5  # default TTL
    short = t.create_transaction(ttl=60)
    assert abs((parse_iso(short["expiresAt"]) - before).total_seconds() - 60) < 5
    assert t.get_transaction(tx["$id"])["$id"] == tx["$id"]
    listed = t.list_transactions()
    assert listed["total"] == 2 and {x["$id"] for x in listed["transactions"]} == {tx["$id"], short["$id"]}
    assert t.list_transactions([Query.equal("$id", short["$id"])])["total"] == 1
    for bad in (59, 3601):
        with pytest.raises(AppwriteException) as exc:
            t.create_transaction(ttl=bad)
        assert _error(exc) == (400, "general_argument_invalid")
    t.delete_transaction(short["$id"])
    with pytest.raises(AppwriteException) as exc:
        t.get_transaction(short["$id"])
    assert _error(exc) == (404, "transaction_not_found")


# --- staging through the row routes, reads, commit -------------------------------------------------


def test_row_routes_stage_and_reads_see_own_changes(t: Flavour) -> None:
    tx = t.create_transaction()["$id"]
    created = t.create_row("db", "t", "b", {"n": 1, "name": "beta"}, transaction_id=tx)
    assert created["$id"] == "b" and created["n"] == 1
    t.update_row("db", "t", "a", {"n": 11}, transaction_id=tx)
    t.decrement_row_column("db", "t", "a", "n", value=3, transaction_id=tx)
    assert t.get_transaction(tx)["operations"] == 3
    # outside the transaction nothing changed
    assert set(_rows(t)) == {"a"} and _rows(t)["a"]["n"] == 10
    with pytest.raises(AppwriteException) as exc:
        t.get_row("db", "t", "b")
    assert exc.value.code == 404
    # inside it, its own changes
    assert t.get_row("db", "t", "a", transaction_id=tx)["n"] == 8
    assert t.get_row("db", "t", "b", transaction_id=tx)["name"] == "beta"
    inside = t.list_rows("db", "t", [Query.greater_than("n", 0)], transaction_id=tx)
    assert inside["total"] == 2
    done = t.update_transaction(tx, commit=True)
    assert done["status"] == "committed" and done["operations"] == 3
    after = _rows(t)
    assert after["a"]["n"] == 8 and after["b"]["name"] == "beta"


def test_create_operations_all_actions(t: Flavour) -> None:
    t.create_row("db", "t", "gone", {"n": 0})
    tx = t.create_transaction()["$id"]
    row, rows, table = t.word("rowId"), t.word("rows"), t.word("tableId")
    ops: list[dict[str, Any]] = [
        {"action": "create", "databaseId": "db", table: "t", row: "c", "data": {"n": 5, "name": "c"}},
        {"action": "update", "databaseId": "db", table: "t", row: "c", "data": {"n": 6}},
        {"action": "increment", "databaseId": "db", table: "t", row: "a", "data": {t.word("column"): "n", "value": 2}},
        {"action": "upsert", "databaseId": "db", table: "t", row: "u", "data": {"n": 7}},
        {"action": "delete", "databaseId": "db", table: "t", row: "gone"},
        {"action": "bulkCreate", "databaseId": "db", table: "t", "data": [{"$id": "x1", "n": 1}, {"n": 2}]},
        {"action": "bulkUpdate", "databaseId": "db", table: "t", "data": {"queries": [Query.equal("n", [1])],
                                                                           "data": {"n": 100}}},
    ]  # fmt: skip
    staged = t.create_operations(tx, ops)
    assert staged["operations"] == len(ops)
    assert set(_rows(t)) == {"a", "gone"}
    assert t.update_transaction(tx, commit=True)["status"] == "committed"
    after = _rows(t)
    assert after["c"]["n"] == 6 and after["a"]["n"] == 12 and after["u"]["n"] == 7 and "gone" not in after
    assert after["x1"]["n"] == 100 and len(after) == 5  # a, c, u, x1 and the unique() one
    assert rows in t.list_rows("db", "t")


def test_invalid_operation_is_refused_at_staging(t: Flavour) -> None:
    tx = t.create_transaction()["$id"]
    with pytest.raises(AppwriteException) as exc:
        t.create_operations(tx, [{"action": "update", "databaseId": "db", t.word("tableId"): "t",
                                  t.word("rowId"): "nope", "data": {"n": 1}}])  # fmt: skip
    assert _error(exc) == (404, t.word("row_not_found"))
    with pytest.raises(AppwriteException) as exc:
        t.create_operations(tx, [{"action": "explode", "databaseId": "db", t.word("tableId"): "t"}])
    assert exc.value.code == 400
    with pytest.raises(AppwriteException) as exc:
        t.create_operations(tx, [])
    assert _error(exc) == (400, "general_bad_request")
    assert t.get_transaction(tx)["operations"] == 0


# --- rollback, use after the end, expiry, limits, other projects ------------------------------------


def test_rollback_applies_nothing_and_ended_transactions_refuse_use(t: Flavour) -> None:
    tx = t.create_transaction()["$id"]
    t.update_row("db", "t", "a", {"n": 99}, transaction_id=tx)
    assert t.update_transaction(tx, rollback=True)["status"] == "failed"
    assert _rows(t)["a"]["n"] == 10
    with pytest.raises(AppwriteException) as exc:
        t.update_row("db", "t", "a", {"n": 1}, transaction_id=tx)
    assert _error(exc) == (400, "general_bad_request")
    for kwargs in ({"commit": True}, {"rollback": True}):
        with pytest.raises(AppwriteException) as exc:
            t.update_transaction(tx, **kwargs)
        assert _error(exc) == (400, "transaction_not_ready")
    done = t.create_transaction()["$id"]
    t.update_transaction(done, commit=True)  # an empty commit
    with pytest.raises(AppwriteException) as exc:
        t.create_row("db", "t", "z", {"n": 1}, transaction_id=done)
    assert _error(exc) == (400, "general_bad_request")
    with pytest.raises(AppwriteException) as exc:
        t.update_transaction(tx)
    assert _error(exc) == (400, "general_bad_request")


def _expire(server: LocalServer, transaction_id: str) -> None:
    """Move the stored expiry into the past (the shortest TTL is 60 s)."""
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="milliseconds")
    with sqlite3.connect(server.data_dir / "quixotic.db", timeout=30) as conn:
        conn.execute(
            "UPDATE meta SET data=json_set(data, '$.expiresAt', ?) WHERE kind='transaction' AND _uid=?",
            (past, transaction_id),
        )


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_expired_transaction(server: LocalServer, t: Flavour) -> None:
    tx = t.create_transaction(ttl=60)["$id"]
    t.update_row("db", "t", "a", {"n": 1}, transaction_id=tx)
    _expire(server, tx)
    calls = [
        lambda: t.update_row("db", "t", "a", {"n": 2}, transaction_id=tx),
        lambda: t.get_row("db", "t", "a", transaction_id=tx),
        lambda: t.update_transaction(tx, commit=True),
        lambda: t.create_operations(
            tx, [{"action": "delete", "databaseId": "db", t.word("tableId"): "t", t.word("rowId"): "a"}]
        ),
    ]
    for call in calls:
        with pytest.raises(AppwriteException) as exc:
            call()
        assert _error(exc) == (410, "transaction_expired")
    assert _rows(t)["a"]["n"] == 10


def test_operation_limit(t: Flavour) -> None:
    tx = t.create_transaction()["$id"]
    op = {"action": "increment", "databaseId": "db", t.word("tableId"): "t", t.word("rowId"): "a",
          "data": {t.word("column"): "n"}}  # fmt: skip
    with pytest.raises(AppwriteException) as exc:
        t.create_operations(tx, [op] * 101)
    assert _error(exc) == (400, "transaction_limit_exceeded")
    t.create_operations(tx, [op] * 99)
    t.increment_row_column("db", "t", "a", "n", transaction_id=tx)  # the 100th
    with pytest.raises(AppwriteException) as exc:
        t.increment_row_column("db", "t", "a", "n", transaction_id=tx)
    assert _error(exc) == (400, "transaction_limit_exceeded")
    t.update_transaction(tx, commit=True)
    assert _rows(t)["a"]["n"] == 110


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_other_projects_transaction_is_not_found(server: LocalServer, t: Flavour) -> None:
    tx = t.create_transaction()["$id"]
    other = server.new_project()
    theirs = Flavour(t.name, server.client(other.project_id, other.api_key))
    _table(theirs)
    for call in (
        lambda: theirs.get_transaction(tx),
        lambda: theirs.update_transaction(tx, commit=True),
        lambda: theirs.delete_transaction(tx),
        lambda: theirs.create_row("db", "t", "x", {"n": 1}, transaction_id=tx),
    ):
        with pytest.raises(AppwriteException) as exc:
            call()
        assert _error(exc) == (404, "transaction_not_found")
    assert theirs.list_transactions()["total"] == 0


# --- conflicts --------------------------------------------------------------------------------------


def test_row_changed_after_staging_is_a_conflict_and_nothing_applies(t: Flavour) -> None:
    tx = t.create_transaction()["$id"]
    t.create_row("db", "t", "new", {"n": 1}, transaction_id=tx)
    t.update_row("db", "t", "a", {"n": 50}, transaction_id=tx)
    t.update_row("db", "t", "a", {"n": 11})  # someone else, after the transaction staged its update
    with pytest.raises(AppwriteException) as exc:
        t.update_transaction(tx, commit=True)
    assert _error(exc) == (409, "transaction_conflict")
    assert set(_rows(t)) == {"a"} and _rows(t)["a"]["n"] == 11
    assert t.get_transaction(tx)["status"] == "failed"


def test_unique_clash_and_row_gone_are_conflicts(t: Flavour) -> None:
    clash = t.create_transaction()["$id"]
    t.create_row("db", "t", "b", {"n": 1}, transaction_id=clash)
    t.create_row("db", "t", "c", {"name": "gamma"}, transaction_id=clash)
    t.create_row("db", "t", "other", {"name": "gamma"})  # takes the unique name first
    with pytest.raises(AppwriteException) as exc:
        t.update_transaction(clash, commit=True)
    assert _error(exc) == (409, "transaction_conflict")
    assert set(_rows(t)) == {"a", "other"}
    gone = t.create_transaction()["$id"]
    t.decrement_row_column("db", "t", "a", "n", transaction_id=gone)
    t.delete_row("db", "t", "a")
    with pytest.raises(AppwriteException) as exc:
        t.update_transaction(gone, commit=True)
    assert _error(exc) == (409, "transaction_conflict")
    assert set(_rows(t)) == {"other"}


def _commit_together(server: LocalServer, project: admin.ProjectCredentials, txs: list[str]) -> list[Any]:
    """Commit each of ``txs`` from its own thread and SDK client, released together; statuses or error types."""
    barrier = threading.Barrier(len(txs))
    outcomes: list[Any] = [None] * len(txs)

    def commit(k: int) -> None:
        own = TablesDB(server.client(project.project_id, project.api_key))
        barrier.wait()
        try:
            outcomes[k] = own.update_transaction(txs[k], commit=True)["status"]
        except AppwriteException as exc:
            outcomes[k] = exc.type

    threads = [threading.Thread(target=commit, args=(k,)) for k in range(len(txs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return outcomes


def test_two_transactions_on_one_row_concurrently(server: LocalServer, project: admin.ProjectCredentials) -> None:
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    _table(Flavour("tablesdb", server.client(project.project_id, project.api_key)))
    tdb.create_row("db", "t", "balance", {"n": 100})
    rounds = 5
    for i in range(rounds):
        txs = [tdb.create_transaction()["$id"] for _ in range(2)]
        for k, tx in enumerate(txs):
            tdb.decrement_row_column("db", "t", "balance", "n", value=10, transaction_id=tx)
            tdb.create_row("db", "t", f"ledger{i}_{k}", {"n": -10}, transaction_id=tx)
        outcomes = _commit_together(server, project, txs)
        assert sorted(outcomes) == ["committed", "transaction_conflict"]
    rows = tdb.list_rows("db", "t", [Query.limit(100)])["rows"]
    ledger = [r for r in rows if r["$id"].startswith("ledger")]
    balance = next(r for r in rows if r["$id"] == "balance")
    assert len(ledger) == rounds and balance["n"] == 100 - 10 * rounds  # every debit has its ledger row


# --- a server killed mid-commit ---------------------------------------------------------------------

BULK = 100  # operations (the limit), each a bulk create of ROWS rows
ROWS = 400


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_server_killed_mid_commit_is_all_or_nothing(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "server.log")
    try:
        creds = srv.new_project()
        tdb = TablesDB(srv.client(creds.project_id, creds.api_key))
        tdb.create("db", "DB")
        tdb.create_table("db", "t", "T", columns=[column("n")])
        tx = tdb.create_transaction(ttl=3600)["$id"]
        ops = [
            {"action": "bulkCreate", "databaseId": "db", "tableId": "t",
             "data": [{"$id": f"r{i}_{j}", "n": j} for j in range(ROWS)]}
            for i in range(BULK)
        ]  # fmt: skip
        tdb.create_operations(tx, ops)
        started = time.monotonic()
        headers = {"X-Appwrite-Project": creds.project_id, "X-Appwrite-Key": creds.api_key}

        def commit() -> None:
            try:
                requests.patch(f"{srv.url}/tablesdb/transactions/{tx}", json={"commit": True}, headers=headers,
                               timeout=120)  # fmt: skip
            except requests.RequestException:
                pass  # the server dies under it

        worker = threading.Thread(target=commit)
        worker.start()
        time.sleep(0.5)
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait(timeout=30)
        worker.join(timeout=30)
        killed_after = time.monotonic() - started
    finally:
        if srv.process.poll() is None:
            srv.process.kill()
    again = start_server(tmp_path / "data", tmp_path / "server2.log")
    try:
        tdb = TablesDB(again.client(creds.project_id, creds.api_key))
        total = tdb.list_rows("db", "t", [Query.limit(1)])["total"]
        status = tdb.get_transaction(tx)["status"]
        assert (total, status) in ((0, "pending"), (min(BULK * ROWS, 5000), "committed")), (total, killed_after)
        if status == "pending":  # the usual case: killed mid-commit; it can still commit, whole
            assert tdb.update_transaction(tx, commit=True)["status"] == "committed"
        with sqlite3.connect(tmp_path / "data" / "quixotic.db") as conn:
            table = conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'r\\_%' ESCAPE '\\'").fetchone()[0]
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == BULK * ROWS
    finally:
        again.process.kill()
        again.process.wait(timeout=30)
