"""The three workflow linters, run as the real programs the dev extras install (offline): actionlint
(with shellcheck on its PATH for the run: scripts), check-jsonschema's vendored GitHub workflow schema,
and zizmor's security audits (the auditor persona, the strictest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The linter next to this Python (the venv's), else on PATH; a missing one fails the test."""
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]' (it is one of the dev extras)"
    return str(found)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=environ, timeout=300)


def lint_all(files: list[Path]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each linter's run over ``files`` (all of one folder)."""
    names = [str(f) for f in files]
    return {
        "actionlint": run(tool("actionlint"), "-shellcheck", tool("shellcheck"), *names),
        "check-jsonschema": run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *names),
        "zizmor": run(tool("zizmor"), "--offline", "--persona", "auditor", "--no-progress", *names),
    }
