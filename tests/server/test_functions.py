"""Functions through the official SDK: deployments that really build, executions that really run."""

from __future__ import annotations

import io
import tarfile
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB
from support.sdk import wait_for as sdk_wait_for
from support.server import LocalServer

from quixotic.server import admin

ECHO = """
import json, os

COUNTER = {"n": 0}

def main(context):
    COUNTER["n"] += 1
    print("native print")
    context.log("hello", {"a": 1})
    req = context.req
    if req.path == "/env":
        return context.res.json({k: v for k, v in os.environ.items() if k.startswith(("APPWRITE_", "MY_", "SHARED"))})
    if req.path == "/counter":
        return context.res.json({"n": COUNTER["n"], "pid": os.getpid()})
    if req.path == "/headers":
        return context.res.json(req.headers)
    if req.path == "/boom":
        raise ValueError("boom")
    if req.path == "/none":
        return None
    if req.path == "/sleep":
        import time
        time.sleep(float(req.query.get("s", "5")))
        return context.res.text("slept")
    if req.path == "/exit":
        os._exit(3)
    return context.res.json({"method": req.method, "path": req.path, "body": req.body_text,
                             "trigger": req.headers.get("x-appwrite-trigger"),
                             "event": req.headers.get("x-appwrite-event")}, 200, {"x-custom": "yes"})
"""


