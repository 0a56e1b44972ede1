"""Projects, API keys and scope checks, as Appwrite does them.

Keys look like Appwrite's (``standard_<256 hex>``) and only their SHA-256 is stored: a key is 1024
random bits, so a fast hash is enough and the database never holds a usable secret. A request's key
must belong to the request's project; an unknown key is ignored (as in Appwrite): the request is then
its session's user, or a guest.

``console`` is Appwrite's own project: it always exists, so requests naming it (the official CLI's
``GET /health/version`` check) reach public routes. The local server has no console accounts, so a
console caller is always a guest, and the ID cannot be created as a project or given keys.

Without a (valid) key, a request's session makes it a user caller, found as Appwrite finds it (first hit
wins): the ``a_session_<project>`` cookie (or its ``_legacy`` twin), the ``X-Appwrite-Session`` header,
the ``X-Fallback-Cookies`` header's JSON; then an ``X-Appwrite-JWT`` (refused beside a session). An
unknown or expired session is a guest, silently; a bad or expired JWT is ``user_jwt_invalid``.

Impersonation (Appwrite 1.9): a user whose record has ``impersonator: true`` (``users.updateImpersonator``) may
name another user of the project with ``X-Appwrite-Impersonate-User-Id``, else ``-Email``, else ``-Phone``; the
request then acts as that user (its ID, roles and account), and ``Caller.impersonator_id`` keeps who really
asked. As on Appwrite, the headers do nothing from anyone else (guests, keys, other users) and an unknown target
leaves the request as the impersonator's own; an impersonator also holds ``users.read``, to find a target.

What permission checks need is on the :class:`Caller`: ``roles`` are the roles Appwrite authorizes the
caller with (``any``, then ``user:ID``, ``users``, ``user:ID/verified`` or ``/unverified``, ``users/...``,
``label:X`` and, for each confirmed team membership, ``team:T``, ``team:T/<role>`` and ``member:M`` for a user;
``any`` and ``guests`` for a guest), and ``is_key`` callers bypass
permissions, as Appwrite disables authorization for project keys. A row or file is readable by a
non-key caller when one of ``roles`` is granted (``Caller.may``).

Scopes of a user or a guest are Appwrite's (``app/config/roles.php``) less ``CONSOLE_MEMBER_SCOPES`` (which
would open project variables to end users) and less ``AWAITING_ENFORCEMENT``: the routes whose handlers
do not check permissions yet (presences, targets, subscribers, embeddings). Granting those before
the checks exist would hand every record to every client; remove a scope from that set when its routes
enforce permissions. Rows, documents, files, executions and teams check them (``Caller.may``, ``readable_sql``,
``check_grants``), as Appwrite's handlers and utopia-php/database's ``Authorization`` do.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

from quixotic.errors import ApiError, UsageError
from quixotic.server import cache
from quixotic.server.account import sessions
from quixotic.server.account.cookies import cookie_name
from quixotic.server.clock import now_iso
from quixotic.server.ids import new_id, validate_id
from quixotic.server.store import meta_get
from quixotic.server.teams import model as teams
from quixotic.server.users import model as users
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
CONSOLE_PROJECT: Final = "console"
CONSOLE_SCOPES: Final[frozenset[str]] = frozenset({"public"})  # the local server has no console accounts
# Data scopes held back from clients until their routes check permissions (see the module doc).
AWAITING_ENFORCEMENT: Final[frozenset[str]] = frozenset(
    {"embeddings.write", "presences.read", "presences.write", "targets.read", "targets.write",
     "subscribers.read", "subscribers.write"}
)  # fmt: skip
# Appwrite labels the execution routes with both spellings (``['executions.write', 'execution.write']``); the
# route table keeps the key scope, so a role's plural one counts for it too.
_SCOPE_ALIASES: Final[dict[str, str]] = {"execution.read": "executions.read", "execution.write": "executions.write"}
# Scopes Appwrite gives users for its console (a member lists projects and proxy rules); here they would
# open a project's variables and rules to its own end users, so they stay held back.
CONSOLE_MEMBER_SCOPES: Final[frozenset[str]] = frozenset({"projects.read", "rules.read", "assistant.read"})
# Appwrite's role scopes (app/config/roles.php at 1.9.6).
APPWRITE_GUEST_SCOPES: Final[frozenset[str]] = frozenset(
    {"global", "public", "home", "console", "graphql", "sessions.write", "documents.read", "documents.write",
     "rows.read", "rows.write", "embeddings.write", "files.read", "files.write", "locale.read", "avatars.read",
     "executions.write"}
)  # fmt: skip
APPWRITE_USER_SCOPES: Final[frozenset[str]] = frozenset(
    {"global", "public", "home", "console", "graphql", "sessions.write", "account", "teams.read", "teams.write",
     "presences.read", "presences.write", "documents.read", "documents.write", "rows.read", "rows.write",
     "embeddings.write", "files.read", "files.write", "projects.read", "locale.read", "avatars.read",
     "executions.read", "executions.write", "targets.read", "targets.write", "subscribers.write",
     "subscribers.read", "assistant.read", "rules.read"}
)  # fmt: skip
GUEST_SCOPES: Final[frozenset[str]] = APPWRITE_GUEST_SCOPES - AWAITING_ENFORCEMENT - CONSOLE_MEMBER_SCOPES
USER_SCOPES: Final[frozenset[str]] = APPWRITE_USER_SCOPES - AWAITING_ENFORCEMENT - CONSOLE_MEMBER_SCOPES
GUEST_ROLES: Final[tuple[str, ...]] = ("any", "guests")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the project, the scopes the credentials carry and, for a user, who and how.

    ``roles`` are the caller's Appwrite roles, what a permission string must name (``read("user:ID")``);
    a key caller has none and bypasses permissions (``is_key``). ``via`` says how a user came in:
    ``"session"`` (cookie, fallback cookie or ``X-Appwrite-Session``) or ``"jwt"``.
    """

    project: str
    scopes: frozenset[str]
    role: str  # "applications" (API key), "users" (a session or JWT) or "guests"
    key_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None  # the session the secret or the JWT belongs to
    via: str = ""
    email: str = ""
    roles: tuple[str, ...] = field(default=GUEST_ROLES)
    fallback: bool | None = None  # whether X-Fallback-Cookies was looked at (Appwrite's X-Debug-Fallback)
    impersonator_id: str | None = None  # the user acting as ``user_id`` (impersonation, see the module doc)

    @property
    def is_key(self) -> bool:
        return self.role == "applications"

    def may(self, permissions: Sequence[str], action: str) -> bool:
        """Whether a permission list (``['read("any")', ...]``) grants ``action`` to this caller."""
        if self.is_key:
            return True
        granted = set(self.grants(action))
        return any(p in granted for p in permissions)

    def grants(self, action: str) -> list[str]:
        """The permission strings that would let this caller do ``action`` (``read("any")``, ...)."""
        return [f'{action}("{role}")' for role in self.roles]

    def holds_any(self, roles: Sequence[str]) -> bool:
        """Whether a role list (a function's ``execute``) names one of this caller's roles; keys hold all."""
        return self.is_key or any(role in self.roles for role in roles)

    def own_permissions(self, actions: Sequence[str]) -> list[str]:
        """What a row or file a user creates without ``permissions`` gets (Appwrite: ``ACTION("user:ID")`` for
        each allowed action); guests and keys get none."""
        if self.is_key or not self.user_id:
            return []
        return [f'{action}("user:{self.user_id}")' for action in actions]

    def check_grants(self, permissions: Sequence[str] | None) -> None:
        """A client may only grant roles it holds itself (Appwrite's "Permissions must be one of" check)."""
        if self.is_key or not permissions:
            return
        for permission in permissions:
            role = permission[permission.index("(") + 2 : -2]
            if role not in self.roles:
                raise ApiError(
                    "user_unauthorized",
                    f"Permissions must be one of: ({', '.join(self.roles)}). {permission} names the role "
                    f"'{role}', which you do not hold: grant only your own roles, or set it with an API key.",
                    401,
                )


