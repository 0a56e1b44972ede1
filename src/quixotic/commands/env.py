"""``quixotic env ...``: list, show, create and render environments."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quixotic import config
from quixotic.config.jsonfile import dump_json
from quixotic.errors import ConfigError, UsageError


@dataclass(frozen=True)
class EnvironmentListing:
    """One line of ``env list``; ``problems`` counts what is wrong (0: it loads, secrets aside)."""

    name: str
    project_id: str | None
    endpoint: str | None
    protection: str | None
    missing_secrets: tuple[str, ...]
    problems: int


def list_environments(root: Path, environ: Mapping[str, str] | None = None) -> list[EnvironmentListing]:
    """Every environment under ``root``, each loaded (required secrets not needed) to say whether it is valid."""
    out = []
    for name in config.list_environments(root):
        try:
            env = config.load_environment(root, name, environ=environ, require_secrets=False)
        except ConfigError as exc:
            out.append(EnvironmentListing(name, None, None, None, (), len(exc.problems)))
            continue
        out.append(
            EnvironmentListing(name, env.project_id, env.endpoint, env.protection.describe(), env.missing_secrets, 0)
        )
    return out


def show(root: Path, env: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The resolved environment as JSON-ready data: each value with its source, secrets as ``********``."""
    environment = config.load_environment(root, env, environ=environ)
    # Built without secret values; scrubbed once more so that no secret can reach output by any path.
    scrubbed: dict[str, Any] = json.loads(environment.redact(json.dumps(environment.to_public_json())))
    return scrubbed


def parse_sets(sets: Sequence[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` as a dict; every malformed or repeated entry reported at once."""
    out: dict[str, str] = {}
    bad: list[str] = []
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            bad.append(f"--set {item.split('=')[0]!r}: expected KEY=VALUE")
        elif key in out:
            bad.append(f"--set {key}: given twice")
        else:
            out[key] = value
    if bad:
        raise UsageError("; ".join(bad))
    return out


def create(
    root: Path,
    new: str,
    from_env: str,
    project_id: str,
    sets: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> config.CreatedEnvironment:
    """Write ``environments/<new>.json`` from ``from_env`` with ``project_id`` and ``KEY=VALUE`` sets applied."""
    return config.create_environment(root, new, from_env, project_id, parse_sets(sets), environ=environ)


def render(root: Path, env: str, out: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Write the official-CLI file of ``env`` (default ``environments/appwrite.<env>.json``); returns its path."""
    data = config.render_environment(root, env, environ=environ)
    path = out if out is not None else Path(root) / config.rendered_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_json(data), encoding="utf-8")
    return path
