"""The scheduler's tick: every statement it runs uses an index (EXPLAIN QUERY PLAN of what the tick really ran on
a real SQLite), it fires what is due exactly once, and through a real server a cron function still fires, a
scheduled execution still starts when its time comes, and a data dir of an older version gets its indexes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.services.functions import Functions
from server.compute.tick_support import NOW, RecordingHost, full_scans, plans_of, traced
from support.deployments import deployed
from support.sdk import wait_for
from support.server import LocalServer
from support.spawn import own_server

from quixotic.server import store as st
from quixotic.server.clock import to_iso
from quixotic.server.compute.scheduler import INDEXES, Scheduler, install_indexes, prune_executions

MAIN = """
def main(context):
    context.log("ran by " + context.req.headers.get("x-appwrite-trigger", ""))
    return context.res.json({"trigger": context.req.headers.get("x-appwrite-trigger"), "body": context.req.body_text,
                             "path": context.req.path})
"""


def _function(conn: sqlite3.Connection, uid: str, **data: Any) -> None:
    base = {"enabled": True, "deploymentId": "dep", "schedule": "0 0 1 1 *", "scheduleLastRun": to_iso(NOW)}
    st.meta_insert(conn, "p1", "function", "", uid, {**base, **data})


def _execution(conn: sqlite3.Connection, uid: str, **data: Any) -> None:
    base = {"status": "completed", "requestMethod": "POST", "requestPath": "/", "logs": "x" * 200}
    st.meta_insert(conn, "p1", "execution", "fn", uid, {**base, **data})


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[st.Store]:
    """A data dir with functions that are due, not due, disabled, undeployed or unscheduled, and executions done,
    due and scheduled for later."""
    store = st.Store(tmp_path / "data")
    with store.tx() as conn:
        _function(conn, "due", scheduleLastRun=to_iso(NOW - timedelta(days=400)))
        _function(conn, "quiet")
        _function(conn, "off", enabled=False, scheduleLastRun=to_iso(NOW - timedelta(days=400)))
        _function(conn, "undeployed", deploymentId="", scheduleLastRun=to_iso(NOW - timedelta(days=400)))
        _function(conn, "plain", schedule="")
        for i in range(300):
            _execution(conn, f"done{i}")
        request = {"headers": {"x-a": "1"}, "body": "aGk=", "userId": "u1"}
        real = datetime.now(UTC)  # scheduled executions go by real time, whatever the schedules' clock
        _execution(conn, "ripe", status="scheduled", scheduledAt=to_iso(real - timedelta(minutes=1)), _request=request)
        _execution(conn, "later", status="scheduled", scheduledAt=to_iso(real + timedelta(days=1)))
    yield store
    store.close()


def test_the_tick_uses_indexes_only_and_fires_what_is_due_once(filled: st.Store) -> None:
    host = RecordingHost(filled)
    scheduler = Scheduler(host)
    statements = traced(filled, lambda: scheduler.tick(NOW))
    assert host.created == ["due"]  # not the quiet, disabled, undeployed or unscheduled ones
    assert [execution_id for execution_id, _ in host.started] == ["fired0", "ripe"]
    ripe = dict(host.started)["ripe"]
    assert ripe["headers"] == {"x-a": "1"} and ripe["body"] == b"hi" and ripe["user_id"] == "u1"
    with filled.read() as conn:
        due = st.meta_get(conn, "p1", "function", "", "due")
        states = {
            uid: (st.meta_get(conn, "p1", "execution", "fn", uid) or {}).get("status") for uid in ("ripe", "later")
        }
    assert due is not None and due["scheduleLastRun"] == "2031-01-01T00:00:00.000+00:00"
    assert states == {"ripe": "waiting", "later": "scheduled"}
    plans = plans_of(filled, statements)
    assert full_scans(plans) == []
    steps = " | ".join(step for _, found in plans for step in found)
    assert "USING INDEX meta_scheduled_functions" in steps and "USING INDEX meta_scheduled_executions" in steps
    # Again at the same moment: nothing is due, nothing fires, and nothing is written.
    again = traced(filled, lambda: scheduler.tick(NOW))
    assert host.created == ["due"] and len(host.started) == 2
    assert not [s for s in again if not s.lstrip().upper().startswith("SELECT")]
    assert full_scans(plans_of(filled, again)) == []


def test_the_check_can_fail_the_old_tick_scanned_meta(filled: st.Store) -> None:
    """The assertion above is real: the statement the tick used before the scheduler's indexes is a full scan."""
    install_indexes(filled)
    old = "SELECT project, _uid FROM meta WHERE kind='function' AND parent='' AND COALESCE(json_extract(data, '$.schedule'), '') != ''"  # noqa: E501
    assert full_scans(plans_of(filled, [old])) == [(old, "SCAN meta")]


def test_pruning_uses_the_age_index(filled: st.Store) -> None:
    install_indexes(filled)
    statements = traced(filled, lambda: prune_executions(filled, NOW, batch=50))
    plans = plans_of(filled, statements)
    assert statements and full_scans(plans) == []
    assert any("meta_execution_age" in step for _, steps in plans for step in steps)


