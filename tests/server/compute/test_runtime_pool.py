"""Worker pools: the Open Runtimes v5 Python contract, warm reuse, and every way a function can misbehave."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quixotic.server.compute.runtime.build import BuildResult, build_deployment
from quixotic.server.compute.runtime.harness import NATIVE_LOGS_WARNING, RETURN_MISSING
from quixotic.server.compute.runtime.pool import RuntimeRequest, RuntimeResponse, Runtimes, WorkerPool

MAIN = r"""
import asyncio
import os
import sys
import time

from .helper import GREETING

counter = 0
print("module loaded")


def main(context):
    global counter
    req, res = context.req, context.res
    path = req.path
    if path == "/count":
        counter += 1
        return res.json({"count": counter, "pid": os.getpid()})
    if path == "/req":
        fields = ["method", "path", "query", "query_string", "scheme", "host", "port", "url", "headers", "body_text"]
        out = {name: getattr(req, name) for name in fields}
        out["body_raw"] = req.body_raw
        out["body"] = req.body
        out["body_json"] = req.body_json if req.headers.get("content-type") == "application/json" else None
        out["binary_len"] = len(req.body_binary)
        return res.json(out)
    if path == "/text":
        return res.text("h\u00e9llo", 201, {"X-Custom": "1", "x-open-runtimes-secret": "hidden"})
    if path == "/binary":
        return res.binary(bytes(range(256)))
    if path == "/json":
        return res.json({"a": [1, 2], "b": None}, 202, {"x-extra": "y"})
    if path == "/empty":
        return res.empty()
    if path == "/redirect":
        return res.redirect("https://example.com/next")
    if path == "/send":
        return res.send("sent")
    if path == "/charset":
        return res.text("<p>", 200, {"content-type": "text/html; charset=latin-1"})
    if path == "/multipart":
        return res.text("--x--", 200, {"content-type": "multipart/form-data; boundary=x"})
    if path == "/logs":
        print("to stdout")
        print("to stderr", file=sys.stderr)
        context.log("logged", {"k": [1]}, ["x"])
        context.log("y" * 10000)
        context.error("bad thing")
        return res.text("logged")
    if path == "/quiet":
        context.log("only context")
        return res.text("quiet")
    if path == "/raise":
        context.error("before the crash")
        raise RuntimeError("boom")
    if path == "/none":
        return None
    if path == "/sleep":
        time.sleep(float(req.query.get("s", "1")))
        return res.text("slept")
    if path == "/exit":
        os._exit(3)
    if path == "/sysexit":
        sys.exit(4)
    if path == "/segfault":
        import ctypes
        ctypes.string_at(0)
    if path == "/flood":
        chunk = "x" * 999_999 + "\n"
        for _ in range(100):
            sys.stdout.write(chunk)
        print("tail-marker")
        return res.text("flooded")
    if path == "/env":
        return res.json({"given": os.environ.get("GIVEN"), "leak": os.environ.get("QUIXOTIC_TEST_SERVER_SECRET"),
                         "path": os.environ["PATH"], "cwd": os.getcwd()})
    if path == "/echo":
        return res.binary(req.body_binary, 200, {"content-type": "application/octet-stream"})
    if path == "/helper":
        return res.text(GREETING)
    if path == "/raw-fd":
        os.write(1, b"straight to fd 1\n")
        return res.text("ok")
    return res.text("not found", 404)
"""

ASYNC_MAIN = """
import asyncio

async def main(context):
    await asyncio.sleep(0.01)
    context.log("async ran")
    if context.req.path == "/none":
        return None
    return context.res.json({"async": True, "body": context.req.body_text})
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, pack: Callable[..., Path]) -> Path:
    base = tmp_path_factory.mktemp("pool")
    files = {"src/main.py": MAIN, "src/helper.py": "GREETING = 'hi from helper'\n"}
    result = build_deployment(pack(base / "code.tar.gz", files), base / "dep", "src/main.py", "")
    assert result.ok, result.logs
    return base / "dep"


@pytest.fixture
def make_pool(deployment: Path) -> Iterator[Callable[..., WorkerPool]]:
    pools: list[WorkerPool] = []

    def make(
        size: int = 1, env: dict[str, str] | None = None, entrypoint: str = "src/main.py", **kw: object
    ) -> WorkerPool:
        dep = kw.pop("dep", deployment)
        assert isinstance(dep, Path)
        pool = WorkerPool(dep / "code", dep / "venv", entrypoint, env or {}, size=size, **kw)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture
