"""The official Appwrite CLI (``appwrite-cli`` from npm, run by node) against the local server with an API key.

``client --endpoint/--project-id/--key``, ``push`` of an ``appwrite.json`` (a database, a table with
columns and an index, a bucket, a Python function built from its ``requirements.txt``, with a
variable), checked through the Python SDK, then ``pull`` into a fresh folder and compared with what
was pushed. ``.ci/run`` installs each version into ``.cache/appwrite-cli/<version>/``; a version
missing there is installed the same way first.

12.0.1 is npm's newest and its newest 12.x; 11.1.1 is the newest 11.x. Both cannot create a function
from ``push`` with only an API key: after ``POST /v1/functions`` they ask ``/v1/console/variables``
through a console session and stop with "Session not found. Please run `appwrite login`" before
sending anything (appwrite/sdk-for-cli#239, fixed in later CLIs). So the function is created with the
CLI's own ``functions create`` first, as CI users of these versions do, and ``push`` deploys it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from appwrite.services.databases import Databases
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from support.server import LocalServer
from support.wheels import TINY_WHEEL, tiny_wheel

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "appwrite-cli"
VERSIONS = ("12.0.1", "11.1.1")

MAIN = """\
import os

import quixotic_tinypkg


def main(context):
    return context.res.json({"value": quixotic_tinypkg.VALUE, "greeting": os.environ.get("GREETING")})
"""


def _cli(version: str) -> Path:
    """The CLI's entry script, installed into the cache folder if it is not there yet."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the official Appwrite CLI (CI installs them)")
    script = CACHE / version / "node_modules" / "appwrite-cli" / "index.js"
    if not script.exists():
        command = ["npm", "install", "--prefix", str(CACHE / version), "--no-audit", "--no-fund",
                   "--loglevel=error", f"appwrite-cli@{version}"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not script.exists():
            pytest.skip(f"npm could not install appwrite-cli@{version}: {done.stderr.strip()[-500:]}")
    return script


class Cli:
    """One CLI version run as a user would: its own home (``~/.appwrite/prefs.json``), one folder per step."""

    def __init__(self, script: Path, home: Path, key: str) -> None:
        self.script = script
        self.key = key
        self.env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "FORCE_COLOR": "0", "NO_COLOR": "1"}

    def __call__(self, folder: Path, *args: str) -> str:
        done = subprocess.run(
            ["node", str(self.script), *args], cwd=folder, env=self.env, capture_output=True, text=True, timeout=240
        )
        out = done.stdout + done.stderr
        # The CLI exits 0 after most failures; they are the lines it marks with a cross.
        assert done.returncode == 0 and "✗" not in out, f"appwrite {' '.join(args[:2])} failed:\n{out}"
        assert self.key not in out, f"appwrite {' '.join(args[:2])} printed the API key"
        return out


def _project_file(project_id: str, endpoint: str) -> dict[str, Any]:
    """``appwrite.json`` in the shape ``pull`` writes it back (keys the CLI keeps, values the server returns)."""
    return {
        "projectId": project_id,
        "endpoint": endpoint,
        "tablesDB": [{"$id": "shop", "name": "Shop", "enabled": True}],
        "tables": [
            {
                "$id": "orders",
                "$permissions": ['read("any")'],
                "databaseId": "shop",
                "name": "Orders",
                "enabled": True,
                "rowSecurity": False,
                "columns": [
                    {
                        "key": "title",
                        "type": "string",
                        "required": True,
                        "array": False,
                        "size": 128,
                        "encrypt": False,
                        "default": None,
                    },
                    {
                        "key": "qty",
                        "type": "integer",
                        "required": False,
                        "array": False,
                        "min": 0,
                        "max": 1000,
                        "default": 1,
                    },
                    {"key": "paid", "type": "boolean", "required": False, "array": False, "default": False},
                    {
                        "key": "email",
                        "type": "string",
                        "format": "email",
                        "required": False,
                        "array": False,
                        "default": None,
                    },
                    {
                        "key": "status",
                        "type": "string",
                        "format": "enum",
                        "elements": ["new", "done"],
                        "required": False,
                        "array": False,
                        "default": "new",
                    },
                ],
                "indexes": [
                    {"key": "by_title", "type": "key", "status": "available", "columns": ["title"], "orders": ["ASC"]}
                ],
            }
        ],
        "buckets": [
            {
                "$id": "uploads",
                "$permissions": ['read("any")'],
                "fileSecurity": False,
                "name": "Uploads",
                "enabled": True,
                "maximumFileSize": 1_000_000,
                "allowedFileExtensions": ["png", "txt"],
                "compression": "none",
                "encryption": True,
                "antivirus": False,
            }
        ],
        "functions": [
            {
                "$id": "hello",
                "name": "Hello",
                "runtime": "python-3.11",
                "specification": "s-0.5vcpu-512mb",
                "execute": ["any"],
                "events": [],
                "scopes": ["users.read"],
                "schedule": "",
                "timeout": 15,
                "enabled": True,
                "logging": True,
                "entrypoint": "main.py",
                "commands": "pip install --no-index -r requirements.txt",
                "path": "functions/Hello",  # where `pull` puts a function it did not know: functions/<name>
            }
        ],
    }


