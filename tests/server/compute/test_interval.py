"""2.5.0's function ``interval``: the pure rule (literals) and the scheduler's tick firing it once per due slot,
through the partial index of interval functions, never twice and never for a disabled or undeployed function."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from server.compute.tick_support import NOW, RecordingHost, full_scans, plans_of, traced

from quixotic.server import store as st
from quixotic.server.clock import to_iso
from quixotic.server.compute import schedule
from quixotic.server.compute.scheduler import Scheduler

T0 = datetime(2031, 1, 1, 0, 0, 0, tzinfo=UTC)


def test_the_rule_of_a_function() -> None:
    assert schedule.rule_of("", 5) == schedule.Interval(5)
    assert schedule.rule_of(None, 5.0) == schedule.Interval(5)
    assert isinstance(schedule.rule_of("*/5 * * * *", 0), schedule.CronSpec)  # the schedule wins when both are set
    assert schedule.rule_of("", 0) is None and schedule.rule_of("", None) is None and schedule.rule_of("", True) is None
    with pytest.raises(ValueError, match="at least 1"):
        schedule.Interval(0)
    with pytest.raises(ValueError):
        schedule.rule_of("not cron", 5)


def test_an_interval_is_due_at_its_end_and_catches_up_once() -> None:
    every = schedule.Interval(15)
    assert schedule.next_after(every, T0) == T0 + timedelta(minutes=15)
    assert schedule.due_between(every, T0, T0 + timedelta(minutes=14, seconds=59)) == []
    assert schedule.due_between(every, T0, T0 + timedelta(minutes=15)) == [T0 + timedelta(minutes=15)]
    assert schedule.due_between(every, T0, T0 + timedelta(minutes=31)) == [T0 + timedelta(minutes=m) for m in (15, 30)]
    # After a long stop: at most MAX_DUE slots, the latest ones, so one firing records the last slot.
    late = schedule.due_between(every, T0, T0 + timedelta(days=365))
    assert len(late) == schedule.MAX_DUE and late[-1] == T0 + timedelta(days=365)
    naive = datetime(2031, 1, 1)
    assert schedule.next_after(every, naive) == datetime(2031, 1, 1, 0, 15)


def _interval_function(conn: sqlite3.Connection, uid: str, last: datetime, **data: object) -> None:
    base = {"enabled": True, "deploymentId": "dep", "schedule": "", "interval": 10, "scheduleLastRun": to_iso(last)}
    st.meta_insert(conn, "p1", "function", "", uid, {**base, **data})


def test_the_tick_fires_a_due_interval_once_through_its_index(tmp_path: Path) -> None:
    store = st.Store(tmp_path / "data")
    try:
        with store.tx() as conn:
            _interval_function(conn, "due", NOW - timedelta(minutes=10))
            _interval_function(conn, "soon", NOW - timedelta(minutes=9, seconds=59))
            _interval_function(conn, "off", NOW - timedelta(days=2), enabled=False)
            _interval_function(conn, "undeployed", NOW - timedelta(days=2), deploymentId="")
            _interval_function(conn, "none", NOW - timedelta(days=2), interval=0)
            _interval_function(conn, "long_stopped", NOW - timedelta(days=30))
        host = RecordingHost(store)
        scheduler = Scheduler(host)
        statements = traced(store, lambda: scheduler.tick(NOW))
        assert sorted(host.created) == ["due", "long_stopped"]
        with store.read() as conn:
            runs = {uid: (st.meta_get(conn, "p1", "function", "", uid) or {}).get("scheduleLastRun")
                    for uid in ("due", "long_stopped", "soon")}  # fmt: skip
        assert runs["due"] == to_iso(NOW) and runs["soon"] == to_iso(NOW - timedelta(minutes=9, seconds=59))
        assert runs["long_stopped"] is not None and runs["long_stopped"] > to_iso(NOW - timedelta(minutes=10))
        plans = plans_of(store, statements)
        assert full_scans(plans) == []
        assert "USING INDEX meta_interval_functions" in " | ".join(step for _, found in plans for step in found)
        # Again at the same moment, and from a new scheduler (a restart): nothing more fires.
        scheduler.tick(NOW)
        Scheduler(host).tick(NOW)
        assert sorted(host.created) == ["due", "long_stopped"]
        # One second after the next slot of "soon": it fires.
        Scheduler(host).tick(NOW + timedelta(seconds=1))
        assert sorted(host.created) == ["due", "long_stopped", "soon"]
    finally:
        store.close()
