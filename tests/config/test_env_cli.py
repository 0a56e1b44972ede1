"""`quixotic env ...` through the real command line: output, exit codes, and secrets that never appear."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from config_files import copy_repo_config
from support.site import cli

SECRET = "whsec-cli-never-print-8c1f"


def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIXOTIC_")}
    env.update(extra_env or {})
    return cli("env", *args, env=env, timeout=60)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_repo_config(tmp_path)


def test_show_json_redacts_a_secret_set_in_the_process_environment(root: Path) -> None:
    out = run("show", "dev", "--json", "--root", str(root), extra_env={"QUIXOTIC_DEV_WEBHOOK_TOKEN": SECRET})
    assert out.returncode == 0, out.stderr
    assert SECRET not in out.stdout and SECRET not in out.stderr
    data = json.loads(out.stdout)
    token = data["variables"]["WEBHOOK_TOKEN"]
    assert token == {
        "value": "********", "type": "string", "secret": True, "required": False,
        "source": "env QUIXOTIC_DEV_WEBHOOK_TOKEN", "functions": ["transcribe"],
    }  # fmt: skip
    assert data["variables"]["MAX_FILE_SIZE_MB"]["value"] == "10"
    assert data["variables"]["MAX_FILE_SIZE_MB"]["source"] == "set in environments/dev.json"
    assert data["settings"]["buckets.audio.maximumFileSize"]["value"] == 10_000_000


def test_show_text_and_list_and_render_never_print_secrets(root: Path) -> None:
    (root / "environments" / ".env.prod").write_text(
        f"QUIXOTIC_PROD_WEBHOOK_TOKEN={SECRET}\nQUIXOTIC_PROD_API_KEY={SECRET}x\n"
    )
    show = run("show", "prod", "--root", str(root))
    listing = run("list", "--root", str(root))
    render = run("render", "prod", "--root", str(root))
    for out in (show, listing, render):
        assert out.returncode == 0, out.stderr
        assert SECRET not in out.stdout + out.stderr
    assert "WEBHOOK_TOKEN" in show.stdout and "file environments/.env.prod" in show.stdout
    assert "api key      set (QUIXOTIC_PROD_API_KEY)" in show.stdout
    assert listing.stdout.splitlines()[0].split() == ["environment", "project", "endpoint"]
    rendered = root / "environments" / "appwrite.prod.json"
    assert render.stdout.strip() == f"wrote {rendered}"
    assert SECRET not in rendered.read_text() and json.loads(rendered.read_text())["projectId"] == "quixotictools"


def test_invalid_configuration_exits_1_with_every_problem(root: Path) -> None:
    dev = json.loads((root / "environments" / "dev.json").read_text())
    dev["variables"].update(MAX_FILE_SIZE_MB=-1, DEFAULT_USER_CREDITS="lots", WEBHOOK_TOKEN=SECRET)
    (root / "environments" / "dev.json").write_text(json.dumps(dev))
    out = run("show", "dev", "--root", str(root))
    assert out.returncode == 1
    assert out.stdout == ""
    assert "error: the configuration of environment 'dev' is invalid: 3 problems to fix" in out.stderr
    assert "variables.MAX_FILE_SIZE_MB: -1 is below the minimum 1" in out.stderr
    assert "variables.DEFAULT_USER_CREDITS: expected a number, got 'lots'" in out.stderr
    assert "set QUIXOTIC_DEV_WEBHOOK_TOKEN in the process environment" in out.stderr
    assert SECRET not in out.stderr


def test_unknown_environment_exits_1(root: Path) -> None:
    out = run("show", "staging", "--root", str(root))
    assert out.returncode == 1
    assert "unknown environment; known: dev, local, prod" in out.stderr


def test_create_through_the_cli(root: Path) -> None:
    out = run("create", "staging", "--from", "dev", "--project-id", "quixotictools-staging",
              "--set", "MAX_FILE_SIZE_MB=15", "--set", "LOG_LEVEL=warning", "--root", str(root))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"created {root / 'environments' / 'staging.json'} (project quixotictools-staging)")
    shown = json.loads(run("show", "staging", "--json", "--root", str(root)).stdout)
    assert shown["variables"]["MAX_FILE_SIZE_MB"]["value"] == "15"
    assert shown["variables"]["LOG_LEVEL"] == {
        "value": "warning", "type": "enum", "secret": False, "required": True,
        "source": "set in environments/staging.json", "functions": "*",
    }  # fmt: skip
    again = run("create", "staging", "--from", "dev", "--project-id", "x-y", "--root", str(root))
    assert again.returncode == 1 and "already exists" in again.stderr
