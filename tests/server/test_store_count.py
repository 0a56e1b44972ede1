"""A list's total (``store.plan_page``) is the same whichever way SQLite counts it: a table with no condition
counted whole by SQLite's b-tree count while it is small, else (and for every condition) its matching rows stepped
through up to ``MAX_COUNT``. Real SQLite, real row tables, both ways forced."""

from __future__ import annotations

import json
import sqlite3

import pytest

from quixotic.server import queries as q
from quixotic.server import store as st

FIELDS = {"n": q.Field("integer")}


def _table(count: int, first_seq: int = 1) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute(st.ROW_TABLE_DDL.format(name="r_1"))
    rows = [(first_seq + i, f"r{i}", "t", "t", json.dumps({"n": i % 7})) for i in range(count)]
    conn.executemany("INSERT INTO r_1 (_seq, _uid, _createdAt, _updatedAt, data) VALUES (?,?,?,?,?)", rows)
    return conn


def _total(conn: sqlite3.Connection, where: str = "1", queries: list[str] | None = None) -> int:
    return st.plan_page(conn, "r_1", where, [], queries, FIELDS).total


@pytest.mark.parametrize("count", [0, 1, 3, st.MAX_COUNT - 1, st.MAX_COUNT, st.MAX_COUNT + 7])
@pytest.mark.parametrize("whole_below", [10**9, 0], ids=["counted-whole", "stepped"])
def test_totals_are_capped_alike_both_ways(monkeypatch: pytest.MonkeyPatch, count: int, whole_below: int) -> None:
    monkeypatch.setattr(st, "_WHOLE_COUNT_SEQ", whole_below)
    conn = _table(count)
    assert _total(conn) == min(count, st.MAX_COUNT)
    sevens = sum(1 for i in range(count) if i % 7 == 3)
    assert _total(conn, queries=['{"method":"equal","attribute":"n","values":[3]}']) == min(sevens, st.MAX_COUNT)
    assert _total(conn, where="_seq % 2 = 0") == min(count // 2, st.MAX_COUNT)


def test_a_table_with_high_sequences_is_stepped_and_still_right() -> None:
    conn = _table(12, first_seq=st._WHOLE_COUNT_SEQ + 1)  # restored rows keep their source's $sequence
    assert _total(conn) == 12
    assert _total(conn, where="_seq % 2 = 0") == 6
