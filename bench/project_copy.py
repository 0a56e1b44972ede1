"""A copy of this project's configuration for a benchmark to deploy (never its secrets or rendered files)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

PARTS = ("appwrite.json", "templates", "environments", "functions", "migrations")
_LEFT_OUT = shutil.ignore_patterns(".env.*", "appwrite.*.json", "__pycache__")


def copy_project(source: Path, dest: Path, parts: Iterable[str] = PARTS) -> Path:
    """``parts`` of the project at ``source`` under ``dest`` (made if missing); ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in parts:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=_LEFT_OUT)
        elif src.exists():
            shutil.copy(src, dest / part)
    return dest
