"""The QuixoticWhisper backend on the session's local server, deployed ONCE per session with `quixotic deploy`.

The ``local`` environment of the repository (appwrite.json, templates/, environments/local.json, functions/)
is deployed by the same command a user runs, into a project with the id ``environments/local.json`` names,
so ``quixotic transcribe --env local`` finds it when ``QUIXOTIC_LOCAL_ENDPOINT`` points at the test server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from support.server import LocalServer
from whisper_helpers import ENV, ROOT, Whisper

from quixotic.commands import deploy
from quixotic.config import load_environment
from quixotic.server import admin
from quixotic.target import connect


@pytest.fixture(scope="session")
def whisper(server: LocalServer) -> Iterator[Whisper]:
    env = load_environment(ROOT, ENV, environ={"QUIXOTIC_LOCAL_API_KEY": "unused"})
    creds = admin.create_project(server.data_dir, env.project_id)
    environ = {**os.environ, "QUIXOTIC_LOCAL_API_KEY": creds.api_key, "QUIXOTIC_LOCAL_ENDPOINT": server.url}
    env = load_environment(ROOT, ENV, environ=environ)
    client = server.client(env.project_id, creds.api_key)
    started = time.monotonic()
    result = deploy.deploy(connect(ROOT, ENV, environ), yes=True)
    assert result.release_id is not None
    print(f"backend deployed in {time.monotonic() - started:.1f} s ({result.applied} changes)")
    yield Whisper(server, env, creds.api_key, client)
