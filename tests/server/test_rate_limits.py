"""Appwrite's abuse limits on client routes, over real HTTP: the official SDK sees the 429
``general_rate_limit_exceeded``, raw requests read the ``X-RateLimit-*`` headers. Each test has a project of its
own, and counts are per project, so the suite's many sign-ins elsewhere never add up to a limit."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.account import Account
from appwrite.services.users import Users
from support.sdk import expect_error
from support.server import LocalServer

from quixotic.server import admin
from quixotic.server.settings import ServerSettings

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.local_only("counts are the local server's own: a remote project may have spent some")


def _guest(url: str, project_id: str) -> Client:
    return Client().set_endpoint(url).set_project(project_id)


def _sign_up(url: str, project_id: str, n: int, forwarded: str = "") -> requests.Response:
    headers = {"X-Appwrite-Project": project_id, **({"X-Forwarded-For": forwarded} if forwarded else {})}
    body = {"userId": f"u{n}{forwarded.replace('.', '')}", "email": f"u{n}.{forwarded or 'x'}@example.com",
            "password": PASSWORD}  # fmt: skip
    return requests.post(f"{url}/account", json=body, headers=headers, timeout=10)


def test_sign_ups_are_limited_per_ip_with_appwrite_headers(
    server: LocalServer, project: admin.ProjectCredentials
) -> None:
    answers = [_sign_up(server.url, project.project_id, n) for n in range(10)]
    assert [a.status_code for a in answers] == [201] * 10
    assert [int(a.headers["X-RateLimit-Remaining"]) for a in answers] == list(range(10, 0, -1))
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"10"}
    reset = int(answers[0].headers["X-RateLimit-Reset"])
    assert reset % 3600 == 0 and time.time() < reset <= time.time() + 3600
    over = _sign_up(server.url, project.project_id, 10)
    assert over.status_code == 429 and over.json()["type"] == "general_rate_limit_exceeded"
    assert over.headers["X-RateLimit-Remaining"] == "0" and "_APP_OPTIONS_ABUSE=disabled" in over.json()["message"]
    expect_error(
        lambda: Account(_guest(server.url, project.project_id)).create("sdk", "sdk@example.com", PASSWORD),
        429, "general_rate_limit_exceeded",
    )  # fmt: skip
    assert _sign_up(server.url, project.project_id, 11, forwarded="203.0.113.7").status_code == 201  # another IP
    other = server.new_project()
    assert _sign_up(server.url, other.project_id, 0).status_code == 201  # another project
    # Nothing was written by the refused calls.
    assert Users(server.client(project.project_id, project.api_key)).list()["total"] == 11


def test_api_keys_are_never_limited(server: LocalServer, project: admin.ProjectCredentials) -> None:
    account = Account(server.client(project.project_id, project.api_key))
    Users(server.client(project.project_id, project.api_key)).create("k", "k@example.com", password=PASSWORD)
    for _ in range(12):
        with pytest.raises(AppwriteException) as failed:
            account.create_email_password_session("k@example.com", "wrong password!")
        assert failed.value.code == 401
    assert account.create_email_password_session("k@example.com", PASSWORD)["userId"] == "k"


def test_failed_sign_ins_are_limited_per_email_and_a_success_resets_them(
    server: LocalServer, project: admin.ProjectCredentials
) -> None:
    Users(server.client(project.project_id, project.api_key)).create("eve", "eve@example.com", password=PASSWORD)
    guest = Account(_guest(server.url, project.project_id))
    for _ in range(9):
        expect_error(lambda: guest.create_email_password_session("eve@example.com", "not it at all"), 401,
                     "user_invalid_credentials")  # fmt: skip
    guest.create_email_password_session("eve@example.com", PASSWORD)  # the 10th, a success: counts cleared
    for _ in range(10):
        expect_error(lambda: guest.create_email_password_session("EVE@example.com", "not it at all"), 401,
                     "user_invalid_credentials")  # fmt: skip
    expect_error(lambda: guest.create_email_password_session("eve@example.com", PASSWORD), 429,
                 "general_rate_limit_exceeded")  # fmt: skip
    # Another email has its own count.
    expect_error(lambda: guest.create_email_password_session("zed@example.com", "nope nope"), 401,
                 "user_invalid_credentials")  # fmt: skip


@pytest.fixture
def unlimited_server(tmp_path: Path) -> Iterator[str]:
    if "abuse" not in {f.name for f in ServerSettings.__dataclass_fields__.values()}:
        pytest.skip("ServerSettings does not read _APP_OPTIONS_ABUSE yet (settings.py)")
    env = {**os.environ, "_APP_OPTIONS_ABUSE": "disabled"}
    proc, url = admin.spawn_server(tmp_path / "data", log_file=tmp_path / "server.log", env=env)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_abuse_limits_can_be_turned_off(unlimited_server: str, tmp_path: Path) -> None:
    project = admin.create_project(tmp_path / "data", "unlimited")
    assert [_sign_up(unlimited_server, project.project_id, n).status_code for n in range(12)] == [201] * 12
