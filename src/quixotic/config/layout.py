"""Where the project's configuration lives under a root folder, and how secrets are named.

One place for the file names the user chose and the ``QUIXOTIC_<ENV>_<NAME>`` convention, so that
every message that tells the user what to set spells it the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

PROJECT_FILE: Final = Path("appwrite.json")
ENVIRONMENTS_DIR: Final = Path("environments")
TEMPLATE_FILE: Final = Path("templates/shared-variables.json")
RENDERED_PREFIX: Final = "appwrite."  # environments/appwrite.<env>.json are rendered outputs, not environments
SECRET_PREFIX: Final = "QUIXOTIC_"

ENV_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ENV_NAME_RULE: Final = "1 to 32 characters: lower-case letters, digits and '-', starting with a letter"


def environment_file(env: str) -> Path:
    """``environments/<env>.json`` (relative to the root)."""
    return ENVIRONMENTS_DIR / f"{env}.json"


def secrets_file(env: str) -> Path:
    """The git-ignored ``environments/.env.<env>`` (relative to the root)."""
    return ENVIRONMENTS_DIR / f".env.{env}"


def rendered_file(env: str) -> Path:
    """``environments/appwrite.<env>.json``, the official-CLI file ``quixotic env render`` writes."""
    return ENVIRONMENTS_DIR / f"{RENDERED_PREFIX}{env}.json"


def env_prefix(env: str) -> str:
    """``QUIXOTIC_<ENV>_``: the prefix of this environment's process variables (``-`` becomes ``_``)."""
    return f"{SECRET_PREFIX}{env.upper().replace('-', '_')}_"


def secret_var(env: str, name: str) -> str:
    """The process variable that holds secret ``name`` of ``env``, e.g. ``QUIXOTIC_PROD_WEBHOOK_TOKEN``."""
    return env_prefix(env) + name


def api_key_var(env: str) -> str:
    """The process variable that holds the API key of ``env``, e.g. ``QUIXOTIC_DEV_API_KEY``."""
    return secret_var(env, "API_KEY")