def readable_sql(caller: Caller, action: str = "read", column: str = "_permissions") -> tuple[str, list[str]]:
    """A SQL condition (and its parameters) true for records whose JSON permission ``column`` grants
    ``action`` to the caller, so lists and totals count only those.

    The column holds ``json.dumps`` of the list, so each granting permission is looked for as its JSON
    string, quotes included: an exact element match (permissions never hold a bare quote), and several
    times faster than expanding every row's list with ``json_each``."""
    needles = [json.dumps(p) for p in caller.grants(action)]
    if not needles:
        return "0", []
    return "(" + " OR ".join(f"instr({column}, ?) > 0" for _ in needles) + ")", needles


def unauthorized(what: str, action: str, caller: Caller) -> ApiError:
    """Appwrite's ``user_unauthorized`` for a write the caller's roles are not granted."""
    return ApiError(
        "user_unauthorized",
        f"The current user is not authorized to {action} {what}: no {action} permission names one of your "
        f"roles ({', '.join(caller.roles)}). Grant it on the resource, or use an API key.",
        401,
    )


@dataclass(frozen=True)
class Credentials:
    """What a request may authenticate a user with, besides a key (see the module doc)."""

    cookies: Mapping[str, str] = field(default_factory=dict)
    session: str = ""  # X-Appwrite-Session
    fallback: str = ""  # X-Fallback-Cookies
    jwt: str = ""  # X-Appwrite-JWT
    impersonate: tuple[str, str, str] = ("", "", "")  # X-Appwrite-Impersonate-User-Id, -Email, -Phone

    @classmethod
    def of(cls, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Credentials:
        """From lower-cased request headers and the parsed ``Cookie`` header."""
        return cls(
            cookies,
            headers.get("x-appwrite-session", ""),
            headers.get("x-fallback-cookies", ""),
            headers.get("x-appwrite-jwt", ""),
            (
                headers.get("x-appwrite-impersonate-user-id", ""),
                headers.get("x-appwrite-impersonate-user-email", ""),
                headers.get("x-appwrite-impersonate-user-phone", ""),
            ),
        )

    def session_secret(self, project: str) -> tuple[sessions.Secret | None, bool]:
        """The session credential, found as Appwrite finds it; and whether the fallback header was reached."""
        name = cookie_name(project)
        found = sessions.decode(unquote(self.cookies.get(name) or self.cookies.get(f"{name}_legacy") or ""))
        if found is None and self.session:
            found = sessions.decode(self.session)
        if found is not None:
            return found, False
        try:
            fallback = json.loads(self.fallback) if self.fallback else None
        except ValueError:
            fallback = None
        value = fallback.get(name) if isinstance(fallback, dict) else None
        return sessions.decode(value if isinstance(value, str) else None), True


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


@dataclass(frozen=True)
class _StoredKey:
    """What a request needs of a stored key, parsed once (see ``_KEYS``)."""

    key_id: str
    project: str
    scopes: frozenset[str]
    expire: datetime | None

    def expired(self) -> bool:
        return self.expire is not None and self.expire < datetime.now(UTC)


# Both are read by nearly every request and change only with the ``keys`` and ``projects`` tables, whose writes
# (from any process) move the ``auth`` generation (``cache``). Keys are found by the hash of their secret, never
# the secret; an unknown hash is kept too (as None), so a stream of bad keys costs no statement either. Expiry is
# checked at each lookup, not when an entry is stored.
_PROJECTS: cache.Memo[str, bool] = cache.Memo()
_KEYS: cache.Memo[str, _StoredKey | None] = cache.Memo()


def project_exists(conn: sqlite3.Connection, project_id: str) -> bool:
    """True for a created project; the console project is not one (it has no resources and no keys)."""
    return _project_exists(conn, cache.stamp(conn, cache.AUTH), project_id)


def _project_exists(conn: sqlite3.Connection, now: cache.Stamp, project_id: str) -> bool:
    def load() -> bool:
        return conn.execute("SELECT 1 FROM projects WHERE id=?", (project_id,)).fetchone() is not None

    return _PROJECTS.recall(conn, now, project_id, load)


def _stored_key(conn: sqlite3.Connection, now: cache.Stamp, secret_hash: str) -> _StoredKey | None:
    def load() -> _StoredKey | None:
        row = conn.execute(
            "SELECT id, project, scopes, expire FROM keys WHERE secret_hash=?", (secret_hash,)
        ).fetchone()
        if row is None:
            return None
        key_id, project, scopes_json, expire = row
        when = datetime.fromisoformat(expire) if expire else None
        return _StoredKey(key_id, project, frozenset(json.loads(scopes_json)) | _KEY_ROLE_SCOPES, when)

    return _KEYS.recall(conn, now, secret_hash, load)


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
    credentials: Credentials | None = None,
) -> Caller:
    """The caller behind the ``X-Appwrite-Project`` and ``X-Appwrite-Key`` headers, else behind the
    request's session or JWT (``credentials``), else a guest.

    ``dynamic`` verifies a function's dynamic key (``ephemeral_<JWT>``) and returns its claims.
    """
    if project_id == CONSOLE_PROJECT:
        return Caller(CONSOLE_PROJECT, CONSOLE_SCOPES, "guests")
    caller = _key_caller(conn, project_id, key, dynamic)
    if caller is not None:
        return caller
    assert project_id is not None
    return _user_caller(conn, project_id, credentials or Credentials())