def pool(make_pool: Callable[..., WorkerPool]) -> WorkerPool:
    return make_pool()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def call(pool: WorkerPool, path: str, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes = b"", timeout: float = 10) -> RuntimeResponse:  # fmt: skip
    return pool.execute(RuntimeRequest(method, path, headers or {}, body, timeout))


@pytest.fixture
def built(tmp_path: Path, pack: Callable[..., Path]) -> Callable[[dict[str, str]], Path]:
    """Build a one-off deployment (entrypoint main.py) and return its folder."""

    def make(files: dict[str, str]) -> Path:
        result: BuildResult = build_deployment(pack(tmp_path / "c.tar.gz", files), tmp_path / "d", "main.py", "")
        assert result.ok, result.logs
        return tmp_path / "d"

    return make


# --- the contract ----------------------------------------------------------------------------------------------


def test_module_state_survives_and_the_worker_stays_warm(pool: WorkerPool) -> None:
    first = call(pool, "/count")
    assert first.status == 200
    assert "module loaded" in first.logs  # import-time prints land in the first execution's logs
    second = call(pool, "/count")
    third = call(pool, "/count")
    counts = [json.loads(r.body)["count"] for r in (first, second, third)]
    assert counts == [1, 2, 3]
    assert len({json.loads(r.body)["pid"] for r in (first, second, third)}) == 1
    assert pool.started == 1
    assert "module loaded" not in third.logs


def test_request_fields(pool: WorkerPool) -> None:
    headers = {
        "host": "example.com:8080",
        "content-type": "application/json",
        "x-appwrite-trigger": "http",
        "x-open-runtimes-secret": "s3cret",
        "X-Mixed-Case": "v",
    }
    r = call(pool, "/req?a=1&b=x%20y&flag", "POST", headers, b'{"n": 1}')
    assert r.status == 200, r.errors
    got = json.loads(r.body)
    assert got["method"] == "POST"
    assert got["path"] == "/req"
    assert got["query_string"] == "a=1&b=x%20y&flag"
    assert got["query"] == {"a": "1", "b": "x%20y", "flag": ""}  # naive split, not URL-decoded
    assert got["scheme"] == "http"
    assert (got["host"], got["port"]) == ("example.com", 8080)
    assert got["url"] == "http://example.com:8080/req?a=1&b=x%20y&flag"
    assert got["headers"]["x-appwrite-trigger"] == "http"
    assert got["headers"]["x-mixed-case"] == "v"
    assert not any(k.startswith("x-open-runtimes-") for k in got["headers"])
    assert got["body_text"] == got["body_raw"] == '{"n": 1}'
    assert got["body"] == got["body_json"] == {"n": 1}
    assert got["binary_len"] == 8


def test_request_defaults(pool: WorkerPool) -> None:
    got = json.loads(call(pool, "/req").body)
    assert (got["host"], got["port"], got["scheme"]) == ("localhost", 80, "http")
    assert got["url"] == "http://localhost/req"
    assert got["query"] == {}
    assert got["body"] == ""
    https = json.loads(call(pool, "/req", headers={"x-forwarded-proto": "https", "host": "api.test"}).body)
    assert (https["port"], https["url"]) == (443, "https://api.test/req")


@pytest.mark.parametrize(
    ("path", "status", "body", "headers"),
    [
        ("/text", 201, "h\u00e9llo".encode(), {"x-custom": "1", "content-type": "text/plain; charset=utf-8"}),
        ("/binary", 200, bytes(range(256)), {"content-type": "text/plain; charset=utf-8"}),
        ("/json", 202, b'{"a":[1,2],"b":null}', {"x-extra": "y", "content-type": "application/json; charset=utf-8"}),
        ("/empty", 204, b"", {"content-type": "text/plain; charset=utf-8"}),
        ("/redirect", 301, b"", {"location": "https://example.com/next", "content-type": "text/plain; charset=utf-8"}),
        ("/send", 200, b"sent", {"content-type": "text/plain; charset=utf-8"}),
        ("/charset", 200, b"<p>", {"content-type": "text/html; charset=latin-1"}),
        ("/multipart", 200, b"--x--", {"content-type": "multipart/form-data; boundary=x"}),
        ("/nope", 404, b"not found", {"content-type": "text/plain; charset=utf-8"}),
    ],
)
def test_response_forms(pool: WorkerPool, path: str, status: int, body: bytes, headers: dict[str, str]) -> None:
    r = call(pool, path)
    assert (r.status, r.body, r.headers) == (status, body, headers)
    assert r.errors == ""


