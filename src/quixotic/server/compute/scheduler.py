"""The scheduler of the Functions engine: cron schedules and scheduled executions, and the maintenance that
deletes executions past their retention.

The once-a-second tick must cost the same at a thousand stored executions as at a million, so it never scans
``meta``: four partial indexes (created on first start, also in a data dir an older version made) hold just
what it looks for. Functions with a cron schedule, functions with an interval (2.5.0); executions still
``scheduled``, by ``scheduledAt``; executions by ``$createdAt``, for the retention. Whether a function is due is
worked out in memory from its record (its next firing is cached per rule and last run), so a tick with
nothing due writes nothing; a due one is fired in a short transaction of its own that checks again, so a
restart never fires twice.

Maintenance runs at start and then every ``_APP_MAINTENANCE_INTERVAL`` seconds, as Appwrite's maintenance task
does, and deletes the executions created more than ``_APP_MAINTENANCE_RETENTION_EXECUTION`` seconds ago,
whatever their status (as Appwrite's deletes worker does), oldest first, in small transactions so writers
never wait long. An execution's logs and errors live in its record, so they go with it.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from quixotic.server import store as st
from quixotic.server.clock import to_iso
from quixotic.server.compute import schedule
from quixotic.timestamps import parse_iso

if TYPE_CHECKING:
    from quixotic.server.compute.engine import Compute

log = logging.getLogger("quixotic.server")

# name -> DDL. The WHERE clauses are repeated word for word in the statements below: SQLite uses a partial
# index only for a query whose WHERE contains the index's terms as written.
INDEXES: Final = {
    "meta_scheduled_functions": "CREATE INDEX IF NOT EXISTS meta_scheduled_functions ON meta (project, _uid) "
    "WHERE kind='function' AND parent='' AND json_extract(data, '$.schedule') != ''",
    "meta_interval_functions": "CREATE INDEX IF NOT EXISTS meta_interval_functions ON meta (project, _uid) "
    "WHERE kind='function' AND parent='' AND json_extract(data, '$.interval') > 0",
    "meta_scheduled_executions": "CREATE INDEX IF NOT EXISTS meta_scheduled_executions "
    "ON meta (json_extract(data, '$.scheduledAt')) "
    "WHERE kind='execution' AND json_extract(data, '$.status') = 'scheduled'",
    "meta_execution_age": "CREATE INDEX IF NOT EXISTS meta_execution_age ON meta (_createdAt) WHERE kind='execution'",
}

_FUNCTION_COLUMNS: Final = (
    "SELECT project, _uid, _updatedAt, json_extract(data, '$.schedule'), json_extract(data, '$.scheduleLastRun'), "
    "json_extract(data, '$.enabled'), json_extract(data, '$.deploymentId'), json_extract(data, '$.interval') FROM meta "
)
SCHEDULED_FUNCTIONS: Final = (
    _FUNCTION_COLUMNS
    + "WHERE kind='function' AND parent='' AND json_extract(data, '$.schedule') != '' UNION ALL "
    + _FUNCTION_COLUMNS
    + "WHERE kind='function' AND parent='' AND json_extract(data, '$.interval') > 0"
)
DUE_EXECUTIONS: Final = (
    "SELECT project, parent, _uid, data FROM meta "
    "WHERE kind='execution' AND json_extract(data, '$.status') = 'scheduled' "
    "AND json_extract(data, '$.scheduledAt') <= ? ORDER BY json_extract(data, '$.scheduledAt') LIMIT ?"
)
PRUNE_EXECUTIONS: Final = (
    "DELETE FROM meta WHERE _seq IN (SELECT _seq FROM meta WHERE kind='execution' AND _createdAt < ? "
    "ORDER BY _createdAt LIMIT ?)"
)
START_BATCH: Final = 200  # scheduled executions started per transaction
PRUNE_BATCH: Final = 100  # executions deleted per transaction: a few ms of write lock each
PRUNE_PAUSE: Final = 0.01  # seconds between two deletion batches, so waiting writers get the lock
_CACHE_LIMIT: Final = 4096


def install_indexes(store: st.Store) -> list[str]:
    """Create the scheduler's indexes that the data dir lacks (idempotent); returns those created."""
    with store.read() as conn:
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    missing = [name for name in INDEXES if name not in present]
    if missing:
        started = time.perf_counter()
        with store.tx() as conn:
            for name in missing:
                conn.execute(INDEXES[name])
        st.startup_log.info("start-up: created the scheduler's index(es) %s in %.0f ms", ", ".join(missing),
                            (time.perf_counter() - started) * 1000)  # fmt: skip
    return missing


def prune_executions(store: st.Store, cutoff: datetime, *, batch: int = PRUNE_BATCH,
                     max_batches: int | None = None, stop: threading.Event | None = None) -> int:  # fmt: skip
    """Delete executions created before ``cutoff``, oldest first, ``batch`` per transaction; returns how many."""
    before = to_iso(cutoff)
    deleted, batches = 0, 0
    while True:
        with store.tx() as conn:
            count = conn.execute(PRUNE_EXECUTIONS, (before, batch)).rowcount
        deleted += count
        batches += 1
        if count < batch or batches == max_batches or (stop is not None and stop.is_set()):
            return deleted
        time.sleep(PRUNE_PAUSE)


