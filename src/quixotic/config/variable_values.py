"""Choosing each variable's value for one environment, and saying where it came from.

Non-secret values come only from git (the template's default, then the environment file's
``variables``); secret values only from outside git (process environment, then ``.env`` file). A value
in the wrong place is a problem rather than silently ignored, so nobody wonders which one won.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quixotic.config.environment import ResolvedVariable, Source
from quixotic.config.fields import Loc
from quixotic.config.problems import Problems, did_you_mean
from quixotic.config.secrets import SecretStore
from quixotic.config.variables import Typed, VariableSpec, to_text


@dataclass(frozen=True)
class VariableValues:
    resolved: tuple[ResolvedVariable, ...]
    typed: Mapping[str, Typed]  # name -> typed value, for settings the variables drive
    missing_secrets: tuple[str, ...]  # process variables of required secrets that are not set


def resolve_variables(
    specs: list[VariableSpec],
    overrides: Mapping[str, object],
    store: SecretStore,
    env_file: str,
    template_file: str,
    require_secrets: bool,
    problems: Problems,
) -> VariableValues:
    where = Loc(env_file, "variables")
    names = [s.name for s in specs]
    for name in overrides:
        if name not in names:
            problems.add(
                str(where.at(name)),
                f"no variable '{name}' is declared in {template_file}{did_you_mean(name, names)}; "
                "declare it there first",
            )
    resolved: list[ResolvedVariable] = []
    typed: dict[str, Typed] = {}
    missing: list[str] = []
    for spec in specs:
        if spec.secret:
            value, source = _secret(spec, overrides, store, where, problems)
            if value is None and spec.required:
                missing.append(store.variable(spec.name))
                if require_secrets:
                    near = did_you_mean(store.variable(spec.name), store.candidates())
                    problems.add(
                        f"environment '{store.env}'",
                        f"the required secret {spec.name} is not set: {store.how_to_set(spec.name)}{near}",
                    )
        else:
            value, source = _plain(spec, overrides, store, where, template_file, problems)
        if value is not None:
            typed[spec.name] = value
        resolved.append(
            ResolvedVariable(
                name=spec.name,
                type=spec.type,
                value=None if value is None else to_text(value),
                secret=spec.secret,
                source=source if value is not None else None,
                functions=spec.functions,
                required=spec.required,
            )
        )
    _check_env_file_entries(specs, store, problems)
    return VariableValues(tuple(resolved), typed, tuple(missing))


def _secret(
    spec: VariableSpec, overrides: Mapping[str, object], store: SecretStore, where: Loc, problems: Problems
) -> tuple[Typed | None, Source | None]:
    if spec.name in overrides:
        problems.add(
            str(where.at(spec.name)),
            f"{spec.name} is a secret, so its value must not be in git: remove it here and "
            f"{store.how_to_set(spec.name)}",
        )
    found = store.get(spec.name)
    if found is None:
        return None, None
    text, origin, from_process = found
    try:
        value = spec.parse(text)
    except ValueError as exc:
        problems.add(origin if not from_process else f"process variable {origin}", f"{spec.name}: {exc}")
        return None, None
    return value, Source("process-env" if from_process else "env-file", origin)


def _plain(
    spec: VariableSpec,
    overrides: Mapping[str, object],
    store: SecretStore,
    where: Loc,
    template_file: str,
    problems: Problems,
) -> tuple[Typed | None, Source | None]:
    outside = store.get(spec.name)
    if outside is not None:
        _, origin, from_process = outside
        place = f"process variable {origin}" if from_process else origin
        problems.add(
            place,
            f"{spec.name} is not a secret, so its value comes from git: remove {store.variable(spec.name)} "
            f"and set variables.{spec.name} in {where.file}",
        )
    if spec.name in overrides:
        try:
            return spec.check(overrides[spec.name]), Source("override", where.file)
        except ValueError as exc:
            problems.add(str(where.at(spec.name)), str(exc))
            return None, None
    if spec.default is not None:
        return spec.default, Source("default", template_file)
    if spec.required:
        problems.add(
            str(where),
            f"the required variable {spec.name} has no value: give it a default in {template_file} "
            f"or set variables.{spec.name} here",
        )
    return None, None


def _check_env_file_entries(specs: list[VariableSpec], store: SecretStore, problems: Problems) -> None:
    """Every line of ``.env.<env>`` must name a secret of this environment or its API key: catches typos."""
    known = [store.variable(s.name) for s in specs if s.secret] + [store.variable("API_KEY")]
    plain = {store.variable(s.name) for s in specs if not s.secret}
    for entry in store.file_entries():
        if entry not in known and entry not in plain:
            problems.add(
                store.file,
                f"'{entry}' is neither a secret of environment '{store.env}' nor its API key"
                f"{did_you_mean(entry, known)}",
            )
