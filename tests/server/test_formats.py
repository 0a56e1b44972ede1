"""Response formats 1.8.0 to 2.5.0, checked against the official SDKs' own models.

Every model the server returns is requested over HTTP at formats 1.8.0, 1.9.5 (SDK 22), 1.9.6 and 2.5.0
(SDK 27), with the headers an SDK sends. The 1.9.x answers are parsed by SDK 22's pydantic models and
the 2.5.0 answers by SDK 27's, each in its own virtual environment (``.sdk/22``, ``.sdk/27``, made by
``.ci/run``) through ``sdk_models.py``; without that environment those tests skip. The 1.8.0 answers are
checked for the 1.8 shapes (SDK 15 reads plain dicts; the rest of the suite drives it).

Also here: the emulated version as a setting (health, errors, the warning for newer formats), and the
format steps themselves (``quixotic.server.formats``) in process.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.server import LocalServer

from quixotic.server import admin, formats

ROOT = Path(__file__).resolve().parents[2]
SDK_LINES = {"22": ("1.9.5", "1.9.6"), "27": ("2.5.0",)}
FORMATS = ("1.8.0", "1.9.5", "1.9.6", "2.5.0")

Case = tuple[str, str, Any]  # label, SDK model name, body


class Api:
    """Raw HTTP as an SDK of one format sends it."""

    def __init__(self, url: str, project: admin.ProjectCredentials, fmt: str) -> None:
        self.url = url
        self.fmt = fmt
        self.headers = {
            "X-Appwrite-Project": project.project_id,
            "X-Appwrite-Key": project.api_key,
            "X-Appwrite-Response-Format": fmt,
            "x-sdk-name": "Python",
            "x-sdk-platform": "server",
            "x-sdk-language": "python",
            "User-Agent": f"AppwritePythonSDK (format {fmt})",
        }
        self.cases: list[Case] = []

    def call(self, method: str, path: str, body: Any = None, model: str = "", **kw: Any) -> Any:
        resp = requests.request(method, self.url + path, json=body, headers=self.headers, timeout=30, **kw)
        assert resp.status_code < 300, (method, path, self.fmt, resp.status_code, resp.text)
        assert "X-Appwrite-Warning" not in resp.headers  # the default server emulates the newest
        value = resp.json() if resp.content else None
        if model:
            self.cases.append((f"{self.fmt} {method} {path}", model, value))
        return value

    def upload(self, path: str, fields: dict[str, str], name: str, data: bytes, model: str) -> Any:
        headers = {k: v for k, v in self.headers.items()}
        resp = requests.post(
            self.url + path, data=fields, files={name: ("blob.bin", data)}, headers=headers, timeout=60
        )
        assert resp.status_code < 300, (path, resp.text)
        self.cases.append((f"{self.fmt} POST {path}", model, resp.json()))
        return resp.json()


def _archive() -> bytes:
    buf = io.BytesIO()
    source = b"def main(context):\n    return context.res.json({'ok': True})\n"
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("src/main.py")
        info.size = len(source)
        tar.addfile(info, io.BytesIO(source))
    return buf.getvalue()


def _wait(check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def fixture_project(server: LocalServer) -> Iterator[admin.ProjectCredentials]:
    """One project with a built function and one execution of it, made at the newest format."""
    project = server.new_project()
    api = Api(server.url, project, "2.5.0")
    api.call("POST", "/functions", {"functionId": "fmt", "name": "Fmt", "runtime": "python-3.11",
                                    "entrypoint": "src/main.py", "commands": "", "timeout": 5})  # fmt: skip
    dep = api.upload("/functions/fmt/deployments", {"activate": "true"}, "code", _archive(), "Deployment")
    _wait(lambda: api.call("GET", f"/functions/fmt/deployments/{dep['$id']}")["status"] in ("ready", "failed"))
    _wait(lambda: api.call("GET", "/functions/fmt")["deploymentId"] == dep["$id"])
    api.call("POST", "/functions/fmt/executions", {"body": "", "async": False, "path": "/", "method": "GET"})
    yield project


def _scenario(server: LocalServer, project: admin.ProjectCredentials, fmt: str) -> list[Case]:
    """Every model the server answers with, at ``fmt``, by create, get, update and list."""
    api = Api(server.url, project, fmt)
    tag = fmt.replace(".", "")
    c = api.call
    # TablesDB
    db = f"t{tag}"
    c("POST", "/tablesdb", {"databaseId": db, "name": "T"}, "Database")
    c("GET", f"/tablesdb/{db}", model="Database")
    c("PUT", f"/tablesdb/{db}", {"name": "T2"}, "Database")
    c("GET", "/tablesdb", model="DatabaseList")
    c("POST", f"/tablesdb/{db}/tables", {"tableId": "t", "name": "T", "permissions": []}, "Table")
    c("POST", f"/tablesdb/{db}/tables", {"tableId": "u", "name": "U", "permissions": []}, "Table")
    t = f"/tablesdb/{db}/tables/t"
    columns = {
        "string": ({"key": "s", "size": 64, "required": False}, "ColumnString"),
        "integer": ({"key": "i", "required": False}, "ColumnInteger"),
        "float": ({"key": "f", "required": False}, "ColumnFloat"),
        "boolean": ({"key": "b", "required": False}, "ColumnBoolean"),
        "email": ({"key": "e", "required": False}, "ColumnEmail"),
        "enum": ({"key": "n", "elements": ["a", "b"], "required": False}, "ColumnEnum"),
        "url": ({"key": "w", "required": False}, "ColumnUrl"),
        "ip": ({"key": "p", "required": False}, "ColumnIp"),
        "datetime": ({"key": "d", "required": False}, "ColumnDatetime"),
        "varchar": ({"key": "v", "size": 32, "required": False}, "ColumnVarchar"),
        "text": ({"key": "x", "required": False}, "ColumnText"),
        "mediumtext": ({"key": "m", "required": False}, "ColumnMediumtext"),
        "longtext": ({"key": "l", "required": False}, "ColumnLongtext"),
    }
    for kind, (body, model) in columns.items():
        c("POST", f"{t}/columns/{kind}", body, model)
    c("PATCH", f"{t}/columns/string/s", {"required": False, "default": "z"}, "ColumnString")
    c("GET", f"{t}/columns/s", model="ColumnString")
    _wait(lambda: all(col["status"] == "available" for col in c("GET", f"{t}/columns")["columns"]), 30)
    c("GET", f"{t}/columns", model="ColumnList")
    c("POST", f"{t}/indexes", {"key": "by_s", "type": "key", "columns": ["s"]}, "ColumnIndex")
    _wait(lambda: c("GET", f"{t}/indexes/by_s")["status"] == "available", 30)
    c("GET", f"{t}/indexes/by_s", model="ColumnIndex")
    c("GET", f"{t}/indexes", model="ColumnIndexList")
    c("GET", f"/tablesdb/{db}/tables/t", model="Table")
    c("PUT", f"/tablesdb/{db}/tables/t", {"name": "T3"}, "Table")
    c("GET", f"/tablesdb/{db}/tables", model="TableList")
    row = {"s": "x", "i": 1, "f": 1.5, "b": True, "e": "a@b.co", "n": "a", "w": "https://a.b", "p": "1.2.3.4"}
    c("POST", f"{t}/rows", {"rowId": "r1", "data": row}, "Row")
    c("GET", f"{t}/rows/r1", model="Row")
    c("PATCH", f"{t}/rows/r1", {"data": {"i": 2}}, "Row")
    c("PUT", f"{t}/rows/r2", {"data": {"s": "y"}}, "Row")
    c("PATCH", f"{t}/rows/r1/i/increment", {"value": 1}, "Row")
    c("GET", f"{t}/rows", model="RowList")
    c("POST", f"{t}/rows", {"rows": [{"$id": "r3", "s": "z"}]}, "RowList")
    # Legacy databases
    ldb = f"l{tag}"
    c("POST", "/databases", {"databaseId": ldb, "name": "L"}, "Database")
    c("GET", f"/databases/{ldb}", model="Database")
    c("GET", "/databases", model="DatabaseList")
    c("POST", f"/databases/{ldb}/collections", {"collectionId": "c", "name": "C", "permissions": []}, "Collection")
    col = f"/databases/{ldb}/collections/c"
    c("POST", f"{col}/attributes/string", {"key": "s", "size": 64, "required": False}, "AttributeString")
    c("POST", f"{col}/attributes/integer", {"key": "i", "required": False}, "AttributeInteger")
    c("POST", f"{col}/attributes/boolean", {"key": "b", "required": False}, "AttributeBoolean")
    c("POST", f"{col}/attributes/enum", {"key": "n", "elements": ["a"], "required": False}, "AttributeEnum")
    _wait(lambda: all(a["status"] == "available" for a in c("GET", f"{col}/attributes")["attributes"]), 30)
    c("GET", f"{col}/attributes", model="AttributeList")
    c("POST", f"{col}/indexes", {"key": "by_s", "type": "key", "attributes": ["s"]}, "Index")
    _wait(lambda: c("GET", f"{col}/indexes/by_s")["status"] == "available", 30)
    c("GET", f"{col}/indexes", model="IndexList")
    c("GET", col, model="Collection")
    c("GET", f"/databases/{ldb}/collections", model="CollectionList")
    c("POST", f"{col}/documents", {"documentId": "d1", "data": {"s": "x", "i": 1}}, "Document")
    c("GET", f"{col}/documents/d1", model="Document")
    c("PATCH", f"{col}/documents/d1", {"data": {"i": 3}}, "Document")
    c("GET", f"{col}/documents", model="DocumentList")
    # Storage
    bucket = f"b{tag}"
    c("POST", "/storage/buckets", {"bucketId": bucket, "name": "B", "permissions": [], "fileSecurity": False}, "Bucket")
    c("GET", f"/storage/buckets/{bucket}", model="Bucket")
    c("PUT", f"/storage/buckets/{bucket}", {"name": "B2"}, "Bucket")
    c("GET", "/storage/buckets", model="BucketList")
    api.upload(f"/storage/buckets/{bucket}/files", {"fileId": "f1"}, "file", b"hello", "File")
    c("GET", f"/storage/buckets/{bucket}/files/f1", model="File")
    c("PUT", f"/storage/buckets/{bucket}/files/f1", {"name": "renamed.bin"}, "File")
    c("GET", f"/storage/buckets/{bucket}/files", model="FileList")
    # Users
    user = f"u{tag}"
    c("POST", "/users", {"userId": user, "email": f"{user}@example.com", "password": "password123"}, "User")
    c("POST", "/users/md5", {"userId": f"{user}m", "email": f"{user}m@example.com", "password": "0" * 32}, "User")
    c("GET", f"/users/{user}", model="User")
    c("PATCH", f"/users/{user}/name", {"name": "N"}, "User")
    c("PUT", f"/users/{user}/labels", {"labels": ["x"]}, "User")
    c("GET", "/users", model="UserList")
    c("GET", f"/users/{user}/prefs", model="Preferences")
    # Functions: the request shape differs by format (V21 specification, V25 variableId).
    fn = f"fn{tag}"
    spec = {"specification": "s-1vcpu-512mb"} if fmt < "1.9" else {"buildSpecification": "s-1vcpu-512mb",
                                                                  "runtimeSpecification": "s-1vcpu-512mb"}  # fmt: skip
    c("POST", "/functions", {"functionId": fn, "name": "F", "runtime": "python-3.11", **spec}, "Function")
    c("PUT", f"/functions/{fn}", {"name": "F2", **spec}, "Function")
    c("GET", "/functions/fmt", model="Function")
    c("GET", "/functions", model="FunctionList")
    variable = {"key": "K", "value": "v"} if fmt < "1.9.4" else {"variableId": "v1", "key": "K", "value": "v"}
    c("POST", f"/functions/{fn}/variables", variable, "Variable")
    c("GET", f"/functions/{fn}/variables", model="VariableList")
    deployments = c("GET", "/functions/fmt/deployments", model="DeploymentList")
    c("GET", f"/functions/fmt/deployments/{deployments['deployments'][0]['$id']}", model="Deployment")
    executions = c("GET", "/functions/fmt/executions", model="ExecutionList")
    c("GET", f"/functions/fmt/executions/{executions['executions'][0]['$id']}", model="Execution")
    c("GET", "/functions/runtimes", model="RuntimeList")
    c("GET", "/functions/specifications", model="SpecificationList")
    # Health: SDK 15 only (no Health models from 22 on), so these are checked for their keys.
    for path in ("/health", "/health/db", "/health/storage/local", "/health/time", "/health/version"):
        c("GET", path, model="health")
    return api.cases


@pytest.fixture(scope="module")
def responses(server: LocalServer, fixture_project: admin.ProjectCredentials) -> dict[str, list[Case]]:
    return {fmt: _scenario(server, fixture_project, fmt) for fmt in FORMATS}


def _items(model: str, body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(item model, item) of a model or each item of a list model."""
    lists = {"RowList": ("Row", "rows"), "DocumentList": ("Document", "documents"),
             "FunctionList": ("Function", "functions"), "UserList": ("User", "users"),
             "ExecutionList": ("Execution", "executions")}  # fmt: skip
    if model in lists:
        name, key = lists[model]
        assert isinstance(body[key], list) and body[key], (model, body)
        for item in body[key]:
            yield name, item
    else:
        yield model, body


