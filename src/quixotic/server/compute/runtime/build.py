"""Build a deployment: extract its archive safely, give it a venv, run its build commands.

Layout under ``dest``: ``code/`` (the extracted archive, the worker's cwd), ``venv/`` (the deployment's
interpreter and packages) and ``home/`` (HOME of the build). The venv is created without pip (fast: no
bootstrapping); a ``pip`` shim in ``venv/bin`` (``pipshim``) runs ``uv pip install`` for the installs it can
translate and the server's own pip for the rest, against the venv's interpreter, so ``pip install -r
requirements.txt`` installs into the venv as in Appwrite's build step. uv does not byte-compile: that runs in
the background once the build is done (``layers.Layers.compile_later``).

With ``layers`` (the engine always passes them), ``venv`` is a link to a dependency layer shared by every
deployment whose commands only install packages from the same inputs (``layer_key`` says what the key holds,
``layers`` how a layer is made once and never trusted half-made): a deployment whose requirements did not
change runs no command at all. Commands that do more than install packages get a private venv, as before.

The commands are the deployment's code too: they run behind the same walls as its workers (``isolation``),
with write access to this deployment's folder, the layer being built (never one that is done) and the
installers' caches only. Layers and those caches (uv's and pip's, in the data folder) belong to one project
each, so a build can plant nothing that another project's build or workers would use.
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

from quixotic.server.compute.runtime import pipshim
from quixotic.server.compute.runtime.environment import isolated_env
from quixotic.server.compute.runtime.isolation import Isolation, base_python, launcher, probe
from quixotic.server.compute.runtime.layer_key import plan_layer
from quixotic.server.compute.runtime.layers import Layers, folder_size
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
    layers: Layers | None = None,
    runtime: str = "",
    scope: str = "",
) -> BuildResult:
    """Extract ``archive`` (.tar.gz) into dest/'code', check the entrypoint, make dest/'venv', run ``commands``.

    With ``layers``, dest/'venv' links to the dependency layer of the commands (``runtime`` and ``scope``, the
    project, are part of its key: projects never share a layer),
    built by them only when no build made it before. Never raises for a bad archive or a failing command: the
    result says ok=False with the reason in ``logs``.
    """
    started = time.monotonic()
    log = _Log()
    ok = False
    dest = Path(dest).absolute()
    code, venv_dir, home = dest / "code", dest / "venv", dest / "home"
    layer_size = 0
    try:
        for folder in (code, venv_dir, home):
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
            elif folder.exists():
                shutil.rmtree(folder)
        code.mkdir(parents=True)
        home.mkdir(parents=True)
        run = _Commands(commands, code, home, env or {}, timeout, log, isolation or probe())
        ok = _extract(Path(archive), code, log) and _check_entrypoint(code, entrypoint, log)
        if ok and layers is not None:
            layer_size = _layered(run, venv_dir, layers, runtime, scope)
            ok = layer_size >= 0
        elif ok:
            ok = _create_venv(venv_dir, log) and run(venv_dir, [dest])
    except Exception as exc:  # disk full, permissions: still a failed build, not a crash
        log.line(f"Build failed: {exc!r}")
        ok = False
    if ok:
        log.line("Build succeeded.")
    venv_size = max(layer_size, 0) if venv_dir.is_symlink() else folder_size(venv_dir)
    return BuildResult(ok, log.text(), time.monotonic() - started, folder_size(code) + venv_size)


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


def uv_binary() -> str | None:
    """The uv that ships with the server (the ``uv`` wheel), else one on PATH; None: pip does the installs."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _create_venv(venv_dir: Path, log: _Log) -> bool:
    """An isolated venv of the interpreter that runs the server (in-process: as fast as it gets)."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(venv_dir)
    python = venv_dir.absolute() / "bin" / "python"  # the shim runs from the code folder: no relative paths
    if not python.exists():
        log.line(f"Could not create the virtual environment in {venv_dir}.")
        return False
    words = [base_python(), "-I", pipshim.__file__, sys.executable, str(python), uv_binary() or "-"]
    shim = "#!/bin/sh\nexec " + " ".join(shlex.quote(w) for w in words) + ' "$@"\n'
    major, minor = sys.version_info[:2]
    for name in ("pip", "pip3", f"pip{major}.{minor}"):
        script = venv_dir / "bin" / name
        script.write_text(shim)
        script.chmod(0o755)
    log.line(f"Created the virtual environment (Python {major}.{minor}.{sys.version_info[2]}).")
    if importlib.util.find_spec("pip") is None:
        log.line("Warning: the server's Python has no pip, so `pip` commands uv cannot run will fail.")
    return True


def _layered(run: _Commands, venv_dir: Path, layers: Layers, runtime: str, scope: str) -> int:
    """Link ``venv_dir`` to the commands' layer, building it if need be; its size, or -1 when the build failed."""
    tools = (sys.executable, uv_binary() or "pip")
    plan = plan_layer(run.commands, run.code, runtime, run.env, tools=tools, scope=scope)
    if plan.key is None:
        run.log.line(f"This deployment gets a virtual environment of its own: {plan.why}.")
        ok = _create_venv(venv_dir, run.log) and run(venv_dir, [run.code.parent])
        if ok:
            layers.compile_later(venv_dir)
        return folder_size(venv_dir) if ok else -1

    def make(layer_venv: Path, lock_fd: int) -> bool:
        return _create_venv(layer_venv, run.log) and run(layer_venv, [run.code.parent, layer_venv.parent], lock_fd)

    with layers.use(plan.key, make, run.log.line, wait=run.timeout) as info:
        if info is None:
            return -1
        if not info.built_now:
            run.log.line(f"Reusing dependency layer {plan.key[:12]} (built {info.created}; {plan.why}): same "
                         "requirements, runtime and build commands, so nothing is installed.")  # fmt: skip
        venv_dir.symlink_to(info.venv, target_is_directory=True)
    if info.built_now:
        layers.compile_later(info.venv)
    return info.size


