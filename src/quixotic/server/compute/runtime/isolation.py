"""Which walls a deployment's code runs behind on this machine, and the policy each process gets.

Function code is hostile until proven otherwise: it must not read the server's database (API keys, every
project's data, the signing secret of dynamic keys), other projects' files or deployments, or the server's
environment and descriptors. ``sandbox.py`` builds the walls inside the child; this module decides them:

- Landlock (Linux 5.13+, any uid): a file-system allow-list per process. A worker may read the system's
  libraries, the interpreter, its own deployment's ``code/`` and ``venv/`` (and ``read_paths`` from the
  settings) and write only its own home; a build may also write its deployment folder, the installers'
  caches and the dependency layer it is building (never a finished one: ``layers``). A worker on a layer reads
  that layer's venv and writes none of it.
  Everything else, the data root included, cannot be opened or listed. From ABI 6 it cannot signal or reach
  the abstract sockets of processes outside its domain. ``/proc`` is limited to the process itself and a few
  machine-wide files, so ``/proc/<server>/environ`` and ``/fd`` are closed twice (path and ptrace rules).
- When the server runs as root (here and in CI), the child also drops every capability: a uid 0 that owns
  files but cannot override permissions, trace, signal or load modules; an ``exec`` gives nothing back. We do
  not switch to another uid: the interpreter often lives where that uid cannot reach (``/root/.pyenv``), and
  Landlock, unlike a shared ``nobody``, keeps the workers of two projects apart.
- Always: an environment holding only what the runtime contract gives (``environment.isolated_env``), no
  inherited descriptors but the worker's own socket, and an interpreter started with ``-I -S`` from the
  server's base Python (never the deployment's ``venv/bin/python``, which a build may have replaced), so no
  deployment-controlled code (``.pth`` files, ``PYTHONPATH``) runs before the walls are up; loader variables
  from the function's variables (``LD_PRELOAD``...) are handed over only once they are (``pool``).

Without Landlock (another OS, an old kernel) functions run without a file-system wall; the server says so in
its log, and ``QUIXOTIC_FUNCTION_SANDBOX=required`` makes it refuse to run them instead.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from quixotic.server.compute.runtime import sandbox
from quixotic.server.store import startup_log as log

SANDBOX_SCRIPT = Path(sandbox.__file__).resolve()
RUNTIME_DIR = SANDBOX_SCRIPT.parent  # the harness and this launcher: our code, read by the child

# What any program needs to start and resolve names; files that a machine lacks are skipped.
SYSTEM_READ = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime",
    "/etc/timezone", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf",
    "/etc/resolv.conf", "/etc/gai.conf", "/etc/protocols", "/etc/services", "/etc/mime.types", "/etc/os-release",
    "/etc/debian_version", "/etc/lsb-release", "/etc/issue", "/etc/fonts",
    "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/pip.conf", "/etc/xdg/pip",
    "/proc/self", "/proc/thread-self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/loadavg",
    "/proc/uptime", "/proc/version", "/proc/filesystems", "/proc/sys/kernel", "/proc/sys/vm",
    "/sys/devices/system/cpu", "/sys/fs/cgroup",
    "/dev/zero", "/dev/random", "/dev/urandom",
)  # fmt: skip
SYSTEM_WRITE = ("/dev/null", "/dev/full")


def base_python() -> str:
    """The server's own interpreter (not a venv's link to it), which every deployment venv was made from."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _interpreter_paths() -> list[str]:
    return sorted({os.path.realpath(sys.base_prefix), os.path.realpath(os.path.dirname(base_python()))})


@dataclass(frozen=True)
class Isolation:
    """The walls in force; ``policy`` makes the JSON a child confines itself with (None: nothing to do)."""

    landlock: int  # the Landlock ABI used; 0: none
    drop_caps: bool  # the server is root: the child drops every capability
    required: bool = False  # refuse to run code without a file-system wall

    @property
    def walled(self) -> bool:
        return self.landlock > 0

    def describe(self) -> str:
        """One log line: what deployed code can and cannot do here."""
        parts: list[str] = []
        if self.landlock:
            scoped = ", signals and abstract sockets scoped" if self.landlock >= 6 else ""
            parts.append(f"Landlock ABI {self.landlock} (file-system allow-list per process{scoped})")
        else:
            parts.append("NO file-system wall (this kernel has no Landlock): function code can read what the "
                         "server's user can, the data folder included")  # fmt: skip
        if self.drop_caps:
            parts.append("root's capabilities dropped (uid 0 kept)")
        parts.append("no_new_privs, environment scrubbed, no inherited descriptors")
        return "function sandbox: " + "; ".join(parts)

    def policy(self, read: list[str], write: list[str]) -> str | None:
        if not self.landlock and not self.drop_caps:
            return None
        policy = {
            "landlock": self.landlock,
            "drop_caps": self.drop_caps,
            "read": [*SYSTEM_READ, *_interpreter_paths(), str(RUNTIME_DIR), *read],
            "write": [*SYSTEM_WRITE, *write],
        }
        return json.dumps(policy, separators=(",", ":"))

    def check(self) -> str | None:
        """Why code may not run here (``required`` without a wall); None when it may."""
        if self.required and not self.walled:
            return ("Function code is not run: QUIXOTIC_FUNCTION_SANDBOX=required, and this machine has no "
                    "Landlock to confine it. Run the server on Linux 5.13+ or unset the variable.")  # fmt: skip
        return None


OFF = Isolation(0, False)


@cache
def probe(mode: str = "on") -> Isolation:
    """The isolation this machine allows, for ``mode`` (``on``, ``required`` or ``off``); logged once per mode."""
    if mode == "off":
        log.warning("function sandbox: OFF (QUIXOTIC_FUNCTION_SANDBOX=off): function code runs with the server's "
                    "rights")  # fmt: skip
        return OFF
    found = Isolation(sandbox.landlock_abi(), os.geteuid() == 0 if hasattr(os, "geteuid") else False,
                      required=mode == "required")  # fmt: skip
    (log.info if found.walled else log.warning)(found.describe())
    return found


def launcher(policy: str | None, command: list[str]) -> list[str]:
    """``command`` run through the sandbox launcher (itself when there is no policy)."""
    if policy is None:
        return command
    return [base_python(), "-I", "-S", str(SANDBOX_SCRIPT), policy, *command]
