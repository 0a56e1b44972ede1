"""The account service's HTTP handlers: sign up, sign in (anonymous or email and password), the signed-in
user's account, sessions and JWTs, and logout.

A session-creating route answers the session with both session cookies and, when the calling page is not
on the API's domain, ``X-Fallback-Cookies`` (``cookies``). Users are the Users API's records
(``users.model``), so an account shows there and a user made there signs in; a password of another
algorithm (the Users API's scrypt) is re-hashed with Argon2 at sign-in, as Appwrite does.
"""

from __future__ import annotations

from typing import Any

from quixotic.errors import ApiError
from quixotic.server.account import cookies, passwords, sessions
from quixotic.server.clock import now_iso
from quixotic.server.context import Ctx
from quixotic.server.registry import Reply, handles
from quixotic.server.store import Doc, meta_get, meta_save
from quixotic.server.users import model as user
from quixotic.server.users.handlers import _create as create_user
from quixotic.server.validation import invalid

_HIDDEN = ("password", "hash", "hashOptions")  # the Account model is the User model without these


def _hidden(model: dict[str, Any]) -> dict[str, Any]:
    """A User model as the Account model shows it: without the password and its hash."""
    for name in _HIDDEN:
        model.pop(name, None)
    return model


def _account(doc: Doc) -> dict[str, Any]:
    return _hidden(user.model(doc))


def _caller_account(ctx: Ctx, doc: Doc) -> dict[str, Any]:
    """The caller's Account model; an impersonated account names who acts as it (``impersonatorUserId``)."""
    model = _account(doc)
    if ctx.caller.impersonator_id is not None and doc["$id"] == ctx.caller.user_id:
        model["impersonatorUserId"] = ctx.caller.impersonator_id
    return model


def _signed_in(ctx: Ctx) -> str:
    """The caller's user ID; the route's ``account`` scope already refused guests and keys."""
    if ctx.caller.user_id is None:
        raise ApiError("user_unauthorized", "The current user is not authorized to perform the requested action.", 401)
    return ctx.caller.user_id


def _no_session_yet(ctx: Ctx) -> None:
    """Appwrite's session-group guard: no new session for a request that is already signed in."""
    if ctx.caller.user_id is not None:
        raise ApiError(
            "user_session_already_exists",
            "Creation of a session is prohibited when a session is active: delete the current session "
            "(account.deleteSession('current')) first.",
            401,
        )


def _https(ctx: Ctx) -> bool:
    return ctx.headers.get("x-forwarded-proto", "").lower() == "https"


def _session_reply(ctx: Ctx, record: dict[str, Any], encoded: str) -> Reply:
    """A new session's answer: its model (with the secret for key callers only), cookies and fallback."""
    secret = encoded if ctx.caller.is_key else ""
    return signed_in_reply(ctx, record, encoded, sessions.model(record, record["id"], secret))


def signed_in_reply(ctx: Ctx, record: dict[str, Any], encoded: str, body: Any) -> Reply:
    """``body`` with the new session's cookies and fallback header, and the session's create event (also how
    accepting a team invitation signs a guest in)."""
    headers: dict[str, str] = {}
    if not cookies.domain_verified(ctx.host, ctx.headers.get("origin"), ctx.headers.get("referer")):
        headers[cookies.FALLBACK_HEADER] = cookies.fallback_value(ctx.project, encoded)
    ctx.emit(f"users.{record['user_id']}.sessions.{record['id']}.create", sessions.model(record, record["id"]))
    return Reply(
        body,
        headers=headers,
        cookies=cookies.session_cookies(ctx.project, encoded, record["expire"], ctx.host, _https(ctx)),
    )


def _logout_reply(ctx: Ctx) -> Reply:
    headers: dict[str, str] = {}
    if not cookies.domain_verified(ctx.host, ctx.headers.get("origin"), ctx.headers.get("referer")):
        headers[cookies.FALLBACK_HEADER] = cookies.fallback_value(ctx.project, None)
    return Reply(None, 204, headers, cookies=cookies.clearing_cookies(ctx.project, ctx.host, _https(ctx)))


# --- sign up and sign in ------------------------------------------------------------------------------


