"""Hostile function code against the sandbox, through the real server and the official SDK.

A function of one project tries every way we know to reach what is not its own: the server's database (API keys,
every project's data, the signing secret of dynamic keys), the data folder, another project's deployment and
files, the server's environment and descriptors, signals to the server. It reports what each attempt got; the
walls hold when each ends in a permission error. The same function on a server started with the sandbox off
reads all of it, which shows that the probes can see a hole when there is one. And what it must still do (read
its own code, write its home, call the API with its key) keeps working.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from support.sdk import create_variable
from support.server import LocalServer, start_server
from support.spawn import stop

from quixotic.deploy.packaging import package_folder
from quixotic.server.compute.runtime import sandbox

pytestmark = pytest.mark.skipif(
    sandbox.landlock_abi() == 0, reason="this kernel has no Landlock: functions run without a file-system wall"
)

HOSTILE = """
import json, os, socket, sqlite3, stat

def attempt(action):
    try:
        got = action()
    except PermissionError as exc:
        return "denied: " + type(exc).__name__
    except OSError as exc:
        return f"error: {type(exc).__name__} {exc}"
    except sqlite3.Error as exc:
        return f"sqlite: {exc}"
    return "ok: " + repr(got)[:200]

def read(path, size=64):
    with open(path, "rb") as f:
        return f.read(size)

def write(path):
    with open(path, "w") as f:
        return f.write("written by a function")

