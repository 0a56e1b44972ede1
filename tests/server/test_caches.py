"""The server's caches of keys, projects and table schemas (``quixotic.server.cache``) never serve a stale entry.

Each test first warms the cache (the same calls it checks afterwards), then changes what the cache holds, through
the API, through ``quixotic local`` in another process, or through a second :class:`Store` on the server's data
folder in this process, and checks the very next call through the official SDK sees the change."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from appwrite.enums.index_type import IndexType
from appwrite.id import ID
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB
from appwrite.services.teams import Teams
from appwrite.services.users import Users
from column_specs import column
from support.deployments import deployed
from support.sdk import Flavour, raises_api, wait_available, wait_for, wait_gone, wait_index
from support.server import LocalServer
from support.site import cli

from quixotic.server import auth, cache
from quixotic.server.account import sessions
from quixotic.server.databases import columns as cols
from quixotic.server.databases import model, rows
from quixotic.server.databases.flavor import TABLES
from quixotic.server.ids import new_id
from quixotic.server.store import Store

pytestmark = pytest.mark.usefixtures("quiet_sdk")  # string columns are deprecated since 1.9, current in 1.8

LOCAL = pytest.mark.local_only("writes the local server's data folder from another process")
DB, T = "shop", "items"


@contextmanager
def second_store(server: LocalServer) -> Iterator[Store]:
    """The server's data folder opened again in this process, as the CLI or a second server would."""
    store = Store(server.data_dir)
    try:
        yield store
    finally:
        store.close()


def _items(tdb: TablesDB, *columns: dict[str, object]) -> None:
    """The ``shop`` database and its ``items`` table with these columns (available at once), and one row."""
    tdb.create(DB, "Shop")
    tdb.create_table(DB, T, "Items", [Permission.read(Role.any())], columns=list(columns))
    tdb.create_row(DB, T, "r1", {c["key"]: _value(c) for c in columns})


def _value(spec: dict[str, object]) -> object:
    return 7 if spec["type"] == "integer" else "x"


def _cli_json(*args: str) -> dict[str, str]:
    done = cli("local", *args)
    assert done.returncode == 0, done.stderr
    out: dict[str, str] = json.loads(done.stdout)
    return out


# ------------------------------------------------------------------------------------------- keys and projects


@LOCAL
def test_a_deleted_key_is_refused_at_once(server: LocalServer) -> None:
    project = server.new_project()
    key = _cli_json("key", "create", "--project", project.project_id, "--scopes", "databases.read",
                    "--data", str(server.data_dir))["apiKey"]  # fmt: skip
    tdb = TablesDB(server.client(project.project_id, key))
    assert tdb.list()["total"] == 0
    assert tdb.list()["total"] == 0  # served from the cache now
    with second_store(server) as store, store.tx() as conn:
        conn.execute("DELETE FROM keys WHERE secret_hash=?", (auth.hash_secret(key),))
    with raises_api(401, "general_unauthorized_scope") as err:
        tdb.list()
    assert "role: guests" in err.value.message  # the key is unknown now: the request is a guest's
    assert TablesDB(server.client(project.project_id, project.api_key)).list()["total"] == 0  # others still work


@LOCAL
def test_a_key_expires_while_cached(server: LocalServer) -> None:
    project = server.new_project()
    expire = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    with second_store(server) as store, store.tx() as conn:
        _, key = auth.create_key(conn, project.project_id, ["databases.read"], "short", expire)
    tdb = TablesDB(server.client(project.project_id, key))
    assert tdb.list()["total"] == 0
    time.sleep(max(0.0, (datetime.fromisoformat(expire) - datetime.now(UTC)).total_seconds()) + 0.1)
    with raises_api(401, "project_key_expired"):
        tdb.list()


