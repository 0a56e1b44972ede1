"""``environments/appwrite.<env>.json``: one environment as a complete official Appwrite CLI file.

For people who still run the official CLI. It carries that environment's project id, endpoint and
settings, and no variables at all: the CLI's ``push --with-variables`` would re-create every variable
as non-secret and delete the rest, so variables go through ``quixotic vars sync`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quixotic.config.load import load_environment


def render_environment(root: Path, env: str, *, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The CLI file for ``env``; needs no secrets (a required secret that is not set does not block it)."""
    return load_environment(root, env, environ=environ, require_secrets=False).to_cli_json()
