"""ONE project folder builder for tests, and ONE way to run the command line.

A ``Site`` is a throwaway project folder (appwrite.json, templates/, functions/, migrations/, environments/)
whose environments point at the test server: ``add_env`` gives each environment a fresh project of that
server, and its endpoint, API key and secrets come from ``QUIXOTIC_<ENV>_*`` process variables, as in
production. ``site.cli(...)`` runs ``python -m quixotic.cli ... --root <site>`` with those variables.

``cli`` and ``popen`` run the command line for tests that have no site (``quixotic local ...``, ``up``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appwrite.client import Client

from quixotic.server import admin
from quixotic.target import Target, connect
from support.server import LocalServer

REPO = Path(__file__).resolve().parents[2]
NO_PROTECTION = {"requireConfirmation": False, "refuseDestructive": False, "backupBeforeMigrations": False}
UNREACHABLE = "http://127.0.0.1:1/v1"  # environments/*.json's endpoint; QUIXOTIC_<ENV>_ENDPOINT wins


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "quixotic.cli", *args]


def cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``quixotic ARGS`` in a child process, its output captured as text; ``env`` is its whole environment
    (this process's by default)."""
    environ = dict(os.environ if env is None else env)
    return subprocess.run(command(*args), capture_output=True, text=True, cwd=cwd, env=environ, timeout=timeout)


def popen(*args: str, env: Mapping[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[Any]:
    """``quixotic ARGS`` started in the background, in a session of its own (so ``os.killpg`` kills it all);
    ``kwargs`` override the pipes and the rest."""
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "start_new_session": True}
    options.update(kwargs)
    return subprocess.Popen(command(*args), env=dict(os.environ if env is None else env), **options)


def write(path: Path, data: Any) -> None:
    """``data`` as JSON (text as is) at ``path``, folders made as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))


@dataclass
class Site:
    """The project folder plus the process variables that point its environments at the test server."""

    root: Path
    server: LocalServer | None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    projects: dict[str, admin.ProjectCredentials] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        root: Path,
        server: LocalServer | None,
        *,
        files: Mapping[str, Any] | None = None,
        from_repo: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> Site:
        """A site under ``root``: ``files`` (relative path -> JSON data or text) written, ``from_repo`` (files or
        folders of this repository, e.g. ``appwrite.json``, ``templates``, ``migrations``) copied in."""
        root.mkdir(parents=True, exist_ok=True)
        for relative in from_repo:
            source, target = REPO / relative, root / relative
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
        for relative, data in (files or {}).items():
            write(root / relative, data)
        return cls(root, server, {**os.environ, **(environ or {})})

    def write_env(
        self,
        name: str,
        project_id: str,
        *,
        project_name: str = "Test",
        variables: Mapping[str, Any] | None = None,
        protection: Mapping[str, bool] = NO_PROTECTION,
    ) -> Path:
        """``environments/<name>.json`` for ``project_id`` (``variables`` left out when None)."""
        config: dict[str, Any] = {"projectId": project_id, "projectName": project_name, "endpoint": UNREACHABLE}
        if variables is not None:
            config["variables"] = dict(variables)
        config["protection"] = dict(protection)
        path = self.root / "environments" / f"{name}.json"
        write(path, config)
        return path

    def add_env(
        self,
        name: str = "test",
        *,
        key: str | None = None,
        secrets: Mapping[str, str] | None = None,
        **config: Any,
    ) -> admin.ProjectCredentials:
        """Environment ``name`` on a fresh project of the test server: its file (``config`` as for ``write_env``),
        and ``QUIXOTIC_<NAME>_ENDPOINT``, ``_API_KEY`` (``key`` or the project's) and ``secrets`` set."""
        assert self.server is not None, "a site without a server has no projects"
        creds = self.server.new_project()
        self.write_env(name, creds.project_id, **config)
        prefix = f"QUIXOTIC_{name.upper()}_"
        self.environ[prefix + "ENDPOINT"] = self.server.url
        self.environ[prefix + "API_KEY"] = key or creds.api_key
        for variable, value in (secrets or {}).items():
            self.environ[prefix + variable] = value
        self.projects[name] = creds
        return creds

    def target(self, name: str = "test") -> Target:
        return connect(self.root, name, self.environ)

    def client(self, name: str = "test") -> Client:
        assert self.server is not None
        creds = self.projects[name]
        return self.server.client(creds.project_id, creds.api_key)

    def cli(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
        """``quixotic ARGS --root <site>`` with the site's process variables (plus ``env``)."""
        return cli(*args, "--root", str(self.root), env={**self.environ, **env}, timeout=timeout)

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[Any]:
        """``quixotic ARGS --root <site>`` in the background, with the site's process variables."""
        return popen(*args, "--root", str(self.root), env=self.environ, **kwargs)