@LOCAL
def test_keys_and_projects_made_by_the_cli_work_at_once(server: LocalServer) -> None:
    project_id = "p" + new_id()
    guest = TablesDB(server.client(project_id, "standard_" + "0" * 256))
    for _ in range(2):  # twice: the second answer would come from the cache
        with raises_api(404, "project_not_found"):
            guest.list()
    made = _cli_json("project", "create", project_id, "--data", str(server.data_dir))
    assert TablesDB(server.client(project_id, made["apiKey"])).list()["total"] == 0
    key = _cli_json("key", "create", "--project", project_id, "--scopes", "databases.read",
                    "--data", str(server.data_dir))["apiKey"]  # fmt: skip
    assert TablesDB(server.client(project_id, key)).list()["total"] == 0


@LOCAL
def test_a_deleted_project_is_not_found_at_once(server: LocalServer) -> None:
    project = server.new_project()
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    assert tdb.list()["total"] == 0
    with second_store(server) as store, store.tx() as conn:
        conn.execute("DELETE FROM keys WHERE project=?", (project.project_id,))
        conn.execute("DELETE FROM projects WHERE id=?", (project.project_id,))
    with raises_api(404, "project_not_found"):
        tdb.list()


# ------------------------------------------------------------------------------------------------- columns


def test_a_dropped_column_is_refused_and_not_shown(api: Flavour, api_db: str) -> None:
    api.create_table(api_db, T, "Items", columns=[column("name", "string", size=20), column("n")])
    api.create_row(api_db, T, "r1", {"name": "a", "n": 1})
    assert api.get_row(api_db, T, "r1")["n"] == 1  # warm
    api.delete_column(api_db, T, "n")
    # At once, while the column is still being deleted, and after.
    with raises_api(400, api.word("row_invalid_structure")) as err:
        api.create_row(api_db, T, "r2", {"name": "b", "n": 2})
    assert '"n"' in err.value.message
    wait_gone(lambda: api.get_column(api_db, T, "n"))
    with raises_api(400, api.word("row_invalid_structure")):
        api.update_row(api_db, T, "r1", {"n": 3})
    row = api.get_row(api_db, T, "r1")
    assert "n" not in row and row["name"] == "a"
    assert ["n" in r for r in api.list_rows(api_db, T)[api.word("rows")]] == [False]


def test_an_added_column_is_usable_at_once(api: Flavour, api_db: str) -> None:
    api.create_table(api_db, T, "Items", columns=[column("name", "string", size=20)])
    api.create_row(api_db, T, "r1", {"name": "a"})
    with raises_api(400, api.word("row_invalid_structure")):  # warm, and refused: no such column yet
        api.create_row(api_db, T, "r2", {"name": "b", "n": 2})
    api.create_integer_column(api_db, T, "n", False)
    wait_available(api, api_db, T, "n")
    assert api.create_row(api_db, T, "r2", {"name": "b", "n": 2})["n"] == 2
    assert api.get_row(api_db, T, "r1")["n"] is None  # shown on old rows too
    assert api.list_rows(api_db, T, [Query.equal("n", 2)])["total"] == 1


def test_a_renamed_or_resized_column_is_seen_at_once(tdb: TablesDB) -> None:
    _items(tdb, column("name", "string", size=20))
    tdb.update_string_column(DB, T, "name", False, None, size=3, new_key="title")
    with raises_api(400, "row_invalid_structure"):
        tdb.create_row(DB, T, "r2", {"name": "b"})
    with raises_api(400, "row_invalid_structure") as err:
        tdb.create_row(DB, T, "r2", {"title": "longer"})
    assert "no longer than 3" in err.value.message
    assert tdb.get_row(DB, T, "r1")["title"] == "x"


# ------------------------------------------------------------------------------------------------- indexes


def test_created_and_deleted_indexes_are_seen_at_once(api: Flavour, api_db: str) -> None:
    api.create_table(api_db, T, "Items", columns=[column("name", "string", size=40)])
    api.create_row(api_db, T, "r1", {"name": "blue whale"})
    search = [Query.search("name", "whale")]
    with raises_api(400, "general_query_invalid"):  # no fulltext index yet
        api.list_rows(api_db, T, search)
    api.create_index(api_db, T, "by_text", IndexType.FULLTEXT, ["name"])
    wait_index(api, api_db, T, "by_text")
    assert [r["$id"] for r in api.list_rows(api_db, T, search)[api.word("rows")]] == ["r1"]
    api.delete_index(api_db, T, "by_text")
    with raises_api(400, "general_query_invalid"):
        api.list_rows(api_db, T, search)