def test_logs_errors_and_native_print(pool: WorkerPool) -> None:
    r = call(pool, "/logs")
    assert r.status == 200
    lines = r.logs.splitlines()
    assert lines[0] == 'logged {"k": [1]} ["x"]'
    assert lines[1] == "y" * 8000  # one context.log call is cut at 8000 characters
    assert NATIVE_LOGS_WARNING in r.logs
    assert r.logs.index(NATIVE_LOGS_WARNING) < r.logs.index("to stdout") < r.logs.index("to stderr")
    assert r.errors == "bad thing\n"
    quiet = call(pool, "/quiet")
    assert quiet.logs == "only context\n"  # no warning when nothing was printed
    assert quiet.errors == ""


def test_large_binary_body_round_trip(pool: WorkerPool) -> None:
    payload = os.urandom(5 * 1024 * 1024)
    r = call(pool, "/echo", "POST", {"content-type": "application/octet-stream"}, payload)
    assert r.status == 200
    assert r.body == payload
    assert r.headers["content-type"] == "application/octet-stream; charset=utf-8"


def test_relative_import_from_a_src_entrypoint(pool: WorkerPool) -> None:
    assert call(pool, "/helper").body == b"hi from helper"


def test_exception_is_a_500_with_the_traceback(pool: WorkerPool) -> None:
    r = call(pool, "/raise")
    assert r.status == 500
    assert r.body == b""
    assert r.errors.startswith("before the crash\n")
    assert "Traceback (most recent call last)" in r.errors
    assert "RuntimeError: boom" in r.errors
    assert call(pool, "/count").status == 200
    assert pool.started == 1  # an exception does not cost the warm worker


def test_missing_return_is_a_500(pool: WorkerPool) -> None:
    r = call(pool, "/none")
    assert r.status == 500
    assert RETURN_MISSING in r.errors


