"""An old secret value does not survive in the server's database file once it is changed or deleted.

SQLite leaves the bytes of a changed or deleted record in free space unless ``secure_delete`` is on, so a copy of
``quixotic.db`` would give away every secret a variable ever held. Through the SDK on a real server: set secrets,
change one and delete another, stop the server, and look for the old values in the files it leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from appwrite.services.functions import Functions
from support.sdk import create_variable
from support.spawn import own_server

from quixotic.server.admin import ProjectCredentials


@contextmanager
def function_of_own_server(base: Path, function_id: str) -> Iterator[tuple[ProjectCredentials, Functions]]:
    """A server of its own on ``base``/data with a new project and one empty function: what every secret-at-rest
    test starts from (the secrets are that function's variables); the server stops however the block ends."""
    with own_server(base) as srv:
        project = srv.new_project()
        fn = Functions(srv.client(project.project_id, project.api_key))
        fn.create(function_id, function_id.upper(), "python-3.11", entrypoint="main.py")
        yield project, fn


@pytest.mark.local_only("starts, restarts or kills server processes of its own")
def test_changed_and_deleted_secrets_leave_no_trace_in_the_database_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with function_of_own_server(tmp_path, "f") as (project, fn):
        changed = create_variable(fn, "f", "TOKEN", "old-token-3f9a1c", secret=True)
        deleted = create_variable(fn, "f", "PASSWORD", "old-password-77e2b0", secret=True)
    # Stopped: the old values are now in the database file itself, not only in its WAL.
    assert b"old-token-3f9a1c" in (data / "quixotic.db").read_bytes()
    with own_server(tmp_path) as srv:
        fn = Functions(srv.client(project.project_id, project.api_key))
        fn.update_variable("f", changed["$id"], "TOKEN", "new-token-5d01aa-which-is-longer", True)
        fn.delete_variable("f", deleted["$id"])
    stored = b"".join(p.read_bytes() for p in sorted(data.glob("quixotic.db*")))
    assert b"new-token-5d01aa-which-is-longer" in stored  # the search does find values that are there
    assert b"old-token-3f9a1c" not in stored
    assert b"old-password-77e2b0" not in stored
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "quixotic.db").stat().st_mode & 0o777 == 0o600