# ----------------------------------------------------------------------------------------- tables, databases


def test_a_table_recreated_with_the_same_id_has_its_new_columns(tdb: TablesDB) -> None:
    _items(tdb, column("old"))
    assert tdb.get_row(DB, T, "r1")["old"] == 7
    tdb.delete_table(DB, T)
    with raises_api(404, "table_not_found"):
        tdb.get_row(DB, T, "r1")
    tdb.create_table(DB, T, "Items again", [Permission.read(Role.any())], columns=[column("new", "string", size=5)])
    with raises_api(404, "row_not_found"):  # the old rows went with the old table
        tdb.get_row(DB, T, "r1")
    with raises_api(400, "row_invalid_structure"):
        tdb.create_row(DB, T, "r1", {"old": 1})
    created = tdb.create_row(DB, T, "r1", {"new": "fresh"})
    assert "old" not in created and tdb.get_row(DB, T, "r1")["new"] == "fresh"
    assert tdb.list_rows(DB, T)["total"] == 1


def test_a_deleted_database_is_not_found_at_once(tdb: TablesDB) -> None:
    _items(tdb, column("n"))
    assert tdb.get_row(DB, T, "r1")["n"] == 7
    tdb.delete(DB)
    with raises_api(404, "database_not_found"):
        tdb.get_row(DB, T, "r1")
    with raises_api(404, "database_not_found"):
        tdb.create_row(DB, T, "r2", {"n": 1})


@LOCAL
def test_disabling_a_database_or_table_hides_it_from_clients_at_once(server: LocalServer) -> None:
    project = server.new_project()
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    guest = TablesDB(server.client(project.project_id, None))
    _items(tdb, column("n"))
    assert guest.get_row(DB, T, "r1")["n"] == 7
    tdb.update(DB, enabled=False)
    with raises_api(404, "database_not_found"):
        guest.get_row(DB, T, "r1")
    assert tdb.get_row(DB, T, "r1")["n"] == 7  # keys still reach it, as on Appwrite
    tdb.update(DB, enabled=True)
    assert guest.get_row(DB, T, "r1")["n"] == 7
    tdb.update_table(DB, T, enabled=False)
    with raises_api(404, "table_not_found"):
        guest.get_row(DB, T, "r1")
    tdb.update_table(DB, T, enabled=True, permissions=[])
    with raises_api(404, "row_not_found"):  # readable by nobody now: the new permissions count at once
        guest.get_row(DB, T, "r1")


@LOCAL
def test_projects_with_the_same_ids_never_share_a_schema(server: LocalServer) -> None:
    one, two = server.new_project(), server.new_project()
    a = TablesDB(server.client(one.project_id, one.api_key))
    b = TablesDB(server.client(two.project_id, two.api_key))
    _items(a, column("only_in_one"))
    _items(b, column("only_in_two", "string", size=5))
    for _ in range(2):  # the second round is served from the caches
        assert set(a.get_row(DB, T, "r1")) & {"only_in_one", "only_in_two"} == {"only_in_one"}
        assert set(b.get_row(DB, T, "r1")) & {"only_in_one", "only_in_two"} == {"only_in_two"}
        with raises_api(400, "row_invalid_structure"):
            a.create_row(DB, T, ID.unique(), {"only_in_two": "x"})
        with raises_api(400, "row_invalid_structure"):
            b.create_row(DB, T, ID.unique(), {"only_in_one": 1})
    b.delete_column(DB, T, "only_in_two")
    wait_gone(lambda: b.get_column(DB, T, "only_in_two"))
    assert a.get_row(DB, T, "r1")["only_in_one"] == 7  # one project's schema write leaves the other's alone


# ------------------------------------------------------------------------------ writes by another process


