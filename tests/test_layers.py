"""The pure core really is pure at run time: importing it loads neither the SDK nor SQLite (import-linter
checks the imports it can see; this also catches a package ``__init__`` that pulls them in)."""

from __future__ import annotations

import subprocess
import sys

PURE = ("quixotic.config", "quixotic.plan.diff", "quixotic.plan.plan", "quixotic.plan.release",
        "quixotic.migrations.graph", "quixotic.deploy.rollback", "quixotic.deploy.snapshot",
        "quixotic.evidence.findings", "quixotic.evidence.decide")  # fmt: skip


def test_the_pure_core_loads_no_sdk_and_no_sqlite() -> None:
    probe = (
        f"import sys\nfor m in {PURE!r}: __import__(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('appwrite', 'sqlite3', '_sqlite3', 'requests')"
        " or m.startswith(('quixotic.sdk', 'quixotic.server', 'quixotic.target')))\nprint(bad)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout
