"""The sandbox launcher on its own: Landlock alone, for a server that is not root, and what it refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from quixotic.server.compute.runtime import sandbox
from quixotic.server.compute.runtime.isolation import SANDBOX_SCRIPT, SYSTEM_READ, base_python

ABI = sandbox.landlock_abi()
needs_landlock = pytest.mark.skipif(ABI == 0, reason="this kernel has no Landlock")


def launch(
    python: str, policy: dict[str, object], *command: str, user: int | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups"] if user is not None else []
    return subprocess.run([*prefix, python, "-I", "-S", str(SANDBOX_SCRIPT), json.dumps(policy), *command],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def policy(python: str, read: list[str], write: list[str]) -> dict[str, object]:
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(python)))
    return {"landlock": ABI, "drop_caps": False, "read": [*SYSTEM_READ, prefix, str(SANDBOX_SCRIPT.parent), *read],
            "write": ["/dev/null", *write]}  # fmt: skip


@needs_landlock
def test_landlock_alone_keeps_a_process_to_its_folders(tmp_path: Path) -> None:
    """No capability dropped (a server that is not root): the allow-list alone decides."""
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    (other / "secret.txt").write_text("not yours")
    (mine / "own.txt").write_text("yours")
    python = base_python()
    rules = policy(python, [str(mine)], [str(mine)])
    assert launch(python, rules, "cat", str(mine / "own.txt")).stdout == "yours"
    refused = launch(python, rules, "cat", str(other / "secret.txt"))
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    written = launch(python, rules, "sh", "-c", f"echo x > {other / 'planted'}")
    assert written.returncode != 0 and not (other / "planted").exists()
    assert launch(python, rules, "sh", "-c", f"echo x > {mine / 'note'}").returncode == 0


@needs_landlock
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None or not Path("/usr/bin/python3").exists(),
                    reason="needs root (to become another user), setpriv and a Python that user can run")  # fmt: skip
def test_an_unprivileged_user_is_walled_in_by_landlock() -> None:
    """As uid 65534 (what a server run by an ordinary user is): a world-readable file is still out of reach."""
    tmp_path = Path(tempfile.mkdtemp(prefix="quixotic-landlock-", dir="/tmp"))  # pytest's folders are root's only
    tmp_path.chmod(0o755)
    (tmp_path / "readable.txt").write_text("world-readable, but not allowed")
    (tmp_path / "readable.txt").chmod(0o644)
    plain = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "cat",
                            str(tmp_path / "readable.txt")], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert plain.stdout == "world-readable, but not allowed"  # the file is there for that user
    walled = launch("/usr/bin/python3", policy("/usr/bin/python3", [], []), "cat", str(tmp_path / "readable.txt"),
                    user=65534)  # fmt: skip
    shutil.rmtree(tmp_path)
    assert walled.returncode != 0 and "Permission denied" in walled.stderr, walled


def test_a_policy_that_cannot_be_applied_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = [base_python(), "-I", "-S", str(SANDBOX_SCRIPT), "{not json", "touch", str(marker)]
    broken = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert broken.returncode == 70
    assert "The sandbox could not be set up, so nothing was run" in broken.stderr
    assert not marker.exists()
