"""Warm worker processes that run a deployment's ``main(context)``, one request per worker at a time.

Why processes and not threads: a function can block forever, exit the interpreter, crash in C code or leak
memory; each of those must end in a 500 for that one execution and never harm the server. A worker is a
``harness.py`` process in its own session (process group), so the timeout kills the function and whatever it
spawned. Workers are started lazily and reused, so module-level state (a loaded model) survives executions.
See ``harness`` for the wire protocol, and ``isolation`` for the walls each worker runs behind (it can read
its own deployment and write only its own home, a fresh folder per pool).
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from quixotic.server.compute.runtime import harness
from quixotic.server.compute.runtime.environment import isolated_env
from quixotic.server.compute.runtime.isolation import Isolation, base_python, probe
from quixotic.server.compute.runtime.procs import process_ended, signal_group

log = logging.getLogger("quixotic.server")

HARNESS = Path(harness.__file__).resolve()
STOP_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a pool closes
TIMED_OUT = "Execution timed out."
# Variables the dynamic loader and libc act on when a process starts: from a function's variables they would
# load the deployment's code into the worker before it has confined itself, so the harness gets them only
# afterwards (``harness.DEFERRED_ENV``), for the function and its children.
_LOADER_PREFIXES = ("LD_",)
_LOADER_NAMES = frozenset({"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
                           "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR"})  # fmt: skip


def _defer_loader_variables(env: Mapping[str, str]) -> dict[str, str]:
    deferred = {k: v for k, v in env.items() if k.startswith(_LOADER_PREFIXES) or k in _LOADER_NAMES}
    kept = {k: v for k, v in env.items() if k not in deferred and k != harness.DEFERRED_ENV}
    if deferred:
        kept[harness.DEFERRED_ENV] = json.dumps(deferred)
    return kept


@dataclass(frozen=True)
class RuntimeRequest:
    method: str
    path: str  # may include '?query'
    headers: Mapping[str, str]  # lower-case keys
    body: bytes
    timeout: float  # seconds; the function's timeout


@dataclass(frozen=True)
class RuntimeResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    logs: str
    errors: str
    duration: float  # seconds, from taking a worker (cold start included) to the response


class _Closed:
    """Marker: the pool is closed."""


_CLOSED = _Closed()


def _failure(errors: str, started: float, logs: str = "") -> RuntimeResponse:
    return RuntimeResponse(500, {}, b"", logs, errors, time.monotonic() - started)


class _Worker:
    """One harness process; ``stop`` is idempotent and safe from any thread."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket, log_file: IO[bytes] | None) -> None:
        self.proc = proc
        self.sock = sock
        self.log_file = log_file
        self._lock = threading.Lock()
        self._stopped = False

    def exited(self) -> bool:
        """Whether the process has ended, without reaping it (the zombie keeps its pid, so killpg stays safe)."""
        return process_ended(self.proc)

    def wait_exit(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def hang_up(self) -> None:
        """Shut the socket down: an idle harness sees the end of stream and exits by itself."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def signal_group(self, sig: int) -> None:
        with self._lock:
            if not self._stopped:
                signal_group(self.proc, sig)

    def stop(self) -> int | None:
        """Kill the whole process group, reap the process and release its resources; returns the exit code."""
        with self._lock:
            if not self._stopped:
                self._stopped = True
                signal_group(self.proc, signal.SIGKILL)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable (D-state) process
                    log.warning("worker %s did not die after SIGKILL", self.proc.pid)
                self.sock.close()
                if self.log_file is not None:
                    self.log_file.close()
            return self.proc.returncode


def _describe_death(code: int | None, phase: str) -> str:
    if code is None:
        return f"The worker process closed its connection {phase} and was stopped."
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"The worker process was killed by {name} {phase}; it has been replaced."
    return f"The worker process exited with code {code} {phase}; it has been replaced."


@dataclass(frozen=True)
class Confinement:
    """How the workers of every pool are held in: the walls (None: the strongest this machine has, probed when a
    pool starts), what they may read besides their code and venv, and the folder their fresh homes go in."""

    isolation: Isolation | None = None
    read_paths: tuple[str, ...] = ()
    run_dir: Path | None = None


class WorkerPool:
    """Warm worker processes for one deployment; thread-safe; each worker handles one request at a time."""

    def __init__(
        self,
        code_dir: Path,
        venv_dir: Path,
        entrypoint: str,
        env: Mapping[str, str],
        size: int = 1,
        log_dir: Path | None = None,
        *,
        confinement: Confinement = Confinement(),
    ) -> None:
        self.code_dir = Path(code_dir).resolve()
        self.venv_dir = Path(venv_dir).resolve()
        self.entrypoint = entrypoint
        self.size = max(1, size)
        self.log_dir = log_dir
        self.isolation = confinement.isolation if confinement.isolation is not None else probe()
        run_dir = confinement.run_dir
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
        # Always a fresh home of our own: it is the one folder a confined worker may write (HOME from the
        # function's variables would point the worker elsewhere, so it is not taken).
        self._own_home: Path | None = Path(tempfile.mkdtemp(prefix="quixotic-fn-home-", dir=run_dir))
        home = self._own_home
        given = {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")}
        self._env = _defer_loader_variables(isolated_env(self.venv_dir, home, {**given, "TMPDIR": str(home)}))
        self._policy = self.isolation.policy(
            [str(self.code_dir), str(self.venv_dir), *confinement.read_paths], [str(home)]
        )
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._busy = 0
        self._started = 0
        self._closed = False
        self._draining = False
        self.cold_starts: deque[float] = deque(maxlen=100)  # seconds from spawn to "ready" (for benchmarks)

    @property
    def started(self) -> int:
        """How many worker processes were ever started (tests use it to prove warm reuse)."""
        return self._started

    def active(self) -> bool:
        """Whether a worker of this pool is alive or an execution is in it (its venv is still in use)."""
        with self._cond:
            return bool(self._workers) or self._busy > 0

    # -- public ---------------------------------------------------------------------------------------------

    def execute(self, request: RuntimeRequest) -> RuntimeResponse:
        """Run one execution; never raises for anything the function does (it becomes a 500)."""
        slot = self._acquire()
        started = time.monotonic()
        if slot is _CLOSED:
            return RuntimeResponse(503, {}, b"", "", "The runtime of this deployment is shut down.", 0.0)
        worker = slot if isinstance(slot, _Worker) else None
        healthy = False
        try:
            if worker is None:
                spawned = self._spawn(started + request.timeout)
                if isinstance(spawned, str):
                    return _failure(spawned, started)
                worker = spawned
            response, healthy = self._exchange(worker, request, started)
            return response
        except Exception as exc:  # a bug here must not take the server down with it
            log.exception("runtime failure")
            return _failure(f"Internal runtime error: {exc!r}", started)
        finally:
            self._release(worker, healthy)

    def drain(self) -> None:
        """Retire gently: idle workers stop now, busy ones after their current execution.

        Executions that still arrive (a request that picked this pool just before it was retired) are served
        by fresh workers that stop right after, so retiring never fails a request.
        """
        with self._cond:
            self._draining = True
            idle, self._idle = self._idle, []
            self._workers.difference_update(idle)
        self._stop_all(idle)
        self._cleanup_home_if_done()

    def close(self) -> None:
        """Stop all workers (SIGTERM, then SIGKILL after 2 s); executions in flight end in a 500."""
        with self._cond:
            self._closed = True
            workers = list(self._workers)
            self._idle = []
            self._workers.clear()
            self._cond.notify_all()
        self._stop_all(workers)
        self._cleanup_home_if_done()

    # -- internals ------------------------------------------------------------------------------------------

    def _acquire(self) -> _Worker | _Closed | None:
        """An idle worker, None for "start one" (a slot is reserved), or _CLOSED."""
        with self._cond:
            while True:
                if self._closed:
                    return _CLOSED
                while self._idle:
                    worker = self._idle.pop()
                    if worker.exited():  # died while idle (OOM killer, a thread of the function calling exit)
                        self._workers.discard(worker)
                        threading.Thread(target=worker.stop, daemon=True).start()
                        continue
                    self._busy += 1
                    return worker
                if self._busy < self.size:
                    self._busy += 1
                    return None
                self._cond.wait()

    def _release(self, worker: _Worker | None, healthy: bool) -> None:
        discard: _Worker | None = None
        with self._cond:
            self._busy -= 1
            if worker is not None:
                if healthy and not self._closed and not self._draining:
                    self._idle.append(worker)
                else:
                    self._workers.discard(worker)
                    discard = worker
            self._cond.notify()
        if discard is not None:
            discard.stop()
        if self._draining or self._closed:
            self._cleanup_home_if_done()

    def _spawn(self, deadline: float) -> _Worker | str:
        """Start a worker and wait for its "ready" frame; an error text on failure."""
        spawn_at = time.monotonic()
        refused = self.isolation.check()
        if refused is not None:
            return refused
        if not (self.venv_dir / "bin" / "python").exists():
            return f"Could not start a worker for this deployment: it has no virtual environment ({self.venv_dir})."
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_file: IO[bytes] | None = None
        try:
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log_file = (self.log_dir / "worker.log").open("ab")
            out: Any = log_file if log_file is not None else subprocess.DEVNULL
            fd = child_sock.fileno()
            # The server's base interpreter, isolated (-I) and without site (-S): nothing of the deployment runs
            # before the harness has confined itself (its venv's own python may have been replaced by a build).
            command = [base_python(), "-I", "-S", str(HARNESS), str(self.code_dir), self.entrypoint, str(fd),
                       str(self.venv_dir), self._policy or "-"]  # fmt: skip
            proc = subprocess.Popen(
                command,
                cwd=self.code_dir,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            parent_sock.close()
            if log_file is not None:
                log_file.close()
            return f"Could not start a worker for this deployment: {exc}"
        finally:
            child_sock.close()
        worker = _Worker(proc, parent_sock, log_file)
        with self._cond:
            self._started += 1
            self._workers.add(worker)
            closed = self._closed
        if closed:  # close() ran while we were starting: it could not see this worker
            self._discard(worker)
            return "The runtime was shut down during the execution."
        try:
            ready = harness.recv_frame(parent_sock, deadline)
        except TimeoutError:
            self._discard(worker)
            return TIMED_OUT
        except (EOFError, OSError, ValueError):
            ready = None
        if ready is not None and ready[0].get("type") == "refused":
            self._discard(worker)
            log.error("a worker refused to start: %s", ready[0].get("message"))
            return str(ready[0].get("message") or "The worker refused to start.")
        if ready is None or ready[0].get("type") != "ready":
            code = worker.stop() if worker.wait_exit(1.0) else None
            self._discard(worker)
            return _describe_death(code, "while starting")
        self.cold_starts.append(time.monotonic() - spawn_at)
        return worker

    def _exchange(self, worker: _Worker, request: RuntimeRequest, started: float) -> tuple[RuntimeResponse, bool]:
        deadline = started + request.timeout
        meta = {
            "method": request.method,
            "path": request.path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "timeout": request.timeout,
        }
        try:
            harness.send_frame(worker.sock, meta, request.body, deadline)
            frame = harness.recv_frame(worker.sock, deadline)
        except TimeoutError:
            worker.stop()
            return _failure(TIMED_OUT, started), False
        except (EOFError, OSError, ValueError):
            frame = None
        if frame is None:
            closed = self._closed
            code = worker.stop() if worker.wait_exit(1.0) else None
            worker.stop()
            if closed:
                return _failure("The runtime was shut down during the execution.", started), False
            return _failure(_describe_death(code, "during the execution"), started), False
        reply, body = frame
        response = RuntimeResponse(
            status=int(reply.get("status", 500)),
            headers={str(k): str(v) for k, v in dict(reply.get("headers") or {}).items()},
            body=body,
            logs=str(reply.get("logs") or ""),
            errors=str(reply.get("errors") or ""),
            duration=time.monotonic() - started,
        )
        return response, not reply.get("retire")

    def _stop_all(self, workers: list[_Worker]) -> None:
        for worker in workers:
            worker.hang_up()
            worker.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for worker in workers:
            worker.wait_exit(max(0.0, deadline - time.monotonic()))
            worker.stop()

    def _discard(self, worker: _Worker) -> None:
        with self._cond:
            self._workers.discard(worker)
        worker.stop()

    def _cleanup_home_if_done(self) -> None:
        with self._cond:
            done = (self._closed or self._draining) and self._busy == 0 and not self._workers
            home, self._own_home = (self._own_home, None) if done else (None, self._own_home)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


class Runtimes:
    """All pools of the server, keyed by (deployment id, env fingerprint); retires pools no longer wanted."""

    def __init__(
        self,
        size: int = 2,
        log_dir: Path | None = None,
        *,
        confinement: Confinement = Confinement(),
    ) -> None:
        self.size = size
        self.log_dir = log_dir
        self.confinement = confinement
        self._pools: dict[str, WorkerPool] = {}
        self._retired: list[WorkerPool] = []  # drained, with executions still running in them
        self._lock = threading.Lock()
        self._closed = False

    def pool(
        self,
        key: str,
        code_dir: Path,
        venv_dir: Path,
        entrypoint: str,
        env: Mapping[str, str],
        size: int | None = None,
    ) -> WorkerPool:
        """The warm pool for ``key``, created on first use (``size`` only applies when it is created)."""
        with self._lock:
            found = self._pools.get(key)
            if found is None:
                log_dir = self.log_dir / _safe_name(key) if self.log_dir is not None else None
                found = WorkerPool(
                    code_dir, venv_dir, entrypoint, env, size or self.size, log_dir, confinement=self.confinement
                )
                if self._closed:
                    found.close()
                else:
                    self._pools[key] = found
            return found

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._pools)

    def venv_dirs(self) -> set[Path]:
        """The venvs that pools use: every live pool's, and a retired pool's while an execution still runs in it."""
        with self._lock:
            self._retired = [p for p in self._retired if p.active()]
            return {p.venv_dir for p in [*self._pools.values(), *self._retired]}

    def retire(self, keep: Callable[[str], bool]) -> None:
        """Drain the pools whose key ``keep`` rejects; their executions in flight still complete."""
        with self._lock:
            gone = [(k, p) for k, p in self._pools.items() if not keep(k)]
            for key, _ in gone:
                del self._pools[key]
            self._retired += [p for _, p in gone]
        for _, pool in gone:
            pool.drain()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        threads = [threading.Thread(target=p.close, daemon=True) for p in pools]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _safe_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:120] or "pool"