def _write_project(folder: Path, config: dict[str, Any]) -> dict[str, bytes]:
    """The project folder; returns the function's source files by name."""
    code = folder / "functions" / "Hello"
    code.mkdir(parents=True)
    wheel_name, wheel = tiny_wheel()
    files = {"main.py": MAIN.encode(), "requirements.txt": f"./{TINY_WHEEL}\n".encode(), wheel_name: wheel}
    for name, data in files.items():
        (code / name).write_bytes(data)
    (code / ".env").write_text("GREETING=hello\n")  # what `push --with-variables` makes the function's variables
    (folder / "appwrite.json").write_text(json.dumps(config, indent=4))
    return files


def _ready(functions: Functions, function_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fn: dict[str, Any] = functions.get(function_id)
        if fn["deploymentId"]:
            return fn
        time.sleep(0.5)
    raise AssertionError(f"function {function_id} has no active deployment after 120 s")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.local_only("builds a function from a local wheel")
def test_client_push_and_pull(server: LocalServer, tmp_path: Path, version: str) -> None:
    creds = server.new_project(f"CLI {version}")
    cli = Cli(_cli(version), tmp_path / "home", creds.api_key)
    pid, key = creds.project_id, creds.api_key
    pushed = _project_file(pid, server.url)
    work = tmp_path / "push"
    work.mkdir()
    files = _write_project(work, pushed)

    # `client --endpoint` checks GET /v1/health/version as the console project: it used to answer 404.
    assert "Success" in cli(work, "client", "--endpoint", server.url, "--project-id", pid, "--key", key)
    prefs = json.loads((tmp_path / "home" / ".appwrite" / "prefs.json").read_text())
    assert prefs[prefs["current"]]["endpoint"] == server.url

    cli(work, "functions", "create", "--function-id", "hello", "--name", "Hello", "--runtime", "python-3.11")
    assert "Successfully pushed 1 tables" in cli(work, "push", "tables", "--all", "--force")
    assert "Successfully pushed 1 buckets" in cli(work, "push", "buckets", "--all", "--force")
    assert "Successfully pushed 1 functions" in cli(work, "push", "functions", "--all", "--force", "--with-variables")

    sdk = server.client(pid, key)
    tdb, storage, functions = TablesDB(sdk), Storage(sdk), Functions(sdk)
    assert tdb.get("shop")["name"] == "Shop"
    table = tdb.get_table("shop", "orders")
    assert [(c["key"], c["type"], c["status"]) for c in table["columns"]] == [
        ("title", "string", "available"), ("qty", "integer", "available"), ("paid", "boolean", "available"),
        ("email", "string", "available"), ("status", "string", "available"),
    ]  # fmt: skip
    assert table["columns"][4]["elements"] == ["new", "done"] and table["columns"][1]["max"] == 1000
    index = tdb.get_index("shop", "orders", "by_title")
    assert (index["columns"], index["orders"], index["status"]) == (["title"], ["ASC"], "available")
    bucket = storage.get_bucket("uploads")
    assert (bucket["maximumFileSize"], bucket["allowedFileExtensions"], bucket["encryption"]) == (
        1_000_000, ["png", "txt"], True,
    )  # fmt: skip
    fn = _ready(functions, "hello")
    assert (fn["runtime"], fn["entrypoint"], fn["commands"], fn["scopes"]) == (
        "python-3.11", "main.py", "pip install --no-index -r requirements.txt", ["users.read"],
    )  # fmt: skip
    variables = functions.list_variables("hello")["variables"]
    assert [(v["key"], v["value"]) for v in variables] == [("GREETING", "hello")]
    deployment = functions.get_deployment("hello", fn["deploymentId"])
    installed = ("Successfully installed quixotic-tinypkg", "+ quixotic-tinypkg==0.1")  # pip's words, uv's
    assert deployment["status"] == "ready" and any(said in deployment["buildLogs"] for said in installed)
    execution = functions.create_execution("hello")
    assert execution["status"] == "completed", execution
    assert json.loads(execution["responseBody"]) == {"value": 42, "greeting": "hello"}

    # The same file pushed again changes nothing: no column or index is recreated.
    again = cli(work, "push", "tables", "--all", "--force")
    assert "recreating" not in again and "deleting" not in again
    assert tdb.get_index("shop", "orders", "by_title")["$createdAt"] == index["$createdAt"]

    fresh = tmp_path / "pull"
    fresh.mkdir()
    cli(fresh, "client", "--project-id", pid)
    assert "Successfully pulled 1 tables from 1 tableDBs" in cli(fresh, "pull", "tables", "--all", "--force")
    assert "Successfully pulled 1 buckets" in cli(fresh, "pull", "buckets", "--all", "--force")
    assert "Successfully pulled 1 functions" in cli(fresh, "pull", "functions", "--all", "--force")
    pulled = json.loads((fresh / "appwrite.config.json").read_text())
    assert pulled["projectId"] == pid
    for kind in ("tablesDB", "tables", "buckets", "functions"):
        assert pulled[kind] == pushed[kind], kind
    code = fresh / "functions" / "Hello"
    assert {name: (code / name).read_bytes() for name in files} == files


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.local_only("builds a function from a local wheel")
def test_push_and_pull_legacy_collections(server: LocalServer, tmp_path: Path, version: str, quiet_sdk: None) -> None:
    """The legacy Databases API through ``push collections`` / ``pull collections`` (in a project of its own:
    ``push tables`` deletes every database its file does not list, the legacy ones included, as on Appwrite)."""
    creds = server.new_project(f"CLI collections {version}")
    cli = Cli(_cli(version), tmp_path / "home", creds.api_key)
    pid, key = creds.project_id, creds.api_key
    pushed = {
        "projectId": pid,
        "databases": [{"$id": "legacy", "name": "Legacy", "enabled": True}],
        "collections": [
            {
                "$id": "notes",
                "$permissions": [],
                "databaseId": "legacy",
                "name": "Notes",
                "enabled": True,
                "documentSecurity": True,
                "attributes": [
                    {
                        "key": "body",
                        "type": "string",
                        "required": False,
                        "array": False,
                        "size": 500,
                        "encrypt": False,
                        "default": None,
                    },
                    {
                        "key": "n",
                        "type": "double",
                        "required": False,
                        "array": False,
                        "min": -1.5,
                        "max": 10.5,
                        "default": None,
                    },
                ],
                "indexes": [
                    {
                        "key": "by_body",
                        "type": "fulltext",
                        "status": "available",
                        "attributes": ["body"],
                        "orders": ["DESC"],
                    },
                ],
            }
        ],
    }
    work, fresh = tmp_path / "push", tmp_path / "pull"
    work.mkdir()
    fresh.mkdir()
    (work / "appwrite.json").write_text(json.dumps(pushed, indent=4))
    cli(work, "client", "--endpoint", server.url, "--project-id", pid, "--key", key)
    assert "Successfully pushed 1 collections" in cli(work, "push", "collections", "--all", "--force")
    collection = Databases(server.client(pid, key)).get_collection("legacy", "notes")
    assert [(a["key"], a["type"], a["status"]) for a in collection["attributes"]] == [
        ("body", "string", "available"), ("n", "double", "available"),
    ]  # fmt: skip
    assert [(i["key"], i["orders"]) for i in collection["indexes"]] == [("by_body", ["DESC"])]
    cli(fresh, "client", "--project-id", pid)
    assert "Successfully pulled 1 collections from 1 databases" in cli(fresh, "pull", "collections", "--all", "--force")
    pulled = json.loads((fresh / "appwrite.config.json").read_text())
    assert (pulled["databases"], pulled["collections"]) == (pushed["databases"], pushed["collections"])