def test_indexes_are_added_to_an_older_data_dir_once(filled: st.Store) -> None:
    with filled.read() as conn:
        before = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert not set(INDEXES) & before  # what a data dir of an older version holds
    Scheduler(RecordingHost(filled))
    with filled.read() as conn:
        after = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert set(INDEXES) <= after
    assert install_indexes(filled) == []


# --- through a real server ----------------------------------------------------------------------------------


@pytest.fixture
def fn(client: Client) -> Functions:
    return Functions(client)


@pytest.mark.local_only("runs on the local server's 60x scheduler clock")
def test_a_cron_function_fires_and_stops_when_unscheduled(fn: Functions) -> None:
    deployed(fn, "cron", MAIN, schedule="* * * * *")  # 60x clock: about once a second

    def scheduled() -> list[dict[str, Any]]:
        return [e for e in fn.list_executions("cron")["executions"] if e["trigger"] == "schedule"]

    runs = wait_for(lambda: len(s := scheduled()) >= 2 and s, 60, 0.2)
    done = wait_for(lambda: [e for e in scheduled() if e["status"] == "completed"], 60, 0.2)
    assert all(e["requestMethod"] == "POST" for e in runs)
    assert json.loads(done[0]["responseBody"])["trigger"] == "schedule" and "ran by schedule" in done[0]["logs"]
    fn.update("cron", "Cron", schedule="")
    time.sleep(0.5)  # one run may have been on its way
    settled = len(scheduled())
    time.sleep(3)  # three scheduler minutes
    assert len(scheduled()) == settled


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_a_scheduled_execution_starts_when_its_time_comes(fn: Functions, server: LocalServer) -> None:
    deployed(fn, "later", MAIN)
    when = to_iso(datetime.now(UTC) + timedelta(minutes=2))
    queued = fn.create_execution("later", body="for later", xasync=True, path="/p", scheduled_at=when)
    assert queued["status"] == "scheduled"
    time.sleep(1.5)  # several ticks: it is not due yet
    assert fn.get_execution("later", queued["$id"])["status"] == "scheduled"
    # Rather than wait two minutes, its time is moved into the past, as if they had gone by.
    past = to_iso(datetime.now(UTC) - timedelta(seconds=1))
    with sqlite3.connect(server.data_dir / "quixotic.db", timeout=30) as conn:
        moved = conn.execute(
            "UPDATE meta SET data=json_set(data, '$.scheduledAt', ?) WHERE kind='execution' AND _uid=?",
            (past, queued["$id"]),
        ).rowcount
    assert moved == 1
    final = wait_for(lambda: (e := fn.get_execution("later", queued["$id"]))["status"] in ("completed", "failed") and e,
                     60, 0.2)  # fmt: skip
    assert final["status"] == "completed", final["errors"]
    assert json.loads(final["responseBody"]) == {"trigger": "http", "body": "for later", "path": "/p"}


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_a_data_dir_without_the_indexes_gets_them_and_its_schedules_fire(tmp_path: Path) -> None:
    with own_server(tmp_path) as first:
        project = first.new_project()
        deployed(Functions(first.client(project.project_id, project.api_key)), "cron", MAIN, schedule="* * * * *")
    db, log = tmp_path / "data" / "quixotic.db", tmp_path / "server.log"
    with sqlite3.connect(db, timeout=30) as conn:  # as an older version left it, the schedule already stored
        for name in INDEXES:
            conn.execute(f"DROP INDEX {name}")
        count = "SELECT COUNT(*) FROM meta WHERE kind='execution' AND json_extract(data, '$.trigger')='schedule'"
        fired_before = conn.execute(count).fetchone()[0]
    with own_server(tmp_path) as second:
        with sqlite3.connect(db, timeout=30) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert set(INDEXES) <= names
        assert "created the scheduler's index(es) " + ", ".join(INDEXES) in log.read_text()
        fn = Functions(second.client(project.project_id, project.api_key))

        def fired() -> int:
            return len([e for e in fn.list_executions("cron")["executions"] if e["trigger"] == "schedule"])

        wait_for(lambda: fired() > fired_before, 60, 0.2)


def test_the_bench_runs_end_to_end(tmp_path: Path) -> None:
    """bench/scheduler_bench.py on a small data dir: it fills it, times both ticks and prunes (no figure judged)."""
    import subprocess
    import sys

    bench = Path(__file__).parents[3] / "bench" / "scheduler_bench.py"
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(bench), "--sizes", "400", "--ticks", "5", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(out.read_text())
    assert row["executions"] == 400 and row["new_ticks"] == 5 and row["old_ticks"] >= 5
    assert row["indexes_created"] == list(INDEXES) and 0 < row["pruned"] < 400  # 30 days spread, 14 kept
    assert "target: p99 < 5 ms" in done.stdout
