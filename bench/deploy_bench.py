"""Benchmark of deploy, no-op re-deploy and rollback of this project on the local server.

    .venv/bin/python bench/deploy_bench.py [--root .]

Starts a local server with a temporary data dir, deploys the project (appwrite.json, templates/,
environments/local.json, functions/) into an empty project, re-deploys with nothing changed, changes
one function and rolls back. Beside them, in the same run, a naive deploy into another empty
project: every resource created one after the other with plain SDK calls (what a hand-written
script does), waiting for each column, and every function uploaded and built.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from project_copy import copy_project
from rich.console import Console
from rich.table import Table

from quixotic.commands import deploy as cmd
from quixotic.config import load_environment
from quixotic.deploy.packaging import package_folder
from quixotic.sdk.backend import AppwriteBackend
from quixotic.server import admin
from quixotic.target import connect

console = Console()


def naive_deploy(root: Path, url: str, project: str, key: str) -> None:
    """What a plain script does: create everything in sequence with the SDK, no plan, no parallelism."""
    env = load_environment(root, "local", environ={**os.environ, "QUIXOTIC_LOCAL_API_KEY": key})
    client = Client().set_endpoint(url).set_project(project).set_key(key)
    db, storage, functions = TablesDB(client), Storage(client), Functions(client)
    backend = AppwriteBackend(url, project, key)
    spec = env.project
    for d in spec.databases:
        db.create(d.id, d.name, d.enabled)
    for t in spec.tables:
        db.create_table(t.database_id, t.id, t.name, list(t.permissions), t.row_security, t.enabled)
        for c in t.columns:
            backend.create_column(t.database_id, t.id, c)
            backend.wait_column(t.database_id, t.id, c.key)
        for i in t.indexes:
            backend.create_index(t.database_id, t.id, i)
            backend.wait_index(t.database_id, t.id, i.key)
    for b in spec.buckets:
        storage.create_bucket(b.id, b.name, list(b.permissions), b.file_security, b.enabled, b.maximum_file_size,
                              list(b.allowed_file_extensions), b.compression, b.encryption, b.antivirus)  # fmt: skip
    for f in spec.functions:
        functions.create(f.id, **backend.function_settings(f))
        for key_name, (value, secret) in env.function_variables(f.id).items():
            functions.create_variable(f.id, key_name, value, secret)
        data = package_folder(root / f.path).data
        functions.create_deployment(f.id, InputFile.from_bytes(data, "code.tar.gz"), True)
        while functions.get(f.id)["latestDeploymentStatus"] not in ("ready", "failed"):
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = copy_project(args.root, base / "project", ("appwrite.json", "templates", "environments", "functions"))
        proc, url = admin.spawn_server(base / "data")
        try:
            naive = admin.create_project(base / "data", "naive")
            t0 = time.perf_counter()
            naive_deploy(root, url, "naive", naive.api_key)
            naive_s = time.perf_counter() - t0
            creds = admin.create_project(base / "data", "quixotictools-local")
            environ = {**os.environ, "QUIXOTIC_LOCAL_ENDPOINT": url, "QUIXOTIC_LOCAL_API_KEY": creds.api_key}
            t0 = time.perf_counter()
            first = cmd.deploy(connect(root, "local", environ), yes=True)
            deploy_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            noop = cmd.deploy(connect(root, "local", environ), yes=True)
            noop_s = time.perf_counter() - t0
            main_py = root / "functions" / "cleanup" / "src" / "main.py"
            main_py.write_text(main_py.read_text() + "\n# bench change\n")
            cmd.deploy(connect(root, "local", environ), yes=True)
            t0 = time.perf_counter()
            cmd.rollback(connect(root, "local", environ), yes=True)
            rollback_s = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    table = Table(title="deploy of this project on the local server")
    table.add_column("operation")
    table.add_column("seconds", justify="right")
    table.add_row("naive sequential SDK deploy (baseline)", f"{naive_s:.2f}")
    table.add_row(f"quixotic deploy into an empty project ({first.applied} changes)", f"{deploy_s:.2f}")
    table.add_row(f"no-op re-deploy ({noop.applied} changes)", f"{noop_s:.2f}")
    table.add_row("rollback of one function change", f"{rollback_s:.2f}")
    table.add_row("deploy / naive", f"{deploy_s / naive_s:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
