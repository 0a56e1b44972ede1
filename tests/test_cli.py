"""The `quixotic` command: local projects and keys, `up`/`down`, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB
from deploy_project import SECRET, local_site
from support.server import LocalServer, free_port
from support.site import NO_PROTECTION, cli


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, env={**os.environ, **(env or {})}, timeout=120)


def test_project_create_prints_credentials_that_work(server: LocalServer) -> None:
    out = run("local", "project", "create", "cliproj", "--name", "CLI", "--data", str(server.data_dir))
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    assert set(creds) == {"projectId", "apiKey", "endpoint"}
    assert creds["projectId"] == "cliproj" and creds["apiKey"].startswith("standard_")
    assert creds["endpoint"] == server.url
    db = TablesDB(server.client("cliproj", creds["apiKey"]))
    assert db.list()["total"] == 0


def test_key_create_is_limited_to_its_scopes(server: LocalServer) -> None:
    project = server.new_project()
    out = run("local", "key", "create", "--project", project.project_id, "--scopes", "databases.read",
              "--data", str(server.data_dir))  # fmt: skip
    assert out.returncode == 0, out.stderr
    key = json.loads(out.stdout)["apiKey"]
    db = TablesDB(server.client(project.project_id, key))
    assert db.list()["total"] == 0
    with pytest.raises(AppwriteException) as err:
        db.create("x", "X")
    assert err.value.code == 401 and err.value.type == "general_unauthorized_scope"
    assert "databases.write" in err.value.message


def test_keys_are_stored_hashed(server: LocalServer) -> None:
    project = server.new_project()
    raw = (server.data_dir / "quixotic.db").read_bytes()
    assert project.api_key.encode() not in raw


def test_bad_input_gets_a_clear_error(server: LocalServer) -> None:
    out = run("local", "key", "create", "--project", "missing-project", "--scopes", "rows.read",
              "--data", str(server.data_dir))  # fmt: skip
    assert out.returncode == 1 and "does not exist" in out.stderr
    out = run("local", "key", "create", "--project", "cliproj", "--scopes", "rows.read,bogus.scope",
              "--data", str(server.data_dir))  # fmt: skip
    assert out.returncode == 1 and "unknown scopes: bogus.scope" in out.stderr
    out = run("local", "project", "create", "bad id!", "--data", str(server.data_dir))
    assert out.returncode == 1 and "Valid chars" in out.stderr


def test_up_is_idempotent_and_down_stops(tmp_path: Path) -> None:
    local_site(tmp_path, "quixotictools-local", env="local")
    config = json.loads((tmp_path / "environments" / "local.json").read_text())
    config["protection"] = NO_PROTECTION
    (tmp_path / "environments" / "local.json").write_text(json.dumps(config))
    port = str(free_port())
    first = run("up", "--port", port, cwd=tmp_path, env={"QUIXOTIC_LOCAL_API_TOKEN": SECRET})
    try:
        assert first.returncode == 0, first.stderr
        assert "started" in first.stdout and "hello: answers" in first.stdout
        assert "validate  WARN (backup)" in first.stdout  # local is as configured; it has no backup yet
        env = (tmp_path / "environments" / ".env.local").read_text()
        key = env.split("QUIXOTIC_LOCAL_API_KEY=")[1].strip()
        assert key not in first.stdout and key not in first.stderr
        second = run("up", "--port", port, cwd=tmp_path, env={"QUIXOTIC_LOCAL_API_TOKEN": SECRET})
        assert second.returncode == 0 and "already running" in second.stdout
        assert "nothing to change" in second.stdout
        # later commands find the server `up` started on its own port (environments/local.json says 8080)
        planned = run("plan", "local", cwd=tmp_path, env={"QUIXOTIC_LOCAL_API_TOKEN": SECRET})
        assert planned.returncode == 0 and "No changes" in planned.stdout, planned.stdout + planned.stderr
        assert (tmp_path / "environments" / ".env.local").read_text() == env
        client = Client().set_endpoint(f"http://127.0.0.1:{port}/v1").set_project("quixotictools-local")
        databases = TablesDB(client.set_key(key)).list()["databases"]
        assert {d["$id"] for d in databases} == {"app", "quixotic"}  # the app's and the tool's own
    finally:
        stopped = run("down", cwd=tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout


def test_walkthrough_script_uses_only_the_sdk(server: LocalServer) -> None:
    project = server.new_project()
    script = Path(__file__).resolve().parents[1] / "examples" / "sdk_walkthrough.py"
    out = subprocess.run(
        [sys.executable, str(script), server.url, project.project_id, project.api_key],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok:")
