"""Does the API key have the scopes a backup or restore needs? Asked before anything is written.

Appwrite has no "what can this key do" route, so each scope is probed with a request that cannot change
anything: a read of a list, or a write aimed at an id that cannot exist (``-probe-`` is not a valid
Appwrite id). Appwrite checks the scope before it looks at the request, so a missing scope answers
``401 general_unauthorized_scope`` and a present one answers 400 or 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from quixotic.errors import ApiError, BackupError, Unreachable
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.values import Query

_NOPE: Final = "-probe-"

# What each part of an archive needs, to be read (backup) and to be written (restore).
READ_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "schema": ("databases.read", "tables.read", "buckets.read"),
    "rows": ("databases.read", "tables.read", "rows.read"),
    "files": ("buckets.read", "files.read"),
    "users": ("users.read",),
    "functions": ("functions.read",),
    "variables": ("functions.read",),
    "history": ("databases.read", "tables.read", "rows.read"),
}
WRITE_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "schema": ("databases.write", "tables.write", "buckets.write"),
    "rows": ("rows.write",),
    "files": ("files.write",),
    "users": ("users.write",),
    "functions": ("functions.write",),
    "variables": ("functions.write",),
    "history": ("databases.write", "tables.write", "rows.write"),
}


def _probes(backend: AppwriteBackend) -> dict[str, Callable[[], Any]]:
    db, storage, functions, users = backend.db, backend.storage, backend.functions, backend.users
    one = [Query.limit(1)]
    return {
        "databases.read": lambda: db.list(one),
        "tables.read": lambda: db.list_tables(_NOPE, one),
        "rows.read": lambda: db.list_rows(_NOPE, _NOPE, one),
        "buckets.read": lambda: storage.list_buckets(one),
        "files.read": lambda: storage.list_files(_NOPE, one),
        "users.read": lambda: users.list(one),
        "functions.read": lambda: functions.list(one),
        "projects.read": lambda: backend.rest(
            "checking the API key's projects.read scope", "get", "/project/variables"
        ),
        "databases.write": lambda: db.update(_NOPE, "probe"),
        "tables.write": lambda: db.update_table(_NOPE, _NOPE, "probe"),
        "rows.write": lambda: db.update_row(_NOPE, _NOPE, _NOPE, {}),
        "buckets.write": lambda: storage.update_bucket(_NOPE, "probe"),
        "files.write": lambda: storage.update_file(_NOPE, _NOPE, "probe"),
        "users.write": lambda: users.update_name(_NOPE, "probe"),
        "functions.write": lambda: functions.update(_NOPE, "probe"),
        "projects.write": lambda: backend.rest(
            "checking the API key's projects.write scope", "put", f"/project/variables/{_NOPE}", {"key": "x"}
        ),
    }


def missing_scopes(backend: AppwriteBackend, scopes: Iterable[str]) -> list[str]:
    """The scopes among ``scopes`` that the backend's key lacks (probing each once)."""
    probes = _probes(backend)
    missing = []
    for scope in sorted(set(scopes)):
        try:
            call(f"checking the API key's {scope} scope", probes[scope])
        except ApiError as exc:
            if exc.type == "general_unauthorized_scope":
                missing.append(scope)
            elif isinstance(exc, Unreachable) or exc.code in (500, 502, 503) or exc.type == "project_not_found":
                raise
    return missing


def need(scopes_by_part: dict[str, tuple[str, ...]], parts: Iterable[str]) -> set[str]:
    return {s for part in parts for s in scopes_by_part.get(part, ())}


def require_scopes(backend: AppwriteBackend, scopes: Iterable[str], doing: str) -> None:
    """Refuse with every missing scope named, before anything is read or written."""
    missing = missing_scopes(backend, scopes)
    if missing:
        raise BackupError(
            f"{doing}: the API key of project {backend.project_id} lacks the scopes {', '.join(missing)}. "
            "Create a key with them (Appwrite console: Overview > Integrations > API keys) and set it."
        )
