"""``quixotic env create NEW --from ENV``: a new environment file from an existing one, checked before it
is written (it replaces copying a file and editing it with sed)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quixotic.config.environment import Environment
from quixotic.config.environment_file import PROTECTION_FIELDS
from quixotic.config.fields import ID_RE, ID_RULE, value_from_text
from quixotic.config.jsonfile import dump_json, read_json
from quixotic.config.layout import (
    ENV_NAME_RE,
    ENV_NAME_RULE,
    PROJECT_FILE,
    TEMPLATE_FILE,
    environment_file,
    secret_var,
)
from quixotic.config.load import list_environments, resolve
from quixotic.config.problems import Problems, did_you_mean, listing
from quixotic.config.settings import OVERRIDABLE
from quixotic.config.template_file import parse_template
from quixotic.config.variables import VariableSpec, to_json_value

TOP_SETTABLE = ("endpoint", "projectName", "description")


@dataclass(frozen=True)
class CreatedEnvironment:
    name: str
    path: Path  # the file written
    environment: Environment  # as it resolves now; ``missing_secrets`` says what is still to set


def create_environment(
    root: Path,
    new: str,
    from_env: str,
    project_id: str,
    sets: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> CreatedEnvironment:
    """Write ``environments/<new>.json``: ``from_env``'s file with ``project_id`` and ``sets`` applied.

    ``sets`` keys: a declared variable (``MAX_FILE_SIZE_MB``), ``endpoint``, ``projectName``,
    ``description``, ``protection.<field>``, ``buckets.<id>.<field>`` or ``functions.<id>.<field>``;
    values are text as typed on a command line. Nothing is written unless the result is valid; required
    secrets may still be unset (they are listed in ``environment.missing_secrets``).
    """
    root = Path(root)
    problems = Problems()
    known = list_environments(root)
    if not ENV_NAME_RE.match(new) or new == "appwrite":
        problems.add(f"environment '{new}'", f"not a valid environment name ({ENV_NAME_RULE}; not 'appwrite')")
    elif new in known or (root / environment_file(new)).exists():
        problems.add(f"environment '{new}'", f"already exists ({environment_file(new).as_posix()})")
    if not ID_RE.match(project_id):
        problems.add("--project-id", f"{project_id!r} is not a valid project id ({ID_RULE})")
    data: Any = None
    if from_env not in known:
        problems.add(
            f"--from {from_env}", f"unknown environment{did_you_mean(from_env, known)}; known: {listing(known)}"
        )
    else:
        source = read_json(root, environment_file(from_env), problems)
        data = copy.deepcopy(source) if isinstance(source, dict) else source
    if isinstance(data, dict):
        data = _new_data(root, data, new, from_env, project_id, dict(sets or {}), problems)
        _check_project_id_unused(root, known, project_id, problems)
    file = environment_file(new).as_posix()
    environment = resolve(root, new, lambda _: data, environ, False, problems, file=file)
    problems.raise_if_any(f"cannot create environment '{new}'")
    assert environment is not None
    path = root / environment_file(new)
    with path.open("x", encoding="utf-8") as out:
        out.write(dump_json(data))
    return CreatedEnvironment(new, path, environment)


def _new_data(
    root: Path, data: dict[str, Any], new: str, from_env: str, project_id: str, sets: dict[str, str], problems: Problems
) -> dict[str, Any]:
    base_name = _project_name(root) or project_id
    data["projectId"] = project_id
    data["projectName"] = f"{base_name} ({new})"
    data["description"] = f"Created from '{from_env}' by quixotic env create."
    specs = {s.name: s for s in _template(root)}
    for key, raw in sets.items():
        where = f"--set {key}"
        parts = key.split(".")
        if key in specs:
            _set_variable(data, specs[key], new, raw, where, problems)
        elif key in TOP_SETTABLE:
            data[key] = raw
        elif key == "projectId":
            problems.add(where, "give the project id with --project-id")
        elif len(parts) == 2 and parts[0] == "protection" and parts[1] in PROTECTION_FIELDS:
            data.setdefault("protection", {})[parts[1]] = value_from_text(PROTECTION_FIELDS[parts[1]].text, raw)
        elif len(parts) == 3 and parts[0] in OVERRIDABLE and parts[2] in OVERRIDABLE[parts[0]]:
            field = OVERRIDABLE[parts[0]][parts[2]]
            section = data.setdefault(parts[0], {})
            if isinstance(section, dict) and isinstance(section.setdefault(parts[1], {}), dict):
                section[parts[1]][parts[2]] = value_from_text(field.text, raw)
        else:
            choices = [
                *specs,
                *TOP_SETTABLE,
                *(f"protection.{k}" for k in PROTECTION_FIELDS),
                *(
                    f"{kind}.{parts[1] if len(parts) == 3 else 'ID'}.{k}"
                    for kind in OVERRIDABLE
                    for k in OVERRIDABLE[kind]
                ),
            ]
            problems.add(
                where,
                f"unknown setting{did_you_mean(key, choices)}; set a declared variable, endpoint, projectName, "
                "description, protection.FIELD, buckets.ID.FIELD or functions.ID.FIELD",
            )
    return data


def _set_variable(data: dict[str, Any], spec: VariableSpec, env: str, raw: str, where: str, problems: Problems) -> None:
    if spec.secret:
        problems.add(where, f"{spec.name} is a secret and never goes in git: set {secret_var(env, spec.name)} instead")
        return
    try:
        value = spec.parse(raw)
    except ValueError as exc:
        problems.add(where, str(exc))
        return
    variables = data.setdefault("variables", {})
    if isinstance(variables, dict):
        variables[spec.name] = to_json_value(spec, value)


def _check_project_id_unused(root: Path, known: tuple[str, ...], project_id: str, problems: Problems) -> None:
    for other in known:
        data = read_json(root, environment_file(other), Problems())
        if isinstance(data, dict) and data.get("projectId") == project_id:
            problems.add(
                "--project-id",
                f"the project '{project_id}' is already used by environment '{other}'; "
                "each environment needs a project of its own",
            )


def _project_name(root: Path) -> str | None:
    data = read_json(root, PROJECT_FILE, Problems())
    name = data.get("projectName") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _template(root: Path) -> list[VariableSpec]:
    data = read_json(root, TEMPLATE_FILE, Problems())
    return [] if data is None else parse_template(data, TEMPLATE_FILE.as_posix(), None, Problems())
