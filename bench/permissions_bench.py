"""Benchmark: a permission-checked list of 25 rows (a signed-in user, row security on) beside the same list
with an API key, on one real server in the same run (#13's target: the checked list within 1.3x).

    .venv/bin/python bench/permissions_bench.py [--rows 2000] [--duration 5] [--rounds 3] [--check]

The table holds ``--rows`` rows, a tenth of them readable by the user (the rest by others), so the checked
list filters in SQL as an app's table does. Load: keep-alive HTTP from bench/http_load.py (wrk when on PATH,
else its asyncio client), one connection, alternating key / session rounds; the ratio is the median of the
rounds' p50 ratios. Prints a rich table; ``--check`` exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import http_load as hl  # bench/ is no package: its scripts import each other from their folder
from rich.console import Console
from rich.table import Table

from quixotic.server import admin

TARGET = 1.3
PASSWORD = "correct horse battery"


def _call(url: str, method: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {**headers, "Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or b"null")


def fill(endpoint: str, project: str, key: str, rows: int) -> str:
    """The table, its rows, a user and the user's session secret."""
    keyed = {"X-Appwrite-Project": project, "X-Appwrite-Key": key}
    _call(f"{endpoint}/tablesdb", "POST", keyed, {"databaseId": "db", "name": "bench"})
    _call(f"{endpoint}/tablesdb/db/tables", "POST", keyed, {
        "tableId": "notes", "name": "notes", "rowSecurity": True, "permissions": ['create("users")'],
        "columns": [{"key": "n", "type": "integer", "required": False}],
    })  # fmt: skip
    _call(f"{endpoint}/users", "POST", keyed, {"userId": "alice", "email": "alice@example.com", "password": PASSWORD})
    for start in range(0, rows, 500):
        batch = [{"$id": f"r{i}", "n": i, "$permissions": ['read("user:alice")' if i % 10 == 0 else 'read("user:x")']}
                 for i in range(start, min(rows, start + 500))]  # fmt: skip
        _call(f"{endpoint}/tablesdb/db/tables/notes/rows", "POST", keyed, {"rows": batch})
    session = _call(f"{endpoint}/account/sessions/email", "POST", keyed,
                    {"email": "alice@example.com", "password": PASSWORD})  # fmt: skip
    return str(session["secret"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="quixotic-permbench-") as tmp:
        proc, endpoint = admin.spawn_server(Path(tmp) / "data", log_file=Path(tmp) / "server.log")
        try:
            creds = admin.create_project(Path(tmp) / "data", "bench")
            secret = fill(endpoint, "bench", creds.api_key, args.rows)
            url = f"{endpoint}/tablesdb/db/tables/notes/rows?queries[]=" + urllib.request.quote(
                '{"method":"limit","values":[25]}'
            )
            sides = {
                "key": {"X-Appwrite-Project": "bench", "X-Appwrite-Key": creds.api_key},
                "session": {"X-Appwrite-Project": "bench", "X-Appwrite-Session": secret},
            }
            results: dict[str, list[hl.LoadResult]] = {name: [] for name in sides}
            with console.status("measuring") as status:
                for round_no in range(args.rounds):
                    for name, headers in sides.items():
                        status.update(f"round {round_no + 1}/{args.rounds}: {name}")
                        results[name].append(hl.load(hl.Request("GET", url, headers), duration=args.duration,
                                                     warmup=0.5))  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    ratios = [s.p50_ms / k.p50_ms for k, s in zip(results["key"], results["session"], strict=True)]
    ratio = statistics.median(ratios)
    table = Table(title=f"list 25 of {args.rows} rows (a tenth readable by the user), {args.rounds} rounds")
    for column in ("caller", "req/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for name, runs in results.items():
        table.add_row(name, f"{statistics.median(r.rps for r in runs):,.0f}",
                      f"{statistics.median(r.p50_ms for r in runs):.2f}",
                      f"{statistics.median(r.p99_ms for r in runs):.2f}")  # fmt: skip
    console.print(table)
    verdict = "met" if ratio <= TARGET else "MISSED"
    console.print(f"session / key p50: {ratio:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)}); "
                  f"target <= {TARGET}x: {verdict}")  # fmt: skip
    if args.json is not None:
        out = {"ratio": ratio, "rounds": ratios, "sides": {n: [r.as_dict() for r in rs] for n, rs in results.items()}}
        args.json.write_text(json.dumps(out, indent=2))
    if args.check and ratio > TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