def test_async_main(built: Callable[[dict[str, str]], Path], make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool(dep=built({"main.py": ASYNC_MAIN}), entrypoint="main.py")
    for _ in range(2):  # the event loop is reused between executions
        r = call(pool, "/", "POST", body=b"payload")
        assert r.status == 200, r.errors
        assert json.loads(r.body) == {"async": True, "body": "payload"}
        assert r.logs == "async ran\n"
    assert RETURN_MISSING in call(pool, "/none").errors
    assert pool.started == 1


# --- isolation -------------------------------------------------------------------------------------------------


def test_environment_is_isolated(make_pool: Callable[..., WorkerPool], deployment: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("QUIXOTIC_TEST_SERVER_SECRET", "leaked")
    pool = make_pool(env={"GIVEN": "yes"})
    got = json.loads(call(pool, "/env").body)
    assert got["given"] == "yes"
    assert got["leak"] is None
    assert got["path"].startswith(str((deployment / "venv" / "bin").resolve()))
    assert got["cwd"] == str((deployment / "code").resolve())


def test_raw_fd_output_goes_to_the_log_dir(make_pool: Callable[..., WorkerPool], tmp_path: Path) -> None:
    pool = make_pool(log_dir=tmp_path / "logs")
    assert call(pool, "/raw-fd").status == 200
    pool.close()
    assert "straight to fd 1" in (tmp_path / "logs" / "worker.log").read_text()


# --- misbehaviour ----------------------------------------------------------------------------------------------


def test_timeout_kills_and_replaces_the_worker(pool: WorkerPool) -> None:
    assert call(pool, "/count").status == 200
    began = time.monotonic()
    r = call(pool, "/sleep?s=30", timeout=1)
    assert time.monotonic() - began < 3
    assert (r.status, r.errors) == (500, "Execution timed out.")
    assert 1 <= r.duration < 3
    after = call(pool, "/count")
    assert after.status == 200
    assert json.loads(after.body)["count"] == 1  # a fresh process
    assert pool.started == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [("/exit", "exited with code 3"), ("/segfault", "killed by SIGSEGV")],
)
def test_worker_death_is_a_500_and_the_next_request_works(pool: WorkerPool, path: str, message: str) -> None:
    assert call(pool, "/count").status == 200
    r = call(pool, path)
    assert r.status == 500
    assert message in r.errors
    assert call(pool, "/count").status == 200
    assert pool.started == 2


def test_sys_exit_is_a_500_with_logs_and_retires_the_worker(pool: WorkerPool) -> None:
    r = call(pool, "/sysexit")
    assert r.status == 500
    assert "sys.exit(4)" in r.errors
    assert "SystemExit" in r.errors
    assert call(pool, "/count").status == 200
    assert pool.started == 2


def test_printing_100_mb_keeps_the_end_of_the_logs(pool: WorkerPool) -> None:
    r = call(pool, "/flood", timeout=30)
    assert r.status == 200
    assert r.body == b"flooded"
    assert len(r.logs) <= 1_000_000
    assert r.logs.endswith("tail-marker\n")
    assert NATIVE_LOGS_WARNING in r.logs


def test_syntax_error_answers_503_every_time(
    built: Callable[[dict[str, str]], Path], make_pool: Callable[..., WorkerPool]
) -> None:
    pool = make_pool(dep=built({"main.py": "print('before')\ndef main(context:\n"}), entrypoint="main.py")
    for _ in range(2):
        r = call(pool, "/")
        assert r.status == 503
        assert "SyntaxError" in r.errors
    assert pool.started == 2  # each failed import is retried in a fresh process


def test_missing_main_answers_503(
    built: Callable[[dict[str, str]], Path], make_pool: Callable[..., WorkerPool]
) -> None:
    pool = make_pool(dep=built({"main.py": "print('loaded anyway')\n"}), entrypoint="main.py")
    r = call(pool, "/")
    assert r.status == 503
    assert "does not define a main(context) function" in r.errors
    assert "loaded anyway" in r.logs


def test_missing_interpreter_is_a_500_not_an_exception(tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path, tmp_path / "no-venv", "main.py", {})
    r = call(pool, "/")
    assert r.status == 500
    assert "Could not start a worker" in r.errors
    pool.close()


# --- concurrency and lifecycle ---------------------------------------------------------------------------------


def test_two_workers_run_two_slow_requests_in_parallel(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool(size=2)
    call(pool, "/count")  # warm one worker so the timing below is about parallelism, not cold starts
    results: list[RuntimeResponse] = []
    began = time.monotonic()
    threads = [threading.Thread(target=lambda: results.append(call(pool, "/sleep?s=1.5"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    assert [r.status for r in results] == [200, 200]
    assert elapsed < 2.7  # one after the other would take 3 s
    assert pool.started == 2


def test_size_one_queues_requests(pool: WorkerPool) -> None:
    results: list[RuntimeResponse] = []
    threads = [threading.Thread(target=lambda: results.append(call(pool, "/sleep?s=0.3"))) for _ in range(3)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in results] == [200, 200, 200]
    assert time.monotonic() - began >= 0.9
    assert pool.started == 1


def test_close_stops_workers_and_later_calls_fail_cleanly(pool: WorkerPool) -> None:
    pid = json.loads(call(pool, "/count").body)["pid"]
    pool.close()
    assert not alive(pid)
    r = call(pool, "/count")
    assert r.status == 503


def test_close_during_an_execution(pool: WorkerPool) -> None:
    result: list[RuntimeResponse] = []
    thread = threading.Thread(target=lambda: result.append(call(pool, "/sleep?s=30", timeout=30)))
    thread.start()
    time.sleep(0.5)
    began = time.monotonic()
    pool.close()
    thread.join(timeout=10)
    assert time.monotonic() - began < 5
    assert result[0].status == 500
    assert "shut down" in result[0].errors


def test_runtimes_reuse_and_retire(deployment: Path) -> None:
    runtimes = Runtimes(size=1)
    try:
        code, venv = deployment / "code", deployment / "venv"
        a = runtimes.pool("dep-a", code, venv, "src/main.py", {})
        assert runtimes.pool("dep-a", code, venv, "src/main.py", {}) is a
        b = runtimes.pool("dep-b", code, venv, "src/main.py", {})
        assert b is not a
        pid = json.loads(call(a, "/count").body)["pid"]
        call(b, "/count")
        runtimes.retire(lambda key: key == "dep-b")
        assert runtimes.keys() == ["dep-b"]
        assert not alive(pid)
        assert call(a, "/count").status == 200  # a request that raced the retirement is still served
        assert runtimes.pool("dep-b", code, venv, "src/main.py", {}) is b
        assert json.loads(call(b, "/count").body)["count"] == 2
    finally:
        runtimes.close()


def test_retire_lets_the_execution_in_flight_finish(deployment: Path) -> None:
    runtimes = Runtimes(size=1)
    try:
        pool = runtimes.pool("old", deployment / "code", deployment / "venv", "src/main.py", {})
        result: list[RuntimeResponse] = []
        thread = threading.Thread(target=lambda: result.append(call(pool, "/sleep?s=1")))
        thread.start()
        time.sleep(0.4)
        runtimes.retire(lambda key: False)
        thread.join(timeout=10)
        assert result[0].status == 200
        assert result[0].body == b"slept"
    finally:
        runtimes.close()