@dataclass
class _Commands:
    """The build commands with everything they run with; called with the venv and the folders they may write."""

    commands: str
    code: Path
    home: Path
    env: Mapping[str, str]
    timeout: float
    log: _Log
    isolation: Isolation

    def __call__(self, venv_dir: Path, writable: list[Path], keep_fd: int | None = None) -> bool:
        return _run_commands(self.commands, self.code, venv_dir, self.home, self.env, self.timeout, self.log,
                             self.isolation, writable, keep_fd)  # fmt: skip


def _run_commands(
    commands: str,
    code: Path,
    venv_dir: Path,
    home: Path,
    env: Mapping[str, str] | None,
    timeout: float,
    log: _Log,
    isolation: Isolation,
    writable: list[Path],
    keep_fd: int | None = None,
) -> bool:
    """Run the commands to their end; ``keep_fd`` (a layer's lock) is inherited by all they start."""
    if not commands.strip():
        return True
    refused = isolation.check()
    if refused is not None:
        log.line(refused)
        return False
    shell = shutil.which("bash") or "/bin/sh"
    run_env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "UV_PYTHON_DOWNLOADS": "never",
               **(env or {}), "TMPDIR": str(home)}  # fmt: skip
    log.line(f"$ {commands}")
    proc = subprocess.Popen(
        launcher(_build_policy(isolation, writable, run_env), [shell, "-c", commands]),
        cwd=code,
        env=isolated_env(venv_dir, home, run_env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=() if keep_fd is None else (keep_fd,),
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


def _build_policy(isolation: Isolation, writable: list[Path], env: Mapping[str, str]) -> str | None:
    """Read: the server's Python (its pip and uv run the installs) and the installers' config and CA files;
    write: ``writable`` (this deployment's folder, the layer being built) and the installers' caches."""
    read = [os.path.realpath(sys.prefix)]
    for name, value in env.items():  # local paths the installer is pointed at: a wheel folder, a CA bundle
        if name.startswith(("PIP_", "UV_")) or name.upper() in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
            read += _local_paths(value)
    config = env.get("PIP_CONFIG_FILE")
    if config:
        read.append(config)
        try:
            read += _local_paths(Path(config).read_text(errors="replace"))
        except OSError:
            pass
    write = [str(p) for p in writable]
    for cache in ("PIP_CACHE_DIR", "UV_CACHE_DIR"):
        if env.get(cache):
            Path(env[cache]).mkdir(parents=True, exist_ok=True)
            write.append(env[cache])
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
