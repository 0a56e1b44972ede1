"""What the scheduler's tick tests share: a host that records what a tick starts, and the statements a tick runs
with their query plans (EXPLAIN QUERY PLAN on a connection of their own)."""

from __future__ import annotations

import concurrent.futures
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from quixotic.server import store as st
from quixotic.server.compute.scheduler import INDEXES
from quixotic.server.settings import ServerSettings

NOW = datetime(2031, 1, 1, 0, 0, 30, tzinfo=UTC)  # the tick's clock in the plan tests


class RecordingHost:
    """The engine's side of a tick without running code: what it was asked to create and start."""

    def __init__(self, store: st.Store) -> None:
        self.store = store
        self.settings = ServerSettings()
        self.created: list[str] = []
        self.started: list[tuple[str, dict[str, Any]]] = []

    def now(self) -> datetime:
        return NOW

    def new_execution(self, project: str, function: Mapping[str, Any], trigger: str, *args: Any, **kw: Any) -> st.Doc:
        with self.store.tx() as conn:
            doc = st.meta_insert(conn, project, "execution", function["$id"], f"fired{len(self.created)}",
                                 {"trigger": trigger, "status": "waiting"})  # fmt: skip
        self.created.append(function["$id"])
        return doc

    def run_async(self, project: str, function_id: str, execution_id: str, **kw: Any) -> concurrent.futures.Future[Any]:
        self.started.append((execution_id, kw))
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        done.set_result(None)
        return done


def traced(store: st.Store, action: Any) -> list[str]:
    """The statements ``action`` ran on the store's connections, with their values inlined."""
    seen: list[str] = []
    with store.read() as reader:
        conns = {id(store.conn): store.conn, id(reader): reader}
    for conn in conns.values():
        conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        for conn in conns.values():
            conn.set_trace_callback(None)
    # A statement that fires triggers is reported again for each: each distinct one once, in order.
    kept = [s for s in seen if re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT)\b", s, re.I) and " meta" in s]
    return list(dict.fromkeys(kept))


def plans_of(store: st.Store, statements: list[str]) -> list[tuple[str, list[str]]]:
    """Each statement's plan, from a connection of its own: a pooled one may plan with the schema it read before
    the indexes were made (it reloads the schema when it runs a statement, not when it explains one)."""
    conn = sqlite3.connect(store.data_dir / "quixotic.db", timeout=30)
    try:
        return [(s, [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + s)]) for s in statements]
    finally:
        conn.close()


def full_scans(plans: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """Steps that read every row of ``meta``: a SCAN without an index, or of an index that is not a partial one
    of the scheduler's (those hold only scheduled functions or executions)."""
    partial = "|".join(INDEXES)
    ours = re.compile(rf"USING (COVERING )?INDEX ({partial})\b")
    return [(sql, step) for sql, steps in plans for step in steps
            if re.match(r"SCAN meta\b", step) and not ours.search(step)]  # fmt: skip
