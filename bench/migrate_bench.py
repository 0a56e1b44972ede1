"""Benchmark of a data migration: the wordCount backfill over many rows, beside a bare loop doing the same work.

    .venv/bin/python bench/migrate_bench.py [--rows 100000] [--words 120]

Starts a real server, applies 0001 (the schema), seeds ``--rows`` transcriptions with bulk creates, then in
the same run times:

- bare: a loop of SDK calls with no runner: read 1,000 rows (cursor on ``$sequence``, only ``text``), count
  words, bulk-upsert the counts into a separate column, repeat;
- migration: ``quixotic migrate up`` applying 0002 (lock with heartbeat, history rows, a saved cursor
  after every batch, progress), writing ``wordCount``.

Both scan every row and write the same counts. Runs interleave (bare, then a migration and a bare run per
round, with an untimed ``down`` between rounds) and the ratio of the medians (rows/s, migration/bare)
is what the runner costs: 1.00 is nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from appwrite.query import Query
from appwrite.services.tables_db import TablesDB

from quixotic.commands import migrate
from quixotic.config.resources import Column
from quixotic.migrations.history import History
from quixotic.server import admin
from quixotic.target import connect

REPO = Path(__file__).resolve().parents[1]
APP = "quixotic_app"
VOCABULARY = ("the", "a", "of", "to", "and", "in", "whisper", "audio", "model", "speech", "café", "naïve", "—")


def site(root: Path, project_id: str) -> None:
    root.mkdir()
    shutil.copy(REPO / "appwrite.json", root / "appwrite.json")
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "migrations", root / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "environments").mkdir()
    env = {"projectId": project_id, "projectName": "bench", "endpoint": "http://127.0.0.1:1/v1"}
    (root / "environments" / "bench.json").write_text(json.dumps(env))


def transcription(i: int, words: int, rng: random.Random) -> dict[str, Any]:
    queued = i % 7 == 0
    text = None if queued else " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(words // 2, words * 3 // 2)))
    return {"$id": f"t{i:07d}", "userId": f"u{i % 500}", "fileId": f"f{i:07d}", "status": "queued" if queued else
            "completed", "text": text}  # fmt: skip


def seed(db: TablesDB, count: int, words: int) -> float:
    rng = random.Random(7)
    started = time.perf_counter()
    for start in range(0, count, 1000):
        batch = [transcription(i, words, rng) for i in range(start, min(start + 1000, count))]
        db.create_rows(APP, "transcriptions", batch)
    return time.perf_counter() - started


def bare_loop(db: TablesDB, column: str) -> tuple[int, int, float]:
    """(rows read, rows written, seconds) of the same backfill as plain SDK calls."""
    started = time.perf_counter()
    seen = written = after = 0
    while True:
        queries = [Query.order_asc("$sequence"), Query.limit(1000), Query.select(["$id", "$sequence", "text"])]
        if after:
            queries.append(Query.greater_than("$sequence", after))
        batch = db.list_rows(APP, "transcriptions", queries, total=False)["rows"]
        if not batch:
            break
        updates = [{"$id": r["$id"], column: len(r["text"].split())} for r in batch if r.get("text") is not None]
        if updates:
            db.upsert_rows(APP, "transcriptions", updates)
        seen, written, after = seen + len(batch), written + len(updates), int(batch[-1]["$sequence"])
        if len(batch) < 1000:
            break
    return seen, written, time.perf_counter() - started


class Stopwatch:
    """Time spent in the runner's own writes (history rows, saved cursors): its overhead, measured directly."""

    def __init__(self) -> None:
        self.seconds, self.calls = 0.0, 0
        self.original = History.update

        def timed(history: History, attempt: str, status: str, record: dict[str, Any]) -> None:
            started = time.perf_counter()
            try:
                self.original(history, attempt, status, record)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        History.update = timed  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=120, help="average words per transcription")
    parser.add_argument("--rounds", type=int, default=2, help="migration runs (each after a down), between bare runs")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="quixotic-migrate-bench-"))
    proc, url = admin.spawn_server(base / "data")
    try:
        creds = admin.create_project(base / "data", "bench")
        root = base / "site"
        site(root, creds.project_id)
        environ = {**os.environ, "QUIXOTIC_BENCH_ENDPOINT": url, "QUIXOTIC_BENCH_API_KEY": creds.api_key}
        target = connect(root, "bench", environ)
        migrate.up(target, to="0001")
        db = target.backend.db
        seeded = seed(db, args.rows, args.words)
        print(f"seeded {args.rows:,} rows in {seeded:.1f} s ({args.rows / seeded:,.0f} rows/s, bulk create)")
        target.backend.create_column(APP, "transcriptions", Column("wordCountBare", "integer", min=0))
        target.backend.wait_column(APP, "transcriptions", "wordCountBare")

        # bare, then (migration, bare) per round: medians of interleaved runs cancel drift (cache, machine load)
        watch = Stopwatch()
        seen, written, first = bare_loop(db, "wordCountBare")
        bare_s, migration_s = [first], []
        for round_ in range(args.rounds):
            if round_:
                migrate.down(connect(root, "bench", environ))  # untimed: drop wordCount to backfill it again
            started = time.perf_counter()
            result = migrate.up(connect(root, "bench", environ))
            migration_s.append(time.perf_counter() - started)
            (outcome,) = result.outcomes
            assert outcome.rows == written, (outcome.rows, written)
            bare_s.append(bare_loop(db, "wordCountBare")[2])
        print(f"rows scanned {seen:,}, rows written {written:,} (rows without text are left alone)")
        print("bare loop of bulk updates   " + "  ".join(f"{seen / t:8,.0f}" for t in bare_s) + "  rows/s")
        print("migrate up (0002 backfill)  " + "  ".join(f"{seen / t:8,.0f}" for t in migration_s) + "  rows/s")
        bare_rate, migration_rate = seen / statistics.median(bare_s), seen / statistics.median(migration_s)
        print(f"median: bare {bare_rate:,.0f} rows/s, migration {migration_rate:,.0f} rows/s")
        print(f"ratio migration/bare        {migration_rate / bare_rate:7.2f}  (1.00 = no runner overhead)")
        share = watch.seconds / sum(migration_s)
        print(f"history writes (cursors)    {watch.calls} in {watch.seconds:.2f} s = {share:.1%} of migration time")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
