"""`quixotic report ENV --out FILE.html` and the ``--report PATH`` of every go/no-go command: the HTML page
(:mod:`quixotic.evidence.report` draws it) from one report, or from an environment's recorded evidence and
its releases; written to a temporary name beside PATH, then renamed, so a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quixotic.errors import UsageError
from quixotic.evidence.report import KINDS, render
from quixotic.target import Target
from quixotic.target.system import EvidenceRecord


def check_out(path: Path | None, option: str = "--report") -> Path | None:
    """``path`` when it can be written (its folder exists), before any work is done; else a UsageError."""
    if path is None:
        return None
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder: name the HTML file to write, e.g. {path / 'report.html'}")
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist; create it or pick another path")
    return path


def write(path: Path, html: str) -> Path:
    """``html`` into ``path`` through a temporary file in the same folder and a rename."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(html)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def releases_of(target: Target, limit: int = 50) -> list[dict[str, Any]]:
    """The releases (newest first) as the page shows them: only the plain facts, not their snapshots."""
    return [{"id": r.id, "kind": r.kind, "status": r.status, "startedAt": r.started_at, "environment": r.environment}
            for r in target.system.releases(limit)]  # fmt: skip


def one(kind: str, data: Mapping[str, Any], *, title: str, releases: list[dict[str, Any]] | None = None) -> str:
    """The page of one report (``kind`` of :data:`KINDS`, ``data`` its ``to_json()``)."""
    return render(title, {kind: data}, releases=releases or [], generated=_now())


def environment_report(target: Target) -> str:
    """The page of ``target``'s environment: the latest recorded run of each kind about it, the releases
    (markers on the monitor charts) and the list of recorded runs about it. A comparison (``bench
    --compare``, ``parity``) is kept in both environments' tool state but is about one of them: the other's
    page leaves it out, so it never shows one environment's numbers as another's."""
    name = target.env.name

    def about(records: list[EvidenceRecord]) -> list[EvidenceRecord]:
        return [r for r in records if r.environment == name]

    latest = {}
    for kind in KINDS:
        found = about(target.system.evidence(kind, 50))
        latest[kind] = found[0].data if found else None
    history = [{"kind": e.kind, "environment": e.environment, "startedAt": e.started_at, "verdict": e.verdict}
               for e in about(target.system.evidence(None, 100))[:50]]  # fmt: skip
    return render(f"quixotic report: {name}", latest, releases=releases_of(target), history=history,
                  generated=_now())  # fmt: skip
