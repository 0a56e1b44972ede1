"""The target: one environment and the live project it names, the session object of every verb.

``connect`` loads the environment's configuration and opens its project through the SDK boundary; the
:class:`Target` carries the configuration, the backend and the project's system database (releases,
locks, secret fingerprints, migration history: ``quixotic.target.system``). Deploy, migrate, backup,
restore and transcribe all start from a ``Target``, so none of them imports another verb.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from quixotic.config import Environment, load_environment
from quixotic.config.layout import secret_var
from quixotic.localstate import LOCAL_DATA, read_server_state
from quixotic.sdk.backend import AppwriteBackend
from quixotic.target.system import SystemDatabase

__all__ = ["Target", "attach", "connect"]
LOCAL_ENV = "local"  # the environment of the embedded server


@dataclass
class Target:
    """An environment and the live project it names."""

    root: Path
    env: Environment
    backend: AppwriteBackend
    system: SystemDatabase


def endpoint_of(env: Environment, environ: Mapping[str, str], root: Path | None = None) -> str:
    """The environment's endpoint: ``QUIXOTIC_<ENV>_ENDPOINT`` if set (tests and `up` use it); for ``local``,
    where the server that `quixotic up` started under ``root`` listens (``--port`` may differ from the
    file's); else the file's."""
    override = environ.get(secret_var(env.name, "ENDPOINT"))
    if override:
        return override
    if env.name == LOCAL_ENV and root is not None:
        state = read_server_state(root / LOCAL_DATA)
        if state is not None:
            return str(state["endpoint"])
    return env.endpoint


def connect(root: Path, env_name: str, environ: Mapping[str, str] | None = None) -> Target:
    """Load ``env_name`` and open its project."""
    environ = os.environ if environ is None else environ
    return attach(root, load_environment(root, env_name, environ=environ), environ)


def attach(root: Path, env: Environment, environ: Mapping[str, str] | None = None) -> Target:
    """Open the project of an environment already loaded (a verb that checks its input first)."""
    environ = os.environ if environ is None else environ
    backend = AppwriteBackend(endpoint_of(env, environ, root), env.project_id, env.require_api_key())
    return Target(root, env, backend, SystemDatabase(backend))
