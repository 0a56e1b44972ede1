"""Executions are kept for ``_APP_MAINTENANCE_RETENTION_EXECUTION`` seconds, then maintenance deletes them with
their logs, oldest first in small batches; a bad setting stops the server at start with what to fix."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from appwrite.exception import AppwriteException
from appwrite.services.functions import Functions
from support.deployments import deployed
from support.sdk import wait_for
from support.server import LocalServer
from support.spawn import stop

from quixotic.server import admin
from quixotic.server import store as st
from quixotic.server.clock import to_iso
from quixotic.server.compute.scheduler import install_indexes, prune_executions
from quixotic.server.settings import DEFAULT_EXECUTION_RETENTION, DEFAULT_MAINTENANCE_INTERVAL, ServerSettings

RETENTION = "_APP_MAINTENANCE_RETENTION_EXECUTION"
INTERVAL = "_APP_MAINTENANCE_INTERVAL"
MAIN = """
def main(context):
    context.log("log line of " + context.req.body_text)
    return context.res.text("done " + context.req.body_text)
"""


def test_retention_and_interval_default_to_appwrites() -> None:
    plain = ServerSettings.from_env({})
    assert (plain.execution_retention, plain.maintenance_interval) == (1_209_600, 86_400)
    assert (DEFAULT_EXECUTION_RETENTION, DEFAULT_MAINTENANCE_INTERVAL) == (1_209_600, 86_400)
    assert ServerSettings.from_env({RETENTION: "", INTERVAL: " "}) == plain
    given = ServerSettings.from_env({RETENTION: "3600", INTERVAL: " 60 "})
    assert (given.execution_retention, given.maintenance_interval) == (3600, 60)


@pytest.mark.parametrize("name", [RETENTION, INTERVAL])
@pytest.mark.parametrize("value", ["two weeks", "-5", "0", "1.5", "1e6", "12s"])
def test_a_bad_value_is_refused_with_what_to_give(name: str, value: str) -> None:
    with pytest.raises(ValueError) as err:
        ServerSettings.from_env({name: value})
    message = str(err.value)
    assert message.startswith(f"{name}={value!r}:") and "whole number of at least 1" in message


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_a_server_with_a_bad_retention_does_not_start(tmp_path: Path) -> None:
    import os

    env = {**os.environ, RETENTION: "two weeks"}
    with pytest.raises(admin.ServerStartError) as err:
        admin.spawn_server(tmp_path / "data", log_file=tmp_path / "server.log", env=env)
    assert f"{RETENTION}='two weeks': give the seconds an execution and its logs are kept" in str(err.value)


# --- the prune on a real SQLite ------------------------------------------------------------------------------


@pytest.fixture
def aged(tmp_path: Path) -> Iterator[tuple[st.Store, list[str]]]:
    """250 executions created 20 to 30 days ago (the oldest first in the returned IDs), 3 of today, and a function
    and a deployment as old as the oldest execution."""
    store = st.Store(tmp_path / "data")
    install_indexes(store)
    now = datetime.now(UTC)
    old = [(f"old{i:03d}", now - timedelta(days=30) + timedelta(hours=i)) for i in range(250)]
    with store.tx() as conn:
        for uid, created in [*reversed(old), *((f"new{i}", now) for i in range(3))]:  # stored out of age order
            st.meta_insert(conn, "p1", "execution", "fn", uid, {"status": "completed", "logs": "log of " + uid})
            conn.execute("UPDATE meta SET _createdAt=? WHERE kind='execution' AND _uid=?", (to_iso(created), uid))
        for kind, parent, uid in (("function", "", "fn"), ("deployment", "fn", "dep")):
            st.meta_insert(conn, "p1", kind, parent, uid, {})
            conn.execute("UPDATE meta SET _createdAt=? WHERE _uid=?", (to_iso(old[0][1]), uid))
    yield store, [uid for uid, _ in old]
    store.close()


def _executions(store: st.Store) -> set[str]:
    with store.read() as conn:
        return {r[0] for r in conn.execute("SELECT _uid FROM meta WHERE kind='execution'")}


def test_pruning_deletes_the_oldest_first_a_batch_at_a_time(aged: tuple[st.Store, list[str]]) -> None:
    store, old = aged
    cutoff = datetime.now(UTC) - timedelta(days=14)
    assert prune_executions(store, cutoff, batch=100, max_batches=1) == 100
    assert _executions(store) == {*old[100:], "new0", "new1", "new2"}
    assert prune_executions(store, cutoff, batch=100) == 150
    assert _executions(store) == {"new0", "new1", "new2"}
    with store.read() as conn:
        kinds = {r[0] for r in conn.execute("SELECT kind FROM meta")}
        logs = conn.execute("SELECT COUNT(*) FROM meta WHERE data LIKE '%log of old%'").fetchone()[0]
    assert kinds == {"execution", "function", "deployment"} and logs == 0
    assert prune_executions(store, cutoff) == 0


# --- through a real server ----------------------------------------------------------------------------------


@pytest.fixture
def short_retention(tmp_path: Path) -> Iterator[LocalServer]:
    """A server that keeps executions for 4 s and runs maintenance every second."""
    import os

    data, log = tmp_path / "data", tmp_path / "server.log"
    env = {**os.environ, RETENTION: "4", INTERVAL: "1"}
    proc, url = admin.spawn_server(data, log_file=log, env=env)
    srv = LocalServer(url, data, proc, log)
    yield srv
    stop(srv)


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_maintenance_deletes_an_execution_past_the_retention_and_keeps_a_recent_one(
    short_retention: LocalServer,
) -> None:
    project = short_retention.new_project()
    fn = Functions(short_retention.client(project.project_id, project.api_key))
    deployed(fn, "kept", MAIN)
    first = fn.create_execution("kept", body="first")
    assert first["status"] == "completed" and "log line of first" in first["logs"]

    def gone() -> bool:
        try:
            fn.get_execution("kept", first["$id"])
        except AppwriteException as exc:
            assert exc.code == 404 and exc.type == "execution_not_found", exc.message
            return True
        return False

    wait_for(gone, 30, 0.2)
    recent = fn.create_execution("kept", body="second")
    time.sleep(1.5)  # at least one more maintenance run; the execution is younger than 4 s
    assert fn.get_execution("kept", recent["$id"])["responseBody"] == "done second"
    assert [e["$id"] for e in fn.list_executions("kept")["executions"]] == [recent["$id"]]
    assert fn.get("kept")["deploymentId"]  # the function and its deployment stay
    with sqlite3.connect(short_retention.data_dir / "quixotic.db", timeout=30) as conn:
        first_logs = conn.execute("SELECT COUNT(*) FROM meta WHERE data LIKE '%log line of first%'").fetchone()[0]
        second_logs = conn.execute("SELECT COUNT(*) FROM meta WHERE data LIKE '%log line of second%'").fetchone()[0]
    assert (first_logs, second_logs) == (0, 1)
