"""``quixotic local doctor`` against data an older version stored: a row and a user with lone
surrogates and a user's prefs holding NaN (written straight into SQLite, as those versions did). The
server answers 500 on every list that includes them; the doctor finds each, ``--fix`` quarantines them,
and every list serves again, the rest of the data untouched."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.sdk import wait_available
from support.server import LocalServer

from quixotic.server import admin


def _doctor(data: Path, *args: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "quixotic.cli", "local", "doctor", "--data", str(data), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def _break(conn: sqlite3.Connection, sql: str, where: tuple[object, ...], change: dict[str, object]) -> None:
    (data,) = conn.execute(f"SELECT data FROM {sql}", where).fetchone()
    doc = json.loads(data)
    doc.update(change)
    text = json.dumps(doc, allow_nan=True)  # NaN as older versions wrote it; surrogates as \\ud800
    with conn:
        conn.execute(f"UPDATE {sql.split(' WHERE ')[0]} SET data=? WHERE {sql.split(' WHERE ')[1]}", (text, *where))


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_doctor_finds_and_quarantines_what_cannot_be_served(own_server: LocalServer) -> None:
    project: admin.ProjectCredentials = own_server.new_project()
    client: Client = own_server.client(project.project_id, project.api_key)
    tdb, users = TablesDB(client), Users(client)
    tdb.create("db", "db")
    tdb.create_table("db", "t", "t")
    tdb.create_varchar_column("db", "t", "name", 100, False)
    wait_available(tdb, "db", "t", "name")
    for row_id in ("good", "bad"):
        tdb.create_row("db", "t", row_id, {"name": row_id})
    for user_id in ("fine", "badname", "badprefs"):
        users.create(user_id, name=user_id)
    users.update_prefs("badprefs", {"theme": "dark"})

    db = own_server.data_dir / "quixotic.db"
    conn = sqlite3.connect(db, timeout=30)
    try:
        p = project.project_id
        (seq,) = conn.execute("SELECT _seq FROM meta WHERE project=? AND kind='table' AND _uid='t'", (p,)).fetchone()
        _break(conn, f"r_{seq} WHERE _uid=?", ("bad",), {"name": "\ud800"})
        user_sql = "meta WHERE project=? AND kind='user' AND _uid=?"
        _break(conn, user_sql, (p, "badname"), {"name": "\udfff"})
        _break(conn, user_sql, (p, "badprefs"), {"prefs": {"x": float("nan")}})
        with conn:  # function output with a lone surrogate: served scrubbed, so not a finding
            conn.execute(
                "INSERT INTO meta (project, kind, parent, _uid, _createdAt, _updatedAt, data)"
                " VALUES (?, 'execution', 'fn', 'e1', ?, ?, ?)",
                (p, *["2026-01-01T00:00:00.000+00:00"] * 2, json.dumps({"logs": "x \ud800"})),
            )
    finally:
        conn.close()

    # What the issue saw: every list that includes them answers 500.
    for call in (lambda: tdb.list_rows("db", "t"), users.list):
        with pytest.raises(AppwriteException) as info:
            call()
        assert info.value.code == 500

    code, found = _doctor(own_server.data_dir)
    assert code == 1 and found["fixed"] is False
    problems = {(f["kind"], f["id"], f["action"]) for f in found["findings"]}  # type: ignore[union-attr, index]
    assert problems == {
        ("row", "bad", "quarantine"),
        ("user", "badname", "quarantine"),
        ("user", "badprefs", "reset-prefs"),
    }
    with pytest.raises(AppwriteException):
        users.list()  # reporting changed nothing

    code, fixed = _doctor(own_server.data_dir, "--fix")
    assert code == 0 and fixed["fixed"] is True

    assert [r["$id"] for r in tdb.list_rows("db", "t")["rows"]] == ["good"]
    listed = {u["$id"]: u for u in users.list()["users"]}
    assert set(listed) == {"fine", "badprefs"}
    assert listed["badprefs"]["prefs"] == {} and listed["badprefs"]["name"] == "badprefs"

    conn = sqlite3.connect(db, timeout=30)
    try:
        kept = conn.execute("SELECT kind, uid, record FROM quarantine ORDER BY id").fetchall()
    finally:
        conn.close()
    assert {(kind, uid) for kind, uid, _ in kept} == {("row", "bad"), ("user", "badname"), ("user", "badprefs")}
    records = {uid: record for _, uid, record in kept}
    assert "NaN" in records["badprefs"] and "\\ud800" in records["bad"]  # kept as stored, for a human

    code, again = _doctor(own_server.data_dir)
    assert code == 0 and again["findings"] == []


def test_doctor_refuses_a_folder_without_a_database(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "quixotic.cli", "local", "doctor", "--data", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "no quixotic.db" in done.stderr
    assert not (tmp_path / "nothing").exists()  # looked, created nothing
