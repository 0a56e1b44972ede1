"""Every method of today's SDKs reaches a route: served, or refused with Appwrite's own not-implemented error.

The walk calls each method of the services the server implements (TablesDB, the legacy Databases API,
Storage, Functions, Users, project variables, and Health where the line still has it) through that SDK
line's own client, from its own environment (``.sdk/27`` and ``.sdk/22``, made by ``.ci/run``; 15.x is
this environment's), against a server of its own: a walk is no test of behaviour, so it must not count
as exercise in ``tools/coverage.py`` (its server does not record). The routes served as another
operation (``servedAs`` in ``tools/routes_added.json``) are checked for behaviour below, through 15.x.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.databases import Databases
from appwrite.services.tables_db import TablesDB
from support.sdk import Flavour, wait_available
from support.server import LocalServer
from support.site import REPO

from quixotic.server import admin

WALKER = Path(__file__).with_name("sdk_walk.py")
_HERE = importlib.metadata.version("appwrite")  # 15.x, or 27.x where .ci/run runs this suite on the newest line
SERVICES = ["tables_db:TablesDB", "databases:Databases", "storage:Storage", "functions:Functions", "users:Users"]
# Per line: its python, the services it has beyond SERVICES, and fewer methods than this means a broken walk.
LINES: dict[str, tuple[Path, list[str], int]] = {
    "15": (Path(sys.executable if _HERE.startswith("15.") else "/no/15.x/here"), ["health:Health"], 245),
    "22": (REPO / ".sdk" / "22" / "bin" / "python", [], 220),
    "27": (REPO / ".sdk" / "27" / "bin" / "python", ["project:Project:variable"], 245),
}


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, admin.ProjectCredentials]]:
    """A server that does not record what it serves (tools/coverage.py counts only real tests)."""
    base = tmp_path_factory.mktemp("walk")
    env = {k: v for k, v in os.environ.items() if k != "QUIXOTIC_RECORD_OPS"}
    proc, url = admin.spawn_server(base / "data", log_file=base / "server.log", env=env)
    srv = LocalServer(url, base / "data", proc, base / "server.log")
    try:
        yield srv, srv.new_project()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _walk(line: str, server: LocalServer, creds: admin.ProjectCredentials) -> list[dict[str, Any]]:
    python, extra, _ = LINES[line]
    if not python.exists():
        pytest.skip(f"no {python}: .ci/run makes each SDK line's environment (15.x is the dev one's)")
    command = [str(python), str(WALKER), server.url, creds.project_id, creds.api_key, *SERVICES, *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


@pytest.mark.parametrize("line", sorted(LINES))
@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_no_sdk_method_meets_a_missing_route(
    line: str, walk_server: tuple[LocalServer, admin.ProjectCredentials]
) -> None:
    results = _walk(line, *walk_server)
    assert len(results) >= LINES[line][2], f"only {len(results)} methods walked"
    missing = [r["call"] for r in results if r["type"] == "general_route_not_found"]
    assert not missing, f"SDK {line}.x methods that meet a 404 general_route_not_found: {missing}"
    # Whatever is not served is refused the way Appwrite refuses it: 405 general_not_implemented.
    refused = [r for r in results if r["type"] == "general_not_implemented"]
    assert refused and all(r["code"] == 405 for r in refused)
    # The walk did reach real handlers: unknown IDs answer the resource's own 404, creates succeed.
    kinds = {r["type"] for r in results}
    assert {"database_not_found", "storage_bucket_not_found", "function_not_found", "user_not_found"} <= kinds
    assert any(r["code"] == 0 and r["type"] == "" for r in results)


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_newer_sdk_routes_are_in_the_table(walk_server: tuple[LocalServer, admin.ProjectCredentials]) -> None:
    """Each route of tools/routes_added.json answers something other than a missing route."""
    server, creds = walk_server
    client = server.client(creds.project_id, creds.api_key)
    added = json.loads((REPO / "tools" / "routes_added.json").read_text())["operations"]
    assert len(added) >= 30
    for route in added:
        path = route["path"].replace("{", "").replace("}", "")  # every placeholder becomes its own name
        try:
            client.call(route["method"].lower(), path, _headers(creds.project_id), {})
        except AppwriteException as exc:
            assert exc.type != "general_route_not_found", f"{route['id']} {route['method']} {route['path']}"


# ------------------------------------------------------------------ routes served as another operation


def _headers(project_id: str = "") -> dict[str, str]:
    """For ``client.call``: 27.x sends the project per call (from the service), not as a global header."""
    headers = {"content-type": "application/json"}
    return {**headers, "x-appwrite-project": project_id} if project_id else headers


def test_rows_query_by_post_answers_as_list_rows(
    client: Client, tdb: TablesDB, project: admin.ProjectCredentials
) -> None:
    """SDK 27's ``tables_db.create_query``: list rows with the queries in the body."""
    tdb.create("q", "Q")
    tdb.create_table("q", "t", "T")
    tdb.create_integer_column("q", "t", "n", False)
    wait_available(tdb, "q", "t", "n")
    for i in range(5):
        tdb.create_row("q", "t", f"r{i}", {"n": i})
    queries = [Query.greater_than("n", 1), Query.order_desc("n"), Query.limit(2)]
    listed = tdb.list_rows("q", "t", queries)
    headers = _headers(project.project_id)
    posted = client.call("post", "/tablesdb/q/tables/t/rows/query", headers, {"queries": queries})
    assert posted == listed
    assert [r["$id"] for r in posted["rows"]] == ["r4", "r3"] and posted["total"] == 3
    with pytest.raises(AppwriteException) as info:
        client.call("post", "/tablesdb/q/tables/t/rows/query", headers, {"queries": ["not a query"]})
    assert info.value.type == "general_query_invalid"


def test_documents_query_by_post_answers_as_list_documents(
    client: Client, project: admin.ProjectCredentials, quiet_sdk: None
) -> None:
    legacy = Databases(client)
    legacy.create("lq", "LQ")
    legacy.create_collection("lq", "c", "C")
    legacy.create_boolean_attribute("lq", "c", "on", False)
    wait_available(Flavour("legacy", client), "lq", "c", "on")
    legacy.create_document("lq", "c", "d1", {"on": True})
    legacy.create_document("lq", "c", "d2", {"on": False})
    queries = [Query.equal("on", True)]
    path = "/databases/lq/collections/c/documents/query"
    posted = client.call("post", path, _headers(project.project_id), {"queries": queries})
    assert posted == legacy.list_documents("lq", "c", queries)
    assert [d["$id"] for d in posted["documents"]] == ["d1"]
