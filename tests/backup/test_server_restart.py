"""A restore whose server crashes and comes back mid-way carries on by itself (its writes are idempotent)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import requests
from appwrite.query import Query
from backup_site import add_env, make_site, seed
from support.server import LocalServer, free_port
from support.site import popen

from quixotic.backup.restore import RestoreReport
from quixotic.commands import backup as cmd


def launch(port: int, data: Path, log: Path) -> subprocess.Popen[bytes]:
    proc = popen("server", "--host", "127.0.0.1", "--port", str(port), "--data", str(data),
                 env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                 start_new_session=False)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health/version", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"server did not start:\n{log.read_text()}")


def test_a_restore_rides_through_a_server_crash_and_restart(tmp_path: Path) -> None:
    port, data, log = free_port(), tmp_path / "data", tmp_path / "server.log"
    proc = launch(port, data, log)
    try:
        site = make_site(tmp_path / "site", LocalServer(f"http://127.0.0.1:{port}/v1", data, proc, log))
        add_env(site, "src")
        add_env(site, "dst")
        seed(site.target("src"), notes=12_000, credits=10, events=10)
        archive = cmd.backup(site.target("src"), tmp_path / "src.zip")
        target = site.target("dst")
        results: list[RestoreReport | BaseException] = []

        def restore() -> None:
            try:
                results.append(cmd.restore(archive, site.target("dst")))
            except BaseException as exc:
                results.append(exc)

        worker = threading.Thread(target=restore)
        worker.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if target.backend.db.list_rows("app", "notes", [Query.limit(1)])["total"]:
                    break
            except Exception:
                pass
            time.sleep(0.01)
        proc.kill()  # a crash, not a clean stop
        proc.wait()
        time.sleep(0.5)
        proc = launch(port, data, log)
        worker.join(180)
        assert results and isinstance(results[0], RestoreReport), results
        assert results[0].rows == 12_020
        assert cmd.diff_data(site.target("src"), site.target("dst")).same
    finally:
        proc.kill()
        proc.wait()