@LOCAL
def test_schema_writes_by_another_process_are_seen(server: LocalServer) -> None:
    project = server.new_project()
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    _items(tdb, column("n"))
    assert "extra" not in tdb.get_row(DB, T, "r1")
    parent = f"{DB}/{T}"
    with second_store(server) as store:
        with store.tx() as conn:
            spec = cols.build_column("integer", {"key": "extra", "required": False})
            model.insert_column(conn, project.project_id, TABLES, DB, T, "extra", spec)
        model.finish_column(store, project.project_id, parent, "extra")
    assert tdb.create_row(DB, T, "r2", {"n": 1, "extra": 5})["extra"] == 5
    assert tdb.get_row(DB, T, "r1")["extra"] is None
    with second_store(server) as store:
        with store.tx() as conn:
            model.mark_column_deleting(conn, project.project_id, TABLES, DB, T, "n")
        model.finish_column_delete(store, project.project_id, DB, T, "n")
    with raises_api(400, "row_invalid_structure"):
        tdb.create_row(DB, T, "r3", {"n": 1})
    assert "n" not in tdb.get_row(DB, T, "r2")
    with second_store(server) as store, store.tx() as conn:
        model.delete_table(conn, project.project_id, TABLES, DB, T)
    with raises_api(404, "table_not_found"):
        tdb.get_row(DB, T, "r1")


@LOCAL
def test_a_schema_write_rolled_back_by_another_process_changes_nothing(server: LocalServer) -> None:
    project = server.new_project()
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    _items(tdb, column("n"))
    with second_store(server) as store, pytest.raises(RuntimeError), store.tx() as conn:
        spec = cols.build_column("integer", {"key": "ghost", "required": False})
        model.insert_column(conn, project.project_id, TABLES, DB, T, "ghost", spec)
        model.delete_table(conn, project.project_id, TABLES, DB, T)
        # The server, meanwhile, reads what is committed: the table, without the ghost column.
        # (Reads only: a write would wait for this transaction's lock.)
        assert tdb.get_row(DB, T, "r1")["n"] == 7
        with raises_api(400, "general_query_invalid"):
            tdb.list_rows(DB, T, [Query.equal("ghost", [1])])
        raise RuntimeError("abandon the transaction")
    assert tdb.get_row(DB, T, "r1")["n"] == 7
    with raises_api(400, "row_invalid_structure"):
        tdb.update_row(DB, T, "r1", {"ghost": 1})
    assert tdb.create_row(DB, T, "r2", {"n": 8})["n"] == 8


# ------------------------------------------------------------------------- the stamps themselves (no server)


def _table_with(store: Store, project: str, *keys: str) -> None:
    with store.tx() as conn:
        auth.create_project(conn, project)
        model.create_database(conn, project, DB, {"name": "Shop", "enabled": True, "type": "tablesdb"})
        data = {"name": "Items", "enabled": True, "rowSecurity": False, "databaseId": DB}
        model.create_table(conn, project, TABLES, DB, T, data, [], [column(k) for k in keys], [])


def _columns(store: Store, project: str) -> set[str]:
    with store.read() as conn:
        return set(rows.target(conn, project, TABLES, DB, T).columns)


def test_a_project_created_alone_is_seen_by_a_cached_lookup(tmp_path: Path) -> None:
    """``create_project`` is an ``INSERT OR IGNORE``, whose conflict clause a trigger's own would give way to."""
    server_side, cli_side = Store(tmp_path), Store(tmp_path)
    try:
        with cli_side.tx() as conn:
            auth.create_project(conn, "early")  # so that the generation has been written once
        assert not auth.project_exists(server_side.conn, "late") and not auth.project_exists(server_side.conn, "late")
        with cli_side.tx() as conn:
            assert auth.create_project(conn, "late")
        assert auth.project_exists(server_side.conn, "late")
    finally:
        server_side.close()
        cli_side.close()


