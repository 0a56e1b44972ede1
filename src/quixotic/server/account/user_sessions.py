"""The Users API's routes over sessions (``/users/{userId}/sessions``, ``/users/{userId}/jwts``): a key's
view of the account service's sessions, for servers that sign users in on their behalf (SSR) or hand a
function a user's JWT.

They live with the sessions they manage (``sessions``) rather than in ``users``, which holds the user
records. A JWT made here for a user without sessions names no session (``sessionId: ""``), as on Appwrite:
it is then good until it expires.
"""

from __future__ import annotations

from typing import Any

from quixotic.server.account import sessions
from quixotic.server.account.handlers import check_jwt_duration
from quixotic.server.context import Ctx
from quixotic.server.registry import handles
from quixotic.server.users import model as user


@handles("usersListSessions")
def list_sessions(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        uid = user.load(conn, ctx.project, p["userId"])["$id"]
        listed = [sessions.model(r, None) for r in sessions.list_of(conn, ctx.project, uid)]
    return {"total": len(listed) if p.get("total") is not False else 0, "sessions": listed}


@handles("usersCreateSession")
def create_session(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A session made by the server (provider ``server``); its secret is in the answer, for the key caller."""
    with ctx.store.tx() as conn:
        uid = user.load(conn, ctx.project, p["userId"])["$id"]
        record, encoded = sessions.create(conn, ctx.project, uid, "server", "", ["server"])
    model = sessions.model(record, None, encoded)
    ctx.emit(f"users.{uid}.sessions.{record['id']}.create", sessions.model(record, None))
    return model


@handles("usersDeleteSession")
def delete_session(ctx: Ctx, p: dict[str, Any]) -> None:
    with ctx.store.tx() as conn:
        uid = user.load(conn, ctx.project, p["userId"])["$id"]
        record = next((r for r in sessions.list_of(conn, ctx.project, uid) if r["id"] == p["sessionId"]), None)
        if record is None:
            raise sessions.not_found()
        sessions.delete(conn, ctx.project, uid, record["id"])
    ctx.emit(f"users.{uid}.sessions.{record['id']}.delete", sessions.model(record, None))


@handles("usersDeleteSessions")
def delete_sessions(ctx: Ctx, p: dict[str, Any]) -> None:
    with ctx.store.tx() as conn:
        uid = user.load(conn, ctx.project, p["userId"])["$id"]
        records = sessions.list_of(conn, ctx.project, uid)
        sessions.delete(conn, ctx.project, uid)
    for record in records:
        ctx.emit(f"users.{uid}.sessions.{record['id']}.delete", sessions.model(record, None))


@handles("usersCreateJWT")
def create_jwt(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A JWT of the user's ``sessionId``, or of its most recent session (``recent``, the default)."""
    duration = check_jwt_duration(p.get("duration"))
    wanted = p.get("sessionId") or "recent"
    with ctx.store.tx() as conn:
        uid = user.load(conn, ctx.project, p["userId"])["$id"]
        records = sessions.list_of(conn, ctx.project, uid)
        if wanted == "recent":
            session_id = records[-1]["id"] if records else ""
        else:
            session_id = next((r["id"] for r in records if r["id"] == wanted), "")
        return {"jwt": sessions.issue_jwt(conn, uid, session_id, duration)}
