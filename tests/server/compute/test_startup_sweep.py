"""What a crash leaves behind is removed when the server starts again, and the log says what went.

A real server is killed with SIGKILL in the middle of a build; leftovers of an upload, a bucket deletion, a
worker's home and a deleted deployment are planted where a crash leaves them. The next start removes each, logs
each, builds the cut-short deployment again, and leaves alone what is live.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from support.server import LocalServer, start_server
from support.spawn import stop

MAIN = b"def main(context):\n    return context.res.text('built')\n"


def code_archive() -> InputFile:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("main.py")
        info.size = len(MAIN)
        tar.addfile(info, io.BytesIO(MAIN))
    return InputFile.from_bytes(buf.getvalue(), "code.tar.gz")


def wait_status(fn: Functions, function_id: str, deployment_id: str, want: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        dep = dict(fn.get_deployment(function_id, deployment_id))
        if dep["status"] in want:
            return dep
        assert time.monotonic() < deadline, f"deployment still {dep['status']}, not one of {want}"
        time.sleep(0.05)


@pytest.fixture
def restarted(tmp_path: Path) -> Iterator[tuple[LocalServer, dict[str, Any]]]:
    data, log = tmp_path / "data", tmp_path / "server.log"
    first = start_server(data, log)
    project = first.new_project()
    fn = Functions(first.client(project.project_id, project.api_key))
    fn.create("live", "Live", "python-3.11", entrypoint="main.py")
    live = wait_status(fn, "live", fn.create_deployment("live", code_archive(), True)["$id"], ("ready",))
    fn.create("slow", "Slow", "python-3.11", entrypoint="main.py", commands="sleep 5")
    slow = fn.create_deployment("slow", code_archive(), True)
    wait_status(fn, "slow", slow["$id"], ("building",))
    first.process.kill()  # SIGKILL mid-build: no clean-up of any kind runs
    first.process.wait(timeout=10)
    planted = {
        "upload": data / "files" / ".tmp" / "upload-half-copied",
        "trash": data / "files" / ".trash" / "tmpbucket" / "b1" / "f1",
        "home": data / "functions" / ".run" / "quixotic-fn-home-old" / "note.txt",
        "orphan": data / "functions" / project.project_id / "live" / "deadbeef0000" / "code" / "main.py",
    }
    for path in planted.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by a crash")
    half = data / "functions" / project.project_id / "slow" / slow["$id"]
    assert half.is_dir()
    second = start_server(data, log)
    fn = Functions(second.client(project.project_id, project.api_key))
    facts = {"planted": planted, "half": half, "live": live, "slow": slow, "fn": fn, "project": project}
    yield second, facts
    stop(second)


def test_start_up_removes_and_logs_what_a_crash_left(restarted: tuple[LocalServer, dict[str, Any]]) -> None:
    srv, facts = restarted
    project = facts["project"].project_id
    text = srv.log_path.read_text()
    for name, path in facts["planted"].items():
        assert not path.exists(), f"{name} left at {path}"
    assert "start-up: removed 2 leftover(s) of an interrupted run from the files folder" in text
    assert "files/.tmp/upload-half-copied" in text and "files/.trash/tmpbucket" in text
    assert "start-up: removed 1 worker home(s) of the last run: functions/.run/quixotic-fn-home-old" in text
    assert f"start-up: removed functions/{project}/live/deadbeef0000: its deployment no longer exists" in text
    slow = facts["slow"]["$id"]
    assert f"start-up: removed functions/{project}/slow/{slow}: a build cut short (status building" in text


def test_the_cut_short_build_runs_again_and_the_live_one_is_kept(
    restarted: tuple[LocalServer, dict[str, Any]],
) -> None:
    _, facts = restarted
    fn: Functions = facts["fn"]
    rebuilt = wait_status(fn, "slow", facts["slow"]["$id"], ("ready", "failed"))
    assert rebuilt["status"] == "ready", rebuilt["buildLogs"]
    live = facts["live"]["$id"]
    assert (facts["half"].parent.parent / "live" / live / "code" / "main.py").is_file()
    execution = fn.create_execution("live", "", False, "/", "GET")
    assert execution["responseStatusCode"] == 200 and execution["responseBody"] == "built"
