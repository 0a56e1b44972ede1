"""`quixotic parity` end to end: a deliberately changed field is caught, a random id and a random nonce are not,
and only replay-safe functions are replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_project import ENV_CONFIG, SECRET, deploy_site
from support.server import LocalServer
from support.site import Site, write

from quixotic.commands import deploy
from quixotic.commands.parity import parity
from quixotic.errors import UsageError

CODE = """
import secrets

def main(context):
    return context.res.json({"greeting": "hi", "version": VERSION, "requestId": secrets.token_hex(8),
                             "nonce": secrets.token_hex(4)})

VERSION = {version}
"""
CHECKS = {"functions": {"hello": {"parity": {"replaySafe": True, "requests": [{"method": "GET", "path": "/"}]}}}}


def deploy_version(site: Site, env: str, version: int) -> None:
    write(site.root / "functions/hello/src/main.py", CODE.replace("{version}", str(version)))
    deploy.deploy(site.target(env), yes=True)


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path / "site", server)
    site.add_env("old", secrets={"API_TOKEN": SECRET}, **ENV_CONFIG)
    write(site.root / "templates/checks.json", CHECKS)
    deploy_version(site, "old", 1)
    return site


def test_parity_catches_a_changed_field_and_ignores_ids_and_noise(site: Site, tmp_path: Path) -> None:
    deploy_version(site, "test", 1)
    same = parity(site.target("old"), site.target("test"))
    assert same.same and same.requests == 1 and same.noise == {"nonce": 1}  # requestId: ignored by name
    deploy_version(site, "test", 2)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps({"function": "hello", "method": "GET", "path": "/"}) for _ in range(3)))
    done = site.cli("parity", "old", "test", "--requests", str(requests), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [(d["path"], d["count"], d["examples"][0]) for d in report["differences"]] == [
        ("version", 3, {"old": 1, "new": 2})
    ]


def test_only_replay_safe_functions_are_replayed(site: Site, tmp_path: Path) -> None:
    write(site.root / "templates/checks.json", {"functions": {}})
    with pytest.raises(UsageError, match="nothing to replay"):
        parity(site.target("old"), site.target("test"))
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"function": "hello"}\n{"function": "nope"}\nnot json\n')
    done = site.cli("parity", "old", "test", "--requests", str(requests))
    assert done.returncode == 1 and "line 3" in done.stderr
    requests.write_text('{"function": "hello"}\n')
    done = site.cli("parity", "old", "test", "--requests", str(requests))
    assert done.returncode == 1 and "hello not declared replaySafe" in done.stderr
