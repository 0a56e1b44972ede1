"""Sessions and JWTs of the account service, in the server's SQLite file.

A session secret is 128 random bytes (256 hex characters); only its SHA-256 is stored, so the database
never holds a usable secret. The client holds Appwrite's "store" encoding of it,
``base64({"id": userId, "secret": secret})``, as the ``a_session_<project>`` cookie, inside the
``X-Fallback-Cookies`` header, or as the ``X-Appwrite-Session`` header. A session lives for Appwrite's
default ``auths.duration`` (one year); an expired or unknown secret makes the request a guest, as on
Appwrite. A user keeps at most ``MAX_SESSIONS`` sessions: creating one more deletes the oldest.

The ``account_sessions`` table is created when the store opens a data folder, because the cache's
triggers on it need it. JWTs are HS256 over ``{userId, sessionId, exp}``, signed with a secret kept in
the ``settings`` table (created at first use); one is valid while its session is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server.clock import now_iso, to_iso
from quixotic.server.ids import new_id

SESSION_DURATION: Final = 31_536_000  # seconds: Appwrite's default auths.duration (one year)
MAX_SESSIONS: Final = 10  # Appwrite's default auths.maxSessions
JWT_DEFAULT_DURATION: Final = 900
JWT_MAX_DURATION: Final = 3600

_DDL: Final = """
CREATE TABLE IF NOT EXISTS account_sessions (
    project TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL,
    expire TEXT NOT NULL, createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS account_sessions_user ON account_sessions (project, user_id, createdAt);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLS: Final = "id, user_id, expire, createdAt, updatedAt, data"


@dataclass(frozen=True)
class Secret:
    """A decoded session credential: whose it claims to be and the secret itself."""

    user_id: str
    secret: str


def _missing_table(exc: sqlite3.OperationalError) -> bool:
    return "no such table" in str(exc)


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create the tables if missing; statement by statement, as ``executescript`` would commit a transaction."""
    for statement in _DDL.split(";"):
        if statement.strip():
            conn.execute(statement)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- the store encoding ----------------------------------------------------------------------------


def encode(user_id: str, secret: str) -> str:
    """Appwrite's store string: standard base64 (padded) of ``{"id":...,"secret":...}``."""
    return base64.b64encode(json.dumps({"id": user_id, "secret": secret}, separators=(",", ":")).encode()).decode()


def decode(text: str | None) -> Secret | None:
    """The credential in a store string; None for anything else (a guest, as on Appwrite)."""
    if not text or len(text) > 4096:
        return None
    try:
        data = json.loads(base64.b64decode(text.strip(), validate=False))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    user_id, secret = data.get("id"), data.get("secret")
    if not isinstance(user_id, str) or not isinstance(secret, str) or not user_id or not secret:
        return None
    return Secret(user_id, secret)


# --- sessions --------------------------------------------------------------------------------------


def create(
    conn: sqlite3.Connection, project: str, user_id: str, provider: str, provider_uid: str, factors: list[str],
    user_agent: str = "",
) -> tuple[dict[str, Any], str]:  # fmt: skip
    """A new session of ``user_id``; returns the stored record and the store string for the client."""
    ensure_tables(conn)
    secret = secrets.token_hex(128)
    now = datetime.now(UTC)
    created = to_iso(now)
    expire = to_iso(now + timedelta(seconds=SESSION_DURATION))
    session_id = new_id()
    data = {"provider": provider, "providerUid": provider_uid, "factors": factors, "userAgent": user_agent}
    conn.execute(
        "INSERT INTO account_sessions (project, id, user_id, secret_hash, expire, createdAt, updatedAt, data)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (project, session_id, user_id, _hash(secret), expire, created, created, json.dumps(data)),
    )
    _trim(conn, project, user_id)
    record = {"id": session_id, "user_id": user_id, "expire": expire, "createdAt": created, "updatedAt": created}
    return {**record, **data}, encode(user_id, secret)


def _trim(conn: sqlite3.Connection, project: str, user_id: str) -> None:
    """Keep the newest ``MAX_SESSIONS`` sessions of the user."""
    conn.execute(
        "DELETE FROM account_sessions WHERE project=? AND user_id=? AND id NOT IN (SELECT id FROM account_sessions"
        " WHERE project=? AND user_id=? ORDER BY createdAt DESC, rowid DESC LIMIT ?)",
        (project, user_id, project, user_id, MAX_SESSIONS),
    )


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    session_id, user_id, expire, created, updated, data = row
    return {"id": session_id, "user_id": user_id, "expire": expire, "createdAt": created, "updatedAt": updated,
            **json.loads(data)}  # fmt: skip


def _select(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Unexpired sessions matching ``where``; none while no session was ever written (the table is made then)."""
    try:
        rows = conn.execute(
            f"SELECT {_COLS} FROM account_sessions WHERE project=? AND {where} AND expire>? ORDER BY createdAt, rowid",
            (*args, now_iso()),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise
    return [_record(r) for r in rows]


def find(conn: sqlite3.Connection, project: str, credential: Secret) -> dict[str, Any] | None:
    """The unexpired session of the project that ``credential`` opens, or None."""
    found = _select(conn, "user_id=? AND secret_hash=?", (project, credential.user_id, _hash(credential.secret)))
    return found[0] if found else None


def active(conn: sqlite3.Connection, project: str, user_id: str, session_id: str) -> dict[str, Any] | None:
    """The user's session ``session_id`` while it exists and has not expired (a JWT lives as long)."""
    found = _select(conn, "id=? AND user_id=?", (project, session_id, user_id))
    return found[0] if found else None


def belongs(record: dict[str, Any] | None, user: dict[str, Any] | None) -> bool:
    """Whether a session was made for this very user: not for a deleted one whose ID was given again."""
    return record is not None and user is not None and record["createdAt"] >= user["$createdAt"]


def list_of(conn: sqlite3.Connection, project: str, user_id: str) -> list[dict[str, Any]]:
    """The user's unexpired sessions, oldest first."""
    return _select(conn, "user_id=?", (project, user_id))


def delete(conn: sqlite3.Connection, project: str, user_id: str, session_id: str | None = None) -> None:
    """Delete one session of the user, or all of them (``session_id`` None)."""
    ensure_tables(conn)
    if session_id is None:
        conn.execute("DELETE FROM account_sessions WHERE project=? AND user_id=?", (project, user_id))
    else:
        conn.execute(
            "DELETE FROM account_sessions WHERE project=? AND user_id=? AND id=?", (project, user_id, session_id)
        )


def model(record: dict[str, Any], current_id: str | None, secret: str = "") -> dict[str, Any]:
    """Appwrite's Session model; ``secret`` is the store string only for key callers (SSR), else ``""``."""
    return {
        "$id": record["id"],
        "$createdAt": record["createdAt"],
        "$updatedAt": record["updatedAt"],
        "userId": record["user_id"],
        "expire": record["expire"],
        "provider": record.get("provider", ""),
        "providerUid": record.get("providerUid", ""),
        "providerAccessToken": "",
        "providerAccessTokenExpiry": "",
        "providerRefreshToken": "",
        "ip": record.get("ip", ""),
        "osCode": "",
        "osName": "",
        "osVersion": "",
        "clientType": "",
        "clientCode": "",
        "clientName": "",
        "clientVersion": "",
        "clientEngine": "",
        "clientEngineVersion": "",
        "deviceName": "",
        "deviceBrand": "",
        "deviceModel": "",
        "countryCode": "--",
        "countryName": "Unknown",
        "current": record["id"] == current_id,
        "factors": list(record.get("factors", [])),
        "secret": secret,
        "mfaUpdatedAt": "",
    }


def not_found() -> ApiError:
    return ApiError("user_session_not_found", "The current user session could not be found.", 404)


# --- JWTs -------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt_secret(conn: sqlite3.Connection, create: bool) -> bytes | None:
    try:
        row = conn.execute("SELECT value FROM settings WHERE name='account_jwt_secret'").fetchone()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc) and not create:
            return None
        if not _missing_table(exc):
            raise
        row = None
    if row:
        return bytes.fromhex(row[0])
    if not create:
        return None
    ensure_tables(conn)
    secret = secrets.token_bytes(32)
    conn.execute("INSERT INTO settings (name, value) VALUES ('account_jwt_secret', ?)", (secret.hex(),))
    return secret


def issue_jwt(conn: sqlite3.Connection, user_id: str, session_id: str, duration: int) -> str:
    """A compact HS256 JWT, header ``{"typ":"JWT","alg":"HS256"}``, payload ``{userId, sessionId, exp}``."""
    key = _jwt_secret(conn, create=True)
    assert key is not None
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    claims = {"userId": user_id, "sessionId": session_id, "exp": int(time.time()) + duration}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def verify_jwt(conn: sqlite3.Connection, token: str) -> dict[str, Any]:
    """The claims of a valid, unexpired JWT; ``user_jwt_invalid`` otherwise (no leeway, as Appwrite)."""

    def invalid(why: str) -> ApiError:
        return ApiError("user_jwt_invalid", f"Failed to verify JWT. {why}", 401)

    parts = token.strip().split(".")
    if len(parts) != 3:
        raise invalid("Invalid token: it must have three dot-separated parts.")
    header, payload, signature = parts
    key = _jwt_secret(conn, create=False)
    try:
        expected = _b64(hmac.new(key or b"", f"{header}.{payload}".encode(), hashlib.sha256).digest())
        if key is None or not hmac.compare_digest(expected, signature):
            raise invalid("Invalid token: signature failed.")
        claims = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid("Invalid token: it is not a JWT.") from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise invalid("Invalid token: no expiry.")
    if claims["exp"] < int(time.time()):
        raise invalid("Expired token: create a new one with account.createJWT().")
    return claims
