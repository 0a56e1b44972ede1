"""Soak of the local server: mixed SDK traffic from several clients while the server is killed with -9 again and again.

    .venv/bin/python bench/soak.py [--minutes 30] [--clients 8] [--kill-every 120] [--data DIR] [--seed 1]

Starts a real server on 127.0.0.1, creates a project and a key, a table, a bucket, then runs CLIENTS
processes (``bench/soak_client.py``, the official SDK) for MINUTES: row creates, updates, deletes, bulk
creates, upserts and deletes, transactions, small and chunked uploads, file deletes, user creates and renames,
gets and lists. Each client journals every write before sending it and again when it is acknowledged.

Every KILL_EVERY seconds (±20 %) the server gets SIGKILL mid-traffic and is restarted on the same data and port;
the clients retry what was cut off (a connection error acknowledges nothing). After each restart, with the
clients parked: ``PRAGMA integrity_check`` on a read-only connection to the SQLite file, then every
acknowledged write so far is looked up through the API (rows, users and file metadata all of them; file bytes
hashed for every file not verified before, plus a sample): present with its content, deletes absent, nothing
present that no client wrote. After the clients stop, one last kill and the same check.

Prints a progress line, then a table. Exit status 1 on any lost or wrong write, a failed integrity check,
a server 5xx (its body is printed), an unexpected 4xx, or a traceback in the server's log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from rich.console import Console
from rich.live import Live
from rich.text import Text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import figures
from soak_client import BUCKET, COUNTERS, DB, KINDS, ROW_FIELDS, TABLE, Shared, client_main
from table_project import ColumnSpec, table_project

from quixotic.server import admin

console = Console()
PROJECT = "soak"
FILE_SAMPLE = 40  # already-verified files whose bytes are hashed again at each check


@dataclass
class Journal:
    """What one client's journal says so far: the state every acknowledged write implies, and the open op."""

    path: Path
    offset: int = 0
    confirmed: dict[tuple[str, str], Any] = field(default_factory=dict)
    forgotten: set[tuple[str, str]] = field(default_factory=set)
    intents: dict[int, list[list[Any]]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def read(self) -> None:
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            entry = json.loads(line)
            t = entry["t"]
            if t == "intent":
                self.intents[entry["op"]] = entry["ch"]
            elif t == "ack":
                for kind, rid, content in self.intents.pop(entry["op"]):
                    self.confirmed[(kind, rid)] = content
            elif t == "fail":
                for kind, rid, _ in self.intents.pop(entry["op"]):
                    self.forgotten.add((kind, rid))
                    self.confirmed.pop((kind, rid), None)
            else:
                self.findings.append(entry)

    def acceptable(self) -> dict[tuple[str, str], list[Any]]:
        """Per id, the states the server may hold: the acknowledged one, or an open op's (cut off mid-flight)."""
        out: dict[tuple[str, str], list[Any]] = {k: [v] for k, v in self.confirmed.items()}
        for changes in self.intents.values():
            for kind, rid, content in changes:
                out.setdefault((kind, rid), [None]).append(content)
        for key in self.forgotten:
            out.pop(key, None)
        return out


@dataclass
class Check:
    seconds: float
    integrity: str
    checked: int
    missing: list[str]
    wrong: list[str]
    unexpected: list[str]
    in_flight: int  # writes cut off by the kill: either state is right for their ids


class Server:
    """The server process: spawned on a fixed port, killed with SIGKILL, spawned again on the same data."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data, self.log, self.port = data, log, admin.free_port()
        self.proc, self.url = self.spawn()

    def spawn(self) -> tuple[Any, str]:
        return admin.spawn_server(self.data, port=self.port, log_file=self.log, storage_limit=30_000_000, wait=120)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def restart(self) -> float:
        started = time.perf_counter()
        self.proc, _ = self.spawn()
        return time.perf_counter() - started


ITEMS: tuple[ColumnSpec, ...] = (
    ("varchar", "title", {"size": 200, "required": True}),
    ("integer", "n", {"required": False}),
    ("float", "score", {"required": False}),
    ("boolean", "flag", {"required": False}),
    ("varchar", "tags", {"size": 20, "required": False, "array": True}),
    ("integer", "client", {"required": True}),
)


def setup(url: str, data: Path) -> tuple[str, Client]:
    creds, client = table_project(url, data, PROJECT, (DB, "Soak"), (TABLE, "Items"), ITEMS)
    Storage(client).create_bucket(BUCKET, "Blobs", maximum_file_size=30_000_000)
    return creds.api_key, client


def integrity(db_file: Path) -> str:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "ok" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:20])


def every(fn: Any, key: str, page: int = 1000) -> list[dict[str, Any]]:
    """Every item of a list route, by cursor."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        queries = [Query.limit(page)] + ([Query.cursor_after(cursor)] if cursor else [])
        items = fn(queries)[key]
        out += items
        if len(items) < page:
            return out
        cursor = items[-1]["$id"]


class Checker:
    def __init__(self, client: Client, db_file: Path, journals: list[Journal], rng: random.Random) -> None:
        self.db, self.storage, self.users = TablesDB(client), Storage(client), Users(client)
        self.db_file, self.journals, self.rng = db_file, journals, rng
        self.hashed: set[str] = set()

    def actual(self) -> dict[tuple[str, str], Any]:
        state: dict[tuple[str, str], Any] = {}
        for row in every(lambda q: self.db.list_rows(DB, TABLE, q), "rows"):
            state[("row", row["$id"])] = {k: row.get(k) for k in ROW_FIELDS}
        for user in every(self.users.list, "users"):
            state[("user", user["$id"])] = {"name": user.get("name"), "email": user.get("email")}
        for meta in every(lambda q: self.storage.list_files(BUCKET, q), "files"):
            state[("file", meta["$id"])] = {"name": meta["name"], "size": meta["sizeOriginal"], "sha256": None}
        return state

    def file_sha(self, fid: str) -> str:
        return hashlib.sha256(self.storage.get_file_download(BUCKET, fid)).hexdigest()

    def sabotage(self) -> list[str]:
        """Behind the clients' backs: delete an acknowledged row and file, rename a user (``--sabotage``)."""
        done = []
        for kind in ("row", "file", "user"):
            keys = [k for j in self.journals for k, v in j.acceptable().items() if k[0] == kind and v[0] is not None]
            if not keys:
                continue
            (_, rid) = self.rng.choice(keys)
            if kind == "row":
                self.db.delete_row(DB, TABLE, rid)
            elif kind == "file":
                self.storage.delete_file(BUCKET, rid)
            else:
                self.users.update_name(rid, "sabotaged")
            done.append(f"{kind} {rid}")
        return done

    def run(self, sabotage: bool = False) -> Check:
        started = time.perf_counter()
        verdict = integrity(self.db_file)
        for journal in self.journals:
            journal.read()
        if sabotage:
            console.print(f"sabotage (the check must report these): {', '.join(self.sabotage())}")
        want: dict[tuple[str, str], list[Any]] = {}
        for journal in self.journals:
            want.update(journal.acceptable())
        have = self.actual()
        forgotten = set().union(*(j.forgotten for j in self.journals))
        missing, wrong = [], []
        files = [k[1] for k, v in have.items() if k[0] == "file" and k in want]
        old = [f for f in files if f in self.hashed]
        for fid in [f for f in files if f not in self.hashed] + self.rng.sample(old, min(FILE_SAMPLE, len(old))):
            have[("file", fid)]["sha256"] = self.file_sha(fid)
        for key, states in want.items():
            got = have.get(key)
            if key[0] == "file" and got is not None and got["sha256"] is None:
                ok = any(s is not None and {**s, "sha256": None} == got for s in states)
            else:
                ok = got in states
            if ok:
                if key[0] == "file" and got is not None:
                    self.hashed.add(key[1])
                continue
            line = f"{key[0]} {key[1]}: have {json.dumps(got, ensure_ascii=False)}, want one of {json.dumps(states)}"
            (missing if got is None else wrong).append(line)
        unexpected = [f"{k[0]} {k[1]}" for k in have if k not in want and k not in forgotten]
        in_flight = sum(len(j.intents) for j in self.journals)
        return Check(time.perf_counter() - started, verdict, len(want), missing, wrong, unexpected, in_flight)


def server_tracebacks(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [chunk[:1500] for chunk in text.split("Traceback (most recent call last):")[1:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=120.0, help="seconds of traffic between kills")
    parser.add_argument("--data", type=Path, help="data folder of the server (must not exist or be empty); kept")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the server log and journals after a clean run")
    parser.add_argument(
        "--sabotage",
        action="store_true",
        help="self-test: at the first check, delete a row and a file and rename a user behind the "
        "clients' backs; the soak must then report them and exit 1",
    )
    args = parser.parse_args()
    if args.minutes <= 0 or args.clients < 1 or args.kill_every <= 0:
        parser.error("--minutes and --kill-every must be positive and --clients at least 1")
    if args.data is not None and args.data.exists() and any(args.data.iterdir()):
        parser.error(f"--data {args.data} is not empty: give a new folder (the soak owns its server's data)")
    work = Path(tempfile.mkdtemp(prefix="quixotic-soak-"))
    data = args.data if args.data is not None else work / "data"
    log = work / "server.log"
    rng = random.Random(args.seed)
    server = Server(data, log)
    ctx = mp.get_context("fork")
    procs: list[Any] = []
    status_code = 1
    try:
        key, admin_client = setup(server.url, data)
        gate = ctx.Event()
        gate.set()
        shares = [Shared(gate, ctx.Value("b", 0), ctx.Array("q", len(COUNTERS))) for _ in range(args.clients)]
        journals = [Journal(work / f"client-{n}.ndjson") for n in range(args.clients)]
        for j in journals:
            j.path.touch()
        started = time.time()
        deadline = started + args.minutes * 60
        for n in range(args.clients):
            target_args = (n, server.url, PROJECT, key, str(journals[n].path), deadline, shares[n], args.seed)
            procs.append(ctx.Process(target=client_main, args=target_args, daemon=True))
            procs[-1].start()
        checker = Checker(admin_client, data / "quixotic.db", journals, rng)
        restarts: list[float] = []
        checks: list[Check] = []
        checker_errors: list[str] = []

        def totals() -> Counter[str]:
            out: Counter[str] = Counter()
            for s in shares:
                for i, name in enumerate(COUNTERS):
                    out[name] += s.counters[i]
            return out

        def status() -> Text:
            t = totals()
            acks = sum(t[k] for k in KINDS)
            elapsed = time.time() - started
            bad = sum(len(c.missing) + len(c.wrong) + len(c.unexpected) for c in checks)
            ok = sum(c.integrity == "ok" for c in checks)
            return Text(
                f"{elapsed / 60:5.1f}/{args.minutes:g} min  requests {t['requests']:,}"
                f" ({t['requests'] / elapsed:,.0f}/s)"
                f"  acked writes {acks:,}  kills {len(restarts)}"
                f"  last restart {restarts[-1] if restarts else 0:.2f}s  integrity ok {ok}/{len(checks)}"
                f"  lost/wrong {bad}  5xx {t['5xx']}  4xx {t['4xx']}  conn-errors {t['connection errors']}"
            )

        def kill_and_check() -> None:
            server.kill()
            gate.clear()
            restarts.append(server.restart())
            waited = time.time()
            while any(p.is_alive() and not s.parked.value for p, s in zip(procs, shares, strict=True)):
                if time.time() - waited > 300:
                    checker_errors.append("a client did not park within 300 s of a restart; checked anyway")
                    break
                time.sleep(0.02)
            try:
                checks.append(checker.run(sabotage=args.sabotage and not checks))
            except AppwriteException as exc:
                checker_errors.append(f"{exc.code} {exc.response or exc.message}")
            gate.set()

        with Live(status(), console=console, refresh_per_second=2) as live:
            next_kill = time.time() + args.kill_every * rng.uniform(0.8, 1.2)
            while any(p.is_alive() for p in procs):
                time.sleep(0.25)
                live.update(status())
                if time.time() >= next_kill and time.time() < deadline:
                    kill_and_check()  # the clients' deadline is wall clock: time parked is traffic time lost
                    next_kill = time.time() + args.kill_every * rng.uniform(0.8, 1.2)
            kill_and_check()  # the last writes survive a kill too
            live.update(status())
        status_code = report(args, totals(), restarts, checks, checker_errors, journals, log, time.time() - started)
        return status_code
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        if server.proc.poll() is None:
            server.proc.terminate()
            server.proc.wait(timeout=10)
        if status_code == 0 and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            console.print(f"server log, journals: {work}" + (f"; data: {data}" if args.data else ""))


def report(
    args: argparse.Namespace,
    t: Counter[str],
    restarts: list[float],
    checks: list[Check],
    checker_errors: list[str],
    journals: list[Journal],
    log: Path,
    elapsed: float,
) -> int:
    findings = [f for j in journals for f in j.findings]
    five = [f for f in findings if (f["status"] or 0) >= 500]
    four = [f for f in findings if f["status"] is not None and 400 <= f["status"] < 500]
    missing = list(dict.fromkeys(m for c in checks for m in c.missing))
    wrong = list(dict.fromkeys(w for c in checks for w in c.wrong))
    unexpected = list(dict.fromkeys(u for c in checks for u in c.unexpected))
    bad_integrity = [c.integrity for c in checks if c.integrity != "ok"]
    tracebacks = server_tracebacks(log)
    title = f"soak: {args.clients} clients, {elapsed / 60:.1f} min, kill -9 every ~{args.kill_every:g} s"
    table = figures(f"{title} ({os.cpu_count()} CPUs)", "figure", "value")
    table.add_row("requests (incl. retries)", f"{t['requests']:,} ({t['requests'] / elapsed:,.1f}/s)")
    for kind in KINDS:
        table.add_row(f"  acknowledged: {kind}", f"{t[kind]:,}")
    table.add_row("acknowledged writes", f"{sum(t[k] for k in KINDS):,}")
    table.add_row("retries acknowledged by 'exists'/'not found'/committed", f"{t['retried acks']:,}")
    table.add_row("connection errors (retried)", f"{t['connection errors']:,}")
    table.add_row("kills (-9)", str(len(restarts)))
    table.add_row("writes in flight at a kill (summed)", str(sum(c.in_flight for c in checks)))
    if restarts:
        table.add_row(
            "restart s (min / median / max)",
            f"{min(restarts):.2f} / {statistics.median(restarts):.2f} / {max(restarts):.2f}",
        )
    table.add_row("integrity_check ok", f"{len(checks) - len(bad_integrity)}/{len(checks)}")
    if checks:
        table.add_row("ids checked at the last check", f"{checks[-1].checked:,}")
        table.add_row(
            "check s (median / max)",
            f"{statistics.median(c.seconds for c in checks):.2f} / {max(c.seconds for c in checks):.2f}",
        )
    table.add_row("missing writes", str(len(missing)))
    table.add_row("wrong content", str(len(wrong)))
    table.add_row("present but never written", str(len(unexpected)))
    table.add_row("wrong reads (by clients)", str(t["wrong reads"]))
    table.add_row("server 5xx", str(len(five)))
    table.add_row("unexpected 4xx", str(len(four)))
    table.add_row("tracebacks in the server log", str(len(tracebacks)))
    console.print(table)
    problems = [
        *(f"5xx {f['what']}: {f['body']}" for f in five),
        *(f"{f['status']} {f['what']}: {f['body']}" for f in four),
        *(f"missing {m}" for m in missing),
        *(f"wrong {w}" for w in wrong),
        *(f"never written {u}" for u in unexpected),
        *(f"integrity: {b}" for b in bad_integrity),
        *(f"checker: {e}" for e in checker_errors),
        *(f"server traceback: {tb}" for tb in tracebacks),
        *(f"{f['what']}: {f['body']}" for f in findings if f["status"] in (None, 200)),
    ]
    problems = list(dict.fromkeys(problems))  # a loss stays lost: each check after it reports it again
    for line in problems[:60]:
        console.print(Text("finding ", style="red") + Text(line), highlight=False)
    if len(problems) > 60:
        console.print(f"... and {len(problems) - 60} more")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
