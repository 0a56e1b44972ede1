"""Users' HTTP handlers: a project's end users, managed with a server key (Appwrite's ``users`` service).

Validation follows the spec's parameter order; hashing happens outside the write lock. Events name the
most specific action, as Appwrite's event labels do (``users.ID.update.email``); whoever matches
subscriptions expands them to their parents (``users.ID.update``, ``users.*``...).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from quixotic.server.account import sessions
from quixotic.server.clock import now_iso
from quixotic.server.context import Ctx
from quixotic.server.ids import custom_id
from quixotic.server.registry import handles
from quixotic.server.store import Doc, list_docs, meta_delete, meta_save
from quixotic.server.users import model as user
from quixotic.server.validation import invalid

# --- create ----------------------------------------------------------------------------------------


def _create(ctx: Ctx, p: dict[str, Any], password: Callable[[], user.Hashed]) -> dict[str, Any]:
    """Shared by plain and imported-hash creation: validate (in the spec's parameter order), hash
    outside the write lock, check conflicts, insert, emit."""
    user_id = custom_id(p["userId"], "userId")
    email = user.check_email(p["email"]) if p.get("email") else None
    phone = user.check_phone(p["phone"]) if p.get("phone") else None
    password_hash, hash_name, hash_options = password()
    name = user.check_name(p.get("name"))
    now = now_iso()
    data: dict[str, Any] = {
        "name": name,
        "email": email,
        "phone": phone,
        "emailVerification": False,
        "phoneVerification": False,
        "status": True,
        "labels": [],
        "password": password_hash,
        "passwordUpdate": now if password_hash else None,
        "hash": hash_name,
        "hashOptions": hash_options,
        "registration": now,
        "mfa": False,
        "prefs": {},
        "targets": [],
        "accessedAt": None,
    }
    with ctx.store.tx() as conn:
        doc = user.insert(conn, ctx.project, user_id, data)
    model = user.model(doc)
    ctx.emit(f"users.{user_id}.create", model)
    return model


@handles("usersCreate")
def create(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    def hashed() -> user.Hashed:
        plain = p.get("password")
        if not plain:  # no password: the user signs in some other way
            return None, "scrypt", user.default_hash_options()
        stored, options = user.hash_password(user.check_password(plain))
        return stored, "scrypt", options

    return _create(ctx, p, hashed)


def _imported(ctx: Ctx, p: dict[str, Any], hash_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A user whose password arrives already hashed by another system; it is stored as given."""
    return _create(ctx, p, lambda: (user.check_password(p["password"]), hash_name, {"type": hash_name, **options}))


# Users imported with a hash from another system, by operation: the algorithm, its fixed options, and
# the options read from the request (option name -> parameter name).
_IMPORTS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "usersCreateArgon2User": ("argon2", {"memoryCost": 65536, "timeCost": 4, "threads": 3}, {}),
    "usersCreateBcryptUser": ("bcrypt", {}, {}),
    "usersCreateMD5User": ("md5", {}, {}),
    "usersCreatePHPassUser": ("phpass", {}, {}),
    "usersCreateScryptUser": (
        "scrypt",
        {},
        {
            "salt": "passwordSalt",
            "costCpu": "passwordCpu",
            "costMemory": "passwordMemory",
            "costParallel": "passwordParallel",
            "length": "passwordLength",
        },
    ),
    "usersCreateScryptModifiedUser": (
        "scryptMod",
        {},
        {"salt": "passwordSalt", "saltSeparator": "passwordSaltSeparator", "signerKey": "passwordSignerKey"},
    ),
}


