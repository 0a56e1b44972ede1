"""The desired state of an environment: its configuration plus the packaged code of its functions.

Reads files (function folders) but talks to no server; the plan compares this with the live state.
Secret values stay out of the state: only their SHA-256 goes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from quixotic.config import Environment
from quixotic.deploy.packaging import Package, package_folder
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState, value_hash


@dataclass(frozen=True)
class Desired:
    state: ProjectState
    packages: dict[str, Package]  # function id -> its deterministic archive
    # Secret values that come from elsewhere than the environment (a restored archive), by (scope, key).
    secrets: Mapping[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def secret(self, env: Environment, scope: str, key: str) -> str | None:
        """A secret's value: the one given with this desired state, else the environment's."""
        given = self.secrets.get((scope, key))
        return given if given is not None else secret_value(env, scope, key)


def desired_state(env: Environment, root: Path, packaged: Mapping[Path, Package] | None = None) -> Desired:
    """``packaged``: archives already made, by folder (another environment of the same project folder: its
    code is the same files, so it is not packaged again)."""
    project = env.project
    known = packaged or {}
    packages = {f.id: known.get(root / f.path) or package_folder(root / f.path) for f in project.functions}
    functions = tuple(FunctionState(f, packages[f.id].sha256) for f in project.functions)
    variables: list[VariableState] = []
    managed: dict[str, frozenset[str]] = {PROJECT_SCOPE: env.managed_variables()}
    for key, (value, secret) in sorted(env.project_variables().items()):
        variables.append(VariableState(PROJECT_SCOPE, key, None if secret else value, secret, value_hash(value)))
    for f in project.functions:
        managed[f.id] = env.managed_variables(f.id)
        for key, (value, secret) in sorted(env.function_variables(f.id).items()):
            variables.append(VariableState(f.id, key, None if secret else value, secret, value_hash(value)))
    state = ProjectState(
        project_id=env.project_id,
        databases=project.databases,
        tables=project.tables,
        buckets=project.buckets,
        functions=functions,
        variables=tuple(variables),
        managed_variables=managed,
    )
    return Desired(state, packages)


def secret_value(env: Environment, scope: str, key: str) -> str | None:
    """The value of a (secret) variable from the environment, read only when it is applied."""
    variables = env.project_variables() if scope == PROJECT_SCOPE else env.function_variables(scope)
    found = variables.get(key)
    return None if found is None else found.value
