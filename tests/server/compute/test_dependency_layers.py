"""Dependency layers through a real server and the SDK: reused by deployments with the same requirements, new for
changed ones, never trusted half-made (a killed install, a folder left without its marker), built once for two
deployments at a time, collected when no deployment uses them any more. Installs come from local wheels: the
deployment's own, or a package index on 127.0.0.1 (``support.wheel_index``) that can hold a download back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from appwrite.services.functions import Functions
from support.deployments import code_archive
from support.server import LocalServer, start_server
from support.spawn import module_server, stop
from support.wheel_index import WheelIndex
from support.wheels import tiny_wheel

from quixotic.server import admin
from quixotic.server.compute.runtime.build import build_deployment
from quixotic.server.compute.runtime.layers import Layers, file_lock

WHEEL_NAME, WHEEL = tiny_wheel()
MAIN = "import quixotic_tinypkg\n\ndef main(context):\n    return context.res.text(f'value={quixotic_tinypkg.VALUE}')\n"
LOCAL_INSTALL = "pip install --no-index -r requirements.txt"


def local_code(requirements: str = f"./{WHEEL_NAME}\n", note: str = "") -> dict[str, str | bytes]:
    """A function that imports the tiny wheel it ships; ``note`` changes only its code."""
    return {"main.py": MAIN + note, "requirements.txt": requirements, WHEEL_NAME: WHEEL}


def wait_done(fn: Functions, function_id: str, deployment_id: str, want: tuple[str, ...] = ("ready", "failed")) -> Any:
    deadline = time.monotonic() + 120
    while True:
        dep = fn.get_deployment(function_id, deployment_id)
        if dep["status"] in want:
            return dep
        assert time.monotonic() < deadline, f"deployment {deployment_id} still {dep['status']}"
        time.sleep(0.05)


def deploy(fn: Functions, function_id: str, files: Mapping[str, str | bytes]) -> Any:
    return wait_done(fn, function_id, fn.create_deployment(function_id, code_archive(files), True)["$id"])


def layer_of(server: LocalServer, project: str, function_id: str, deployment_id: str) -> Path:
    """The layer folder a deployment's venv links to."""
    link = server.data_dir / "functions" / project / function_id / deployment_id / "venv"
    assert link.is_symlink(), f"{link} is not a link to a layer"
    target = Path(os.path.realpath(link))
    assert target.parent.parent == Path(os.path.realpath(server.data_dir / "functions" / ".layers"))
    return target.parent


def run(fn: Functions, function_id: str) -> str:
    execution = fn.create_execution(function_id, "", False, "/", "GET")
    assert execution["responseStatusCode"] == 200, execution["errors"]
    return str(execution["responseBody"])


server = module_server("layers")


@pytest.fixture
def credentials(server: LocalServer) -> admin.ProjectCredentials:
    return server.new_project()


@pytest.fixture
def project(credentials: admin.ProjectCredentials) -> str:
    return credentials.project_id


@pytest.fixture
def fn(server: LocalServer, credentials: admin.ProjectCredentials) -> Functions:
    return Functions(server.client(credentials.project_id, credentials.api_key))