class Scheduler:
    """Fires due cron schedules, intervals and scheduled executions of one engine, and runs its maintenance."""

    def __init__(self, host: Compute) -> None:
        # The engine whose executions it creates and starts (the tests and the bench hand it a stand-in).
        self.host = host
        self.store = host.store
        self._next: dict[tuple[str, str], datetime | None] = {}  # (cron, last run) -> next firing (None: never)
        install_indexes(self.store)

    # --- the loops

    def run(self, stop: threading.Event) -> None:
        """The scheduler thread: a tick every scheduler second, maintenance in a thread of its own."""
        maintenance = threading.Thread(target=self._maintain, args=(stop,), name="quixotic-maintenance", daemon=True)
        maintenance.start()
        speedup = self.host.settings.schedule_speedup
        while not stop.wait(max(0.05, 1.0 / speedup)):
            try:
                self.tick(self.host.now())
            except Exception:
                log.exception("scheduler tick failed")

    def _maintain(self, stop: threading.Event) -> None:
        interval = self.host.settings.maintenance_interval
        while not stop.is_set():
            try:
                self.maintain(datetime.now(UTC), stop)
            except Exception:
                log.exception("maintenance failed")
            if stop.wait(interval):
                return

    def maintain(self, now: datetime, stop: threading.Event | None = None) -> int:
        """One maintenance run: delete the executions older than the retention; returns how many went."""
        cutoff = now - timedelta(seconds=self.host.settings.execution_retention)
        deleted = prune_executions(self.store, cutoff, stop=stop)
        if deleted:
            log.info("maintenance: deleted %d execution(s) created before %s", deleted, to_iso(cutoff))
        return deleted

    # --- the tick

    def tick(self, now: datetime) -> list[str]:
        """Fire every schedule due up to ``now`` exactly once (persisted, so restarts never double-fire), then
        start the scheduled executions whose time (real time) has come; returns the executions started."""
        fired = [execution_id for project, function_id in self.due_functions(now)
                 if (execution_id := self._fire(project, function_id, now))]  # fmt: skip
        fired.extend(self.start_due_executions(datetime.now(UTC)))
        return fired

    def due_functions(self, now: datetime) -> list[tuple[str, str]]:
        """(project, function ID) of the enabled, deployed functions whose schedule fires by ``now``."""
        with self.store.read() as conn:
            rows = conn.execute(SCHEDULED_FUNCTIONS).fetchall()
        due: dict[tuple[str, str], None] = {}  # in the query's order, each once (it may be in both halves)
        for project, function_id, updated_at, expr, last_run, enabled, deployment_id, interval in rows:
            # A first sieve, never stricter than _fire's checks: JSON false reads as 0, an absent flag as NULL.
            if enabled == 0 or not deployment_id or (project, function_id) in due:
                continue
            upcoming = self._next_firing(expr, interval, last_run or updated_at)
            if upcoming is not None and upcoming <= now:
                due[project, function_id] = None
        return list(due)

    def _next_firing(self, expr: Any, interval: Any, last_text: str) -> datetime | None:
        key = (f"{expr}|{interval}", last_text)
        if key not in self._next:
            if len(self._next) >= _CACHE_LIMIT:
                self._next.clear()
            try:
                rule = schedule.rule_of(expr, interval)
                self._next[key] = None if rule is None else schedule.next_after(rule, parse_iso(last_text))
            except (ValueError, TypeError):  # a schedule that never fires (or a record no rule can be read from)
                self._next[key] = None
        return self._next[key]

    def _fire(self, project: str, function_id: str, now: datetime) -> str | None:
        """Record the function's due run and start it; None if, checked again under the lock, none is due."""
        with self.store.tx() as conn:
            function = st.meta_get(conn, project, "function", "", function_id)
            if function is None or not function.get("enabled", True) or not function.get("deploymentId"):
                return None
            try:
                spec = schedule.rule_of(function.get("schedule"), function.get("interval"))
            except ValueError:
                return None
            if spec is None:
                return None
            last = parse_iso(function.get("scheduleLastRun") or function["$updatedAt"])
            due = schedule.due_between(spec, last, now)
            if not due:
                return None
            function["scheduleLastRun"] = to_iso(due[-1])
            st.meta_save(conn, project, "function", "", function)
        execution = self.host.new_execution(project, function, "schedule", "POST", "/", {})
        self.host.run_async(project, function_id, execution["$id"], method="POST", path="/", headers={}, body=b"")
        return str(execution["$id"])

    def start_due_executions(self, now: datetime) -> list[str]:
        """Executions created with ``scheduledAt`` start once their time has come (also after a restart)."""
        started: list[str] = []
        params = (to_iso(now), START_BATCH)
        while True:
            with self.store.read() as conn:
                if not conn.execute(DUE_EXECUTIONS, params).fetchone():
                    return started
            with self.store.tx() as conn:
                rows = conn.execute(DUE_EXECUTIONS, params).fetchall()
                batch = [claimed for row in rows if (claimed := _claim(conn, *row))]
            if not batch:
                return started
            for project, function_id, execution_id, doc, request in batch:
                started.append(execution_id)
                self.host.run_async(
                    project, function_id, execution_id, method=doc["requestMethod"], path=doc["requestPath"],
                    headers=request.get("headers", {}), body=base64.b64decode(request.get("body", "")),
                    user_id=request.get("userId", ""),
                )  # fmt: skip


def _claim(
    conn: sqlite3.Connection, project: str, function_id: str, execution_id: str, data: str
) -> tuple[str, str, str, st.Doc, dict[str, Any]] | None:
    """Mark a due scheduled execution ``waiting`` (in the caller's transaction), so no later tick starts it."""
    doc = st.meta_get(conn, project, "execution", function_id, execution_id)
    if doc is None:
        return None
    doc["status"] = "waiting"
    st.meta_save(conn, project, "execution", function_id, doc)
    return project, function_id, execution_id, doc, dict(json.loads(data).get("_request", {}))
