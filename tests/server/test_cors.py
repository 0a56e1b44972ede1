"""Browser origins on the real server: preflights, the origin check of key-less requests, CORS headers on every
answer, and platforms registered from the data folder (the CLI, another process) while the server runs.

Raw HTTP (requests): the SDKs under test here are browsers, which send ``Origin`` themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import requests
from support.server import LocalServer

from quixotic.server import admin, platforms

pytestmark = pytest.mark.local_only  # platforms are registered in the local server's data folder

APP = "https://app.quixotic.example"


def _get(server: LocalServer, path: str, project: str | None, origin: str | None, **headers: str) -> requests.Response:
    sent = dict(headers)
    if project is not None:
        sent["X-Appwrite-Project"] = project
    if origin is not None:
        sent["Origin"] = origin
    return requests.get(server.url + path, headers=sent, timeout=10)


def _platform_cli(server: LocalServer, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "quixotic.cli", "local", "platform", *args, "--data", str(server.data_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_preflight_passes_with_the_cors_headers(server: LocalServer, project: admin.ProjectCredentials) -> None:
    answer = requests.options(
        f"{server.url}/tablesdb/db/tables/t/rows",
        headers={
            "Origin": "https://Anything.Example",
            "Access-Control-Request-Method": "POST",
            "X-Appwrite-Project": project.project_id,
        },
        timeout=10,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "https://anything.example"
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert "PATCH" in answer.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-appwrite-project", "x-appwrite-session", "x-fallback-cookies", "content-range"} <= allowed
    assert answer.headers["Access-Control-Max-Age"] == "86400"


def test_localhost_is_let_in_and_told_so(server: LocalServer, project: admin.ProjectCredentials) -> None:
    answer = _get(server, "/account", project.project_id, "http://localhost:5173")
    assert answer.status_code == 401 and answer.json()["type"] == "general_unauthorized_scope"  # a guest, not refused
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert answer.headers["Access-Control-Expose-Headers"] == "X-Appwrite-Session, X-Fallback-Cookies"
    loopback = _get(server, "/health/version", project.project_id, "http://127.0.0.1:3000")
    assert loopback.status_code == 200 and loopback.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"


def test_an_unregistered_origin_is_refused_until_its_platform_is_added(
    server: LocalServer, project: admin.ProjectCredentials
) -> None:
    refused = _get(server, "/account", project.project_id, APP)
    body = refused.json()
    assert refused.status_code == 403 and body["type"] == "general_unknown_origin" and body["code"] == 403
    assert "quixotic local platform add --type web --hostname app.quixotic.example" in body["message"]
    assert "Access-Control-Allow-Origin" not in refused.headers  # the browser hides the answer from the page
    assert refused.headers["Access-Control-Allow-Credentials"] == "true"

    keyed = _get(server, "/users", project.project_id, APP, **{"X-Appwrite-Key": project.api_key})
    assert keyed.status_code == 200 and "Access-Control-Allow-Origin" not in keyed.headers  # a key is not checked

    added = json.loads(_platform_cli(server, "add", "--project", project.project_id, "--hostname", APP, "--json"))
    assert (added["type"], added["hostname"]) == ("web", "app.quixotic.example")
    let_in = _get(server, "/account", project.project_id, APP)
    assert let_in.status_code == 401 and let_in.json()["type"] == "general_unauthorized_scope"
    assert let_in.headers["Access-Control-Allow-Origin"] == APP

    other = server.new_project()  # platforms are per project
    assert _get(server, "/account", other.project_id, APP).json()["type"] == "general_unknown_origin"

    listed = json.loads(_platform_cli(server, "list", "--project", project.project_id, "--json"))
    assert [p["$id"] for p in listed] == [added["$id"]]
    _platform_cli(server, "remove", added["$id"], "--project", project.project_id)
    assert _get(server, "/account", project.project_id, APP).json()["type"] == "general_unknown_origin"


def test_a_native_app_is_let_in_by_a_platform_of_its_os(server: LocalServer, project: admin.ProjectCredentials) -> None:
    origin = "appwrite-android://com.quixotic.whisper"
    assert _get(server, "/account", project.project_id, origin).json()["type"] == "general_unknown_origin"
    platforms.add(server.data_dir, project.project_id, "flutter-android", key="com.quixotic.whisper")
    assert _get(server, "/account", project.project_id, origin).json()["type"] == "general_unauthorized_scope"
    assert _get(server, "/account", project.project_id, "appwrite-ios://x").json()["type"] == "general_unknown_origin"


def test_a_browser_signs_up_and_in_with_cookies_across_origins(server: LocalServer) -> None:
    project = server.new_project()
    platforms.add(server.data_dir, project.project_id, "web", hostname="*.quixotic.example")
    browser = requests.Session()
    browser.headers.update({"Origin": "https://pr-7.quixotic.example", "X-Appwrite-Project": project.project_id})
    account = {"userId": "ana", "email": "ana@example.com", "password": "correct horse battery"}
    created = browser.post(f"{server.url}/account", json=account, timeout=10)
    assert created.status_code == 201, created.text
    credentials = {"email": "ana@example.com", "password": "correct horse battery"}
    session = browser.post(f"{server.url}/account/sessions/email", json=credentials, timeout=10)
    assert session.status_code == 201, session.text
    assert session.headers["Access-Control-Allow-Origin"] == "https://pr-7.quixotic.example"
    assert "X-Fallback-Cookies" in session.headers["Access-Control-Expose-Headers"]
    me = browser.get(f"{server.url}/account", timeout=10)  # the session cookie the server set
    assert me.status_code == 200 and me.json()["$id"] == "ana"


def test_errors_the_router_answers_carry_the_headers_and_unknown_projects_are_not_an_origin_matter(
    server: LocalServer, project: admin.ProjectCredentials
) -> None:
    missing = _get(server, "/no/such/route", project.project_id, "http://localhost:3000")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    unknown = _get(server, "/account", "no-such-project", APP)
    assert unknown.status_code == 404 and unknown.json()["type"] == "project_not_found"
    no_project = _get(server, "/health/version", None, APP)  # the console: only the server's own hosts
    assert no_project.status_code == 403 and no_project.json()["type"] == "general_unknown_origin"


def test_a_request_without_an_origin_is_never_checked(server: LocalServer, project: admin.ProjectCredentials) -> None:
    answer = _get(server, "/account", project.project_id, None)
    assert answer.status_code == 401 and "Access-Control-Allow-Origin" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
