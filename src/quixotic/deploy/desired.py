"""The desired state of an environment: its configuration plus the packaged code of its functions.

Reads files (function folders) but talks to no server; the plan compares this with the live state.
Secret values stay out of the state: only their keyed fingerprint goes in (``plan.state.secret_fingerprint``,
with the key the target keeps: ``SystemDatabase.fingerprint_key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from quixotic.config import Environment
from quixotic.deploy.packaging import Package, package_folder
from quixotic.plan.state import (
    PROJECT_SCOPE,
    FunctionState,
    ProjectState,
    VariableState,
    secret_fingerprint,
    value_hash,
)

if TYPE_CHECKING:
    from quixotic.target import Target


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


def desired_state(
    env: Environment,
    root: Path,
    packaged: Mapping[Path, Package] | None = None,
    *,
    fingerprint_key: bytes | None = None,
) -> Desired:
    """``packaged``: archives already made, by folder (another environment of the same project folder: its
    code is the same files, so it is not packaged again). ``fingerprint_key``: the target's key for secret
    fingerprints; without it (no target at hand) secrets are fingerprinted with an empty state (""), which
    compares as unknown."""
    project = env.project
    known = packaged or {}
    packages = {f.id: known.get(root / f.path) or package_folder(root / f.path) for f in project.functions}
    functions = tuple(FunctionState(f, packages[f.id].sha256) for f in project.functions)

    def variable(scope: str, key: str, value: str, secret: bool) -> VariableState:
        if not secret:
            return VariableState(scope, key, value, False, value_hash(value))
        fingerprint = secret_fingerprint(value, fingerprint_key) if fingerprint_key else ""
        return VariableState(scope, key, None, True, fingerprint)

    variables: list[VariableState] = []
    managed: dict[str, frozenset[str]] = {PROJECT_SCOPE: env.managed_variables()}
    for key, (value, secret) in sorted(env.project_variables().items()):
        variables.append(variable(PROJECT_SCOPE, key, value, secret))
    for f in project.functions:
        managed[f.id] = env.managed_variables(f.id)
        for key, (value, secret) in sorted(env.function_variables(f.id).items()):
            variables.append(variable(f.id, key, value, secret))
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


def target_desired(target: Target, packaged: Mapping[Path, Package] | None = None, *, make_key: bool = True) -> Desired:
    """``desired_state`` of the target's environment, secrets fingerprinted with the target's own key (made,
    and older fingerprints migrated, on the first run that needs it). ``make_key`` False writes nothing: a
    target without a key yet gets "" (unknown) fingerprints, which is what its live secrets are too."""
    if make_key:
        key: bytes | None = target.system.fingerprint_key(secret_values(target.env))
    else:
        key = target.system.stored_fingerprint_key()
    return desired_state(target.env, target.root, packaged, fingerprint_key=key)


def secret_values(env: Environment) -> dict[tuple[str, str], str]:
    """Every secret value of the environment's configuration, by (scope, key): what a legacy fingerprint is
    checked against when it is migrated (``SystemDatabase.fingerprint_key``)."""
    found = {(PROJECT_SCOPE, k): v for k, (v, secret) in env.project_variables().items() if secret}
    for f in env.project.functions:
        found.update({(f.id, k): v for k, (v, secret) in env.function_variables(f.id).items() if secret})
    return found


def secret_value(env: Environment, scope: str, key: str) -> str | None:
    """The value of a (secret) variable from the environment, read only when it is applied."""
    variables = env.project_variables() if scope == PROJECT_SCOPE else env.function_variables(scope)
    found = variables.get(key)
    return None if found is None else found.value
