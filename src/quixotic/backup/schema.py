"""``schema.json``: the live schema in the official ``appwrite.json`` form, and back.

Writing it with the configuration's own renderer and reading it with the configuration's own parser
means a restored schema is exactly what ``quixotic deploy`` would understand, and that an archive's
schema can be read (or deployed) by the official Appwrite CLI too. Functions are not here: their live
settings and code are in ``functions.json`` and ``functions/``.
"""

from __future__ import annotations

from typing import Any

from quixotic.config.problems import Problems
from quixotic.config.project_file import parse_project
from quixotic.config.resources import ProjectSpec, project_to_cli_json
from quixotic.errors import BackupError
from quixotic.plan.state import ProjectState

PART = "schema.json"


def schema_json(state: ProjectState, project_name: str) -> dict[str, Any]:
    spec = ProjectSpec(
        project_id=state.project_id,
        project_name=project_name,
        databases=state.databases,
        tables=state.tables,
        buckets=state.buckets,
    )
    out = project_to_cli_json(spec)
    out.pop("functions", None)
    return out


def schema_problems(data: dict[str, Any]) -> list[str]:
    """What the configuration parser finds wrong with a schema (it would not restore as it is)."""
    problems = Problems()
    parse_project(data, PART, problems)
    return list(problems.items)


def parse_schema(data: object) -> ProjectSpec:
    """The archive's schema as resource values; :class:`BackupError` listing every problem."""
    problems = Problems()
    spec = parse_project(data, PART, problems)
    if spec is None or problems:
        lines = "\n".join(f"  - {p}" for p in problems.items)
        raise BackupError(f"the archive's {PART} cannot be restored as it is:\n{lines}")
    return spec