def secret(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    return conn.execute("SELECT value FROM settings WHERE name='dynamic_key_secret'").fetchone()

def descriptors():
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError as exc:
            out[name] = type(exc).__name__
    return out

def main(context):
    t = context.req.body_json
    server, data = int(t["server_pid"]), t["data"]
    probes = {
        "database": attempt(lambda: read(os.path.join(data, "quixotic.db"))),
        "database wal": attempt(lambda: read(os.path.join(data, "quixotic.db-wal"))),
        "signing secret": attempt(lambda: secret(os.path.join(data, "quixotic.db"))),
        "list data root": attempt(lambda: os.listdir(data)),
        "list functions": attempt(lambda: os.listdir(os.path.join(data, "functions"))),
        "list files": attempt(lambda: os.listdir(os.path.join(data, "files"))),
        "other deployment": attempt(lambda: read(t["other_code"])),
        "other project file": attempt(lambda: read(t["other_file"])),
        "other archive": attempt(lambda: read(t["other_archive"])),
        "write data root": attempt(lambda: write(os.path.join(data, "planted"))),
        "write tmp": attempt(lambda: write("/tmp/planted-by-a-function")),
        "server environ": attempt(lambda: read(f"/proc/{server}/environ")),
        "server fds": attempt(lambda: os.listdir(f"/proc/{server}/fd")),
        "server fd 3": attempt(lambda: os.readlink(f"/proc/{server}/fd/3")),
        "server memory": attempt(lambda: read(f"/proc/{server}/mem")),
        "signal server": attempt(lambda: os.kill(server, 0)),
        "own code": attempt(lambda: read(__file__, 16)),
        "own home": attempt(lambda: write(os.path.join(os.environ["HOME"], "note.txt"))),
    }
    status = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs"):
            status[key] = value.strip()
    return context.res.json({"probes": probes, "fds": descriptors(), "env": sorted(os.environ),
                             "status": status, "parent": os.getppid(), "pid": os.getpid()})
"""

INNOCENT = """
def main(context):
    return context.res.text("project B's code")
"""


def archive(files: Mapping[str, str | bytes]) -> bytes:
    """``files`` as the toolkit packs a function folder for a deployment."""
    with tempfile.TemporaryDirectory() as folder:
        for name, content in files.items():
            path = Path(folder) / name
            path.write_bytes(content if isinstance(content, bytes) else textwrap.dedent(content).encode())
        return package_folder(Path(folder)).data


def deploy(fn: Functions, function_id: str, code: str, extra: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """Create ``function_id`` with ``code`` as main.py (and ``extra`` files) and wait until it is live."""
    fn.create(function_id, function_id, "python-3.11", entrypoint="main.py", timeout=30)
    files = {"main.py": code, **(extra or {})}
    created = fn.create_deployment(function_id, InputFile.from_bytes(archive(files), "code.tar.gz"), True)
    deadline = time.monotonic() + 120
    while True:
        dep = fn.get_deployment(function_id, created["$id"])
        if dep["status"] in ("ready", "failed"):
            break
        assert time.monotonic() < deadline, f"deployment still {dep['status']}"
        time.sleep(0.1)
    assert dep["status"] == "ready", dep["buildLogs"]
    while fn.get(function_id)["deploymentId"] != dep["$id"]:
        time.sleep(0.05)
    return dict(dep)


def run(fn: Functions, function_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    execution = fn.create_execution(function_id, json.dumps(body), False, "/", "POST",
                                    {"content-type": "application/json"})  # fmt: skip
    assert execution["responseStatusCode"] == 200, execution["errors"]
    return dict(json.loads(execution["responseBody"]))


def hostile_report(srv: LocalServer) -> dict[str, Any]:
    """Project B deploys a function and stores a file; project A's hostile function then reports its probes."""
    b = srv.new_project()
    client_b = srv.client(b.project_id, b.api_key)
    dep_b = deploy(Functions(client_b), "innocent", INNOCENT)
    storage = Storage(client_b)
    storage.create_bucket("private", "Private")
    storage.create_file("private", "payroll", InputFile.from_bytes(b"salary: 1,000,000\n", "payroll.txt"))
    targets = {
        "server_pid": srv.process.pid,
        "data": str(srv.data_dir),
        "other_code": str(srv.data_dir / "functions" / b.project_id / "innocent" / dep_b["$id"] / "code" / "main.py"),
        "other_file": str(srv.data_dir / "files" / b.project_id / "private" / "payroll"),
        "other_archive": str(srv.data_dir / "files" / f"{b.project_id}#deploy" / "deployments" / dep_b["$id"]),
    }
    for name in ("other_code", "other_file", "other_archive"):  # a wrong path would fail for the wrong reason
        assert Path(targets[name]).is_file(), targets[name]
    a = srv.new_project()
    fn_a = Functions(srv.client(a.project_id, a.api_key))
    deploy(fn_a, "hostile", HOSTILE)
    return run(fn_a, "hostile", targets)


@pytest.fixture(scope="module")
def report(server: LocalServer) -> dict[str, Any]:
    return hostile_report(server)


HOSTILE_PROBES = (
    "database", "database wal", "signing secret", "list data root", "list functions", "list files",
    "other deployment", "other project file", "other archive", "write data root", "write tmp",
    "server environ", "server fds", "server fd 3", "server memory", "signal server",
)  # fmt: skip


@pytest.mark.parametrize("probe", HOSTILE_PROBES)
def test_hostile_probe_is_denied(report: dict[str, Any], probe: str) -> None:
    got = report["probes"][probe]
    if probe == "signing secret":  # SQLite reports the refused open in its own words
        assert got.startswith(("denied", "sqlite: unable to open")), got
    else:
        assert got.startswith("denied"), got


def test_the_function_still_reads_its_code_and_writes_its_home(report: dict[str, Any]) -> None:
    assert report["probes"]["own code"].startswith("ok: b'"), report["probes"]["own code"]
    assert report["probes"]["own home"] == "ok: 21", report["probes"]["own home"]


def test_the_worker_runs_without_privileges(report: dict[str, Any], server: LocalServer) -> None:
    assert report["parent"] == server.process.pid  # the probes above aimed at the real server
    assert report["status"]["NoNewPrivs"] == "1"
    if os.geteuid() == 0:
        assert int(report["status"]["CapEff"], 16) == 0
        assert int(report["status"]["CapPrm"], 16) == 0
        assert int(report["status"]["CapBnd"], 16) == 0  # nothing an exec could regain


def test_the_worker_inherits_no_descriptors_but_its_channel(report: dict[str, Any]) -> None:
    fds = report["fds"]
    extra = {fd: target for fd, target in fds.items() if int(fd) > 2}
    sockets = [fd for fd, target in extra.items() if target.startswith("socket:")]
    assert len(sockets) == 1, fds  # the worker's own socket to the pool
    others = {fd: target for fd, target in extra.items() if fd not in sockets}
    # What is left is the descriptor of the /proc/self/fd listing itself, closed by the time it is looked at.
    assert list(others.values()) == ["FileNotFoundError"], fds
    for fd in ("0", "1", "2"):
        assert "quixotic.db" not in fds[fd] and not fds[fd].startswith("socket:"), fds


def test_the_environment_holds_only_the_runtime_contract(report: dict[str, Any]) -> None:
    allowed = {"HOME", "LANG", "PATH", "TMPDIR", "VIRTUAL_ENV"}
    unexpected = [k for k in report["env"] if k not in allowed and not k.startswith("APPWRITE_")]
    assert unexpected == [], unexpected


def test_the_server_log_says_which_walls_are_up(report: dict[str, Any], server: LocalServer) -> None:
    text = server.log_path.read_text()
    assert f"function sandbox: Landlock ABI {sandbox.landlock_abi()}" in text
    if os.geteuid() == 0:
        assert "capabilities dropped" in text


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    base = tmp_path_factory.mktemp("unsandboxed")
    saved = os.environ.get("QUIXOTIC_FUNCTION_SANDBOX")
    os.environ["QUIXOTIC_FUNCTION_SANDBOX"] = "off"
    try:
        srv = start_server(base / "data", base / "server.log")
    finally:
        if saved is None:
            del os.environ["QUIXOTIC_FUNCTION_SANDBOX"]
        else:
            os.environ["QUIXOTIC_FUNCTION_SANDBOX"] = saved
    yield srv
    stop(srv)


def test_without_the_sandbox_the_same_probes_get_through(unsandboxed: LocalServer) -> None:
    """The control: the probes do see a hole when there is one (and what the walls are keeping out)."""
    got = hostile_report(unsandboxed)["probes"]
    for probe in ("database", "list data root", "other deployment", "other project file", "server environ"):
        assert got[probe].startswith("ok: "), (probe, got[probe])
    secret = (
        sqlite3.connect(unsandboxed.data_dir / "quixotic.db")
        .execute("SELECT value FROM settings WHERE name='dynamic_key_secret'")
        .fetchone()[0]
    )
    assert got["signing secret"] == f"ok: {(secret,)!r}"
    assert "function sandbox: OFF" in unsandboxed.log_path.read_text()


def test_build_commands_are_walled_in_too(server: LocalServer) -> None:
    """Build commands are the deployment's code as well: they cannot read the database or write outside."""
    project = server.new_project()
    fn = Functions(server.client(project.project_id, project.api_key))
    db = server.data_dir / "quixotic.db"
    commands = f"cat {db} > /dev/null; echo planted > {server.data_dir / 'planted-by-a-build'}; ls {server.data_dir}"
    fn.create("builder", "builder", "python-3.11", entrypoint="main.py", commands=commands)
    created = fn.create_deployment("builder", InputFile.from_bytes(archive({"main.py": INNOCENT}), "c.tar.gz"), True)
    deadline = time.monotonic() + 120
    while (dep := fn.get_deployment("builder", created["$id"]))["status"] not in ("ready", "failed"):
        assert time.monotonic() < deadline, dep["status"]
        time.sleep(0.1)
    logs = dep["buildLogs"]
    assert f"cat: {db}: Permission denied" in logs, logs
    assert "planted-by-a-build: Permission denied" in logs, logs
    assert f"ls: cannot open directory '{server.data_dir}': Permission denied" in logs, logs
    assert not (server.data_dir / "planted-by-a-build").exists()


PRELOAD_C = """
#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("loaded outside the walls", f); fclose(f); }
}
"""

PRELOADER = """
import os, subprocess

def main(context):
    child = subprocess.run(["/bin/true"], capture_output=True, text=True)  # loads LD_PRELOAD, inside the walls
    return context.res.json({"LD_PRELOAD": os.environ.get("LD_PRELOAD"), "child": child.returncode})
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the library to preload")
def test_a_preload_variable_never_runs_code_before_the_walls(server: LocalServer, tmp_path: Path) -> None:
    """LD_PRELOAD from a function's variables would load the deployment's library into the worker while it
    still has the server's rights; it is set only once the worker is confined (the function still sees it)."""
    marker = Path(tempfile.gettempdir()) / f"quixotic-preload-{os.getpid()}-{time.monotonic_ns()}"
    source = tmp_path / "planted.c"
    source.write_text(PRELOAD_C.replace("MARKER", json.dumps(str(marker))))
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "planted.so"), str(source)], check=True)
    project = server.new_project()
    fn = Functions(server.client(project.project_id, project.api_key))
    dep = deploy(fn, "preloader", PRELOADER, {"planted.so": (tmp_path / "planted.so").read_bytes()})
    library = server.data_dir / "functions" / project.project_id / "preloader" / dep["$id"] / "code" / "planted.so"
    assert library.is_file()
    create_variable(fn, "preloader", "LD_PRELOAD", str(library))
    try:
        got = run(fn, "preloader", {})
        assert got == {"LD_PRELOAD": str(library), "child": 0}
        assert not marker.exists(), marker.read_text()
    finally:
        marker.unlink(missing_ok=True)