@handles("accountCreate")
def create(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A new user with an email and password; it does not sign in (as on Appwrite)."""

    def hashed() -> user.Hashed:
        return passwords.hash_password(user.check_password(p["password"]))

    return _hidden(create_user(ctx, {k: p.get(k) for k in ("userId", "email", "name")}, hashed))


@handles("accountCreateAnonymousSession")
def create_anonymous_session(ctx: Ctx, p: dict[str, Any]) -> Reply:
    _no_session_yet(ctx)
    created = create_user(ctx, {"userId": "unique()"}, lambda: (None, passwords.ALGORITHM, passwords.default_options()))
    with ctx.store.tx() as conn:
        record, encoded = sessions.create(
            conn, ctx.project, created["$id"], "anonymous", "", ["anonymous"], ctx.headers.get("user-agent", "")
        )
    return _session_reply(ctx, record, encoded)


@handles("accountCreateEmailPasswordSession")
def create_email_password_session(ctx: Ctx, p: dict[str, Any]) -> Reply:
    _no_session_yet(ctx)
    email = str(p["email"]).lower()
    password = str(p["password"])
    with ctx.store.read() as conn:
        doc = user.find_by(conn, ctx.project, "email", email)
    bad = ApiError("user_invalid_credentials", "Invalid credentials. Please check the email and password.", 401)
    if doc is None or not doc.get("passwordUpdate"):
        raise bad
    if not passwords.verify(password, doc.get("password"), doc.get("hash"), doc.get("hashOptions")):
        raise bad
    if doc.get("status") is False:
        raise ApiError("user_blocked", "The current user has been blocked.", 403)
    rehashed = passwords.hash_password(password) if passwords.needs_rehash(doc.get("hash")) else None
    with ctx.store.tx() as conn:
        if rehashed is not None:
            current = meta_get(conn, ctx.project, user.KIND, user.PARENT, doc["$id"])
            if current is not None and current.get("password") == doc.get("password"):
                current["password"], current["hash"], current["hashOptions"] = rehashed
                meta_save(conn, ctx.project, user.KIND, user.PARENT, current)
        record, encoded = sessions.create(
            conn, ctx.project, doc["$id"], "email", email, ["password"], ctx.headers.get("user-agent", "")
        )
    return _session_reply(ctx, record, encoded)


# --- the account ----------------------------------------------------------------------------------------


def _load(ctx: Ctx) -> Doc:
    with ctx.store.read() as conn:
        return user.load(conn, ctx.project, _signed_in(ctx))


@handles("accountGet")
def get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _caller_account(ctx, _load(ctx))


@handles("accountGetPrefs")
def get_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return dict(_load(ctx).get("prefs") or {})


def _update(ctx: Ctx, event: str, **changes: Any) -> dict[str, Any]:
    with ctx.store.tx() as conn:
        doc = user.load(conn, ctx.project, _signed_in(ctx))
        doc.update(changes)
        meta_save(conn, ctx.project, user.KIND, user.PARENT, doc)
    model = _caller_account(ctx, doc)
    ctx.emit(f"users.{doc['$id']}.update.{event}", model)
    return model


@handles("accountUpdateName")
def update_name(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _update(ctx, "name", name=user.check_name(p["name"]))


@handles("accountUpdatePrefs")
def update_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _update(ctx, "prefs", prefs=user.check_prefs(p["prefs"]))


@handles("accountUpdatePassword")
def update_password(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A new password; the old one must be given when the user has one (anonymous users have none)."""
    doc = _load(ctx)
    new = user.check_password(p["password"])
    if doc.get("password") and not passwords.verify(
        str(p.get("oldPassword") or ""), doc.get("password"), doc.get("hash"), doc.get("hashOptions")
    ):
        raise ApiError(
            "user_invalid_credentials", "Invalid credentials: oldPassword does not match the current one.", 401
        )
    stored, algorithm, options = passwords.hash_password(new)
    return _update(ctx, "password", password=stored, hash=algorithm, hashOptions=options, passwordUpdate=now_iso())


@handles("accountUpdateEmail")
def update_email(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A new (unverified) email; the password must match, or becomes the password of a user that had none
    (an anonymous user turns into an email one this way, as on Appwrite)."""
    doc = _load(ctx)
    email = user.check_email(p["email"])
    password = str(p["password"])
    changes: dict[str, Any] = {"email": email, "emailVerification": False}
    if doc.get("passwordUpdate"):
        if not passwords.verify(password, doc.get("password"), doc.get("hash"), doc.get("hashOptions")):
            raise ApiError("user_invalid_credentials", "Invalid credentials: the password does not match.", 401)
    else:
        stored, algorithm, options = passwords.hash_password(user.check_password(password))
        changes.update(password=stored, hash=algorithm, hashOptions=options, passwordUpdate=now_iso())
    with ctx.store.tx() as conn:
        current = user.load(conn, ctx.project, _signed_in(ctx))
        if user.taken(conn, ctx.project, "email", email, current["$id"]):
            # Appwrite's answer: the email's messaging target exists (it does not say whose).
            raise ApiError("user_target_already_exists", "A target with the same ID already exists.", 409)
        user.set_target(current, "email", current.get("email"), email)
        current.update(changes)
        meta_save(conn, ctx.project, user.KIND, user.PARENT, current)
    model = _caller_account(ctx, current)
    ctx.emit(f"users.{current['$id']}.update.email", model)
    return model


# --- sessions and JWTs --------------------------------------------------------------------------------


def _session_id(ctx: Ctx, given: str) -> str:
    if given != "current":
        return given
    if ctx.caller.session_id is None:
        raise sessions.not_found()
    return ctx.caller.session_id


@handles("accountListSessions")
def list_sessions(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        records = sessions.list_of(conn, ctx.project, _signed_in(ctx))
    listed = [sessions.model(r, ctx.caller.session_id) for r in records]
    return {"total": len(listed), "sessions": listed}


@handles("accountGetSession")
def get_session(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    wanted = _session_id(ctx, p["sessionId"])
    with ctx.store.read() as conn:
        records = sessions.list_of(conn, ctx.project, _signed_in(ctx))
    for record in records:
        if record["id"] == wanted:
            return sessions.model(record, ctx.caller.session_id)
    raise sessions.not_found()


@handles("accountDeleteSession")
def delete_session(ctx: Ctx, p: dict[str, Any]) -> Reply:
    """Delete one session; deleting the current one also clears the browser's cookies (logout)."""
    wanted = _session_id(ctx, p["sessionId"])
    uid = _signed_in(ctx)
    with ctx.store.tx() as conn:
        record = next((r for r in sessions.list_of(conn, ctx.project, uid) if r["id"] == wanted), None)
        if record is None:
            raise sessions.not_found()
        sessions.delete(conn, ctx.project, uid, wanted)
    ctx.emit(f"users.{uid}.sessions.{wanted}.delete", sessions.model(record, ctx.caller.session_id))
    return _logout_reply(ctx) if wanted == ctx.caller.session_id else Reply(None, 204)


@handles("accountDeleteSessions")
def delete_sessions(ctx: Ctx, p: dict[str, Any]) -> Reply:
    uid = _signed_in(ctx)
    with ctx.store.tx() as conn:
        records = sessions.list_of(conn, ctx.project, uid)
        sessions.delete(conn, ctx.project, uid)
    for record in records:
        ctx.emit(f"users.{uid}.sessions.{record['id']}.delete", sessions.model(record, ctx.caller.session_id))
    return _logout_reply(ctx)


def check_jwt_duration(given: Any) -> int:
    """A JWT's lifetime in seconds: 0-3600, 900 when not given."""
    duration = sessions.JWT_DEFAULT_DURATION if given is None else given
    if not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= sessions.JWT_MAX_DURATION:
        raise invalid("duration", f"Value must be a valid range between 0 and {sessions.JWT_MAX_DURATION:,}")
    return duration


@handles("accountCreateJWT")
def create_jwt(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """A JWT of the current session (900 s unless ``duration`` says 0-3600); not from a JWT."""
    duration = check_jwt_duration(p.get("duration"))
    uid = _signed_in(ctx)
    if ctx.caller.via == "jwt":
        raise ApiError(
            "user_jwt_creation_denied",
            "A JWT cannot be created from a request authorized with a JWT. Authenticate with a session cookie or "
            "session header instead.",
            403,
        )
    if ctx.caller.session_id is None:
        raise sessions.not_found()
    with ctx.store.tx() as conn:
        return {"jwt": sessions.issue_jwt(conn, uid, ctx.caller.session_id, duration)}
