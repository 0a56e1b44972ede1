"""Projects, keys and scopes as Appwrite enforces them, and the health endpoints."""

from __future__ import annotations

import pytest
import requests
from appwrite.exception import AppwriteException
from appwrite.services.health import Health
from appwrite.services.tables_db import TablesDB
from support.server import LocalServer

from quixotic.server import admin
from quixotic.server.version import APPWRITE_VERSION


@pytest.mark.local_only("checks the local server's default emulated version")
def test_health_endpoints(server: LocalServer) -> None:
    project = server.new_project()
    health = Health(server.client(project.project_id, project.api_key))
    assert health.get()["status"] == "pass"
    assert health.get_db()["statuses"][0]["status"] == "pass"
    assert health.get_storage_local()["status"] == "pass"
    assert abs(health.get_time()["diff"]) <= 1
    version = requests.get(server.url + "/health/version", timeout=5)
    assert version.status_code == 200 and version.json() == {"version": APPWRITE_VERSION}  # the default
    assert version.headers["Content-Type"].startswith("application/json")


def test_missing_key_acts_as_guest(server: LocalServer) -> None:
    project = server.new_project()
    with pytest.raises(AppwriteException) as err:
        TablesDB(server.client(project.project_id, None)).list()
    assert err.value.code == 401 and err.value.type == "general_unauthorized_scope"
    assert "role: guests" in err.value.message


def test_unknown_project_is_rejected(server: LocalServer) -> None:
    project = server.new_project()
    with pytest.raises(AppwriteException) as err:
        TablesDB(server.client("no-such-project", project.api_key)).list()
    assert err.value.code == 404 and err.value.type == "project_not_found"


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_a_key_opens_nothing_in_another_project(server: LocalServer) -> None:
    one, two = server.new_project(), server.new_project()
    TablesDB(server.client(one.project_id, one.api_key)).create("secret", "Secret")
    with pytest.raises(AppwriteException) as err:
        TablesDB(server.client(two.project_id, one.api_key)).get("secret")
    assert err.value.code == 401
    assert TablesDB(server.client(two.project_id, two.api_key)).list()["total"] == 0


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_scope_is_checked_on_every_route(server: LocalServer) -> None:
    project = server.new_project()
    key = admin.create_key(server.data_dir, project.project_id, ["databases.read"])
    db = TablesDB(server.client(project.project_id, key))
    db.list()
    with pytest.raises(AppwriteException) as err:
        db.create("x", "X")
    assert err.value.type == "general_unauthorized_scope" and '"databases.write"' in err.value.message
    # Keys always carry health.read, as in Appwrite.
    assert Health(server.client(project.project_id, key)).get_db()["total"] == 1


def test_errors_are_appwrite_json(server: LocalServer) -> None:
    resp = requests.get(server.url + "/no/such/route", timeout=5)
    assert resp.status_code == 404
    assert resp.json()["type"] == "general_route_not_found"
    assert set(resp.json()) == {"message", "code", "type", "version"}
    project = server.new_project()
    headers = {"X-Appwrite-Project": project.project_id, "X-Appwrite-Key": project.api_key,
               "Content-Type": "application/json"}  # fmt: skip
    resp = requests.post(server.url + "/tablesdb", data=b"{not json", headers=headers, timeout=5)
    assert resp.status_code == 400 and resp.json()["type"] == "general_argument_invalid"
    resp = requests.delete(server.url + "/tablesdb/none", headers=headers, timeout=5)
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("application/json")


def test_bodies_the_parser_cannot_read_are_400s(server: LocalServer) -> None:
    """Was a 500: multipart without a boundary (or broken), and bytes that are not UTF-8 JSON."""
    project = server.new_project()
    auth = {"X-Appwrite-Project": project.project_id, "X-Appwrite-Key": project.api_key}
    cases = [
        ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
        ("application/json", b"\xff\xfe{"),
    ]
    for content_type, data in cases:
        headers = {**auth, "Content-Type": content_type}
        resp = requests.post(server.url + "/storage/buckets", data=data, headers=headers, timeout=5)
        assert resp.status_code == 400, (content_type, resp.text)
        assert resp.json()["type"] == "general_argument_invalid"
        assert set(resp.json()) == {"message", "code", "type", "version"}