def test_a_load_raced_by_a_commit_is_not_kept(tmp_path: Path) -> None:
    reader, writer = Store(tmp_path), Store(tmp_path)
    try:
        _table_with(writer, "p", "a")
        memo: cache.Memo[str, set[str]] = cache.Memo()
        now = cache.stamp(reader.conn, cache.schema_scope("p"))

        def load_while_a_column_is_added() -> set[str]:
            loaded = {c["key"] for c in model.columns_of(reader.conn, "p", DB, T)}
            with writer.tx() as conn:
                model.insert_column(conn, "p", TABLES, DB, T, "b", cols.build_column("integer", {"key": "b"}))
            return loaded

        assert memo.recall(reader.conn, now, "columns", load_while_a_column_is_added) == {"a"}
        assert len(memo) == 0  # what was loaded may be older than the stamp it was read under: not kept
        later = cache.stamp(reader.conn, cache.schema_scope("p"))
        assert later != now
        assert memo.recall(reader.conn, later, "columns", lambda: {"a", "b"}) == {"a", "b"} and len(memo) == 1
    finally:
        reader.close()
        writer.close()


def test_two_data_folders_and_a_copy_keep_their_own_schemas(tmp_path: Path) -> None:
    first, second = Store(tmp_path / "one"), Store(tmp_path / "two")
    _table_with(first, "p", "a")
    _table_with(second, "p", "b")  # the same project, database and table IDs, in another folder
    assert (_columns(first, "p"), _columns(second, "p")) == ({"a"}, {"b"})
    first.close()
    shutil.copytree(tmp_path / "one", tmp_path / "copy")
    first, copy = Store(tmp_path / "one"), Store(tmp_path / "copy")
    try:
        assert _columns(copy, "p") == {"a"}  # a copy shares the original's epoch and entries until one writes
        with copy.tx() as conn:
            model.insert_column(conn, "p", TABLES, DB, T, "c", cols.build_column("integer", {"key": "c"}))
        model.finish_column(copy, "p", f"{DB}/{T}", "c")
        assert (_columns(first, "p"), _columns(copy, "p"), _columns(second, "p")) == ({"a"}, {"a", "c"}, {"b"})
    finally:
        for store in (first, second, copy):
            store.close()


# --- the functions that listen to events (the engine's dispatch) ---------------------------------------


def test_event_listeners_follow_every_change_of_a_function(server: LocalServer) -> None:
    """The dispatch keeps a project's listening functions per stamp: changing a function's events, disabling
    it, or adding one takes effect on the next event. A sentinel that always listens shows when an event was
    dispatched, so "not triggered" needs no sleep."""
    project = server.new_project()
    key = server.client(project.project_id, project.api_key)
    fn, users = Functions(key), Users(key)
    main = "def main(context):\n    return context.res.text('ok')\n"
    deployed(fn, "watcher", main, events=["users.*.create"])
    deployed(fn, "sentinel", main, events=["users.*.create"])

    def runs(function_id: str) -> int:
        return int(fn.list_executions(function_id)["total"])

    def new_user(n: int) -> None:
        users.create(f"u{n}", f"u{n}@example.com")
        wait_for(lambda: runs("sentinel") == n, 60, 0.05)

    new_user(1)
    wait_for(lambda: runs("watcher") == 1, 60, 0.05)
    fn.update("watcher", "Watcher", events=[])
    new_user(2)
    fn.update("watcher", "Watcher", events=["users.*.create"], enabled=False)
    new_user(3)
    assert runs("watcher") == 1  # no events, then disabled: never dispatched
    fn.update("watcher", "Watcher", events=["users.*.create"], enabled=True)
    deployed(fn, "late", main, events=["users.*.create"])  # a function added after the first events
    new_user(4)
    wait_for(lambda: runs("watcher") == 2 and runs("late") == 1, 60, 0.05)


# ------------------------------------------------------------------------- who a session or a JWT is


def _signed_in_reader(server: LocalServer, project_id: str, users: Users, user_id: str) -> tuple[TablesDB, str]:
    """A session client of a new user ``user_id`` (made with the key) and the session's ID."""
    users.create(user_id, password="correct horse battery", email=f"{user_id}@example.com")
    session = users.create_session(user_id)
    client = server.client(project_id, None).set_session(session["secret"])
    return TablesDB(client), str(session["$id"])


