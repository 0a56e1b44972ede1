"""Where a running local server listens: ``server.json`` in its data folder.

The server writes it at start; ``up``, ``down`` and ``connect`` read it, so every command finds the server
that ``quixotic up`` started, on whatever port. A leaf module (JSON and paths only), so both the server and
the operations side use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

STATE_FILE: Final = "server.json"
LOCAL_DATA: Final = Path(".quixotic/local")  # the data folder `quixotic up` uses under a project's root


def read_server_state(data_dir: Path) -> dict[str, Any] | None:
    """What the server that uses ``data_dir`` recorded (endpoint, host, port, pid), or None."""
    try:
        state = json.loads((Path(data_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "endpoint" in state else None


def write_server_state(data_dir: Path, host: str, port: int) -> None:
    state = {"endpoint": f"http://{host}:{port}/v1", "host": host, "port": port, "pid": os.getpid()}
    (Path(data_dir) / STATE_FILE).write_text(json.dumps(state) + "\n")
