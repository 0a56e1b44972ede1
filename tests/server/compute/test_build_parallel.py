"""Builds run side by side, and when they must wait for a thread, the longest expected goes first: the build queue
with real threads, and the builds of several functions deployed at once on a real server (their logs say when
each ran)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from appwrite.services.functions import Functions
from support.deployments import code_archive
from support.server import LocalServer
from support.spawn import module_server

from quixotic.server.compute.runtime.build_queue import BuildQueue

MAIN = "def main(context):\n    return context.res.text('ok')\n"
# Not a plain install, so each build gets its own venv and really runs its commands.
TIMED = 'echo "began $(date +%s.%N)"; sleep 2; echo "ended $(date +%s.%N)"'


def test_waiting_builds_start_longest_first() -> None:
    queue = BuildQueue(1)
    gate, holding, order = threading.Event(), threading.Event(), []

    def hold() -> None:
        holding.set()
        gate.wait(10)

    queue.submit(hold, cost=0)  # holds the only thread while the others queue up
    assert holding.wait(10)  # taken before the others come (else the thread may pick one of them first)
    for cost in (1.0, 30.0, 5.0, 30.0):
        queue.submit(lambda cost=cost: order.append(cost), cost=cost)
    gate.set()
    deadline = time.monotonic() + 10
    while len(order) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.close()
    assert order == [30.0, 30.0, 5.0, 1.0]


def test_builds_up_to_the_thread_count_run_at_once() -> None:
    queue = BuildQueue(3)
    together = threading.Barrier(3, timeout=10)  # broken unless three tasks wait on it at the same time
    done: list[bool] = []
    for _ in range(3):
        queue.submit(lambda: done.append(together.wait() >= 0))
    deadline = time.monotonic() + 10
    while len(done) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.close()
    assert done == [True, True, True]


def test_a_failing_task_does_not_stop_the_queue() -> None:
    queue = BuildQueue(1)
    ran = threading.Event()

    def boom() -> None:
        raise RuntimeError("a build's own failure")

    queue.submit(boom)
    queue.submit(ran.set)
    assert ran.wait(10)
    queue.close()


server = module_server("parallel")


def span(logs: str) -> tuple[float, float]:
    began = re.search(r"^began (\d+\.\d+)$", logs, re.M)
    ended = re.search(r"^ended (\d+\.\d+)$", logs, re.M)
    assert began and ended, logs
    return float(began[1]), float(ended[1])


def test_the_builds_of_a_deploy_run_side_by_side(server: LocalServer) -> None:
    project = server.new_project()
    fn = Functions(server.client(project.project_id, project.api_key))
    names = ("one", "two", "three")
    created: dict[str, Any] = {}
    for name in names:
        fn.create(name, name, "python-3.11", entrypoint="main.py", commands=TIMED)
    for name in names:
        created[name] = fn.create_deployment(name, code_archive({"main.py": MAIN}), True)
    spans = []
    deadline = time.monotonic() + 120
    for name in names:
        while (dep := fn.get_deployment(name, created[name]["$id"]))["status"] not in ("ready", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert dep["status"] == "ready", dep["buildLogs"]
        spans.append(span(dep["buildLogs"]))
    # Each build sleeps 2 s; one after another, none would begin before the one before it ended.
    assert max(began for began, _ in spans) < min(ended for _, ended in spans)