def test_same_requirements_reuse_the_layer_and_code_only_deploys_install_nothing(
    server: LocalServer, fn: Functions, project: str
) -> None:
    fn.create("first", "First", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    one = deploy(fn, "first", local_code())
    assert one["status"] == "ready", one["buildLogs"]
    assert "Built dependency layer" in one["buildLogs"]
    assert "pip install with uv" in one["buildLogs"]
    assert run(fn, "first") == "value=42"
    layer = layer_of(server, project, "first", one["$id"])
    deadline = time.monotonic() + 60  # byte-compiled in the background, after the build
    while not list(layer.glob("venv/lib/python*/site-packages/quixotic_tinypkg/__pycache__/__init__.*.pyc")):
        assert time.monotonic() < deadline, "the layer was never byte-compiled"
        time.sleep(0.1)

    two = deploy(fn, "first", local_code(note="# only the code changed\n"))
    assert two["status"] == "ready", two["buildLogs"]
    assert "Reusing dependency layer" in two["buildLogs"]
    assert f"$ {LOCAL_INSTALL}" not in two["buildLogs"]  # no command ran, so nothing was installed
    assert "Built dependency layer" not in two["buildLogs"]
    assert layer_of(server, project, "first", two["$id"]) == layer_of(server, project, "first", one["$id"])
    assert run(fn, "first") == "value=42"

    fn.create("other", "Other", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    three = deploy(fn, "other", local_code(note="# another function\n"))
    assert "Reusing dependency layer" in three["buildLogs"]
    assert layer_of(server, project, "other", three["$id"]) == layer_of(server, project, "first", one["$id"])
    assert run(fn, "other") == "value=42"


def test_projects_never_share_a_layer_or_an_installer_cache(server: LocalServer, fn: Functions, project: str) -> None:
    """A build of one project may write its layer and caches: another project's builds and workers never read them."""
    fn.create("mine", "Mine", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    mine = deploy(fn, "mine", local_code())
    other = server.new_project()
    theirs_fn = Functions(server.client(other.project_id, other.api_key))
    theirs_fn.create("mine", "Mine", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    theirs = deploy(theirs_fn, "mine", local_code())  # the same inputs, byte for byte
    assert theirs["status"] == "ready", theirs["buildLogs"]
    assert "Built dependency layer" in theirs["buildLogs"] and "Reusing" not in theirs["buildLogs"]
    assert layer_of(server, other.project_id, "mine", theirs["$id"]) != layer_of(server, project, "mine", mine["$id"])
    caches = server.data_dir / ".uv-cache"
    assert {p.name for p in caches.iterdir()} >= {project, other.project_id}
    assert run(theirs_fn, "mine") == "value=42"


def test_changed_requirements_or_commands_get_a_new_layer(server: LocalServer, fn: Functions, project: str) -> None:
    fn.create("change", "Change", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    one = deploy(fn, "change", local_code(f"./{WHEEL_NAME}\n# first\n"))
    two = deploy(fn, "change", local_code(f"./{WHEEL_NAME}\n# second\n"))
    assert one["status"] == two["status"] == "ready", two["buildLogs"]
    assert "Built dependency layer" in two["buildLogs"]
    first, second = layer_of(server, project, "change", one["$id"]), layer_of(server, project, "change", two["$id"])
    assert first != second
    fn.update("change", "Change", commands=LOCAL_INSTALL + " --no-deps")
    three = deploy(fn, "change", local_code(f"./{WHEEL_NAME}\n# second\n"))
    assert "Built dependency layer" in three["buildLogs"]
    assert layer_of(server, project, "change", three["$id"]) not in (first, second)


def test_a_layer_left_without_its_marker_is_removed_and_built_again(
    server: LocalServer, fn: Functions, project: str
) -> None:
    fn.create("half", "Half", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    requirements = f"./{WHEEL_NAME}\n# half\n"
    one = deploy(fn, "half", local_code(requirements))
    layer = layer_of(server, project, "half", one["$id"])
    # What an install killed part-way leaves: no marker, a package half there.
    (layer / "layer.json").unlink()
    for package in layer.glob("venv/lib/python*/site-packages/quixotic_tinypkg"):
        shutil.rmtree(package)
    two = deploy(fn, "half", local_code(requirements, note="# again\n"))
    assert two["status"] == "ready", two["buildLogs"]
    assert "left half-built" in two["buildLogs"]
    assert "Built dependency layer" in two["buildLogs"]
    assert layer_of(server, project, "half", two["$id"]) == layer
    assert (layer / "layer.json").is_file()
    assert run(fn, "half") == "value=42"


def test_a_server_killed_mid_install_leaves_no_layer_that_is_trusted(tmp_path: Path) -> None:
    with WheelIndex().running() as index:
        data, log = tmp_path / "data", tmp_path / "server.log"
        first = start_server(data, log)
        project = first.new_project()
        fn = Functions(first.client(project.project_id, project.api_key))
        commands = f"pip install --index-url {index.url} quixotic-tinypkg"
        fn.create("killed", "Killed", "python-3.11", entrypoint="main.py", commands=commands)
        index.hold()
        created = fn.create_deployment("killed", code_archive({"main.py": MAIN}), True)
        assert index.download_begun.wait(60), "the install never reached the download"
        layers = list((data / "functions" / ".layers").glob("*/venv"))
        assert len(layers) == 1 and not (layers[0].parent / "layer.json").exists()
        first.process.kill()  # SIGKILL mid-install: the layer has a venv and no marker
        first.process.wait(timeout=10)
        index.release()
        # A finished layer that no deployment links to (its last one went while the server was down).
        unused = data / "functions" / ".layers" / ("0" * 32)
        (unused / "venv" / "bin").mkdir(parents=True)
        (unused / "venv" / "bin" / "python").symlink_to(sys.executable)
        (unused / "layer.json").write_text(json.dumps({"key": "0" * 32, "size": 1, "created": "then"}))

        second = start_server(data, log)
        try:
            fn = Functions(second.client(project.project_id, project.api_key))
            dep = wait_done(fn, "killed", created["$id"])  # the cut-short build runs again
            assert dep["status"] == "ready", dep["buildLogs"]
            assert "Built dependency layer" in dep["buildLogs"]
            # The install the kill orphaned may still hold the layer's lock at start-up (it inherited it): then the
            # build waits for it and finds the folder half-made; else the start-up removes it.
            at_start = "(half-built)" in log.read_text()
            assert at_start or "left half-built" in dep["buildLogs"]
            assert not unused.exists()
            assert f"removed dependency layer {'0' * 32} (no deployment uses it)" in log.read_text()
            assert run(fn, "killed") == "value=42"
        finally:
            stop(second)


def test_two_deployments_that_need_one_new_layer_build_it_once(
    server: LocalServer, fn: Functions, project: str
) -> None:
    with WheelIndex().running() as index:
        commands = f"pip install --index-url {index.url} quixotic-tinypkg"
        for name in ("twin-a", "twin-b"):
            fn.create(name, name, "python-3.11", entrypoint="main.py", commands=commands)
        index.hold()
        a = fn.create_deployment("twin-a", code_archive({"main.py": MAIN}), True)
        assert index.download_begun.wait(60)
        b = fn.create_deployment("twin-b", code_archive({"main.py": MAIN + "# b\n"}), True)
        wait_done(fn, "twin-b", b["$id"], ("building",))
        time.sleep(0.5)  # b reaches the layer's lock while a's install is held
        assert fn.get_deployment("twin-b", b["$id"])["status"] == "building"
        index.release()
        done_a, done_b = wait_done(fn, "twin-a", a["$id"]), wait_done(fn, "twin-b", b["$id"])
    assert done_a["status"] == done_b["status"] == "ready", done_b["buildLogs"]
    assert "Built dependency layer" in done_a["buildLogs"]
    assert "Built dependency layer" not in done_b["buildLogs"]
    assert "waiting for it" in done_b["buildLogs"]
    assert "Reusing dependency layer" in done_b["buildLogs"]
    assert f"$ {commands}" not in done_b["buildLogs"]  # b ran no install of its own
    assert layer_of(server, project, "twin-a", a["$id"]) == layer_of(server, project, "twin-b", b["$id"])
    assert run(fn, "twin-b") == "value=42"


def test_unused_layers_are_collected_and_used_ones_kept(server: LocalServer, fn: Functions, project: str) -> None:
    fn.create("gc", "GC", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    old = deploy(fn, "gc", local_code(f"./{WHEEL_NAME}\n# gc old\n"))
    new = deploy(fn, "gc", local_code(f"./{WHEEL_NAME}\n# gc new\n"))
    fn.create("gc-shared", "GC shared", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    shared = deploy(fn, "gc-shared", local_code(f"./{WHEEL_NAME}\n# gc new\n"))
    old_layer, new_layer = layer_of(server, project, "gc", old["$id"]), layer_of(server, project, "gc", new["$id"])
    assert layer_of(server, project, "gc-shared", shared["$id"]) == new_layer

    fn.delete_deployment("gc", old["$id"])
    assert not old_layer.exists()  # no deployment used it any more
    assert new_layer.is_dir()
    fn.delete("gc")
    assert new_layer.is_dir()  # gc-shared still uses it
    assert run(fn, "gc-shared") == "value=42"
    fn.delete("gc-shared")
    assert not new_layer.exists()


SLEEPER = MAIN.replace(
    "def main(context):\n",
    "def main(context):\n    if context.req.path == '/sleep':\n        import time\n        time.sleep(4)\n",
)


def test_a_layer_a_running_worker_uses_is_kept_until_it_ends(server: LocalServer, fn: Functions, project: str) -> None:
    fn.create("busy", "Busy", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL, timeout=30)
    dep = deploy(fn, "busy", {**local_code(f"./{WHEEL_NAME}\n# busy\n"), "main.py": SLEEPER})
    assert dep["status"] == "ready", dep["buildLogs"]
    layer = layer_of(server, project, "busy", dep["$id"])
    execution = fn.create_execution("busy", "", True, "/sleep", "GET")
    deadline = time.monotonic() + 30
    while fn.get_execution("busy", execution["$id"])["status"] != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # the worker has started and sleeps inside main
    fn.delete_deployment("busy", dep["$id"])
    assert layer.is_dir()  # no deployment links to it, but a worker still runs on it
    while fn.get_execution("busy", execution["$id"])["status"] == "processing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert fn.get_execution("busy", execution["$id"])["responseStatusCode"] == 200
    fn.delete("busy")  # the next collection, now that the worker is done
    assert not layer.exists()


def test_builds_and_workers_cannot_write_a_finished_layer(server: LocalServer, fn: Functions, project: str) -> None:
    fn.create("owner", "Owner", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    owner = deploy(fn, "owner", local_code(f"./{WHEEL_NAME}\n# walls\n"))
    layer = layer_of(server, project, "owner", owner["$id"])
    if "NO file-system wall" in server.log_path.read_text():
        pytest.skip("this kernel has no Landlock")
    target = layer / "venv" / "planted.txt"
    # A build of another deployment (its own venv: the command is not a plain install) tries to plant a file.
    fn.create("intruder", "Intruder", "python-3.11", entrypoint="main.py", commands=f"echo x > {target}")
    intruder = deploy(fn, "intruder", {"main.py": MAIN.replace("import quixotic_tinypkg\n", "")})
    assert intruder["status"] == "failed"
    assert "Permission denied" in intruder["buildLogs"]
    # The layer's own worker cannot change it either.
    writer = MAIN.replace(
        "def main(context):\n",
        f"def main(context):\n    try:\n        open({str(target)!r}, 'w')\n"
        "    except OSError as exc:\n        return context.res.text(type(exc).__name__)\n",
    )
    fn.create("writer", "Writer", "python-3.11", entrypoint="main.py", commands=LOCAL_INSTALL)
    written = deploy(fn, "writer", {**local_code(f"./{WHEEL_NAME}\n# walls\n"), "main.py": writer})
    assert "Reusing dependency layer" in written["buildLogs"]
    assert run(fn, "writer") == "PermissionError"
    assert not target.exists()


CHILD_BUILD = """
import os, sys, time
from pathlib import Path
from quixotic.server.compute.runtime.layers import Layers, file_lock

def build(venv, lock_fd):
    (venv / "bin").mkdir(parents=True)
    os.symlink(sys.executable, venv / "bin" / "python")
    print("building", flush=True)
    time.sleep(2)
    return True

with Layers(Path(sys.argv[1])).use("k" * 32, build, print) as info:
    print("done", info is not None and info.built_now, flush=True)
"""


def test_the_layer_lock_holds_across_processes(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD_BUILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "building"
    said: list[str] = []

    def must_not_build(venv: Path, lock_fd: int) -> bool:
        raise AssertionError("the layer another process is building was built twice")

    with Layers(tmp_path).use("k" * 32, must_not_build, said.append) as info:
        assert info is not None and not info.built_now
    assert any("waiting for it" in line for line in said)
    assert child.wait(10) == 0
    assert "done True" in child.stdout.read().splitlines()  # the child built it


def test_a_build_killed_by_its_timeout_leaves_no_layer(tmp_path: Path, pack: Callable[..., Path]) -> None:
    layers = Layers(tmp_path / "layers")
    archive = pack(tmp_path / "code.tar.gz", {"main.py": MAIN})
    with WheelIndex().running() as index:
        commands = f"pip install --index-url {index.url} quixotic-tinypkg"
        index.hold()
        cut = build_deployment(archive, tmp_path / "a", "main.py", commands, timeout=3, layers=layers)
        assert not cut.ok and "timed out" in cut.logs
        assert index.downloads >= 1  # it was killed mid-install
        assert [p.name for p in layers.root.iterdir() if p.is_dir()] == []  # nothing half-made is left
        index.release()
        again = build_deployment(archive, tmp_path / "b", "main.py", commands, layers=layers)
    assert again.ok, again.logs
    assert "Built dependency layer" in again.logs


def test_waiting_for_a_layer_lock_that_is_never_let_go_gives_up(tmp_path: Path) -> None:
    layers = Layers(tmp_path)
    said: list[str] = []

    def must_not_build(venv: Path, lock_fd: int) -> bool:
        raise AssertionError("built while another holds the lock")

    # What a process that escaped its build (and kept the inherited lock) does to later builds of that key.
    with file_lock(tmp_path / f"{'k' * 32}.lock") as held:
        assert held is not None
        with layers.use("k" * 32, must_not_build, said.append, wait=1.0) as info:
            assert info is None
    assert any("Gave up waiting" in line for line in said)
