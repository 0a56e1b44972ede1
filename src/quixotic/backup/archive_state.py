"""The desired state a restore aims at, built from an archive instead of from the configuration.

It is the deploy engine's own :class:`quixotic.desired.Desired`, so the schema, functions and variables
are restored by ``make_plan`` + ``Applier`` exactly as a deploy would make them. Sections the archive does
not hold are copied from the live side, so the plan leaves them alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from quixotic.backup.archive import ArchiveReader
from quixotic.backup.schema import PART as SCHEMA_PART
from quixotic.backup.schema import parse_schema
from quixotic.backup.secrets import Sealer
from quixotic.config import Environment
from quixotic.deploy.desired import Desired, secret_value
from quixotic.deploy.packaging import Package
from quixotic.errors import BackupError
from quixotic.plan.state import FunctionState, ProjectState, VariableState, value_hash
from quixotic.sdk.models import function_from_model


@dataclass
class ArchiveDesired:
    desired: Desired
    keep_variables: set[str] = field(default_factory=set)  # addresses the plan must not touch
    warnings: list[str] = field(default_factory=list)


def archive_desired(
    reader: ArchiveReader,
    env: Environment,
    live: ProjectState,
    sealer: Sealer | None,
    *,
    fingerprint: Callable[[str], str],  # the target's keyed secret fingerprint
) -> ArchiveDesired:
    """What the target should hold after the restore, for the plan (its project id is the target's)."""
    state = replace(live, managed_variables={})
    if reader.has(SCHEMA_PART):
        spec = parse_schema(reader.read_json(SCHEMA_PART))
        state = replace(state, databases=spec.databases, tables=spec.tables, buckets=spec.buckets)
    packages: dict[str, Package] = {}
    if reader.has("functions.json"):
        functions = []
        for record in _records(reader.read_json("functions.json"), "functions.json"):
            spec_fn = function_from_model(record["function"])
            source = record.get("source")
            code_hash = None
            if isinstance(source, str):
                data = reader.read_bytes(source)
                code_hash = hashlib.sha256(data).hexdigest()
                packages[spec_fn.id] = Package(data, code_hash, ())
            functions.append(FunctionState(spec_fn, code_hash))
        state = replace(state, functions=tuple(functions))
    result = ArchiveDesired(Desired(state, packages))
    if reader.has("variables.json"):
        variables, secrets = _variables(reader, env, live, sealer, result, fingerprint)
        state = replace(state, variables=tuple(variables))
        result.desired = Desired(state, packages, secrets)
    else:
        result.desired = Desired(state, packages)
    return result


def _records(data: object, part: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BackupError(f"part {part} does not hold a list of objects: the archive was edited")
    return list(data)


def _variables(
    reader: ArchiveReader,
    env: Environment,
    live: ProjectState,
    sealer: Sealer | None,
    result: ArchiveDesired,
    fingerprint: Callable[[str], str],
) -> tuple[list[VariableState], dict[tuple[str, str], str]]:
    """Variables with their values: plain from the archive; secrets from the archive (sealed, with the
    passphrase) or else from the target environment's own configuration; otherwise left as they are."""
    live_vars = {(v.scope, v.key): v for v in live.variables}
    variables: list[VariableState] = []
    secrets: dict[tuple[str, str], str] = {}
    for record in _records(reader.read_json("variables.json"), "variables.json"):
        scope, key = str(record["scope"]), str(record["key"])
        if not record.get("secret"):
            value = str(record.get("value") or "")
            variables.append(VariableState(scope, key, value, False, value_hash(value)))
            continue
        value_or_none: str | None = None
        sealed = record.get("sealed")
        if isinstance(sealed, dict) and sealer is not None:
            value_or_none = sealer.open(sealed, f"{scope}/{key}")
        if value_or_none is None:
            value_or_none = secret_value(env, scope, key)
        if value_or_none is not None:
            secrets[(scope, key)] = value_or_none
            variables.append(VariableState(scope, key, None, True, fingerprint(value_or_none)))
            continue
        address = f"variable:{scope}/{key}"
        result.keep_variables.add(address)
        if (scope, key) in live_vars:
            variables.append(live_vars[(scope, key)])
        else:
            hint = " (the archive has it sealed: pass its passphrase)" if isinstance(sealed, dict) else ""
            result.warnings.append(
                f"secret {scope}/{key} has no value{hint}: set it in {env.name}'s configuration and run "
                f"`quixotic vars sync {env.name}`"
            )
    return variables, secrets
