"""Dependency layers: venvs shared by every deployment whose build installs the same thing (see ``layer_key``).

Layout under the layers folder: ``<key>/venv`` (the venv, made at its final path: a venv cannot be moved, its
scripts name their interpreter by absolute path), ``<key>/layer.json`` (the completion marker, written last and
by rename) and ``<key>.lock`` (a file lock, so that the rules below hold across threads and server processes).

- A layer counts only with its marker. Building takes the key's lock exclusively; a folder found there without
  a marker is what a killed build left (the lock died with it): it is removed and the layer built again. A build
  that fails or times out removes its folder before it lets the lock go.
- Two builds that need the same new layer: the second waits on the lock, then finds the marker: built once.
- A deployment uses a layer through its ``venv`` symbolic link. From finding the marker to making that link a
  build holds the lock shared; collection takes it exclusively without waiting, so it never removes a layer
  that a build is about to link.
- Collection removes the layers that no deployment folder links to and no running worker uses; the engine runs
  it when a deployment or a function is deleted and at start-up (with the trash of earlier removals).
- Byte-compiling is off a build's critical path: uv installs without it, and a low-priority background process
  compiles the venv afterwards (a worker that starts before it ends compiles in memory, as Python does when it
  cannot write; ``.pyc`` files are written by rename, so a reader never sees half of one).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quixotic.server.compute.runtime.environment import server_path
from quixotic.server.compute.runtime.isolation import Isolation, base_python, launcher

MARKER = "layer.json"
TRASH_PREFIX = ".trash-"


@dataclass(frozen=True)
class LayerInfo:
    key: str
    venv: Path
    size: int  # bytes, when it was built
    created: str  # ISO time it was built
    built_now: bool = False  # this build made it (False: it was there, or another build made it meanwhile)


@contextlib.contextmanager
def file_lock(path: Path, shared: bool = False, wait: float | None = None) -> Iterator[int | None]:
    """``flock`` on ``path`` (created if need be); yields the locked descriptor, or None when the lock is still
    taken after ``wait`` seconds (None: as long as it takes; 0: not at all).

    The lock file may be removed by its holder (collection does), so after locking we check that the path still
    names the file we locked, and start again if not.
    """
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not _flock(fd, shared, deadline):
                yield None
                return
            try:
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                yield fd
                return
        finally:
            os.close(fd)


def _flock(fd: int, shared: bool, deadline: float | None) -> bool:
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    if deadline is None:
        fcntl.flock(fd, mode)
        return True
    pause = 0.01
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.25)


class Layers:
    """The layers folder of one server: find or build a layer, compile it in the background, collect old ones."""

    def __init__(self, root: Path, isolation: Isolation | None = None) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.isolation = isolation
        self._compiles: dict[Path, subprocess.Popen[bytes]] = {}
        self._guard = threading.Lock()
        self._closed = False

    def _lock_path(self, key: str) -> Path:
        return self.root / f"{key}.lock"

    def ready(self, key: str) -> LayerInfo | None:
        """The layer ``key`` if it was built to the end (its marker names it and its interpreter is there)."""
        folder = self.root / key
        try:
            data = json.loads((folder / MARKER).read_text())
        except (OSError, ValueError):
            return None
        venv = folder / "venv"
        if not isinstance(data, dict) or data.get("key") != key or not os.path.lexists(venv / "bin" / "python"):
            return None
        return LayerInfo(key, venv, int(data.get("size") or 0), str(data.get("created") or ""))

    def key_of(self, venv: Path) -> str | None:
        """The layer a deployment's ``venv`` (a link) or a worker's venv folder is, or None."""
        target = Path(os.path.realpath(venv))
        if target.name == "venv" and target.parent.parent == Path(os.path.realpath(self.root)):
            return target.parent.name
        return None

    @contextlib.contextmanager
    def use(
        self, key: str, build: Callable[[Path, int], bool], log: Callable[[str], None], wait: float = 900.0
    ) -> Iterator[LayerInfo | None]:
        """The ready layer ``key``, built with ``build(venv, lock_fd)`` if there is none (None if that fails).

        ``build`` hands ``lock_fd`` down to the processes it starts: the lock then lasts as long as the last of
        them, so an install that outlives a killed server still keeps every other build off its half-made layer.
        Waiting for another build of the layer gives up after ``wait`` seconds (None too: a process that escaped
        its build and kept the lock cannot hold every later build of that key for ever).
        Held (the lock shared) until the block ends: link it inside the block.
        """
        lock = self._lock_path(key)
        built = failed = False
        deadline = time.monotonic() + wait
        while True:
            with file_lock(lock, shared=True, wait=0) as free:
                info = self.ready(key) if free is not None else None
                if info is not None:
                    yield LayerInfo(info.key, info.venv, info.size, info.created, built)
                    return
            if free is None:
                log(f"Another build is making dependency layer {key[:12]}; waiting for it.")
                with file_lock(lock, shared=True, wait=max(0.0, deadline - time.monotonic())) as waited:
                    if waited is None:
                        log(f"Gave up waiting for dependency layer {key[:12]} after {wait:g} s.")
                        yield None
                        return
                    info = self.ready(key)
                    if info is not None:
                        yield LayerInfo(info.key, info.venv, info.size, info.created, built)
                        return
            if failed:
                yield None
                return
            with file_lock(lock, wait=max(0.0, deadline - time.monotonic())) as fd:
                if fd is None:
                    log(f"Gave up waiting for dependency layer {key[:12]} after {wait:g} s.")
                    yield None
                    return
                if self.ready(key) is None:
                    built = True
                    failed = not self._make(key, lambda venv: build(venv, fd), log)

    def _make(self, key: str, build: Callable[[Path], bool], log: Callable[[str], None]) -> bool:
        """Build the layer (its lock held exclusively); the marker is written last, and only on success."""
        folder = self.root / key
        if os.path.lexists(folder):
            log(f"Dependency layer {key[:12]} was left half-built by a build that was cut short: removed, built again.")
            self._remove(folder)
        folder.mkdir()
        started = time.monotonic()
        ok = False
        try:
            ok = build(folder / "venv")
        finally:
            if not ok:
                self._remove(folder)
        if not ok:
            return False
        size = folder_size(folder)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        temp = folder / f"{MARKER}.tmp"
        temp.write_text(json.dumps({"key": key, "size": size, "created": created}))
        os.replace(temp, folder / MARKER)
        log(f"Built dependency layer {key[:12]} in {time.monotonic() - started:.1f} s ({size / 1e6:.1f} MB): "
            "deployments with the same requirements, runtime and build commands reuse it.")  # fmt: skip
        return True

    def _remove(self, folder: Path) -> None:
        """Out of sight at once (a rename), then deleted; a crash in between leaves trash, swept at start-up."""
        self._stop_compile(folder / "venv")
        trash = self.root / f"{TRASH_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(folder, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def collect(self, in_use: Callable[[], set[str]]) -> list[str]:
        """Remove every layer that ``in_use()`` (called with their locks held) does not name, and half-built ones
        nobody is building; returns what went, with why."""
        removed: list[str] = []
        for entry in list(self.root.iterdir()):
            if entry.name.startswith(TRASH_PREFIX) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
        keys = sorted(e.name for e in self.root.iterdir() if e.is_dir() and not e.name.startswith("."))
        with contextlib.ExitStack() as stack:
            held = [k for k in keys if stack.enter_context(file_lock(self._lock_path(k), wait=0)) is not None]
            used = in_use()
            for key in held:
                if key in used:  # even one whose marker went: the next build of that key makes it again
                    continue
                half = self.ready(key) is None
                self._remove(self.root / key)
                self._lock_path(key).unlink(missing_ok=True)
                removed.append(f"{key} ({'half-built' if half else 'no deployment uses it'})")
        for lock in self.root.glob("*.lock"):  # locks of layers that are gone (a failed first build)
            key = lock.name.removesuffix(".lock")
            if not (self.root / key).exists():
                with file_lock(lock, wait=0) as free:
                    if free is not None and not (self.root / key).exists():
                        lock.unlink(missing_ok=True)
        return removed

    # --- background byte-compiling

    def compile_later(self, venv: Path) -> None:
        """Byte-compile ``venv`` in a low-priority process behind the build's walls (it may write only there)."""
        lib = venv / "lib"
        if not lib.is_dir():
            return
        # One process: compileall's worker pool needs POSIX semaphores (/dev/shm), which the walls do not open.
        command = [base_python(), "-I", "-m", "compileall", "-q", str(lib)]
        nice = shutil.which("nice")
        if nice:
            command = [nice, "-n", "10", *command]
        policy = self.isolation.policy([], [str(venv)]) if self.isolation is not None else None
        env = {"PATH": server_path(), "LANG": os.environ.get("LANG") or "C.UTF-8"}
        with self._guard:
            if self._closed or venv in self._compiles:
                return
            try:
                proc = subprocess.Popen(
                    launcher(policy, command),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
            except OSError:
                return
            self._compiles[venv] = proc
        threading.Thread(target=self._reap, args=(venv, proc), name="quixotic-compile", daemon=True).start()

    def compiling(self) -> list[Path]:
        """The venvs being byte-compiled now (tests and benchmarks wait on it)."""
        with self._guard:
            return list(self._compiles)

    def _reap(self, venv: Path, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        with self._guard:
            if self._compiles.get(venv) is proc:
                del self._compiles[venv]

    def _stop_compile(self, venv: Path) -> None:
        with self._guard:
            proc = self._compiles.pop(venv, None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()

    def close(self) -> None:
        with self._guard:
            self._closed = True
            venvs = list(self._compiles)
        for venv in venvs:
            self._stop_compile(venv)


def folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (links counted as links), best effort."""
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    return total