def archive(files: Mapping[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wait_for(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.1) -> Any:
    """support.sdk's poll with the patience builds and executions need."""
    return sdk_wait_for(check, timeout, every)


def deploy(fn: Functions, function_id: str, files: Mapping[str, str], activate: bool = True) -> dict[str, Any]:
    code = InputFile.from_bytes(archive(files), "code.tar.gz")
    created = fn.create_deployment(function_id, code, activate)
    assert created["status"] in ("waiting", "processing", "building", "ready")

    def finished() -> dict[str, Any] | None:
        dep = fn.get_deployment(function_id, created["$id"])
        return dep if dep["status"] in ("ready", "failed") else None

    return dict(wait_for(finished, 120))


@pytest.fixture
def fn(client: Client) -> Functions:
    return Functions(client)


@pytest.fixture
def echo(fn: Functions) -> str:
    fn.create("echo", "Echo", "python-3.11", entrypoint="src/main.py", commands="", timeout=3)
    dep = deploy(fn, "echo", {"src/main.py": ECHO})
    assert dep["status"] == "ready", dep["buildLogs"]
    wait_for(lambda: fn.get("echo")["deploymentId"] == dep["$id"])
    return "echo"


def test_function_crud_and_runtimes(fn: Functions) -> None:
    created = fn.create("f1", "First", "python-3.12", execute=["any"], events=["users.*.create"], timeout=20)
    assert created["$id"] == "f1" and created["timeout"] == 20 and created["events"] == ["users.*.create"]
    assert created["deploymentId"] == "" and created["live"] is False
    assert fn.get("f1")["name"] == "First"
    assert fn.update("f1", "Renamed", timeout=30)["timeout"] == 30
    assert fn.list()["total"] == 1
    runtimes = {r["$id"] for r in fn.list_runtimes()["runtimes"]}
    assert "python-3.11" in runtimes
    with pytest.raises(AppwriteException) as err:
        fn.create("f2", "Node", "node-22")
    assert err.value.type == "function_runtime_unsupported"
    with pytest.raises(AppwriteException) as err:
        fn.create("f1", "Again", "python-3.11")
    assert err.value.code == 409 and err.value.type == "function_already_exists"
    with pytest.raises(AppwriteException) as err:
        fn.create("f3", "Slow", "python-3.11", timeout=901)
    assert err.value.code == 400
    fn.delete("f1")
    with pytest.raises(AppwriteException) as err:
        fn.get("f1")
    assert err.value.code == 404 and err.value.type == "function_not_found"


def test_sync_and_async_executions(fn: Functions, echo: str) -> None:
    done = fn.create_execution(echo, body="hi", path="/x?y=1", method="PUT", headers={"X-Thing": "1"})
    assert done["status"] == "completed" and done["responseStatusCode"] == 200
    import json

    body = json.loads(done["responseBody"])
    assert body == {"method": "PUT", "path": "/x", "body": "hi", "trigger": "http", "event": ""}
    assert "native print" in done["logs"] and "hello" in done["logs"]
    assert {"name": "x-custom", "value": "yes"} in done["responseHeaders"]
    assert done["duration"] > 0 and done["functionId"] == echo

    queued = fn.create_execution(echo, body="later", xasync=True)
    assert queued["status"] == "waiting"
    final = wait_for(lambda: (e := fn.get_execution(echo, queued["$id"]))["status"] in ("completed", "failed") and e)
    assert final["status"] == "completed" and json.loads(final["responseBody"])["body"] == "later"
    assert fn.list_executions(echo)["total"] >= 2


def test_failures_are_executions_not_crashes(fn: Functions, echo: str) -> None:
    boom = fn.create_execution(echo, path="/boom")
    assert boom["status"] == "failed" and boom["responseStatusCode"] == 500 and "ValueError: boom" in boom["errors"]
    none = fn.create_execution(echo, path="/none")
    assert none["responseStatusCode"] == 500 and "Return statement missing" in none["errors"]
    slow = fn.create_execution(echo, path="/sleep?s=10")
    assert slow["responseStatusCode"] == 500 and "timed out" in slow["errors"].lower()
    dead = fn.create_execution(echo, path="/exit")
    assert dead["status"] == "failed"
    again = fn.create_execution(echo, path="/")
    assert again["status"] == "completed"


def test_warm_workers_keep_module_state(fn: Functions, echo: str) -> None:
    import json

    first = json.loads(fn.create_execution(echo, path="/counter")["responseBody"])
    second = json.loads(fn.create_execution(echo, path="/counter")["responseBody"])
    assert second["n"] > first["n"] or second["pid"] != first["pid"]
    calls = [json.loads(fn.create_execution(echo, path="/counter")["responseBody"]) for _ in range(6)]
    seen = {c["pid"] for c in calls}
    assert len(seen) <= 2  # the pool's workers stay warm rather than one process per execution
    # Module state survives between executions: each worker's counter only goes up, past 1.
    for pid in seen:
        counts = [c["n"] for c in [first, second, *calls] if c["pid"] == pid]
        assert counts == sorted(set(counts))
    assert max(c["n"] for c in calls) >= 2


def test_failed_build_keeps_the_old_deployment(fn: Functions, echo: str) -> None:
    live = fn.get(echo)["deploymentId"]
    second = deploy(fn, echo, {"src/main.py": ECHO, "requirements.txt": ""})
    assert second["status"] == "ready"
    wait_for(lambda: fn.get(echo)["deploymentId"] == second["$id"])
    fn.update(echo, "Echo", commands="echo building; exit 7")
    failed = deploy(fn, echo, {"src/main.py": ECHO})
    assert failed["status"] == "failed" and "building" in failed["buildLogs"]
    assert fn.get(echo)["deploymentId"] == second["$id"]
    fn.update(echo, "Echo", commands="")
    assert fn.create_execution(echo)["status"] == "completed"
    missing = deploy(fn, echo, {"other.py": "x = 1"})
    assert missing["status"] == "failed"
    # re-activating an old deployment is instant
    fn.update_function_deployment(echo, live)
    assert fn.get(echo)["deploymentId"] == live
    with pytest.raises(AppwriteException) as err:
        fn.update_function_deployment(echo, failed["$id"])
    assert err.value.code == 400


def test_variables_precedence_and_secrets(server: LocalServer, client: Client, fn: Functions, echo: str) -> None:
    import json

    import requests

    project = client._global_headers["x-appwrite-project"]
    key = client._global_headers["x-appwrite-key"]
    headers = {"X-Appwrite-Project": project, "X-Appwrite-Key": key, "Content-Type": "application/json"}
    r = requests.post(
        server.url + "/project/variables",
        json={"variableId": "unique()", "key": "SHARED", "value": "project"},  # required from 1.9 (no header: 2.5)
        headers=headers,
        timeout=5,
    )
    assert r.status_code == 201, r.text
    only = {"variableId": "unique()", "key": "MY_ONLY_PROJECT", "value": "p"}
    requests.post(server.url + "/project/variables", json=only, headers=headers, timeout=5)
    fn.create_variable(echo, "SHARED", "function")
    secret = fn.create_variable(echo, "MY_SECRET", "s3cr3t-value", secret=True)
    assert secret["secret"] is True and secret["value"] == ""
    assert all(v["value"] != "s3cr3t-value" for v in fn.list_variables(echo)["variables"])
    with pytest.raises(AppwriteException) as err:
        fn.update_variable(echo, secret["$id"], "MY_SECRET", secret=False)
    assert err.value.type == "variable_cannot_unset_secret"
    with pytest.raises(AppwriteException) as err:
        fn.create_variable(echo, "SHARED", "dup")
    assert err.value.code == 409
    env = json.loads(fn.create_execution(echo, path="/env")["responseBody"])
    assert env["SHARED"] == "function" and env["MY_ONLY_PROJECT"] == "p" and env["MY_SECRET"] == "s3cr3t-value"
    assert env["APPWRITE_FUNCTION_ID"] == echo and env["APPWRITE_FUNCTION_PROJECT_ID"] == project
    assert env["APPWRITE_FUNCTION_API_ENDPOINT"] == server.url
    assert "QUIXOTIC_SCHEDULE_SPEEDUP" not in env and not any(k.startswith("PYTEST") for k in env)


def test_dynamic_key_carries_only_the_function_scopes(fn: Functions, client: Client, server: LocalServer) -> None:
    fn.create("keyed", "Keyed", "python-3.11", entrypoint="main.py", scopes=["databases.read"])
    code = """
        import json
        from urllib import request as rq

        def main(context):
            key = context.req.headers["x-appwrite-key"]
            import os
            base = os.environ["APPWRITE_FUNCTION_API_ENDPOINT"]
            out = {}
            for method, path in (("GET", "/tablesdb"), ("POST", "/tablesdb")):
                data = json.dumps({"databaseId": "fromfn", "name": "x"}).encode() if method == "POST" else None
                req = rq.Request(base + path, data=data, method=method, headers={
                    "X-Appwrite-Project": os.environ["APPWRITE_FUNCTION_PROJECT_ID"], "X-Appwrite-Key": key,
                    "Content-Type": "application/json"})
                try:
                    with rq.urlopen(req) as resp:
                        out[method] = resp.status
                except Exception as exc:
                    out[method] = getattr(exc, "code", str(exc))
            return context.res.json(out)
    """
    dep = deploy(fn, "keyed", {"main.py": code})
    assert dep["status"] == "ready", dep["buildLogs"]
    import json

    result = json.loads(fn.create_execution("keyed")["responseBody"])
    assert result == {"GET": 200, "POST": 401}


def test_event_triggers_on_row_create(fn: Functions, client: Client, echo: str) -> None:
    fn.update(echo, "Echo", events=["databases.*.tables.*.rows.*.create"])
    db = TablesDB(client)
    db.create("evdb", "Events")
    db.create_table("evdb", "things", "Things", columns=[{"key": "name", "type": "varchar", "size": 50}])
    db.create_row("evdb", "things", "t1", {"name": "first"})

    def event_execution() -> dict[str, Any] | None:
        for e in fn.list_executions(echo)["executions"]:
            if e["trigger"] == "event" and e["status"] in ("completed", "failed"):
                return dict(e)
        return None

    import json

    found = wait_for(event_execution, 30)
    body = json.loads(found["responseBody"])
    assert body["trigger"] == "event" and body["event"] == "databases.evdb.tables.things.rows.t1.create"
    assert json.loads(body["body"])["name"] == "first"


@pytest.mark.local_only("runs on the local server's 60x scheduler clock")
def test_schedule_triggers(fn: Functions, echo: str) -> None:
    # The session server runs its scheduler clock 60x faster, so `* * * * *` fires about every second.
    fn.update(echo, "Echo", schedule="* * * * *")

    def scheduled() -> list[Any]:
        return [e for e in fn.list_executions(echo)["executions"] if e["trigger"] == "schedule"]

    runs = wait_for(lambda: len(scheduled()) >= 2 and scheduled(), 30)
    assert all(e["requestMethod"] == "POST" for e in runs)
    fn.update(echo, "Echo", schedule="")


@pytest.mark.local_only("runs on the local server's 60x scheduler clock")
def test_interval_triggers(fn: Functions, echo: str) -> None:
    """2.5.0's ``interval`` (SDK 27's update(interval=...); sent raw here, 15.x has no such argument): one minute
    is about a second on the session server's clock, and the runs come as schedule triggers."""
    from server.test_v25_descriptions import call

    def scheduled() -> list[Any]:
        return [e for e in fn.list_executions(echo)["executions"] if e["trigger"] == "schedule"]

    before = len(scheduled())
    assert call(fn.client, "put", f"/functions/{echo}", {"name": "Echo", "interval": 1})["interval"] == 1
    runs = wait_for(lambda: len(scheduled()) >= before + 2 and scheduled(), 30)
    assert all(e["requestMethod"] == "POST" for e in runs)
    call(fn.client, "put", f"/functions/{echo}", {"name": "Echo", "interval": 0})


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_scoped_key_cannot_write_functions(server: LocalServer, project: admin.ProjectCredentials) -> None:
    key = admin.create_key(server.data_dir, project.project_id, ["functions.read"])
    limited = Functions(server.client(project.project_id, key))
    assert limited.list()["total"] == 0
    with pytest.raises(AppwriteException) as err:
        limited.create("nope", "Nope", "python-3.11")
    assert err.value.code == 401 and err.value.type == "general_unauthorized_scope"


def test_large_archive_uploads_in_chunks(fn: Functions) -> None:
    """An archive over 5 MiB goes up in chunks (the SDK's chunked upload), like a storage file."""
    import os

    fn.create("big", "Big", "python-3.11", entrypoint="main.py")
    blob = os.urandom(7 * 1024 * 1024)  # incompressible, so the .tar.gz stays above one chunk
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("main.py", b"def main(context):\n    return context.res.text('big')\n"), ("blob", blob)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert len(buf.getvalue()) > 5 * 1024 * 1024
    created = fn.create_deployment("big", InputFile.from_bytes(buf.getvalue(), "code.tar.gz"), True)
    ready = wait_for(lambda: (d := fn.get_deployment("big", created["$id"]))["status"] in ("ready", "failed") and d)
    assert ready["status"] == "ready", ready["buildLogs"]
    assert ready["sourceSize"] == len(buf.getvalue())
    wait_for(lambda: fn.get("big")["deploymentId"] == created["$id"])
    assert fn.create_execution("big")["responseBody"] == "big"
    assert fn.get_deployment_download("big", created["$id"]) == buf.getvalue()