def _key_caller(
    conn: sqlite3.Connection,
    project_id: str | None,
    key: str | None,
    dynamic: Callable[[str], dict[str, Any] | None] | None,
) -> Caller | None:
    """The key's caller; None when no key, or one of no use here, was sent (a session may still count)."""
    if not project_id:
        raise ApiError(
            "project_not_found",
            "Project not found: send the X-Appwrite-Project header (Client.set_project) with your project ID.",
        )
    now = cache.stamp(conn, cache.AUTH)
    if not _project_exists(conn, now, project_id):
        raise ApiError(
            "project_not_found",
            f"Project with the requested ID '{project_id}' could not be found. "
            "Create it with `quixotic local project create ID`.",
        )
    if key and dynamic is not None and key.startswith(("ephemeral_", "dynamic_")):
        claims = dynamic(key)
        if claims is None or claims.get("projectId") != project_id:
            return None
        return Caller(project_id, frozenset(claims.get("scopes", [])) | _KEY_ROLE_SCOPES, "applications", roles=())
    if not key or not _SECRET_RE.match(key):
        return None
    stored = _stored_key(conn, now, hash_secret(key))
    if stored is None or stored.project != project_id:
        return None
    if stored.expired():
        raise ApiError("project_key_expired", "The project key has expired. Create a new key.")
    return Caller(project_id, stored.scopes, "applications", stored.key_id, roles=())


