"""A project's state as plain values: what is live, or what should be. Pure (no SDK, no SQLite).

The schema parts reuse the configuration's resource values (``quixotic.config.resources``); functions
add the hash of their code, and variables are flattened to one value per (scope, key). Secret
values never appear here: only their SHA-256 (``value_hash``), so states and plans can be printed,
stored and compared without leaking them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from quixotic.config.resources import Bucket, Database, Function, Table

PROJECT_SCOPE = "project"  # the scope of project-wide variables; any other scope is a function id


def value_hash(value: str) -> str:
    """How a variable value is compared and recorded: its SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class FunctionState:
    """A function's settings and the hash of the code that is (or should be) active.

    ``code_hash`` is the SHA-256 of the deterministic source archive (``quixotic.packaging``); None
    means no active deployment. ``deployment_id`` is the live active deployment (None for desired).
    """

    spec: Function
    code_hash: str | None = None
    deployment_id: str | None = None


@dataclass(frozen=True)
class VariableState:
    """One variable of a function (``scope`` = function id) or of the project (``scope`` = "project").

    ``value`` is None for secrets; ``value_hash`` is the SHA-256 of the value, or "" when a live
    secret's value is unknown (never recorded by quixotic).
    """

    scope: str
    key: str
    value: str | None
    secret: bool
    value_hash: str
    id: str | None = None  # the live variable's $id

    @property
    def address(self) -> str:
        return f"variable:{self.scope}/{self.key}"


@dataclass(frozen=True)
class ProjectState:
    project_id: str
    databases: tuple[Database, ...] = ()
    tables: tuple[Table, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    functions: tuple[FunctionState, ...] = ()
    variables: tuple[VariableState, ...] = ()
    # Variable keys quixotic manages, per scope; live keys outside them are left alone unless pruning.
    managed_variables: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)

    def canonical(self) -> dict[str, Any]:
        """A JSON-able, order-independent view (no secret values, no live ids)."""

        def sort(items: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
            return sorted(items, key=lambda d: tuple(str(d.get(k)) for k in keys))

        return {
            "projectId": self.project_id,
            "databases": sort([asdict(d) for d in self.databases], "id"),
            "tables": sort([asdict(t) for t in self.tables], "database_id", "id"),
            "buckets": sort([asdict(b) for b in self.buckets], "id"),
            "functions": sort(
                [{"spec": asdict(f.spec), "code_hash": f.code_hash} for f in self.functions],
                "spec",
            ),
            "variables": sort(
                [{"scope": v.scope, "key": v.key, "secret": v.secret, "hash": v.value_hash} for v in self.variables],
                "scope",
                "key",
            ),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the canonical view: a saved plan is refused when the live state no longer has it."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(text.encode()).hexdigest()
