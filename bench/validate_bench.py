"""Benchmark of `quixotic validate` on this project beside the bare SDK reads it needs, in the same run.

    .venv/bin/python bench/validate_bench.py [--root .] [--rounds 5]

Starts a local server with a temporary data dir and deploys the project (appwrite.json, templates/,
environments/local.json, functions/) into it. Then, alternating round by round so both see the same machine:

- validate: ``quixotic.commands.validate.validate`` (reach, scopes, the plan, builds, smoke executions,
  migrations, backups), its run not recorded;
- bare: the same reads and executions as plain SDK calls with no judgement: list databases, their tables,
  buckets, functions with their variables, project variables, each active deployment and its source,
  the 14 scope probes, the system database's migration rows, one smoke execution per function.

Aim (issue 14): validate within 1.5x of the bare reads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from figures import figures
from project_copy import copy_project
from rich.console import Console

from quixotic.commands import deploy as cmd
from quixotic.commands.validate import validate
from quixotic.server import admin
from quixotic.target import connect

console = Console()
NOPE = "does-not-exist"


def bare_reads(url: str, project: str, key: str) -> None:
    """What validate reads and runs, as plain SDK calls."""
    client = Client().set_endpoint(url).set_project(project).set_key(key)
    db, storage, functions, users = TablesDB(client), Storage(client), Functions(client), Users(client)
    one = [Query.limit(100)]
    for database in db.list(one)["databases"]:
        db.list_tables(database["$id"], one)
    storage.list_buckets(one)
    for function in functions.list(one)["functions"]:
        functions.list_variables(function["$id"])
        if function.get("deploymentId"):
            functions.get_deployment(function["$id"], function["deploymentId"])
            functions.get_deployment_download(function["$id"], function["deploymentId"])
        functions.create_execution(function["$id"], "", False, "/health", "GET")
    client.call("get", "/project/variables", {"content-type": "application/json"}, {})
    probes = [
        lambda: db.list([Query.limit(1)]), lambda: db.list_tables(NOPE), lambda: db.list_rows(NOPE, NOPE),
        lambda: storage.list_buckets(), lambda: storage.list_files(NOPE), lambda: users.list(),
        lambda: functions.list(), lambda: db.update(NOPE, "x"), lambda: db.update_table(NOPE, NOPE, "x"),
        lambda: db.update_row(NOPE, NOPE, NOPE, {}), lambda: storage.update_bucket(NOPE, "x"),
        lambda: storage.update_file(NOPE, NOPE, "x"), lambda: users.update_name(NOPE, "x"),
        lambda: functions.update(NOPE, "x"),
    ]  # fmt: skip
    for probe in probes:
        try:
            probe()
        except AppwriteException:
            pass
    db.get("quixotic")
    db.list_rows("quixotic", "migrations", [Query.limit(100)])
    db.list_rows("quixotic", "secrets", [Query.limit(100)])


def timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = copy_project(args.root, base / "project")
        proc, url = admin.spawn_server(base / "data")
        try:
            creds = admin.create_project(base / "data", "quixotictools-local")
            environ = {**os.environ, "QUIXOTIC_LOCAL_ENDPOINT": url, "QUIXOTIC_LOCAL_API_KEY": creds.api_key}
            console.print("deploying the project (builds the functions) ...", style="dim")
            cmd.deploy(connect(root, "local", environ), yes=True)
            target = connect(root, "local", environ)
            validate(target, keep=False)  # warm: workers started, caches filled, for both sides
            bare_reads(url, creds.project_id, creds.api_key)
            ours, bare = [], []
            for _ in range(args.rounds):
                ours.append(timed(lambda: validate(target, keep=False)))
                bare.append(timed(lambda: bare_reads(url, creds.project_id, creds.api_key)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    table = figures(f"validate of this project on the local server ({args.rounds} rounds, median)", "what", "seconds")
    table.add_row("bare SDK reads and executions (baseline)", f"{statistics.median(bare):.3f}")
    table.add_row("quixotic validate", f"{statistics.median(ours):.3f}")
    table.add_row("validate / bare (aim: <= 1.5x)", f"{statistics.median(ours) / statistics.median(bare):.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
