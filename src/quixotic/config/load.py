"""Loading an environment: read ``appwrite.json``, the template and ``environments/<env>.json``, merge,
check everything, and raise one :class:`ConfigError` listing every problem found."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from quixotic.config.environment import Environment
from quixotic.config.environment_file import parse_environment_file
from quixotic.config.jsonfile import read_json
from quixotic.config.layout import (
    ENV_NAME_RE,
    ENV_NAME_RULE,
    ENVIRONMENTS_DIR,
    PROJECT_FILE,
    RENDERED_PREFIX,
    TEMPLATE_FILE,
    api_key_var,
    environment_file,
)
from quixotic.config.problems import Problems, did_you_mean, listing
from quixotic.config.project_file import parse_project
from quixotic.config.resources import ProjectSpec
from quixotic.config.secrets import SecretStore, SecretValue
from quixotic.config.settings import apply_settings
from quixotic.config.template_file import parse_template
from quixotic.config.variable_values import resolve_variables
from quixotic.config.variables import VariableSpec


def list_environments(root: Path) -> tuple[str, ...]:
    """The environments defined under ``root/environments`` (one ``<env>.json`` each), sorted."""
    folder = Path(root) / ENVIRONMENTS_DIR
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(
            p.stem
            for p in folder.glob("*.json")
            if p.is_file() and not p.name.startswith(RENDERED_PREFIX) and ENV_NAME_RE.match(p.stem)
        )
    )


def load_project(root: Path) -> ProjectSpec:
    """``appwrite.json`` alone, as written (no environment applied)."""
    problems = Problems()
    project = _read_project(Path(root), problems)
    problems.raise_if_any(f"{PROJECT_FILE} is invalid")
    assert project is not None
    return project


def load_template(root: Path) -> tuple[VariableSpec, ...]:
    """The declared variables of ``templates/shared-variables.json`` (checked against ``appwrite.json``)."""
    problems = Problems()
    project = _read_project(Path(root), problems)
    specs = _read_template(Path(root), project, problems)
    problems.raise_if_any(f"{TEMPLATE_FILE.as_posix()} is invalid")
    return tuple(specs)


def load_environment(
    root: Path, env: str, *, environ: Mapping[str, str] | None = None, require_secrets: bool = True
) -> Environment:
    """The resolved environment ``env`` of the project under ``root``.

    ``environ`` defaults to ``os.environ`` (secrets and the API key are looked up there first).
    With ``require_secrets=False`` a required secret that is not set is not a problem; it is listed in
    ``Environment.missing_secrets`` instead (for rendering and for creating environments).
    """
    root = Path(root)
    problems = Problems()

    def read_environment(problems: Problems) -> object:
        known = list_environments(root)
        if not ENV_NAME_RE.match(env):
            problems.add(f"environment '{env}'", f"not a valid environment name ({ENV_NAME_RULE})")
        elif env not in known:
            problems.add(
                f"environment '{env}'",
                f"unknown environment{did_you_mean(env, known)}; known: {listing(known)} "
                f"(each is a file {ENVIRONMENTS_DIR.as_posix()}/<name>.json; create one with quixotic env create)",
            )
        else:
            return read_json(root, environment_file(env), problems)
        return None

    environment = resolve(root, env, read_environment, environ, require_secrets, problems)
    problems.raise_if_any(f"the configuration of environment '{env}' is invalid")
    assert environment is not None
    return environment


def resolve(
    root: Path,
    env: str,
    read_environment: Callable[[Problems], object],
    environ: Mapping[str, str] | None,
    require_secrets: bool,
    problems: Problems,
    file: str | None = None,
) -> Environment | None:
    """Merge the project, the template and the environment's data; every problem goes to ``problems``.

    ``read_environment`` returns the environment file's parsed JSON, or None once it has reported why
    there is none; the project files are checked either way, so one run reports everything.
    """
    project = _read_project(root, problems)
    specs = _read_template(root, project, problems)
    data = read_environment(problems)
    file = file or environment_file(env).as_posix()
    env_file = None if data is None else parse_environment_file(data, file, problems)
    if env_file is None:
        return None
    store = SecretStore(root, env, os.environ if environ is None else environ)
    values = resolve_variables(
        specs, env_file.variables, store, file, TEMPLATE_FILE.as_posix(), require_secrets, problems
    )
    if project is None:
        return None
    overrides = {"buckets": env_file.buckets, "functions": env_file.functions}
    project, settings = apply_settings(project, overrides, specs, values.typed, file, problems)
    project = dataclasses.replace(
        project,
        project_id=env_file.project_id,
        project_name=env_file.project_name or project.project_name,
        endpoint=env_file.endpoint,
    )
    api_key = store.get("API_KEY")
    return Environment(
        name=env,
        project=project,
        endpoint=env_file.endpoint,
        protection=env_file.protection,
        variables=values.resolved,
        settings=settings,
        api_key=None if api_key is None else SecretValue(api_key[0]),
        api_key_var=api_key_var(env),
        secrets_file=store.file,
        description=env_file.description,
        missing_secrets=values.missing_secrets,
        freeze=env_file.freeze,
        platforms=env_file.platforms,
    )


def _read_project(root: Path, problems: Problems) -> ProjectSpec | None:
    data = read_json(
        root, PROJECT_FILE, problems, "file not found (the project's definition, in the Appwrite CLI format)"
    )
    return None if data is None else parse_project(data, PROJECT_FILE.as_posix(), problems)


def _read_template(root: Path, project: ProjectSpec | None, problems: Problems) -> list[VariableSpec]:
    data = read_json(root, TEMPLATE_FILE, problems, "file not found (every variable, declared once)")
    return [] if data is None else parse_template(data, TEMPLATE_FILE.as_posix(), project, problems)
