"""Teams' HTTP handlers: teams, their prefs and memberships, for keys and for client apps (Appwrite's
``teams`` service), and the Users API's list of a user's memberships.

A key caller manages every team; a user reads the teams it is a confirmed member of and changes those it
owns, as the team's permissions say (``model.team_permissions``). A team created by a user makes it a
confirmed member with the given roles (``owner`` by default). Memberships made with a key are confirmed at
once; an owner's invitation waits for ``updateMembershipStatus`` with its secret, which is never mailed
here but written to the outbox (``invitations``). Unreadable teams are not found, as on Appwrite.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import auth
from quixotic.server.account import passwords, sessions
from quixotic.server.account.handlers import signed_in_reply
from quixotic.server.clock import now_iso
from quixotic.server.context import Ctx
from quixotic.server.ids import custom_id, new_id
from quixotic.server.registry import Reply, handles
from quixotic.server.store import NAME_SEARCH, Doc, list_docs, meta_get, meta_insert, meta_save
from quixotic.server.teams import invitations
from quixotic.server.teams import model as team
from quixotic.server.users import model as user
from quixotic.server.users.handlers import _create as create_user


def _team(conn: sqlite3.Connection, ctx: Ctx, team_id: str, action: str = "read") -> Doc:
    """The team, if the caller may read it (else not found) and do ``action`` to it (else unauthorized)."""
    doc = team.load_team(conn, ctx.project, team_id)
    if not ctx.caller.may(doc["$permissions"], "read"):
        raise team.team_not_found()
    if action != "read" and not ctx.caller.may(doc["$permissions"], action):
        raise auth.unauthorized(f"team '{team_id}'", action, ctx.caller)
    return doc


def _is_owner(ctx: Ctx, team_id: str) -> bool:
    return ctx.caller.is_key or f"team:{team_id}/{team.OWNER}" in ctx.caller.roles


def _names(conn: sqlite3.Connection, project: str, team_ids: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for team_id in team_ids:
        doc = meta_get(conn, project, team.TEAM, team.PARENT, team_id)
        names[team_id] = str(doc.get("name") or "") if doc else ""
    return names


def _count(conn: sqlite3.Connection, ctx: Ctx, doc: Doc, delta: int) -> None:
    doc["total"] = max(0, int(doc.get("total") or 0) + delta)
    meta_save(conn, ctx.project, team.TEAM, team.PARENT, doc)


def _membership_data(invitee: Doc, team_id: str, roles: list[str], confirm: bool, secret: str) -> dict[str, Any]:
    now = now_iso()
    return {
        "userId": invitee["$id"],
        "userName": invitee.get("name") or "",
        "userEmail": invitee.get("email") or "",
        "teamId": team_id,
        "roles": roles,
        "invited": now,
        "joined": now if confirm else None,
        "confirm": confirm,
        "mfa": bool(invitee.get("mfa")),
        "secretHash": team.hash_secret(secret),
    }


def _insert_membership(conn: sqlite3.Connection, ctx: Ctx, team_id: str, data: dict[str, Any]) -> Doc:
    team.ensure_index(conn)
    uid = data["userId"]
    permissions = [
        'read("any")', f'update("user:{uid}")', f'update("team:{team_id}/{team.OWNER}")',
        f'delete("user:{uid}")', f'delete("team:{team_id}/{team.OWNER}")',
    ]  # fmt: skip
    return meta_insert(conn, ctx.project, team.MEMBERSHIP, team_id, new_id(), data, permissions)


# --- teams -------------------------------------------------------------------------------------------


@handles("teamsCreate")
def create(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A team; a user creating it becomes its first (confirmed) member, with ``roles`` (default owner)."""
    team_id = custom_id(p["teamId"], "teamId")
    name = user.check_name(p["name"])
    given = p.get("roles")
    roles = team.check_roles(given if given is not None else [team.OWNER])
    member = not ctx.caller.is_key and ctx.caller.user_id is not None
    exists = ApiError(
        "team_already_exists",
        f"Team with the requested ID '{team_id}' already exists. Please choose a different ID and try again.",
        409,
    )
    with ctx.store.tx() as conn:
        data: dict[str, Any] = {"name": name, "total": 1 if member else 0, "prefs": {}}
        doc = meta_insert(conn, ctx.project, team.TEAM, team.PARENT, team_id, data, team.team_permissions(team_id),
                          conflict=exists)  # fmt: skip
        if member and ctx.caller.user_id is not None:
            creator = user.load(conn, ctx.project, ctx.caller.user_id)
            _insert_membership(
                conn, ctx, team_id, _membership_data(creator, team_id, roles, True, secrets.token_hex(32))
            )
    model = team.team_model(doc)
    ctx.emit(f"teams.{team_id}.create", model)
    return model


