"""Projects, API keys and scope checks, as Appwrite does them.

Keys look like Appwrite's (``standard_<256 hex>``) and only their SHA-256 is stored: a key is 1024
random bits, so a fast hash is enough and the database never holds a usable secret. A request's key
must belong to the request's project; an unknown key degrades to the guest role (as in Appwrite),
which holds only the ``public`` scope here.

``console`` is Appwrite's own project: it always exists, so requests naming it (the official CLI's
``GET /health/version`` check) reach public routes. The local server has no console accounts, so a
console caller is always a guest, and the ID cannot be created as a project or given keys.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from quixotic.errors import ApiError, UsageError
from quixotic.server.clock import now_iso
from quixotic.server.ids import new_id, validate_id
from quixotic.timestamps import parse_iso

# The key scopes of Appwrite 1.8.1 (console ``createKey``), plus project variables' scopes.
ALL_SCOPES: Final[tuple[str, ...]] = (
    "sessions.write", "users.read", "users.write", "teams.read", "teams.write",
    "databases.read", "databases.write", "collections.read", "collections.write",
    "tables.read", "tables.write", "attributes.read", "attributes.write", "columns.read",
    "columns.write", "indexes.read", "indexes.write", "documents.read", "documents.write",
    "rows.read", "rows.write", "files.read", "files.write", "buckets.read", "buckets.write",
    "functions.read", "functions.write", "sites.read", "sites.write", "log.read", "log.write",
    "execution.read", "execution.write", "locale.read", "avatars.read", "health.read",
    "providers.read", "providers.write", "messages.read", "messages.write", "topics.read",
    "topics.write", "subscribers.read", "subscribers.write", "targets.read", "targets.write",
    "rules.read", "rules.write", "migrations.read", "migrations.write", "vcs.read", "vcs.write",
    "assistant.read", "tokens.read", "tokens.write", "projects.read", "projects.write",
)  # fmt: skip
_KEY_ROLE_SCOPES: Final[frozenset[str]] = frozenset({"public", "global", "health.read", "graphql"})
GUEST_SCOPES: Final[frozenset[str]] = frozenset({"public"})
CONSOLE_PROJECT: Final = "console"
_SECRET_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the project and the scopes the credentials carry."""

    project: str
    scopes: frozenset[str]
    role: str  # "applications" (API key) or "guests"
    key_id: str | None = None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_project(conn: sqlite3.Connection, project_id: str, name: str | None = None) -> bool:
    """Create the project if missing; True when it was created."""
    validate_id(project_id, "projectId")
    if project_id == CONSOLE_PROJECT:
        raise UsageError(f"'{CONSOLE_PROJECT}' is the ID of Appwrite's console project, not a project: pick another ID")
    cur = conn.execute(
        "INSERT OR IGNORE INTO projects (id, name, createdAt) VALUES (?,?,?)",
        (project_id, name or project_id, now_iso()),
    )
    return cur.rowcount == 1


def project_exists(conn: sqlite3.Connection, project_id: str) -> bool:
    """True for a created project; the console project is not one (it has no resources and no keys)."""
    return conn.execute("SELECT 1 FROM projects WHERE id=?", (project_id,)).fetchone() is not None


def create_key(
    conn: sqlite3.Connection,
    project_id: str,
    scopes: list[str] | tuple[str, ...],
    name: str = "quixotic",
    expire: str | None = None,
) -> tuple[str, str]:
    """Store a new key for ``project_id``; returns ``(key_id, secret)``. The secret is shown once."""
    if not project_exists(conn, project_id):
        raise UsageError(f"project '{project_id}' does not exist: create it with `quixotic local project create`")
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise UsageError(f"unknown scopes: {', '.join(unknown)}. Known scopes: {', '.join(ALL_SCOPES)}")
    if expire is not None:
        try:
            expire = parse_iso(expire).isoformat()
        except ValueError as exc:
            raise UsageError(f"expire must be an ISO 8601 datetime, not {expire!r}") from exc
    key_id = new_id()
    secret = "standard_" + secrets.token_hex(128)
    conn.execute(
        "INSERT INTO keys (id, project, name, secret_hash, scopes, expire, createdAt) VALUES (?,?,?,?,?,?,?)",
        (key_id, project_id, name, hash_secret(secret), json.dumps(sorted(set(scopes))), expire, now_iso()),
    )
    return key_id, secret


def resolve(
    conn: sqlite3.Connection,
    project_id: str | None,
    key: str | None,
    dynamic: Callable[[str], dict[str, Any] | None] | None = None,
) -> Caller:
    """The caller behind the ``X-Appwrite-Project`` and ``X-Appwrite-Key`` headers.

    ``dynamic`` verifies a function's dynamic key (``ephemeral_<JWT>``) and returns its claims.
    """
    if not project_id:
        raise ApiError(
            "project_not_found",
            "Project not found: send the X-Appwrite-Project header (Client.set_project) with your project ID.",
        )
    if project_id == CONSOLE_PROJECT:
        return Caller(CONSOLE_PROJECT, GUEST_SCOPES, "guests")
    if not project_exists(conn, project_id):
        raise ApiError(
            "project_not_found",
            f"Project with the requested ID '{project_id}' could not be found. "
            "Create it with `quixotic local project create ID`.",
        )
    if key and dynamic is not None and key.startswith(("ephemeral_", "dynamic_")):
        claims = dynamic(key)
        if claims is None or claims.get("projectId") != project_id:
            return Caller(project_id, GUEST_SCOPES, "guests")
        return Caller(project_id, frozenset(claims.get("scopes", [])) | _KEY_ROLE_SCOPES, "applications")
    if not key or not _SECRET_RE.match(key):
        return Caller(project_id, GUEST_SCOPES, "guests")
    row = conn.execute(
        "SELECT id, project, scopes, expire FROM keys WHERE secret_hash=?", (hash_secret(key),)
    ).fetchone()
    if row is None or row[1] != project_id:
        return Caller(project_id, GUEST_SCOPES, "guests")
    key_id, _, scopes_json, expire = row
    if expire and datetime.fromisoformat(expire) < datetime.now(UTC):
        raise ApiError("project_key_expired", "The project key has expired. Create a new key.")
    return Caller(project_id, frozenset(json.loads(scopes_json)) | _KEY_ROLE_SCOPES, "applications", key_id)


def check_scope(caller: Caller, required: tuple[str, ...], host: str) -> None:
    """Raise ``general_unauthorized_scope`` unless the caller holds one of ``required``."""
    needed = [s for s in required if s]
    if not needed or any(s in caller.scopes for s in needed):
        return
    who = (
        f"app.{caller.project}@service.{host} (role: applications)"
        if caller.role == "applications"
        else "User (role: guests)"
    )
    raise ApiError("general_unauthorized_scope", f"{who} missing scopes ({json.dumps(needed)})")
