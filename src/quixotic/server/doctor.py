"""``quixotic local doctor``: find what older versions stored that the server cannot serve, and set it aside.

Before the input limits of ``validation``, a request could store a lone surrogate (``"\\ud800"``), a NaN
or an Infinity, or JSON nested thousands deep. Such a record answers 500 on every read that includes it:
listing its table or its users, ``backup``, ``diff-data``. The doctor reads every record of the data
folder's database with the rules the server now holds input to and reports each one that breaks them.

With ``fix`` it quarantines them, in one transaction: a row or a user is moved whole into the
``quarantine`` table (its stored columns kept as they were, to be inspected or restored by hand); a
user whose only fault is its prefs keeps everything else and gets empty prefs, the old prefs going to
the quarantine. Other records (databases, tables, buckets, functions, ...) are reported, not moved:
removing one would take what hangs under it along.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quixotic.errors import ApiError, LocalDataError
from quixotic.server import validation
from quixotic.server.clock import now_iso
from quixotic.server.store import Store

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    quarantinedAt TEXT NOT NULL,
    source TEXT NOT NULL,
    project TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL, uid TEXT NOT NULL,
    problem TEXT NOT NULL,
    record TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Finding:
    """One stored record the server cannot serve, and what the doctor did (or would do) with it."""

    source: str  # the SQLite table: ``meta`` or ``r_<n>``
    project: str
    kind: str  # user, row, or the meta kind (database, table, bucket, ...)
    parent: str  # for a row: ``<databaseId>/<tableId>``
    uid: str
    problem: str
    action: str  # quarantine | reset-prefs | report

    def as_json(self) -> dict[str, str]:
        return {
            "source": self.source,
            "project": self.project,
            "kind": self.kind,
            "parent": self.parent,
            "id": self.uid,
            "problem": self.problem,
            "action": self.action,
        }


@dataclass
class Report:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    fixed: bool = False

    @property
    def clean(self) -> bool:
        return not self.findings


# Deeper than this, decoding or encoding may exhaust Python's recursion (limit 1000) or SQLite's JSON
# functions (depth 1000) on some path; the input limit (validation.MAX_DEPTH) is far below it.
SERVABLE_DEPTH = 500


def _refuse(literal: str) -> Any:
    raise ValueError(f"{literal} is not a number JSON can carry")


def _finite(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{literal[:20]} is beyond the range of a 64-bit float")
    return value


def problem_of(text: str | None, what: str, *, scrubbed: bool = False) -> str | None:
    """Why stored JSON ``text`` cannot be served (None: it can). Only what breaks a read counts, not
    what the input limits refuse today: a 40-deep prefs object stored before them is still served.
    ``scrubbed``: the record is served through ``validation.scrub`` (an execution's function output)."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_refuse, parse_float=_finite)
        if scrubbed:
            value = validation.scrub(value)
        validation.check_tree(value, what, SERVABLE_DEPTH, int64=False)
        validation.encode(value)
    except RecursionError:
        return f"{what} is nested too deep to decode"
    except ApiError as exc:
        return exc.message
    except ValueError as exc:  # not JSON, a number it cannot carry, a string that does not encode
        return f"{what}: {exc}"
    return None


def _text_problem(value: str, what: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{what} holds a lone surrogate"
    return None


def _prefs_only(data_text: str) -> bool:
    """Whether the record's data is servable once its ``prefs`` are emptied."""
    try:
        data = json.loads(data_text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict) or "prefs" not in data:
        return False
    data["prefs"] = {}
    return problem_of(json.dumps(data), "data") is None


def _meta_findings(conn: sqlite3.Connection, report: Report) -> Iterator[tuple[Finding, int]]:
    rows = conn.execute("SELECT _seq, project, kind, parent, _uid, _permissions, data FROM meta ORDER BY _seq")
    for seq, project, kind, parent, uid, perms, data in rows.fetchall():
        report.checked += 1
        problem = (
            _text_problem(uid, "the ID")
            or problem_of(perms, "permissions")
            or problem_of(data, "data", scrubbed=kind == "execution")
        )  # fmt: skip
        if problem is None:
            continue
        if kind == "user":
            action = "reset-prefs" if problem_of(perms, "permissions") is None and _prefs_only(data) else "quarantine"
        else:
            action = "report"
        yield Finding("meta", project, kind, parent, uid, problem, action), seq


def _row_tables(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """``r_<n>`` -> (project, ``databaseId/tableId``) for every table record."""
    out: dict[str, tuple[str, str]] = {}
    for seq, project, parent, uid in conn.execute("SELECT _seq, project, parent, _uid FROM meta WHERE kind='table'"):
        out[f"r_{int(seq)}"] = (project, f"{parent}/{uid}")
    return out


def _row_findings(conn: sqlite3.Connection, report: Report) -> Iterator[tuple[Finding, int]]:
    owners = _row_tables(conn)
    names = [
        name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name GLOB 'r_[0-9]*'")
    ]
    for name in sorted(names):
        project, parent = owners.get(name, ("", f"(no table record for {name})"))
        for seq, uid, perms, data in conn.execute(f"SELECT _seq, _uid, _permissions, data FROM {name}").fetchall():
            report.checked += 1
            problem = _text_problem(uid, "the ID") or problem_of(perms, "permissions") or problem_of(data, "data")
            if problem is not None:
                yield Finding(name, project, "row", parent, uid, problem, "quarantine"), seq


def _quarantine(conn: sqlite3.Connection, finding: Finding, seq: int) -> None:
    row = conn.execute(f"SELECT * FROM {finding.source} WHERE _seq=?", (seq,)).fetchone()
    columns = [d[0] for d in conn.execute(f"SELECT * FROM {finding.source} LIMIT 0").description]
    # Kept as stored, escaped so that the quarantine itself is valid text.
    record = json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=True)
    if finding.action == "reset-prefs":
        data = json.loads(row[columns.index("data")])
        record = json.dumps({"prefs": data.get("prefs")}, ensure_ascii=True)
        data["prefs"] = {}
        conn.execute("UPDATE meta SET data=? WHERE _seq=?", (json.dumps(data, separators=(",", ":")), seq))
    else:
        conn.execute(f"DELETE FROM {finding.source} WHERE _seq=?", (seq,))
    conn.execute(
        "INSERT INTO quarantine (quarantinedAt, source, project, kind, parent, uid, problem, record)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (
            now_iso(),
            finding.source,
            finding.project,
            finding.kind,
            finding.parent,
            _safe(finding.uid),
            finding.problem,
            record,
        ),
    )


def _safe(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def examine(data_dir: Path, *, fix: bool = False) -> Report:
    """Check every record of the data folder; with ``fix``, quarantine rows and users (or their prefs)
    that cannot be served, all in one transaction."""
    if not (Path(data_dir) / "quixotic.db").is_file():
        raise LocalDataError(f"no quixotic.db in {data_dir}: give the local server's data folder with --data.")
    store = Store(data_dir)
    report = Report()
    try:
        with store.tx() if fix else store.read() as conn:
            found = [*_meta_findings(conn, report), *_row_findings(conn, report)]
            if fix and any(f.action != "report" for f, _ in found):
                conn.execute(QUARANTINE_DDL)
                for finding, seq in found:
                    if finding.action != "report":
                        _quarantine(conn, finding, seq)
                report.fixed = True
        report.findings = [
            Finding(f.source, f.project, f.kind, f.parent, _safe(f.uid), f.problem, f.action) for f, _ in found
        ]
    finally:
        store.close()
    return report


def describe(report: Report) -> Iterator[str]:
    """The report as lines for a terminal."""
    for f in report.findings:
        done = {"quarantine": "quarantined", "reset-prefs": "prefs reset", "report": "left in place"}[f.action]
        will = {"quarantine": "would quarantine", "reset-prefs": "would reset prefs", "report": "left in place"}[
            f.action
        ]
        where = f"{f.project} {f.kind} {f.parent + '/' if f.parent else ''}{f.uid}"
        yield f"{where}: {f.problem} [{done if report.fixed else will}]"
    verdict = "all servable" if report.clean else f"{len(report.findings)} cannot be served"
    yield f"checked {report.checked} records: {verdict}"
    if report.findings and not report.fixed and any(f.action != "report" for f in report.findings):
        yield "run again with --fix to move them to the quarantine table"
