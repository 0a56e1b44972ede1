"""A project's state as plain values: what is live, or what should be. Pure (no SDK, no SQLite).

The schema parts reuse the configuration's resource values (``quixotic.config.resources``); functions
add the hash of their code, and variables are flattened to one value per (scope, key). Secret
values never appear here, only their fingerprint, so states and plans can be printed, stored and
compared without leaking them.

Secret fingerprints are keyed: ``secret_fingerprint`` is an HMAC-SHA256 with a per-project key, so a
plan file, a release record or a backup that carries one gives nothing to guess a weak secret
against offline (a plain SHA-256 of "hunter2" is one dictionary lookup away). The key lives in the
target project itself (``quixotic.target.system``, its ``secrets`` table, which backups leave out):
every machine that deploys the environment, a laptop or CI, reads the same key, so all compute the
same fingerprints, and nothing written elsewhere holds it. It is not derived from the API key: two
machines may hold different keys for one project, and a rotated key would change every fingerprint.
Whoever can read the target's own tables can read the key, but such a caller can also deploy code
that reads the secrets themselves; the key keeps the artefacts *outside* the target harmless.

Fingerprints written by older versions are plain SHA-256 (64 hex digits): ``migrate_fingerprint``
re-keys one when the value is known and matches it, and otherwise turns it into ``LEGACY``, which
equals no fingerprint, so a comparison with it reports a difference instead of passing silently.
Plain values (not secret) keep ``value_hash``: they are shown in clear anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from quixotic.config.resources import Bucket, Database, Function, Table

PROJECT_SCOPE = "project"  # the scope of project-wide variables; any other scope is a function id


FINGERPRINT_PREFIX = "k1:"  # an HMAC-SHA256, base64url without padding: 46 characters in all
LEGACY = "legacy-unverified"  # an old plain fingerprint that could not be re-keyed: equals nothing


def value_hash(value: str) -> str:
    """How a plain (not secret) variable value, or code, is compared: its SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_fingerprint(value: str, key: bytes) -> str:
    """How a secret value is compared and recorded: HMAC-SHA256 keyed by the project's fingerprint key."""
    if not key:
        raise ValueError("a secret fingerprint needs the project's fingerprint key")
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return FINGERPRINT_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def is_legacy_fingerprint(text: str) -> bool:
    """Whether ``text`` is a fingerprint of older versions: a plain SHA-256 in hex."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def migrate_fingerprint(recorded: str, value: str | None, key: bytes) -> str:
    """``recorded`` as a keyed fingerprint: unchanged when it is one (or empty), re-keyed when it is a legacy
    one of ``value``, else ``LEGACY`` (the value changed since, or is unknown)."""
    if not is_legacy_fingerprint(recorded):
        return recorded
    if value is not None and hmac.compare_digest(value_hash(value), recorded):
        return secret_fingerprint(value, key)
    return LEGACY


def migrate_record(record: object, values: Mapping[tuple[str, str], str], key: bytes) -> tuple[object, int]:
    """A stored record (a release: snapshots and plan views) with every legacy secret fingerprint migrated;
    returns it and how many were. A secret variable is an object with ``scope``, ``key`` and ``secret``
    true, holding its fingerprint in ``hash`` (snapshots) or ``valueHash`` (plan views)."""
    count = 0

    def walk(node: object) -> object:
        nonlocal count
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items()}
        if out.get("secret") is True and isinstance(out.get("scope"), str) and isinstance(out.get("key"), str):
            for field in ("hash", "valueHash"):
                old = out.get(field)
                if isinstance(old, str) and is_legacy_fingerprint(old):
                    out[field] = migrate_fingerprint(old, values.get((str(out["scope"]), str(out["key"]))), key)
                    count += 1
        return out

    return walk(record), count


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

    ``value`` is None for secrets; ``value_hash`` is the SHA-256 of a plain value, the keyed
    ``secret_fingerprint`` of a secret one, or "" when a live secret's value is unknown (never
    recorded by quixotic).
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
