"""Benchmark of a first deploy of this project against a naive sequential SDK push, in the same run; then a
no-op re-deploy and a rollback.

    .venv/bin/python bench/deploy_bench.py [--root .] [--no-prime] [--check]

Each side gets its own local server on a fresh data folder, so neither reuses what the other built
(the server shares dependency layers between the projects of one data folder: on one server, the
second deploy would find the first one's layers and build nothing). Both start with the same warm
installer caches: a priming deploy on a third server runs first, untimed, and its uv cache (the
data folder's ``.uv-cache``) is copied, as hard links, into the other two data folders; pip's cache
is the user's, shared anyway. ``--no-prime`` skips that (both sides then download for themselves).

- naive: what a hand-written script does with the plain SDK (a new connection per call): every
  database, table, column (each waited for), index, bucket, function and variable created one after
  the other, then each function's code uploaded and its build waited for before the next one;
- quixotic: ``deploy`` (plan under the lock, release recorded, code uploaded side by side, builds
  waited for together) into an empty project, the project's appwrite.json, templates/,
  environments/local.json and functions/.

The ratio deploy / naive is printed against issue 16's target (at most 0.5x); ``--check`` exits 1
when it is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from figures import figures
from project_copy import copy_project
from rich.console import Console

from quixotic.commands import deploy as cmd
from quixotic.config import load_environment
from quixotic.deploy.packaging import package_folder
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import Service
from quixotic.server import admin
from quixotic.target import connect

TARGET = 0.5  # issue 16: a first deploy at most half of a naive sequential push
UV_CACHE = ".uv-cache"  # where the server keeps uv's cache in its data folder (server.compute.engine)
PROJECT_PARTS = ("appwrite.json", "templates", "environments", "functions")
console = Console()


def naive_deploy(root: Path, url: str, project: str, key: str) -> None:
    """What a plain script does: create everything in sequence with the SDK, no plan, no parallelism."""
    env = load_environment(root, "local", environ={**os.environ, "QUIXOTIC_LOCAL_API_KEY": key})
    client = Client().set_endpoint(url).set_project(project).set_key(key)  # the plain SDK client
    db, storage, functions = TablesDB(client), Storage(client), Functions(client)
    backend = AppwriteBackend(url, project, key)
    backend.db = Service(db, "tablesDB")  # its column helpers, over the plain client too
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


@contextmanager
def server(data: Path) -> Iterator[str]:
    proc, url = admin.spawn_server(data)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def quixotic_environ(url: str, key: str) -> dict[str, str]:
    return {**os.environ, "QUIXOTIC_LOCAL_ENDPOINT": url, "QUIXOTIC_LOCAL_API_KEY": key}


def prime(base: Path, root: Path, data_dirs: list[Path]) -> float:
    """Deploy once on a throwaway server (untimed for the ratio), then give its uv cache to ``data_dirs``."""
    data = base / "prime"
    started = time.perf_counter()
    with server(data) as url:
        creds = admin.create_project(data, "quixotictools-local")
        cmd.deploy(connect(root, "local", quixotic_environ(url, creds.api_key)), yes=True)
    seconds = time.perf_counter() - started
    cache = data / UV_CACHE
    for target in data_dirs:
        target.mkdir(parents=True, exist_ok=True)
        if cache.is_dir():
            subprocess.run(["cp", "-al", str(cache), str(target / UV_CACHE)], check=True)
    shutil.rmtree(data, ignore_errors=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--no-prime", action="store_true", help="Both sides start with cold installer caches.")
    parser.add_argument("--check", action="store_true", help=f"Exit 1 when deploy / naive is above {TARGET}x.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = copy_project(args.root, base / "project", PROJECT_PARTS)
        naive_data, ours_data = base / "naive", base / "quixotic"
        prime_s = None if args.no_prime else prime(base, root, [naive_data, ours_data])

        with server(naive_data) as url:
            naive = admin.create_project(naive_data, "naive")
            t0 = time.perf_counter()
            naive_deploy(root, url, "naive", naive.api_key)
            naive_s = time.perf_counter() - t0

        with server(ours_data) as url:
            creds = admin.create_project(ours_data, "quixotictools-local")
            environ = quixotic_environ(url, creds.api_key)
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

    ratio = deploy_s / naive_s
    title = f"first deploy of this project, each on its own local server ({os.cpu_count()} CPUs)"
    table = figures(title, "operation", "seconds")
    if prime_s is not None:
        table.add_row("priming deploy on a third server (warms the installer caches; not compared)", f"{prime_s:.2f}")
    table.add_row("naive sequential SDK push (baseline)", f"{naive_s:.2f}")
    table.add_row(f"quixotic deploy into an empty project ({first.applied} changes)", f"{deploy_s:.2f}")
    table.add_row(f"no-op re-deploy ({noop.applied} changes)", f"{noop_s:.2f}")
    table.add_row("rollback of one function change", f"{rollback_s:.2f}")
    table.add_row(f"deploy / naive (target <= {TARGET}x)", f"{ratio:.2f}x {'met' if ratio <= TARGET else 'MISSED'}")
    console.print(table)
    return 1 if args.check and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
