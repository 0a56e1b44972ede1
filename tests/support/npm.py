"""npm trees the tests drive under node (the web SDK, puppeteer-core), installed on first use from their lock files,
so the README's test command works on a fresh machine (CI installs them up front: `.ci/run`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def npm_ci(folder: Path, installed: str) -> None:
    """``npm ci`` in ``folder`` (its package-lock.json) unless ``node_modules/<installed>`` is there."""
    if (folder / "node_modules" / installed / "package.json").is_file():
        return
    npm = shutil.which("npm")
    assert npm, f"npm (node 20 or later) is needed to install {folder.name}'s packages"
    env = {**os.environ, "npm_config_cache": str(REPO / ".cache" / "npm"), "PUPPETEER_SKIP_DOWNLOAD": "1"}
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"npm ci in {folder} failed:\n{done.stderr[-2000:]}"
