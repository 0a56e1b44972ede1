"""Build a deployment: extract its archive safely, give it its own venv, run its build commands.

Layout under ``dest``: ``code/`` (the extracted archive, the worker's cwd), ``venv/`` (the deployment's
interpreter and packages), ``home/`` (HOME of the build). The venv is created without pip (fast: no
bootstrapping); a ``pip`` shim in ``venv/bin`` runs the server's own pip against the venv's interpreter, so
``pip install -r requirements.txt`` installs into the venv as in Appwrite's build step.

The commands are the deployment's code too: they run behind the same walls as its workers (``isolation``),
with write access to this deployment's folder and the pip cache only.
"""

from __future__ import annotations

import importlib.util
import os
import posixpath
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import venv
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from quixotic.server.compute.runtime.environment import isolated_env
from quixotic.server.compute.runtime.isolation import Isolation, launcher, probe
from quixotic.server.compute.runtime.procs import process_ended, signal_group

LOG_LIMIT = 1_000_000  # characters of build log kept (the end)
MAX_EXTRACTED_BYTES = 4 * 1024 * 1024 * 1024  # a small archive may not unpack into a disk-filling bomb
MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    logs: str  # combined output of extraction checks + commands (the last 1,000,000 chars)
    duration: float  # seconds
    size: int  # bytes of the built folder (code + venv), best effort


class _Log:
    """The build log: our own lines plus the commands' output, bounded to the last LOG_LIMIT characters."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        self.raw((text + "\n").encode())

    def raw(self, chunk: bytes) -> None:
        with self._lock:
            self._data += chunk
            if len(self._data) > 8 * LOG_LIMIT:  # bytes; utf-8 is at most 4 per character
                del self._data[: len(self._data) - 4 * LOG_LIMIT]

    def text(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", errors="replace")[-LOG_LIMIT:]


def build_deployment(
    archive: Path,
    dest: Path,
    entrypoint: str,
    commands: str,
    timeout: float = 900.0,
    env: Mapping[str, str] | None = None,
    isolation: Isolation | None = None,
) -> BuildResult:
    """Extract ``archive`` (.tar.gz) into dest/'code', check the entrypoint, create dest/'venv', run ``commands``.

    Never raises for a bad archive or a failing command: the result says ok=False with the reason in ``logs``.
    """
    started = time.monotonic()
    log = _Log()
    ok = False
    dest = Path(dest).absolute()
    code, venv_dir, home = dest / "code", dest / "venv", dest / "home"
    try:
        for folder in (code, venv_dir, home):
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
            elif folder.exists():
                shutil.rmtree(folder)
        code.mkdir(parents=True)
        home.mkdir(parents=True)
        ok = (
            _extract(Path(archive), code, log)
            and _check_entrypoint(code, entrypoint, log)
            and _create_venv(venv_dir, log)
            and _run_commands(commands, code, venv_dir, home, env, timeout, log, isolation or probe())
        )
    except Exception as exc:  # disk full, permissions: still a failed build, not a crash
        log.line(f"Build failed: {exc!r}")
        ok = False
    if ok:
        log.line("Build succeeded.")
    return BuildResult(ok, log.text(), time.monotonic() - started, _size(code) + _size(venv_dir))


# --- extraction ----------------------------------------------------------------------------------------------


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.split("/"):
        return "path with '..'"
    if member.isdev():
        return "device or FIFO file"
    where = posixpath.dirname(posixpath.normpath(name))
    if member.issym():
        if member.linkname.startswith("/"):
            return f"symbolic link to absolute path {member.linkname}"
        target = posixpath.normpath(posixpath.join(where, member.linkname))
        if target == ".." or target.startswith("../"):
            return f"symbolic link to {member.linkname}, outside the deployment"
        return None
    if member.islnk():
        target = posixpath.normpath(member.linkname)
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            return f"hard link to {member.linkname}, outside the deployment"
        return None
    if not (member.isfile() or member.isdir()):
        return "unsupported file type"
    return None


def _extract(archive: Path, code: Path, log: _Log) -> bool:
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            problems = [(m.name, p) for m in members if (p := _member_problem(m)) is not None]
            if problems:
                log.line(f"Archive rejected: {len(problems)} unsafe entr{'y' if len(problems) == 1 else 'ies'}.")
                for name, problem in problems[:MAX_REPORTED_PROBLEMS]:
                    log.line(f"  {name!r}: {problem}")
                return False
            total = sum(m.size for m in members if m.isfile())
            if total > MAX_EXTRACTED_BYTES:
                log.line(f"Archive rejected: it unpacks to {total} bytes, over the {MAX_EXTRACTED_BYTES} limit.")
                return False
            # Our checks above give clear reasons; the 'data' filter re-checks against the real file system,
            # which also catches links that escape through other links extracted before them.
            tar.extractall(code, filter="data")
    except tarfile.FilterError as exc:
        log.line(f"Archive rejected: {exc}")
        return False
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        log.line(f"The deployment archive is not a valid .tar.gz file: {exc}")
        return False
    escaped = _escaping_links(code)
    if escaped:
        log.line("Archive rejected: links that point outside the deployment: " + ", ".join(escaped[:10]))
        return False
    files = sum(1 for m in members if m.isfile())
    log.line(f"Extracted {files} file{'s' if files != 1 else ''} ({total} bytes).")
    return True


def _escaping_links(code: Path) -> list[str]:
    root = os.path.realpath(code)
    bad: list[str] = []
    for folder, dirs, files in os.walk(code):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if target != root and not target.startswith(root + os.sep):
                    bad.append(os.path.relpath(path, code))
    return bad


def _check_entrypoint(code: Path, entrypoint: str, log: _Log) -> bool:
    rel = posixpath.normpath(entrypoint.strip().replace("\\", "/")) if entrypoint.strip() else ""
    if not rel or rel in (".", "..") or rel.startswith(("/", "../")):
        log.line(f"Entrypoint {entrypoint!r} is not a relative path inside the deployment.")
        return False
    path = code / rel
    root = os.path.realpath(code)
    if not path.is_file() or not os.path.realpath(path).startswith(root + os.sep):
        log.line(f"Entrypoint {entrypoint} not found in the deployment archive.")
        return False
    return True


# --- environment and commands --------------------------------------------------------------------------------


def _create_venv(venv_dir: Path, log: _Log) -> bool:
    """An isolated venv of the interpreter that runs the server (in-process: as fast as it gets)."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(venv_dir)
    python = venv_dir.absolute() / "bin" / "python"  # the shim runs from the code folder: no relative paths
    if not python.exists():
        log.line(f"Could not create the virtual environment in {venv_dir}.")
        return False
    shim = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pip --python {shlex.quote(str(python))} "$@"\n'
    major, minor = sys.version_info[:2]
    for name in ("pip", "pip3", f"pip{major}.{minor}"):
        script = venv_dir / "bin" / name
        script.write_text(shim)
        script.chmod(0o755)
    log.line(f"Created the virtual environment (Python {major}.{minor}.{sys.version_info[2]}).")
    if importlib.util.find_spec("pip") is None:
        log.line("Warning: the server's Python has no pip, so `pip` in build commands will fail.")
    return True