def _notes(tdb: TablesDB, *grants: str) -> None:
    """The ``shop`` database and a row-secured ``items`` table whose row ``r1`` each of ``grants`` may read."""
    tdb.create(DB, "Shop")
    tdb.create_table(DB, T, "Items", [], row_security=True, columns=[column("n")])
    tdb.create_row(DB, T, "r1", {"n": 7}, [Permission.read(role) for role in grants])


@LOCAL
def test_a_session_deleted_by_another_process_is_a_guest_at_once(server: LocalServer) -> None:
    project = server.new_project()
    users = Users(server.client(project.project_id, project.api_key))
    _notes(TablesDB(server.client(project.project_id, project.api_key)), Role.user("alice"))
    alice, session_id = _signed_in_reader(server, project.project_id, users, "alice")
    assert alice.get_row(DB, T, "r1")["n"] == 7  # warm
    jwt = Users(server.client(project.project_id, project.api_key)).create_jwt("alice", session_id)["jwt"]
    by_jwt = TablesDB(server.client(project.project_id, None).set_jwt(jwt))
    assert by_jwt.get_row(DB, T, "r1")["n"] == 7  # warm
    with second_store(server) as store, store.tx() as conn:
        sessions.delete(conn, project.project_id, "alice", session_id)
    with raises_api(404, "row_not_found"):  # a guest now, who may not read it
        alice.get_row(DB, T, "r1")
    with raises_api(404, "row_not_found"):  # the JWT lived as long as its session: a guest too, as on Appwrite
        by_jwt.get_row(DB, T, "r1")


def test_blocking_deleting_or_relabelling_a_user_counts_at_once(server: LocalServer) -> None:
    project = server.new_project()
    users = Users(server.client(project.project_id, project.api_key))
    _notes(TablesDB(server.client(project.project_id, project.api_key)), Role.label("paid"))
    alice, _ = _signed_in_reader(server, project.project_id, users, "alice")
    with raises_api(404, "row_not_found"):
        alice.get_row(DB, T, "r1")  # warm, without the label
    users.update_labels("alice", ["paid"])
    assert alice.get_row(DB, T, "r1")["n"] == 7
    users.update_labels("alice", [])
    with raises_api(404, "row_not_found"):
        alice.get_row(DB, T, "r1")
    users.update_labels("alice", ["paid"])
    assert alice.get_row(DB, T, "r1")["n"] == 7
    users.update_status("alice", False)
    with raises_api(403, "user_blocked"):
        alice.get_row(DB, T, "r1")
    users.update_status("alice", True)
    assert alice.get_row(DB, T, "r1")["n"] == 7
    users.delete("alice")
    users.create("alice", password="correct horse battery", email="alice@example.com", name="again")
    users.update_labels("alice", ["paid"])
    with raises_api(404, "row_not_found"):  # the old session belonged to the deleted user, not the new one
        alice.get_row(DB, T, "r1")


def test_a_membership_change_counts_at_once(server: LocalServer) -> None:
    project = server.new_project()
    key = server.client(project.project_id, project.api_key)
    users, teams = Users(key), Teams(key)
    _notes(TablesDB(key), Role.team("crew", "editor"))
    alice, _ = _signed_in_reader(server, project.project_id, users, "alice")
    teams.create("crew", "Crew")
    with raises_api(404, "row_not_found"):
        alice.get_row(DB, T, "r1")  # warm, not a member
    member = teams.create_membership("crew", ["viewer"], user_id="alice")
    with raises_api(404, "row_not_found"):
        alice.get_row(DB, T, "r1")  # a member, not an editor
    teams.update_membership("crew", member["$id"], ["editor"])
    assert alice.get_row(DB, T, "r1")["n"] == 7
    teams.delete_membership("crew", member["$id"])
    with raises_api(404, "row_not_found"):
        alice.get_row(DB, T, "r1")
