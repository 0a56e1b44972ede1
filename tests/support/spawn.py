"""Servers a test starts and stops itself (a restart, a crash, other settings), besides the session's one.

``stop`` is the clean stop every such test needs: SIGTERM lets the server close its last connection (so SQLite
copies the WAL into the database file), and a server that does not exit in 10 s is killed rather than left running.
"""

from __future__ import annotations

import subprocess

from support.server import LocalServer


def stop(srv: LocalServer) -> None:
    """Terminate ``srv``; kill it when it has not exited 10 s later."""
    srv.process.terminate()
    try:
        srv.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.process.kill()
