"""The conformance suite's remote mode, run as a user would run it against their own Appwrite: a separate server
process started by hand (``quixotic server``), a project and key made with ``quixotic local project create``, and
``pytest -m conformance`` in a child process with the ``QUIXOTIC_CONFORMANCE_*`` variables pointing at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from appwrite.services.tables_db import TablesDB
from support import project_sweep
from support.server import ENDPOINT_VAR, KEY_VAR, PROJECT_VAR, WIPE_VAR, LocalServer, free_port, sdk_client
from support.spawn import stop

from quixotic.server import admin

ROOT = Path(__file__).resolve().parents[2]

# A few tests of each service, a module-scoped project fixture (people), tests marked local_only, and a test that
# leaves a database, a bucket, a user and a function for the clean-up to delete.
SUBSET = (
    "test_database_crud or test_row_crud_and_shape or test_filter_queries or test_key_without_the_scope "
    "or test_bucket_defaults_get_and_duplicate or test_small_upload_download_view_preview "
    "or test_delete_bucket_removes_files or test_create_get_delete or test_projects_are_isolated "
    "or test_function_crud_and_runtimes"
)
MODULES = ("test_tablesdb.py", "test_storage.py", "test_users.py", "test_functions.py")


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "quixotic.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A server started by hand on a port of its own, as if it were someone's Appwrite, and a project on it."""
    data, log_path, port = tmp_path / "data", tmp_path / "server.log", free_port()
    log = log_path.open("wb")
    command = [sys.executable, "-m", "quixotic.cli", "server", "--port", str(port), "--data", str(data)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    srv = LocalServer(f"http://127.0.0.1:{port}/v1", data, proc, log_path)
    try:
        _wait(srv.url, proc)
        created = json.loads(_cli("local", "project", "create", "conformance-check", "--data", str(data)))
        yield srv.url, created["projectId"], created["apiKey"]
    finally:
        stop(srv)
        log.close()


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not admin.server_alive(url):
        assert proc.poll() is None, "the server exited at start"
        assert time.monotonic() < deadline, "the server did not answer within 30 s"
        time.sleep(0.1)


def _run_suite(
    url: str, project_id: str, key: str, *extra: str, wipe: bool = False
) -> subprocess.CompletedProcess[str]:
    """``pytest -m conformance`` in a child process, pointed at ``url`` by the variables alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIXOTIC_CONFORMANCE_")}
    env |= {ENDPOINT_VAR: url, PROJECT_VAR: project_id, KEY_VAR: key} | ({WIPE_VAR: "1"} if wipe else {})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "conformance", "-rs", *extra]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, check=False)


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_the_suite_runs_against_an_endpoint_and_leaves_nothing_behind(endpoint: tuple[str, str, str]) -> None:
    url, project_id, key = endpoint
    done = _run_suite(url, project_id, key, "-k", SUBSET, *(f"tests/server/{name}" for name in MODULES))
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    summary = report.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 30, summary  # 38 when written: the parametrised tests count once per case
    # Each local-only test is skipped, with its reason; nothing of the local server was reached.
    for reason in ("local only: makes API keys or projects", "local only: reads the local server's SQLite"):
        assert reason in report, report[-4000:]
    assert key not in report  # the key never shows in the report
    assert project_sweep.holdings(url, project_id, key) == {}
    assert TablesDB(sdk_client(url, project_id, key)).list()["total"] == 0


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_a_project_that_is_not_empty_is_refused_unless_wiped(endpoint: tuple[str, str, str]) -> None:
    url, project_id, key = endpoint
    TablesDB(sdk_client(url, project_id, key)).create("theirs", "Someone's")
    refused = _run_suite(url, project_id, key, "-k", "test_database_crud", "tests/server/test_tablesdb.py")
    assert refused.returncode == 4 and "is not empty: 1 database(s) (theirs)" in refused.stdout + refused.stderr
    assert TablesDB(sdk_client(url, project_id, key)).get("theirs")["name"] == "Someone's"  # nothing was deleted

    wiped = _run_suite(url, project_id, key, "-k", "test_database_crud", "tests/server/test_tablesdb.py", wipe=True)
    assert wiped.returncode == 0, (wiped.stdout + wiped.stderr)[-4000:]
    assert project_sweep.holdings(url, project_id, key) == {}


def test_a_half_set_target_is_a_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIXOTIC_CONFORMANCE_")}
    env[ENDPOINT_VAR] = "http://127.0.0.1:9/v1"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--co", "tests/server/test_users.py"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"missing: {PROJECT_VAR}, {KEY_VAR}" in done.stderr