def check_scope(caller: Caller, required: tuple[str, ...], host: str) -> None:
    """Raise ``general_unauthorized_scope`` unless the caller holds one of ``required``."""
    needed = [s for s in required if s]
    if not needed or any(s in caller.scopes or _SCOPE_ALIASES.get(s) in caller.scopes for s in needed):
        return
    if caller.role == "applications":
        who = f"app.{caller.project}@service.{host} (role: applications)"
    else:
        who = f"{caller.email or 'User'} (role: {caller.role})"
    message = f"{who} missing scopes ({json.dumps(needed)})"
    if caller.role != "applications" and any(s in AWAITING_ENFORCEMENT for s in needed):
        message += (
            ". The quixotic local server does not check presence, target, subscriber and embedding "
            "permissions for clients yet, so these routes take an API key for now."
        )
    raise ApiError("general_unauthorized_scope", message)


@dataclass(frozen=True)
class _Principal:
    """Who a session or a JWT is, read once (see ``_PRINCIPALS``): its session (None for a JWT the Users API
    made without one), its user and the user's roles."""

    session: Mapping[str, Any] | None
    user: Mapping[str, Any]
    roles: tuple[str, ...]

    def live(self) -> bool:
        """Whether its session (if any) has not expired: checked at each use, as entries outlive expiries."""
        return self.session is None or str(self.session["expire"]) > now_iso()


# Every session or JWT request needs its session, user and roles; they change only with the project's sessions,
# users and memberships, whose writes (from any process) move its ``principals`` generation (``cache``). Keyed
# by the secret's hash, never the secret; an unknown one is kept as None, as for keys.
_PRINCIPALS: cache.Memo[tuple[str, ...], _Principal | None] = cache.Memo()