@handles(*_IMPORTS)
def create_imported(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    hash_name, fixed, from_params = _IMPORTS[ctx.op.id]
    return _imported(ctx, p, hash_name, {**fixed, **{option: p[param] for option, param in from_params.items()}})


@handles("usersCreateSHAUser")
def create_sha(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    version = p.get("passwordVersion") or ""
    if version and version not in user.SHA_VERSIONS:
        raise invalid("passwordVersion", f"Value must be one of ({', '.join(user.SHA_VERSIONS)})")
    return _imported(ctx, p, "sha", {"version": version} if version else {})


# --- read and delete -------------------------------------------------------------------------------

_SECRET_FIELDS = ("password", "hash", "hashOptions")


def _shown(ctx: Ctx, model: dict[str, Any]) -> dict[str, Any]:
    """A user as the caller may see it: an impersonator's session (``auth``: it holds ``users.read`` to find a
    target) gets no password hashes, which only keys read."""
    if not ctx.caller.is_key:
        for name in _SECRET_FIELDS:
            model.pop(name, None)
    return model


@handles("usersList")
def list_users(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    search = p.get("search") or ""
    if len(search) > user.MAX_SEARCH:
        raise invalid("search", f"Value must be a valid string and no longer than {user.MAX_SEARCH} chars")
    with ctx.store.read() as conn:
        total, docs, select = list_docs(
            conn,
            "meta",
            "project=? AND kind=? AND parent=?",
            (ctx.project, user.KIND, user.PARENT),
            p.get("queries") or [],
            user.FIELDS,
            search=search or None,
            search_expr=user.SEARCH_EXPR,
            total=p.get("total") is not False,
        )
    users = [_shown(ctx, user.model(d)) for d in docs]
    if select is not None:
        keep = {"$id", "$createdAt", "$updatedAt", *select}
        users = [{k: v for k, v in u.items() if k in keep} for u in users]
    return {"total": total, "users": users}


@handles("usersGet")
def get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return _shown(ctx, user.model(user.load(conn, ctx.project, p["userId"])))


@handles("usersDelete")
def delete(ctx: Ctx, p: dict[str, Any]) -> None:
    with ctx.store.tx() as conn:
        doc = user.load(conn, ctx.project, p["userId"])
        meta_delete(conn, ctx.project, user.KIND, user.PARENT, doc["$id"])
        sessions.delete(conn, ctx.project, doc["$id"])  # as Appwrite: a user's sessions go with it
    ctx.emit(f"users.{doc['$id']}.delete", user.model(doc))


@handles("usersGetPrefs")
def get_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return dict(user.load(conn, ctx.project, p["userId"]).get("prefs") or {})


# --- updates ---------------------------------------------------------------------------------------


def _update(ctx: Ctx, user_id: str, action: str, change: Callable[[sqlite3.Connection, Doc], None]) -> Doc:
    """Load, change and save one user in one transaction, then emit ``users.ID.update.<action>``."""
    with ctx.store.tx() as conn:
        doc = user.load(conn, ctx.project, user_id)
        change(conn, doc)
        meta_save(conn, ctx.project, user.KIND, user.PARENT, doc)
    ctx.emit(f"users.{doc['$id']}.update.{action}", user.model(doc))
    return doc


def _setter(**values: Any) -> Callable[[sqlite3.Connection, Doc], None]:
    def change(conn: sqlite3.Connection, doc: Doc) -> None:
        doc.update(values)

    return change


@handles("usersUpdateName")
def update_name(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return user.model(_update(ctx, p["userId"], "name", _setter(name=user.check_name(p["name"]))))


@handles("usersUpdateStatus")
def update_status(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return user.model(_update(ctx, p["userId"], "status", _setter(status=bool(p["status"]))))


@handles("usersUpdateLabels")
def update_labels(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return user.model(_update(ctx, p["userId"], "labels", _setter(labels=user.check_labels(p["labels"]))))


@handles("usersUpdateEmailVerification")
def update_email_verification(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    change = _setter(emailVerification=bool(p["emailVerification"]))
    return user.model(_update(ctx, p["userId"], "verification", change))


@handles("usersUpdatePhoneVerification")
def update_phone_verification(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    change = _setter(phoneVerification=bool(p["phoneVerification"]))
    return user.model(_update(ctx, p["userId"], "verification", change))


@handles("usersUpdateMfa")
def update_mfa(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return user.model(_update(ctx, p["userId"], "mfa", _setter(mfa=bool(p["mfa"]))))


@handles("usersUpdateImpersonator")
def update_impersonator(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Whether the user may act as another one (``X-Appwrite-Impersonate-User-*``, see ``auth``)."""
    change = _setter(impersonator=bool(p["impersonator"]))
    return user.model(_update(ctx, p["userId"], "impersonator", change))


_Free = Callable[[sqlite3.Connection, str, str, str | None], None]  # refuses a value another user holds


def _update_contact(ctx: Ctx, user_id: str, field: str, value: str | None, provider: str, free: _Free) -> Doc:
    """Email and phone alike: ``None`` removes it; a new one must be ``free`` and is unverified again, and the
    user's messaging target of ``provider`` follows it."""

    def change(conn: sqlite3.Connection, doc: Doc) -> None:
        if value:
            free(conn, ctx.project, value, doc["$id"])
        user.set_target(doc, provider, doc.get(field), value)
        doc.update({field: value, f"{field}Verification": False})

    return _update(ctx, user_id, field, change)


@handles("usersUpdateEmail")
def update_email(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """An empty email removes it."""
    email = user.check_email(p["email"]) if p["email"] else None
    return user.model(_update_contact(ctx, p["userId"], "email", email, "email", user.check_email_free))


@handles("usersUpdatePhone")
def update_phone(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """An empty number removes it."""
    phone = user.check_phone(p["number"], "number") if p["number"] else None
    return user.model(_update_contact(ctx, p["userId"], "phone", phone, "sms", user.check_phone_free))


@handles("usersUpdatePassword")
def update_password(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """An empty password removes it (the user can then only sign in another way)."""
    password = p["password"]
    if password:
        stored, options = user.hash_password(user.check_password(password))
        change = _setter(password=stored, hash="scrypt", hashOptions=options, passwordUpdate=now_iso())
    else:
        change = _setter(password=None, passwordUpdate=now_iso())
    return user.model(_update(ctx, p["userId"], "password", change))


@handles("usersUpdatePrefs")
def update_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Replaces the whole prefs object; the response is the prefs, the event payload the user."""
    prefs = user.check_prefs(p["prefs"])
    _update(ctx, p["userId"], "prefs", _setter(prefs=prefs))
    return dict(prefs)
