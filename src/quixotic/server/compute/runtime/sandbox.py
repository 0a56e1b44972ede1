"""Confine this process before it runs a deployment's code: Landlock, no capabilities, no new privileges.

Standard library only, and never ``quixotic``: the worker (``harness``) loads this file by path, and builds
run it as a launcher, ``python -I -S sandbox.py POLICY_JSON COMMAND [ARGS...]``, which confines itself and
then execs COMMAND (a confinement is inherited across ``exec`` and by every child).

A policy is a JSON object: ``read`` (paths the code may read and execute), ``write`` (paths it may also
change), ``landlock`` (the ABI version to use; 0 for none) and ``drop_caps`` (drop every capability:
what root keeps in the worker). Landlock restricts the calling thread only, so ``confine`` must run before
any thread starts; it fails closed (raises) when the policy asks for a wall it cannot build.

Why Landlock rather than a uid: it works for an unprivileged server too, one domain per worker keeps
workers of different projects apart even under the same uid (no ptrace, no ``/proc/<pid>/environ``, and from
ABI 6 no signals, across domains), and it does not depend on the interpreter being readable by another uid.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

# Syscall numbers are the same on every architecture that has Landlock (the unified table).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a non-folder may hold
READ_RIGHTS = EXECUTE | READ_FILE | READ_DIR
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1


class SandboxError(OSError):
    """The confinement asked for could not be put in place (the code must then not run)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]  # fmt: skip


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _syscall(number: int, *args: Any) -> int:
    result = int(_libc().syscall(ctypes.c_long(number), *args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (not built in, disabled at boot, not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        return _syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0


def handled_rights(abi: int) -> int:
    """Every file-system right the ABI knows: all of them are denied unless a rule allows them."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _add_path(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)  # follows symbolic links: the rule is on the target
    except OSError:
        return  # a path this machine does not have allows nothing
    try:
        import stat

        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                 ctypes.c_uint32(0))  # fmt: skip
    finally:
        os.close(fd)


def _landlock(abi: int, read: Iterable[str], write: Iterable[str]) -> None:
    handled = handled_rights(abi)
    attr = _RulesetAttr(handled, 0, (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        for path in read:
            _add_path(ruleset, path, READ_RIGHTS & handled)
        for path in write:
            _add_path(ruleset, path, handled)
        _syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)


def _drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets: a uid 0 without any power
    beyond owning files, and an ``exec`` cannot give any back (the bounding set is empty)."""
    libc = _libc()
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            if code == errno.EINVAL:  # past the kernel's last capability
                break
            raise SandboxError(code, f"cannot drop capability {cap} from the bounding set: {os.strerror(code)}")
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        code = ctypes.get_errno()
        raise SandboxError(code, f"cannot drop capabilities: {os.strerror(code)}")


def confine(policy: Mapping[str, Any]) -> None:
    """Apply ``policy`` to this process (its only thread); raises ``SandboxError`` when any part fails."""
    abi = int(policy.get("landlock") or 0)
    try:
        if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            raise SandboxError(code, f"cannot set no_new_privs: {os.strerror(code)}")
        if abi:
            _landlock(abi, policy.get("read") or (), policy.get("write") or ())
        if policy.get("drop_caps"):
            _drop_capabilities()
    except SandboxError:
        raise
    except OSError as exc:
        raise SandboxError(exc.errno or 0, f"cannot confine the process: {exc.strerror or exc}") from exc


def main(argv: list[str]) -> None:
    """Launcher: ``sandbox.py POLICY_JSON COMMAND [ARGS...]``: confine, then exec COMMAND."""
    if len(argv) < 3:
        sys.stderr.write("usage: sandbox.py POLICY_JSON COMMAND [ARGS...]\n")
        sys.exit(2)
    try:
        confine(json.loads(argv[1]))
    except (SandboxError, ValueError) as exc:
        sys.stderr.write(f"The sandbox could not be set up, so nothing was run: {exc}\n")
        sys.exit(70)
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv)