@handles("teamsList")
def list_teams(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    where, params = "project=? AND kind=? AND parent=?", [ctx.project, team.TEAM, team.PARENT]
    if not ctx.caller.is_key:
        readable, needles = auth.readable_sql(ctx.caller)
        where, params = f"{where} AND {readable}", [*params, *needles]
    with ctx.store.read() as conn:
        total, docs, _ = list_docs(
            conn, "meta", where, params, p.get("queries"), team.TEAM_FIELDS, search=p.get("search") or None,
            search_expr=NAME_SEARCH, total=p.get("total") is not False,
        )  # fmt: skip
    return {"total": total, "teams": [team.team_model(d) for d in docs]}


@handles("teamsGet")
def get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return team.team_model(_team(conn, ctx, p["teamId"]))


@handles("teamsUpdateName")
def update_name(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.tx() as conn:
        doc = _team(conn, ctx, p["teamId"], "update")
        doc["name"] = user.check_name(p["name"])
        meta_save(conn, ctx.project, team.TEAM, team.PARENT, doc)
    model = team.team_model(doc)
    ctx.emit(f"teams.{doc['$id']}.update", model)
    return model


@handles("teamsDelete")
def delete(ctx: Ctx, p: dict[str, Any]) -> None:
    """The team and every membership of it (their roles go with them)."""
    with ctx.store.tx() as conn:
        doc = _team(conn, ctx, p["teamId"], "delete")
        conn.execute(
            "DELETE FROM meta WHERE project=? AND kind=? AND parent=?", (ctx.project, team.MEMBERSHIP, doc["$id"])
        )
        conn.execute(
            "DELETE FROM meta WHERE project=? AND kind=? AND parent=? AND _uid=?",
            (ctx.project, team.TEAM, team.PARENT, doc["$id"]),
        )
    ctx.emit(f"teams.{doc['$id']}.delete", team.team_model(doc))


@handles("teamsGetPrefs")
def get_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return dict(_team(conn, ctx, p["teamId"]).get("prefs") or {})


@handles("teamsUpdatePrefs")
def update_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    prefs = user.check_prefs(p["prefs"])
    with ctx.store.tx() as conn:
        doc = _team(conn, ctx, p["teamId"], "update")
        doc["prefs"] = prefs
        meta_save(conn, ctx.project, team.TEAM, team.PARENT, doc)
    ctx.emit(f"teams.{doc['$id']}.update.prefs", team.team_model(doc))
    return dict(prefs)


# --- memberships -------------------------------------------------------------------------------------


def _memberships(
    conn: sqlite3.Connection, ctx: Ctx, where: str, params: list[Any], p: dict[str, Any]
) -> dict[str, Any]:
    total, docs, _ = list_docs(
        conn, "meta", where, params, p.get("queries"), team.MEMBERSHIP_FIELDS, search=p.get("search") or None,
        search_expr=team.MEMBERSHIP_SEARCH, total=p.get("total") is not False,
    )  # fmt: skip
    names = _names(conn, ctx.project, {str(d.get("teamId") or "") for d in docs})
    return {"total": total, "memberships": [team.membership_model(d, names[str(d.get("teamId") or "")]) for d in docs]}


@handles("teamsListMemberships")
def list_memberships(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        doc = _team(conn, ctx, p["teamId"])
        where = "project=? AND kind=? AND parent=?"
        return _memberships(conn, ctx, where, [ctx.project, team.MEMBERSHIP, doc["$id"]], p)


@handles("usersListMemberships")
def list_user_memberships(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        found = user.load(conn, ctx.project, p["userId"])
        where = "project=? AND kind=? AND json_extract(data, '$.userId')=?"
        return _memberships(conn, ctx, where, [ctx.project, team.MEMBERSHIP, found["$id"]], p)


@handles("teamsGetMembership")
def get_membership(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        doc = _team(conn, ctx, p["teamId"])
        return team.membership_model(
            team.load_membership(conn, ctx.project, doc["$id"], p["membershipId"]), doc["name"]
        )


def _invitee(conn: sqlite3.Connection, ctx: Ctx, p: dict[str, Any]) -> Doc:
    """The user invited, by ``userId``, else by ``email`` or ``phone`` (a user is created for an unknown one,
    as on Appwrite)."""
    if p.get("userId"):
        return user.load(conn, ctx.project, p["userId"])
    field, value = (
        ("email", user.check_email(p["email"])) if p.get("email") else ("phone", user.check_phone(p["phone"]))
    )
    row = conn.execute(
        f"SELECT _uid FROM meta WHERE project=? AND kind=? AND parent=? AND json_extract(data, '$.{field}')=?",
        (ctx.project, user.KIND, user.PARENT, value),
    ).fetchone()
    if row is not None:
        return user.load(conn, ctx.project, row[0])
    made = create_user(
        ctx, {"userId": "unique()", field: value, "name": p.get("name")},
        lambda: (None, passwords.ALGORITHM, passwords.default_options()),
    )  # fmt: skip
    return user.load(conn, ctx.project, made["$id"])


@handles("teamsCreateMembership")
def create_membership(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A member added with a key (confirmed), or an owner's invitation (confirmed by its secret)."""
    if not (p.get("userId") or p.get("email") or p.get("phone")):
        raise ApiError("general_argument_invalid", "At least one of userId, email, or phone is required", 400)
    roles = team.check_roles(p["roles"])
    confirm = ctx.caller.is_key
    secret = secrets.token_hex(64)
    with ctx.store.tx() as conn:
        doc = _team(conn, ctx, p["teamId"])
        if not _is_owner(ctx, doc["$id"]):
            raise ApiError(
                "user_unauthorized",
                f"User is not allowed to send invitations for this team: only its owners (role team:{doc['$id']}/"
                f"{team.OWNER}) may, or a call with an API key.",
                401,
            )
        invitee = _invitee(conn, ctx, p)
        taken = conn.execute(
            "SELECT 1 FROM meta WHERE project=? AND kind=? AND parent=? AND json_extract(data, '$.userId')=?",
            (ctx.project, team.MEMBERSHIP, doc["$id"], invitee["$id"]),
        ).fetchone()
        if taken is not None:
            raise ApiError(
                "team_invite_already_exists", "User has already been invited or is already a member of this team", 409
            )
        membership = _insert_membership(
            conn, ctx, doc["$id"], _membership_data(invitee, doc["$id"], roles, confirm, secret)
        )
        if confirm:
            _count(conn, ctx, doc, +1)
        else:
            params = {"membershipId": membership["$id"], "userId": invitee["$id"], "secret": secret,
                      "teamId": doc["$id"], "teamName": str(doc.get("name") or "")}  # fmt: skip
            to = str(invitee.get("email") or invitee.get("phone") or "")
            invitations.deliver(ctx.store.data_dir, ctx.project, to, str(p.get("url") or ""), params)
    model = team.membership_model(membership, str(doc.get("name") or ""))
    ctx.emit(f"teams.{doc['$id']}.memberships.{membership['$id']}.create", model)
    return model


@handles("teamsUpdateMembership")
def update_membership(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """New roles, by an owner or a key; the team's last owner cannot give up ``owner``."""
    roles = team.check_roles(p["roles"])
    with ctx.store.tx() as conn:
        doc = _team(conn, ctx, p["teamId"])
        membership = team.load_membership(conn, ctx.project, doc["$id"], p["membershipId"])
        if not _is_owner(ctx, doc["$id"]):
            raise ApiError("user_unauthorized", "User is not allowed to modify roles: only the team's owners may.", 401)
        if team.OWNER in (membership.get("roles") or []) and team.OWNER not in roles:
            owners = conn.execute(
                "SELECT COUNT(*) FROM meta, json_each(meta.data, '$.roles') AS r WHERE meta.project=? AND meta.kind=?"
                " AND meta.parent=? AND json_extract(meta.data, '$.confirm')=1 AND r.value=?",
                (ctx.project, team.MEMBERSHIP, doc["$id"], team.OWNER),
            ).fetchone()[0]
            if owners <= 1:
                raise ApiError(
                    "membership_downgrade_prohibited",
                    "There must be at least one owner: give another member the owner role first.", 400
                )  # fmt: skip
        membership["roles"] = roles
        meta_save(conn, ctx.project, team.MEMBERSHIP, doc["$id"], membership)
    model = team.membership_model(membership, str(doc.get("name") or ""))
    ctx.emit(f"teams.{doc['$id']}.memberships.{membership['$id']}.update", model)
    return model


@handles("teamsUpdateMembershipStatus")
def update_membership_status(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any] | Reply:
    """Accept an invitation with its secret (from the outbox, see ``invitations``): the membership is confirmed,
    the email verified, and a guest is signed in as the invitee, as on Appwrite."""
    with ctx.store.tx() as conn:
        found = conn.execute(
            "SELECT 1 FROM meta WHERE project=? AND kind=? AND _uid=?",
            (ctx.project, team.MEMBERSHIP, p["membershipId"]),
        ).fetchone()
        if found is None:
            raise team.membership_not_found()
        doc = team.load_team(conn, ctx.project, p["teamId"])
        membership = team.load_membership(conn, ctx.project, doc["$id"], p["membershipId"])
        if team.hash_secret(str(p["secret"])) != membership.get("secretHash"):
            raise ApiError(
                "team_invalid_secret",
                "The team invitation secret is invalid. Locally no mail is sent: the invitation's secret is in the "
                f"data folder's {invitations.OUTBOX} and in the server's log.",
                401,
            )
        invited = str(membership.get("userId") or "")
        if p["userId"] != invited or (ctx.caller.user_id is not None and ctx.caller.user_id != invited):
            raise ApiError("team_invite_mismatch", "The invite does not belong to the current user.", 401)
        if membership.get("confirm"):
            raise ApiError("membership_already_confirmed", "Membership is already confirmed.", 409)
        invitee = user.load(conn, ctx.project, invited)
        membership["confirm"], membership["joined"] = True, now_iso()
        meta_save(conn, ctx.project, team.MEMBERSHIP, doc["$id"], membership)
        invitee["emailVerification"] = True
        meta_save(conn, ctx.project, user.KIND, user.PARENT, invitee)
        _count(conn, ctx, doc, +1)
        session = None
        if ctx.caller.user_id is None and not ctx.caller.is_key:
            session = sessions.create(conn, ctx.project, invited, "email", str(invitee.get("email") or ""),
                                      ["email"], ctx.headers.get("user-agent", ""))  # fmt: skip
    model = team.membership_model(membership, str(doc.get("name") or ""))
    ctx.emit(f"teams.{doc['$id']}.memberships.{membership['$id']}.update.status", model)
    if session is None:
        return model
    record, encoded = session
    return signed_in_reply(ctx, record, encoded, model)


@handles("teamsDeleteMembership")
def delete_membership(ctx: Ctx, p: dict[str, Any]) -> None:
    """A member leaves, or an owner (or a key) removes a member or an invitation."""
    with ctx.store.tx() as conn:
        doc = _team(conn, ctx, p["teamId"])
        membership = team.load_membership(conn, ctx.project, doc["$id"], p["membershipId"])
        if not ctx.caller.may(membership["$permissions"], "delete"):
            raise auth.unauthorized(f"membership '{membership['$id']}'", "delete", ctx.caller)
        conn.execute(
            "DELETE FROM meta WHERE project=? AND kind=? AND parent=? AND _uid=?",
            (ctx.project, team.MEMBERSHIP, doc["$id"], membership["$id"]),
        )
        if membership.get("confirm"):
            _count(conn, ctx, doc, -1)
    ctx.emit(
        f"teams.{doc['$id']}.memberships.{membership['$id']}.delete",
        team.membership_model(membership, str(doc.get("name") or "")),
    )