def _run_commands(
    commands: str,
    code: Path,
    venv_dir: Path,
    home: Path,
    env: Mapping[str, str] | None,
    timeout: float,
    log: _Log,
    isolation: Isolation,
) -> bool:
    if not commands.strip():
        return True
    refused = isolation.check()
    if refused is not None:
        log.line(refused)
        return False
    shell = shutil.which("bash") or "/bin/sh"
    run_env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", **(env or {}), "TMPDIR": str(home)}
    log.line(f"$ {commands}")
    proc = subprocess.Popen(
        launcher(_build_policy(isolation, code.parent, run_env), [shell, "-c", commands]),
        cwd=code,
        env=isolated_env(venv_dir, home, run_env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(proc.stdout.fileno(), log), daemon=True)
    reader.start()
    finished = _wait_unreaped(proc, timeout)
    signal_group(proc, signal.SIGKILL)  # on timeout, and background processes the commands left behind
    status = proc.wait()
    reader.join(timeout=5)
    proc.stdout.close()
    if not finished:
        log.line(f"Build timed out after {timeout:g} s")
        return False
    if status != 0:
        log.line(f"Build command failed with exit code {status}.")
        return False
    return True


def _build_policy(isolation: Isolation, dest: Path, env: Mapping[str, str]) -> str | None:
    """Read: the server's Python (its pip runs the installs) and the installer's config and CA files; write:
    this deployment's folder and the pip cache."""
    read = [os.path.realpath(sys.prefix)]
    for name, value in env.items():  # local paths the installer is pointed at: a wheel folder, a CA bundle
        if name.startswith("PIP_") or name.upper() in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
            read += _local_paths(value)
    config = env.get("PIP_CONFIG_FILE")
    if config:
        read.append(config)
        try:
            read += _local_paths(Path(config).read_text(errors="replace"))
        except OSError:
            pass
    write = [str(dest)]
    if env.get("PIP_CACHE_DIR"):
        Path(env["PIP_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
        write.append(env["PIP_CACHE_DIR"])
    return isolation.policy(read, write)


def _local_paths(text: str) -> list[str]:
    """The absolute paths and ``file://`` URLs in a setting's value or a pip.conf (index and wheel folders)."""
    found: list[str] = []
    for token in text.replace(",", " ").replace("=", " ").split():
        token = token.strip("'\"")
        if token.startswith("file://"):
            token = token[len("file://") :]
        if token.startswith("/"):
            # A local PEP 503 index (``.../simple``) links to files beside it: its parent is readable too.
            found.append(os.path.dirname(token.rstrip("/")) if token.rstrip("/").endswith("/simple") else token)
    return found


def _wait_unreaped(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the process to end without reaping it; False on timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while not process_ended(proc):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)
    return True


def _pump(fd: int, log: _Log) -> None:
    while chunk := os.read(fd, 65536):
        log.raw(chunk)


def _size(folder: Path) -> int:
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total
