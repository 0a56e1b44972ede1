"""The toolkit on another SDK line: a script run by that line's interpreter (``.sdk/toolkit-27``, made by
``.ci/run`` with ``pip install -e . 'appwrite==27.*'``), its last line of output read as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from support.site import REPO

OLDEST = sys.executable  # this venv: the oldest supported line (15.x)
NEWEST = REPO / ".sdk" / "toolkit-27" / "bin" / "python"
needs_newest = pytest.mark.skipif(not NEWEST.exists(), reason=f"no {NEWEST}: .ci/run makes it")


def run_script(python: object, script: str, *args: str, timeout: float = 120) -> Any:
    """``script`` run by ``python`` with ``args``; what it printed last, parsed. Fails the test with its stderr."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    done = subprocess.run(
        [str(python), "-c", script, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