def _principal(conn: sqlite3.Connection, project_id: str, user_id: str, session: Mapping[str, Any] | None,
               need_session: bool) -> _Principal | None:  # fmt: skip
    """The user with its roles when it exists and ``session`` (if needed) was made for it, not for a deleted
    user whose ID was given again."""
    user = meta_get(conn, project_id, users.KIND, users.PARENT, user_id) if user_id else None
    if user is None or (need_session and not sessions.belongs(dict(session) if session else None, user)):
        return None
    return _Principal(session, user, user_roles(user, teams.roles_of(conn, project_id, user_id)))


def _user_caller(conn: sqlite3.Connection, project_id: str, credentials: Credentials) -> Caller:
    """The user of the request's session or JWT, a guest when there is none (see the module doc)."""
    secret, fallback = credentials.session_secret(project_id)
    found: _Principal | None = None
    via = ""
    now = cache.stamp(conn, cache.principals_scope(project_id)) if secret is not None or credentials.jwt else None
    if secret is not None and now is not None:
        key = ("session", project_id, secret.user_id, hash_secret(secret.secret))

        def by_session() -> _Principal | None:
            record = sessions.find(conn, project_id, secret)
            return _principal(conn, project_id, secret.user_id, record, True) if record else None

        found = _PRINCIPALS.recall(conn, now, key, by_session)
        found, via = (found, "session") if found is not None and found.live() else (None, "")
    if credentials.jwt and now is not None:
        if found is not None:
            raise ApiError(
                "user_jwt_and_cookie_set",
                "JWT and cookie used in the same request. Use either `setJWT` or `setCookie`/`setSession`.",
                403,
            )
        claims = sessions.verify_jwt(conn, credentials.jwt)
        user_id, jwt_session = str(claims.get("userId") or ""), str(claims.get("sessionId") or "")

        # A JWT lives as long as the session it names; one the Users API made for a user without sessions
        # names none, as on Appwrite, and is good until it expires.
        def by_jwt() -> _Principal | None:
            record = sessions.active(conn, project_id, user_id, jwt_session) if jwt_session else None
            if jwt_session and record is None:
                return None
            return _principal(conn, project_id, user_id, record, bool(jwt_session))

        found = _PRINCIPALS.recall(conn, now, ("jwt", project_id, user_id, jwt_session), by_jwt)
        found, via = (found, "jwt") if found is not None and found.live() else (None, "")
    if found is None:
        return Caller(project_id, GUEST_SCOPES, "guests", fallback=fallback)
    user, roles, session_id = found.user, found.roles, (found.session["id"] if found.session else None)
    _refuse_blocked(user)
    scopes, actor = USER_SCOPES, None
    if user.get("impersonator"):
        scopes = USER_SCOPES | {"users.read"}
        target = _impersonated(conn, project_id, credentials.impersonate)
        if target is not None:
            actor, user = user["$id"], target
            _refuse_blocked(user)
            roles = user_roles(user, teams.roles_of(conn, project_id, user["$id"]))
    return Caller(
        project_id, scopes, "users", user_id=user["$id"], session_id=session_id, via=via,
        email=str(user.get("email") or ""), roles=roles, fallback=fallback, impersonator_id=actor,
    )  # fmt: skip


def _refuse_blocked(user: Mapping[str, Any]) -> None:
    if user.get("status") is False:
        raise ApiError("user_blocked", "The current user has been blocked.", 403)


def _impersonated(conn: sqlite3.Connection, project_id: str, named: tuple[str, str, str]) -> dict[str, Any] | None:
    """The user the impersonation headers name (by ID, else email, else phone, as Appwrite looks), or None."""
    user_id, email, phone = named
    if user_id:
        return meta_get(conn, project_id, users.KIND, users.PARENT, user_id)
    if email:
        return users.find_by(conn, project_id, "email", email.lower())
    if phone:
        return users.find_by(conn, project_id, "phone", phone)
    return None


def user_roles(user: Mapping[str, Any], team_roles: Sequence[str] = ()) -> tuple[str, ...]:
    """The roles Appwrite authorizes a user with (``User::getRoles`` plus ``any``): its own, then those of its
    confirmed memberships (``teams.roles_of``), then its labels."""
    uid = user["$id"]
    verified = "verified" if user.get("emailVerification") or user.get("phoneVerification") else "unverified"
    labels = tuple(f"label:{label}" for label in user.get("labels") or [])
    return ("any", f"user:{uid}", "users", f"user:{uid}/{verified}", f"users/{verified}", *team_roles, *labels)
