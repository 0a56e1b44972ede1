"""An old secret value leaves the running server's files soon after it is replaced or deleted.

``secure_delete`` zeroes a changed record in the database pages, but in WAL mode the page that held the old
value stays in the ``-wal`` file (and the database file keeps its older copy) until a checkpoint copies the new
page over it and the WAL is cut back. A copy of the data folder taken while the server runs would give the
secret away. Through the SDK on a real server: set secrets, change one and delete another, then, with the server
still running, read every file of the data folder for the old values.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.sdk import create_variable
from test_store_secure_delete import function_of_own_server

OLD_TOKEN = b"old-token-wal-9c4e1f"
OLD_PASSWORD = b"old-password-wal-52ad07"
NEW_TOKEN = b"new-token-wal-0b7d3e-and-longer"


def stored(data: Path) -> bytes:
    """Every byte of every file in the data folder's top level (the database, its WAL and shared memory)."""
    return b"".join(p.read_bytes() for p in sorted(data.iterdir()) if p.is_file())


def gone(data: Path, *values: bytes, within: float = 10.0) -> bytes:
    """The folder's bytes once none of ``values`` is in them, or as they are ``within`` seconds later."""
    deadline = time.monotonic() + within
    while True:
        content = stored(data)
        if not any(v in content for v in values) or time.monotonic() > deadline:
            return content
        time.sleep(0.1)


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_replaced_and_deleted_secrets_leave_the_files_of_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with function_of_own_server(tmp_path, "f") as (_project, fn):
        changed = create_variable(fn, "f", "TOKEN", OLD_TOKEN.decode(), secret=True)
        deleted = create_variable(fn, "f", "PASSWORD", OLD_PASSWORD.decode(), secret=True)
        assert OLD_TOKEN in stored(data)  # the search finds a value that is there
        fn.update_variable("f", changed["$id"], "TOKEN", NEW_TOKEN.decode(), True)
        fn.delete_variable("f", deleted["$id"])
        started = time.monotonic()
        content = gone(data, OLD_TOKEN, OLD_PASSWORD)
        assert (OLD_TOKEN in content, OLD_PASSWORD in content) == (False, False)
        assert time.monotonic() - started < 10
        assert (NEW_TOKEN in content) is True  # the new value is stored: only the old ones went
        assert fn.get_variable("f", changed["$id"])["secret"] is True


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_a_deleted_function_takes_its_secrets_out_of_the_running_server_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with function_of_own_server(tmp_path, "g") as (_project, fn):
        create_variable(fn, "g", "PASSWORD", OLD_PASSWORD.decode(), secret=True)
        assert OLD_PASSWORD in stored(data)
        fn.delete("g")
        assert (OLD_PASSWORD in gone(data, OLD_PASSWORD)) is False
