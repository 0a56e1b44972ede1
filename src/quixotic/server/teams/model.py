"""Teams and memberships as stored: ``meta`` rows like users, a team under kind ``team`` (no parent) and each
membership under kind ``membership`` with its team's ID as parent, so a team's list is one index range.

A team's stored permissions are Appwrite's: ``read("team:T")``, ``update("team:T/owner")`` and
``delete("team:T/owner")``, so the same checks as rows decide who reads or changes it. A membership keeps the
SHA-256 of its invitation secret, never the secret. A confirmed membership gives its user the roles
``team:T``, ``team:T/<role>`` for each of its roles and ``member:M`` (:func:`roles_of`, read by ``auth`` for
every request of a signed-in user); an invitation not yet accepted gives none.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import validation
from quixotic.server.queries import Field
from quixotic.server.store import Doc, meta_get, to_doc
from quixotic.server.validation import invalid

TEAM: Final = "team"
MEMBERSHIP: Final = "membership"
PARENT: Final = ""
OWNER: Final = "owner"
MAX_ROLES: Final = validation.ARRAY_LIMITS.get("roles", 100)
MAX_ROLE: Final = 81  # Appwrite's Key validator for a team role: 81 characters

TEAM_FIELDS: Final[dict[str, Field]] = {"name": Field("string"), "total": Field("integer")}
MEMBERSHIP_FIELDS: Final[dict[str, Field]] = {
    "userId": Field("string"),
    "teamId": Field("string"),
    "invited": Field("datetime"),
    "joined": Field("datetime"),
    "confirm": Field("boolean"),
    "roles": Field("string", array=True),
    "userName": Field("string"),
    "userEmail": Field("string"),
}
MEMBERSHIP_SEARCH: Final = (
    "(coalesce(json_extract(data, '$.userName'), '') || ' ' || coalesce(json_extract(data, '$.userEmail'), '')"
    " || ' ' || coalesce(json_extract(data, '$.userId'), '') || ' ' || _uid)"
)
# A user's memberships are read on every request of that user: an index of the expression ``roles_of`` asks.
_USER_INDEX: Final = (
    "CREATE INDEX IF NOT EXISTS meta_membership_user ON meta (project, json_extract(data, '$.userId')) "
    "WHERE kind='membership'"
)


def ensure_index(conn: sqlite3.Connection) -> None:
    """Create the memberships' user index if missing (on the first membership write; reads need none)."""
    conn.execute(_USER_INDEX)


def team_not_found() -> ApiError:
    return ApiError("team_not_found", "Team with the requested ID could not be found.", 404)


def membership_not_found() -> ApiError:
    return ApiError("membership_not_found", "Membership with the requested ID could not be found.", 404)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def team_permissions(team_id: str) -> list[str]:
    """What Appwrite gives a team: its members read it, its owners change and delete it."""
    return [f'read("team:{team_id}")', f'update("team:{team_id}/{OWNER}")', f'delete("team:{team_id}/{OWNER}")']


def check_roles(values: Sequence[Any]) -> list[str]:
    """Team roles: at most 100, each a key of at most 81 characters (Appwrite's ``Key`` validator)."""
    if len(values) > MAX_ROLES or not all(
        isinstance(v, str) and 0 < len(v) <= MAX_ROLE and (v[0].isalnum()) and all(c.isalnum() or c in "._-" for c in v)
        for v in values
    ):
        raise invalid(
            "roles",
            f"Value must a valid array no longer than {MAX_ROLES} items and each role must be 1 to {MAX_ROLE} "
            "characters (a-z, A-Z, 0-9, period, hyphen and underscore; not starting with a special character)",
        )
    return list(dict.fromkeys(values))


def load_team(conn: sqlite3.Connection, project: str, team_id: str) -> Doc:
    doc = meta_get(conn, project, TEAM, PARENT, team_id)
    if doc is None:
        raise team_not_found()
    return doc


def load_membership(conn: sqlite3.Connection, project: str, team_id: str, membership_id: str) -> Doc:
    """The membership of the team; Appwrite's ``team_membership_mismatch`` when it is another team's."""
    doc = meta_get(conn, project, MEMBERSHIP, team_id, membership_id)
    if doc is not None:
        return doc
    elsewhere = conn.execute(
        "SELECT 1 FROM meta WHERE project=? AND kind=? AND _uid=? LIMIT 1", (project, MEMBERSHIP, membership_id)
    ).fetchone()
    if elsewhere is not None:
        raise ApiError("team_membership_mismatch", "The membership ID does not belong to the team ID.", 404)
    raise membership_not_found()


def of_user(conn: sqlite3.Connection, project: str, user_id: str) -> list[Doc]:
    """The user's memberships (confirmed or not) in any team, oldest first."""
    rows = conn.execute(
        "SELECT _seq, _uid, _createdAt, _updatedAt, _permissions, data FROM meta WHERE project=? AND kind='membership'"
        " AND json_extract(data, '$.userId')=? ORDER BY _seq",
        (project, user_id),
    ).fetchall()
    return [to_doc(r) for r in rows]


def roles_of(conn: sqlite3.Connection, project: str, user_id: str) -> tuple[str, ...]:
    """The roles the user's confirmed memberships give: ``team:T``, ``team:T/<role>``, ``member:M``."""
    rows = conn.execute(
        "SELECT _uid, data FROM meta WHERE project=? AND kind='membership' AND json_extract(data, '$.userId')=?"
        " AND json_extract(data, '$.confirm')=1 ORDER BY _seq",
        (project, user_id),
    ).fetchall()
    roles: list[str] = []
    for membership_id, data in rows:
        stored = json.loads(data)
        team = stored.get("teamId", "")
        roles.append(f"team:{team}")
        roles.extend(f"team:{team}/{role}" for role in stored.get("roles") or [])
        roles.append(f"member:{membership_id}")
    return tuple(dict.fromkeys(roles))


def team_model(doc: Doc) -> dict[str, Any]:
    return {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "name": doc.get("name") or "",
        "total": int(doc.get("total") or 0),
        "prefs": dict(doc.get("prefs") or {}),
    }


def membership_model(doc: Doc, team_name: str) -> dict[str, Any]:
    """The Membership model; the secret's hash never leaves the store."""
    return {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "userId": doc.get("userId") or "",
        "userName": doc.get("userName") or "",
        "userEmail": doc.get("userEmail") or "",
        "teamId": doc.get("teamId") or "",
        "teamName": team_name,
        "invited": doc.get("invited") or "",
        "joined": doc.get("joined") or "",
        "confirm": bool(doc.get("confirm")),
        "mfa": bool(doc.get("mfa")),
        "roles": list(doc.get("roles") or []),
    }
