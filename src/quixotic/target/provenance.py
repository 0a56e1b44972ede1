"""Who and what made a change, as releases, locks and migration attempts record it."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from pathlib import Path


def who() -> str:
    """The operator: ``user@host`` (CI sets QUIXOTIC_ACTOR)."""
    actor = os.environ.get("QUIXOTIC_ACTOR")
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def git_commit(root: Path) -> str:
    """The commit checked out at ``root``, or empty outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_branch(root: Path) -> str:
    """The branch being deployed: CI's ``GITHUB_REF_NAME``, else the one checked out at ``root`` (empty outside git)."""
    if os.environ.get("GITHUB_REF_NAME"):
        return os.environ["GITHUB_REF_NAME"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
