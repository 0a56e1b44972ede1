"""Process helpers shared by builds and pools: end a whole process group without ever hitting a stranger.

A group is signalled by the id of its leader. Once the leader is reaped its pid may be reused, so we look at
whether it ended WITHOUT reaping it (``waitid`` with ``WNOWAIT``): the zombie keeps the pid, and signalling
the group stays safe until we reap it ourselves.
"""

from __future__ import annotations

import os
import signal
import subprocess


def process_ended(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` has exited, leaving it unreaped where the platform allows (Linux; macOS from 3.13)."""
    if proc.returncode is not None:
        return True
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # reaped meanwhile by another thread's wait()
            return True
    return proc.poll() is not None


def signal_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by ``proc`` (started with ``start_new_session``), unless already reaped."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
