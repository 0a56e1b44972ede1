"""Per-service API coverage of the local server: operations in the spec, implemented, exercised by tests.

Run with the dev environment's python:

    python tools/coverage.py --run-tests tests/server   # run those tests, recording, then print the table
    python tools/coverage.py --ops FILE [FILE ...]       # a table from recordings of earlier runs
    python tools/coverage.py --ops FILE --readme README.md   # also rewrite the README's table

"In the spec" counts the operations of the newest route table the server knows: Appwrite's 1.8.1 server
spec and the newer routes of ``tools/routes_added.json``; then, as rows named ``<service> (console spec)``, the
console spec's routes the server matches after those (``server/console/routes.py``), whose ``projects``
group answers a key ``general_access_forbidden`` as Appwrite 1.8 does.
"Implemented" counts those with a handler. "Exercised" counts implemented operations that the servers
started during a test run were asked for: a server started with ``QUIXOTIC_RECORD_OPS=FILE`` notes each
operation it matches in FILE (``RouteTable.recording``), and child servers inherit the variable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from quixotic.server.console.routes import console_table
from quixotic.server.registry import load_all
from quixotic.server.spec import Operation, route_table

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"
CONSOLE = " (console spec)"


@dataclass(frozen=True)
class Row:
    service: str
    in_spec: int
    implemented: int
    exercised: int


def coverage(served: set[str]) -> list[Row]:
    """One row per service (the spec's tag), by Appwrite operation ID; a route served as another counts once.

    Console operations get rows of their own (``tag (console spec)``), counting only IDs the server spec lacks,
    as the server matches them only where the server spec has no route.
    """
    handlers = load_all()
    ops: dict[str, dict[str, bool]] = {}  # service -> Appwrite op id -> implemented
    server_ops = route_table().operations
    known = {op.appwrite_id for op in server_ops}
    console_ops: list[Operation] = [op for op in console_table().operations if op.appwrite_id not in known]
    for op, service in [*((op, op.tag) for op in server_ops), *((op, f"{op.tag}{CONSOLE}") for op in console_ops)]:
        ops.setdefault(service, {})[op.appwrite_id] = op.id in handlers
    rows = []
    for service in sorted(ops, key=str.lower):
        done = {op_id for op_id, has in ops[service].items() if has}
        rows.append(Row(service, len(ops[service]), len(done), len(done & served)))
    return rows


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def table(rows: Iterable[Row]) -> str:
    """A markdown table: server spec services with something implemented first, console ones after, a total."""
    rows = list(rows)
    ordered = sorted(rows, key=lambda r: (r.service.endswith(CONSOLE), r.implemented == 0, r.service.lower()))
    lines = [
        "| service | in the spec | implemented | exercised by tests |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in ordered:
        lines.append(
            f"| {r.service} | {r.in_spec} | {r.implemented} ({_pct(r.implemented, r.in_spec)}) "
            f"| {r.exercised} ({_pct(r.exercised, r.implemented)}) |"
        )
    total = Row("**total**", *(sum(getattr(r, f) for r in rows) for f in ("in_spec", "implemented", "exercised")))
    lines.append(
        f"| {total.service} | {total.in_spec} | {total.implemented} ({_pct(total.implemented, total.in_spec)}) "
        f"| {total.exercised} ({_pct(total.exercised, total.implemented)}) |"
    )
    return "\n".join(lines)


def read_ops(paths: Iterable[Path]) -> set[str]:
    served: set[str] = set()
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"{path}: no such recording (write one with --run-tests or QUIXOTIC_RECORD_OPS)")
        served |= {line.strip() for line in path.read_text().splitlines() if line.strip()}
    return served


def run_tests(pytest_args: list[str], record: Path) -> int:
    """Run pytest with recording on; returns its exit code (the table is printed whatever it is)."""
    env = {**os.environ, "QUIXOTIC_RECORD_OPS": str(record)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(pytest_args or ["tests"])]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def update_readme(readme: Path, text: str, how: str) -> None:
    """Replace what stands between the README's coverage markers."""
    body = readme.read_text()
    if START not in body or END not in body:
        raise SystemExit(f"{readme}: no {START} ... {END} markers to put the table between")
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{text}\n\n{how}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", nargs="+", type=Path, default=[], help="recordings of operation IDs served")
    parser.add_argument("--run-tests", nargs=argparse.REMAINDER, help="run pytest with these arguments, recording")
    parser.add_argument("--readme", type=Path, help="rewrite the table between the coverage markers of this file")
    args = parser.parse_args()
    code = 0
    paths = list(args.ops)
    how = "Exercised: from recordings " + ", ".join(p.name for p in paths) + "."
    with tempfile.TemporaryDirectory() as tmp:
        if args.run_tests is not None:
            record = Path(tmp) / "ops.txt"
            record.touch()
            code = run_tests(args.run_tests, record)
            paths.append(record)
            ran = " ".join(args.run_tests or ["tests"])
            how = f"Exercised: measured by `python tools/coverage.py --run-tests {ran}`."
        served = read_ops(paths)
    text = table(coverage(served))
    print(text)
    if args.readme is not None:
        update_readme(args.readme, text, how)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
