"""The console project and the console routes an API key reaches, as Appwrite 1.8 answers them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from support.server import LocalServer

from quixotic.errors import UsageError
from quixotic.server import admin
from quixotic.server.store import Store, meta_insert


def _get(server: LocalServer, path: str, project: str, key: str | None = None, **params: Any) -> requests.Response:
    headers = {"X-Appwrite-Project": project, **({"X-Appwrite-Key": key} if key else {})}
    return requests.get(server.url + path, headers=headers, params=params, timeout=10)


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_the_console_project_reaches_public_routes_as_a_guest(server: LocalServer) -> None:
    version = _get(server, "/health/version", "console")
    assert version.status_code == 200 and set(version.json()) == {"version"}
    project = server.new_project()
    # A project's key names no console account: the console caller stays a guest.
    denied = _get(server, "/tablesdb", "console", project.api_key)
    assert denied.status_code == 401 and denied.json()["type"] == "general_unauthorized_scope"
    assert "role: guests" in denied.json()["message"]
    with pytest.raises(UsageError, match="console project"):
        admin.create_project(server.data_dir, "console")


def test_console_only_routes_forbid_a_project_key(server: LocalServer) -> None:
    project = server.new_project()
    for path in (f"/projects/{project.project_id}", "/console/variables"):
        resp = _get(server, path, project.project_id, project.api_key)
        assert resp.status_code == 401 and resp.json()["type"] == "general_access_forbidden", path
        assert set(resp.json()) == {"message", "code", "type", "version"}
    # The scope check comes first, as on Appwrite: a console guest lacks projects.read.
    guest = _get(server, f"/projects/{project.project_id}", "console")
    assert guest.json()["type"] == "general_unauthorized_scope" and '"projects.read"' in guest.json()["message"]


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_proxy_rules_list_what_the_project_holds(server: LocalServer) -> None:
    project = server.new_project()
    pid, key = project.project_id, project.api_key
    assert _get(server, "/proxy/rules", pid, key).json() == {"total": 0, "rules": []}
    store = Store(server.data_dir)
    try:
        with store.tx() as conn:
            function_rule = {"domain": "alpha.example", "type": "deployment", "trigger": "manual",
                             "deploymentResourceType": "function", "deploymentResourceId": "hello"}  # fmt: skip
            meta_insert(conn, pid, "rule", "", "r1", function_rule)
            meta_insert(conn, pid, "rule", "", "r2", {"domain": "beta.example", "type": "api", "trigger": "manual"})
    finally:
        store.close()
    equal = json.dumps({"method": "equal", "attribute": "deploymentResourceId", "values": ["hello"]})
    listed = _get(server, "/proxy/rules", pid, key, **{"queries[]": equal}).json()
    assert listed["total"] == 1 and [r["domain"] for r in listed["rules"]] == ["alpha.example"]
    assert listed["rules"][0]["status"] == "created" and listed["rules"][0]["redirectStatusCode"] == 0
    assert _get(server, "/proxy/rules", pid, key, search="beta").json()["total"] == 1
    assert _get(server, "/proxy/rules/r2", pid, key).json()["type"] == "api"
    other = server.new_project()
    assert _get(server, "/proxy/rules", other.project_id, other.api_key).json()["total"] == 0
    bad = json.dumps({"method": "equal", "attribute": "secret", "values": ["x"]})
    resp = _get(server, "/proxy/rules", pid, key, **{"queries[]": bad})
    assert resp.status_code == 400 and resp.json()["type"] == "general_query_invalid"
    headers = {"X-Appwrite-Project": pid, "X-Appwrite-Key": key}
    assert requests.delete(server.url + "/proxy/rules/r2", headers=headers, timeout=10).status_code == 204
    missing = _get(server, "/proxy/rules/r2", pid, key)
    assert missing.status_code == 404 and missing.json()["type"] == "rule_not_found"
    create = requests.post(
        server.url + "/proxy/rules/function",
        json={"domain": "c.example", "functionId": "f"},
        headers=headers,
        timeout=10,
    )
    assert create.status_code == 405 and create.json()["type"] == "general_not_implemented"
    guest = _get(server, "/proxy/rules", pid)
    assert guest.status_code == 401 and '"rules.read"' in guest.json()["message"]