HEALTH_KEYS = {
    "/health": {"name", "ping", "status"},
    "/health/db": {"total", "statuses"},
    "/health/storage/local": {"name", "ping", "status"},
    "/health/time": {"remoteTime", "localTime", "diff"},
    "/health/version": {"version"},
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_shapes_per_format(responses: dict[str, list[Case]], fmt: str) -> None:
    """The fields each format step changes, at every format (1.8.0 has no SDK models to parse with)."""
    old = fmt < "1.9"
    seen: set[str] = set()
    for label, model, body in responses[fmt]:
        if model == "health":
            assert set(body) == HEALTH_KEYS[label.split(" ", 2)[2]], (label, body)
            continue
        for name, item in _items(model, body):
            seen.add(name)
            if name in ("Row", "Document"):
                assert isinstance(item["$sequence"], int if old else str), (label, item)
                assert int(item["$sequence"]) > 0
            if name == "Function":
                assert ("specification" in item) is old and ("buildSpecification" in item) is not old, label
                assert item.get("specification" if old else "runtimeSpecification") == "s-1vcpu-512mb"
            if name == "Execution":
                assert ("functionId" in item) is (fmt < "2"), (label, item)
                assert ("resourceId" in item) is (fmt >= "2"), (label, item)
                assert item.get("functionId", item.get("resourceId")) == "fmt"
            if name == "User":
                assert ("impersonator" in item) is not old, label
    assert {"Row", "Document", "Function", "Execution", "User"} <= seen


def _sdk_python(line: str) -> Path:
    python = ROOT / ".sdk" / line / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no SDK {line}.x environment at {python.parent.parent} (.ci/run creates it)")
    return python


@pytest.mark.parametrize("line", sorted(SDK_LINES))
def test_official_sdk_models_parse_every_response(responses: dict[str, list[Case]], line: str) -> None:
    python = _sdk_python(line)
    lines = []
    for fmt in SDK_LINES[line]:
        for label, model, body in responses[fmt]:
            if model != "health":
                lines.append(json.dumps({"label": label, "model": model, "body": body}))
    script = Path(__file__).with_name("sdk_models.py")
    done = subprocess.run(
        [str(python), str(script)], input="\n".join(lines), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sdk"].startswith(f"{line}."), report["sdk"]
    assert report["checked"] == len(lines)
    assert report["failures"] == {}, json.dumps(report["failures"], indent=1)[:6000]


# --- the emulated version, the warning, malformed formats --------------------------------------


@pytest.fixture(scope="module")
def server_196(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    import os

    data = tmp_path_factory.mktemp("server196")
    env = {**os.environ, "QUIXOTIC_APPWRITE_VERSION": "1.9.6"}
    proc, url = admin.spawn_server(data / "data", log_file=data / "log.txt", env=env)
    try:
        yield LocalServer(url, data / "data", proc, data / "log.txt")
    finally:
        proc.terminate()
        proc.wait(10)


def _table_with_a_row(base: str, headers: dict[str, str]) -> None:
    requests.post(base, json={"tableId": "t", "name": "T"}, headers=headers, timeout=5).raise_for_status()
    column = {"key": "s", "size": 8, "required": False}
    requests.post(base + "/t/columns/string", json=column, headers=headers, timeout=5).raise_for_status()
    _wait(lambda: requests.get(base + "/t/columns/s", headers=headers, timeout=5).json()["status"] == "available")
    row = {"rowId": "r", "data": {"s": "x"}}
    requests.post(base + "/t/rows", json=row, headers=headers, timeout=5).raise_for_status()


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_emulated_version_is_a_setting(server_196: LocalServer) -> None:
    version = requests.get(server_196.url + "/health/version", timeout=5)
    assert version.json() == {"version": "1.9.6"} and "X-Appwrite-Warning" not in version.headers
    missing = requests.get(server_196.url + "/no/such/route", timeout=5)
    assert missing.status_code == 404 and missing.json()["version"] == "1.9.6"
    project = server_196.new_project()
    newer = Api(server_196.url, project, "2.5.0").headers
    resp = requests.post(server_196.url + "/tablesdb", json={"databaseId": "d", "name": "D"}, headers=newer, timeout=5)
    assert resp.status_code == 201
    assert resp.headers["X-Appwrite-Warning"] == (
        "The current SDK is built for Appwrite 2.5.0. However, the current Appwrite server version is 1.9.6. "
        "Please downgrade your SDK to match the Appwrite version: https://appwrite.io/docs/sdks"
    )
    # Served as 1.9.6: a row's $sequence is a string, and an execution names its functionId (below 2.0.0).
    base = server_196.url + "/tablesdb/d/tables"
    _table_with_a_row(base, newer)
    row = requests.get(base + "/t/rows/r", headers=newer, timeout=5).json()
    assert row["$sequence"] == "1", row
    for fmt in ("1.8.0", "1.9.5", "1.9.6"):
        resp = requests.get(base + "/t/rows/r", headers={**newer, "X-Appwrite-Response-Format": fmt}, timeout=5)
        assert "X-Appwrite-Warning" not in resp.headers
        assert resp.json()["$sequence"] == (1 if fmt == "1.8.0" else "1")


def test_no_header_or_a_malformed_one_is_the_servers_own_format(server: LocalServer) -> None:
    project = server.new_project()
    headers = Api(server.url, project, "2.5.0").headers
    requests.post(server.url + "/tablesdb", json={"databaseId": "d", "name": "D"}, headers=headers, timeout=5)
    base = server.url + "/tablesdb/d/tables"
    _table_with_a_row(base, headers)
    for value in (None, "", "garbage", "1.9", "1.x.0"):
        sent = {k: v for k, v in headers.items() if k != "X-Appwrite-Response-Format"}
        if value is not None:
            sent["X-Appwrite-Response-Format"] = value
        resp = requests.get(base + "/t/rows/r", headers=sent, timeout=5)
        assert resp.status_code == 200 and resp.json()["$sequence"] == "1", value
        assert "X-Appwrite-Warning" not in resp.headers


def test_unknown_emulated_version_is_refused() -> None:
    from quixotic.server.settings import ServerSettings

    assert ServerSettings.from_env({}).appwrite_version == "2.5.0"
    assert ServerSettings.from_env({"QUIXOTIC_APPWRITE_VERSION": "1.9.6"}).appwrite_version == "1.9.6"
    with pytest.raises(ValueError, match=r"1\.8\.1, 1\.9\.6, 2\.5\.0"):
        ServerSettings.from_env({"QUIXOTIC_APPWRITE_VERSION": "1.7.0"})


# --- the steps in process -----------------------------------------------------------------------


def test_steps_lower_by_version() -> None:
    def row() -> dict[str, Any]:
        return {"$id": "r", "$sequence": "7", "rel": {"$id": "x", "$sequence": "8"}, "many": [{"$sequence": "x"}]}

    assert formats.lower((1, 9, 0), "tablesDBGetRow", row()) == row()
    low = formats.lower((1, 8, 0), "tablesDBGetRow", row())
    assert low == {"$id": "r", "$sequence": 7, "rel": {"$id": "x", "$sequence": 8}, "many": [{"$sequence": 0}]}
    listed = formats.lower((1, 8, 0), "databasesListDocuments", {"total": 1, "documents": [row()]})
    assert listed["documents"][0]["$sequence"] == 7
    execution = {"resourceId": "f", "resourceType": "functions", "status": "completed"}
    assert formats.lower((2, 0, 0), "functionsGetExecution", dict(execution)) == execution
    assert formats.lower((1, 9, 6), "functionsGetExecution", dict(execution)) == {
        "functionId": "f",
        "status": "completed",
    }
    user = {"$id": "u", "impersonator": False, "impersonatorUserId": ""}
    assert formats.lower((1, 8, 0), "usersList", {"total": 1, "users": [dict(user)]})["users"] == [{"$id": "u"}]
    function = {"buildSpecification": "a", "runtimeSpecification": "b"}
    assert formats.lower((1, 8, 9), "functionsGet", function) == {"specification": "a"}


def test_steps_lift_requests() -> None:
    params: dict[str, Any] = {"specification": "s"}
    formats.lift((1, 8, 0), "functionsCreate", params)
    assert params == {"buildSpecification": "s", "runtimeSpecification": "s"}
    params = {"key": "K"}
    formats.lift((1, 9, 3), "functionsCreateVariable", params)
    assert params == {"key": "K", "variableId": "unique()"}
    params = {"key": "K"}
    formats.lift((1, 9, 4), "functionsCreateVariable", params)
    assert params == {"key": "K"}
    assert formats.parse("1.9.5") == (1, 9, 5)
    assert [formats.parse(v) for v in ("", None, "1.9", "1.9.x", "a.b.c", "1.9.5.1")] == [None] * 6


def test_the_steps_are_newest_first_so_any_version_maps_to_one_of_a_few_chains() -> None:

    thresholds = [step.below for step in formats.STEPS]
    assert thresholds == sorted(thresholds, reverse=True)
    chains = {id(formats.chain(v)) for v in [(1, 0, n) for n in range(50)] + [(1, 9, 5), (2, 5, 0), (3, 0, 0)]}
    assert len(chains) <= len(formats.STEPS) + 1
