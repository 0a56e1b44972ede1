"""Users: a project's end users, managed with a server key (Appwrite's ``users`` service).

Each user is one ``meta`` row (kind ``user``, no parent). Absent email, phone, password and
``passwordUpdate`` are stored as ``null`` so that uniqueness checks and ``isNull`` queries see them as
missing; the model renders them as Appwrite's string defaults (``""``), except ``password``, which is
nullable in the spec.

Passwords. The Argon2 that Appwrite uses is not in the standard library, so plain-text passwords are
hashed with scrypt and labelled honestly (``hash: "scrypt"``), laid out exactly like Appwrite's own
imported scrypt users: ``password`` is the hex of ``scrypt(password, salt, N=costCpu, r=costMemory,
p=costParallel, dklen=length)`` and ``hashOptions`` carries the ``salt`` (text, used as UTF-8 bytes).
A verifier therefore needs only ``hash`` and ``hashOptions``, whether the user was created here or
imported. Users imported with an existing hash keep it as given, with its algorithm's options.
Plain-text passwords are never stored, logged or returned.

Events name the most specific action, as Appwrite's event labels do (``users.ID.update.email``);
whoever matches subscriptions expands them to their parents (``users.ID.update``, ``users.*``...).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Callable
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server.clock import now_iso
from quixotic.server.context import Ctx
from quixotic.server.ids import custom_id, new_id
from quixotic.server.queries import Field
from quixotic.server.routes import handles
from quixotic.server.store import Doc, list_docs, meta_delete, meta_get, meta_insert, meta_save

KIND: Final = "user"
PARENT: Final = ""

# What ``usersList`` may filter and order on (the spec's list), besides $id/$createdAt/$updatedAt.
FIELDS: Final[dict[str, Field]] = {
    "name": Field("string"),
    "email": Field("string"),
    "phone": Field("string"),
    "status": Field("boolean"),
    "passwordUpdate": Field("datetime"),
    "registration": Field("datetime"),
    "emailVerification": Field("boolean"),
    "phoneVerification": Field("boolean"),
    "labels": Field("string", array=True),
}
# Appwrite searches one text made of the ID, email, phone and name.
_SEARCH_EXPR: Final = (
    "(_uid || ' ' || coalesce(json_extract(data, '$.email'), '') || ' ' || "
    "coalesce(json_extract(data, '$.phone'), '') || ' ' || coalesce(json_extract(data, '$.name'), ''))"
)

MAX_NAME: Final = 128
MAX_SEARCH: Final = 256
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 256
MAX_EMAIL: Final = 254
MAX_LABELS: Final = 1000
MAX_LABEL: Final = 36  # the 1.8.1 spec: "each up to 36 alphanumeric characters long"
MAX_PREFS: Final = 65535  # bytes of the prefs JSON, as Appwrite's Assoc validator allows

# scrypt cost of natively hashed passwords: N=2^14, r=8, p=1 (about 16 MiB, tens of milliseconds).
SCRYPT_OPTIONS: Final[dict[str, int]] = {"costCpu": 16384, "costMemory": 8, "costParallel": 1, "length": 64}
SHA_VERSIONS: Final = (
    "sha1", "sha224", "sha256", "sha384", "sha512/224", "sha512/256", "sha512",
    "sha3-224", "sha3-256", "sha3-384", "sha3-512",
)  # fmt: skip

_EMAIL_RE = re.compile(
    r"^(?=.{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_PHONE_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_LABEL_RE = re.compile(rf"^[A-Za-z0-9]{{1,{MAX_LABEL}}}$")


# --- validation ------------------------------------------------------------------------------------


def _invalid(param: str, why: str) -> ApiError:
    return ApiError("general_argument_invalid", f"Invalid `{param}` param: {why}")


def _email(value: str, param: str = "email") -> str:
    """Appwrite lower-cases emails before storing and comparing them."""
    if len(value) > MAX_EMAIL or not _EMAIL_RE.match(value):
        raise _invalid(param, "Value must be a valid email address")
    return value.lower()


def _phone(value: str, param: str = "phone") -> str:
    if not _PHONE_RE.match(value):
        raise _invalid(
            param,
            "Phone number must start with a '+' and a country code and can have a maximum of fifteen "
            "digits, e.g. +16175551212.",
        )
    return value


def _password(value: str, param: str = "password") -> str:
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise _invalid(param, f"Password must be between {MIN_PASSWORD} and {MAX_PASSWORD} characters long.")
    return value


def _name(value: str | None) -> str:
    name = value or ""
    if len(name) > MAX_NAME:
        raise _invalid("name", f"Value must be a valid string and no longer than {MAX_NAME} chars")
    return name


def _labels(values: list[Any]) -> list[str]:
    """Appwrite replaces the labels with the given ones, keeping the first of any repeats."""
    if len(values) > MAX_LABELS or not all(isinstance(v, str) and _LABEL_RE.match(v) for v in values):
        raise _invalid(
            "labels",
            f"Value must a valid array no longer than {MAX_LABELS} items and each label must be 1 to "
            f"{MAX_LABEL} alphanumeric characters (a-z, A-Z, 0-9)",
        )
    return list(dict.fromkeys(values))


def _prefs(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and not value:  # PHP cannot tell {} from []: both mean no prefs
        value = {}
    if not isinstance(value, dict):
        raise _invalid("prefs", "Value must be a valid object")
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_PREFS:
        raise _invalid("prefs", f"Value must be a valid object no larger than {MAX_PREFS} bytes of JSON")
    return value


# --- passwords -------------------------------------------------------------------------------------


def hash_password(password: str) -> tuple[str, dict[str, Any]]:
    """Hash a plain-text password; returns the stored hash and its ``hashOptions`` (see module doc)."""
    salt = secrets.token_hex(16)
    derived = hashlib.scrypt(
        password.encode(),
        salt=salt.encode(),
        n=SCRYPT_OPTIONS["costCpu"],
        r=SCRYPT_OPTIONS["costMemory"],
        p=SCRYPT_OPTIONS["costParallel"],
        dklen=SCRYPT_OPTIONS["length"],
        maxmem=64 * 1024 * 1024,
    )
    return derived.hex(), {"type": "scrypt", "salt": salt, **SCRYPT_OPTIONS}


def _default_hash_options() -> dict[str, Any]:
    """What a user without a password reports: the algorithm a new password would get."""
    return {"type": "scrypt", **SCRYPT_OPTIONS}


# --- storage ---------------------------------------------------------------------------------------


def _not_found() -> ApiError:
    return ApiError("user_not_found", "User with the requested ID could not be found.")


def _load(conn: sqlite3.Connection, project: str, user_id: str) -> Doc:
    doc = meta_get(conn, project, KIND, PARENT, user_id)
    if doc is None:
        raise _not_found()
    return doc


def _taken(conn: sqlite3.Connection, project: str, field: str, value: str, own_id: str | None) -> bool:
    """True when another user of the project already has ``value`` as ``field`` (email or phone)."""
    row = conn.execute(
        f"SELECT 1 FROM meta WHERE project=? AND kind=? AND parent=? AND json_extract(data, '$.{field}')=?"
        " AND _uid IS NOT ? LIMIT 1",
        (project, KIND, PARENT, value, own_id),
    ).fetchone()
    return row is not None


def _check_email_free(conn: sqlite3.Connection, project: str, email: str, own_id: str | None) -> None:
    if _taken(conn, project, "email", email, own_id):
        raise ApiError("user_email_already_exists", "A user with the same email already exists in the current project.")


def _check_phone_free(conn: sqlite3.Connection, project: str, phone: str, own_id: str | None) -> None:
    if _taken(conn, project, "phone", phone, own_id):
        raise ApiError(
            "user_phone_already_exists",
            "A user with the same phone number already exists in the current project.",
        )


def _set_target(doc: Doc, provider_type: str, old: str | None, new: str | None) -> None:
    """Keep the user's messaging target for its email or phone in step with it, as Appwrite does."""
    targets: list[dict[str, Any]] = list(doc.get("targets") or [])
    now = now_iso()
    found = next((t for t in targets if t.get("providerType") == provider_type and t.get("identifier") == old), None)
    if found is not None and new:
        found.update(identifier=new, expired=False, **{"$updatedAt": now})
    elif found is not None:
        targets.remove(found)
    elif new:
        targets.append(
            {
                "$id": new_id(),
                "$createdAt": now,
                "$updatedAt": now,
                "name": "",
                "userId": doc["$id"],
                "providerId": None,
                "providerType": provider_type,
                "identifier": new,
                "expired": False,
            }
        )
    doc["targets"] = targets


def _model(doc: Doc) -> dict[str, Any]:
    """The 1.8 user model; unset strings are ``""`` and the password is the hash (key callers only)."""
    return {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "name": doc.get("name") or "",
        "password": doc.get("password"),
        "hash": doc.get("hash"),
        "hashOptions": doc.get("hashOptions"),
        "registration": doc.get("registration") or doc["$createdAt"],
        "status": bool(doc.get("status", True)),
        "labels": list(doc.get("labels") or []),
        "passwordUpdate": doc.get("passwordUpdate") or "",
        "email": doc.get("email") or "",
        "phone": doc.get("phone") or "",
        "emailVerification": bool(doc.get("emailVerification")),
        "phoneVerification": bool(doc.get("phoneVerification")),
        "mfa": bool(doc.get("mfa")),
        "prefs": dict(doc.get("prefs") or {}),
        "targets": list(doc.get("targets") or []),
        "accessedAt": doc.get("accessedAt") or "",
    }


# --- create ----------------------------------------------------------------------------------------


# The stored password (or None), the algorithm's name and its options.
Hashed = tuple[str | None, str, dict[str, Any]]


def _create(ctx: Ctx, p: dict[str, Any], password: Callable[[], Hashed]) -> dict[str, Any]:
    """Shared by plain and imported-hash creation: validate (in the spec's parameter order), hash
    outside the write lock, check conflicts, insert, emit."""
    user_id = custom_id(p["userId"], "userId")
    email = _email(p["email"]) if p.get("email") else None
    phone = _phone(p["phone"]) if p.get("phone") else None
    password_hash, hash_name, hash_options = password()
    name = _name(p.get("name"))
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
    exists = ApiError("user_already_exists", "A user with the same id, email, or phone already exists in this project.")
    with ctx.store.tx() as conn:
        if meta_get(conn, ctx.project, KIND, PARENT, user_id) is not None:
            raise exists
        if email:
            _check_email_free(conn, ctx.project, email, None)
        if phone:
            _check_phone_free(conn, ctx.project, phone, None)
        draft: Doc = {"$id": user_id, **data}
        _set_target(draft, "email", None, email)
        _set_target(draft, "sms", None, phone)
        data["targets"] = draft["targets"]
        permissions = ['read("any")', f'update("user:{user_id}")', f'delete("user:{user_id}")']
        doc = meta_insert(conn, ctx.project, KIND, PARENT, user_id, data, permissions, conflict=exists)
    model = _model(doc)
    ctx.emit(f"users.{user_id}.create", model)
    return model


@handles("usersCreate")
def create(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    def hashed() -> Hashed:
        plain = p.get("password")
        if not plain:  # no password: the user signs in some other way
            return None, "scrypt", _default_hash_options()
        stored, options = hash_password(_password(plain))
        return stored, "scrypt", options

    return _create(ctx, p, hashed)


def _imported(ctx: Ctx, p: dict[str, Any], hash_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A user whose password arrives already hashed by another system; it is stored as given."""
    return _create(ctx, p, lambda: (_password(p["password"]), hash_name, {"type": hash_name, **options}))


@handles("usersCreateArgon2User")
def create_argon2(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _imported(ctx, p, "argon2", {"memoryCost": 65536, "timeCost": 4, "threads": 3})


@handles("usersCreateBcryptUser")
def create_bcrypt(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _imported(ctx, p, "bcrypt", {})


@handles("usersCreateMD5User")
def create_md5(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _imported(ctx, p, "md5", {})


@handles("usersCreatePHPassUser")
def create_phpass(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _imported(ctx, p, "phpass", {})


@handles("usersCreateSHAUser")
def create_sha(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    version = p.get("passwordVersion") or ""
    if version and version not in SHA_VERSIONS:
        raise _invalid("passwordVersion", f"Value must be one of ({', '.join(SHA_VERSIONS)})")
    return _imported(ctx, p, "sha", {"version": version} if version else {})


@handles("usersCreateScryptUser")
def create_scrypt(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    options = {
        "salt": p["passwordSalt"],
        "costCpu": p["passwordCpu"],
        "costMemory": p["passwordMemory"],
        "costParallel": p["passwordParallel"],
        "length": p["passwordLength"],
    }
    return _imported(ctx, p, "scrypt", options)


@handles("usersCreateScryptModifiedUser")
def create_scrypt_modified(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    options = {
        "salt": p["passwordSalt"],
        "saltSeparator": p["passwordSaltSeparator"],
        "signerKey": p["passwordSignerKey"],
    }
    return _imported(ctx, p, "scryptMod", options)


# --- read and delete -------------------------------------------------------------------------------


@handles("usersList")
def list_users(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    search = p.get("search") or ""
    if len(search) > MAX_SEARCH:
        raise _invalid("search", f"Value must be a valid string and no longer than {MAX_SEARCH} chars")
    with ctx.store.read() as conn:
        total, docs, select = list_docs(
            conn,
            "meta",
            "project=? AND kind=? AND parent=?",
            (ctx.project, KIND, PARENT),
            p.get("queries") or [],
            FIELDS,
            search=search or None,
            search_expr=_SEARCH_EXPR,
            total=p.get("total") is not False,
        )
    users = [_model(d) for d in docs]
    if select is not None:
        keep = {"$id", "$createdAt", "$updatedAt", *select}
        users = [{k: v for k, v in u.items() if k in keep} for u in users]
    return {"total": total, "users": users}


@handles("usersGet")
def get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return _model(_load(conn, ctx.project, p["userId"]))


@handles("usersDelete")
def delete(ctx: Ctx, p: dict[str, Any]) -> None:
    with ctx.store.tx() as conn:
        doc = _load(conn, ctx.project, p["userId"])
        meta_delete(conn, ctx.project, KIND, PARENT, doc["$id"])
    ctx.emit(f"users.{doc['$id']}.delete", _model(doc))


@handles("usersGetPrefs")
def get_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return dict(_load(conn, ctx.project, p["userId"]).get("prefs") or {})


# --- updates ---------------------------------------------------------------------------------------


def _update(ctx: Ctx, user_id: str, action: str, change: Callable[[sqlite3.Connection, Doc], None]) -> Doc:
    """Load, change and save one user in one transaction, then emit ``users.ID.update.<action>``."""
    with ctx.store.tx() as conn:
        doc = _load(conn, ctx.project, user_id)
        change(conn, doc)
        meta_save(conn, ctx.project, KIND, PARENT, doc)
    ctx.emit(f"users.{doc['$id']}.update.{action}", _model(doc))
    return doc


def _setter(**values: Any) -> Callable[[sqlite3.Connection, Doc], None]:
    def change(conn: sqlite3.Connection, doc: Doc) -> None:
        doc.update(values)

    return change


@handles("usersUpdateName")
def update_name(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _model(_update(ctx, p["userId"], "name", _setter(name=_name(p["name"]))))


@handles("usersUpdateStatus")
def update_status(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _model(_update(ctx, p["userId"], "status", _setter(status=bool(p["status"]))))


@handles("usersUpdateLabels")
def update_labels(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _model(_update(ctx, p["userId"], "labels", _setter(labels=_labels(p["labels"]))))


@handles("usersUpdateEmailVerification")
def update_email_verification(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    change = _setter(emailVerification=bool(p["emailVerification"]))
    return _model(_update(ctx, p["userId"], "verification", change))


@handles("usersUpdatePhoneVerification")
def update_phone_verification(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    change = _setter(phoneVerification=bool(p["phoneVerification"]))
    return _model(_update(ctx, p["userId"], "verification", change))


@handles("usersUpdateMfa")
def update_mfa(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _model(_update(ctx, p["userId"], "mfa", _setter(mfa=bool(p["mfa"]))))


@handles("usersUpdateEmail")
def update_email(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """An empty email removes it; a new one is unverified again."""
    email = _email(p["email"]) if p["email"] else None

    def change(conn: sqlite3.Connection, doc: Doc) -> None:
        if email:
            _check_email_free(conn, ctx.project, email, doc["$id"])
        _set_target(doc, "email", doc.get("email"), email)
        doc.update(email=email, emailVerification=False)

    return _model(_update(ctx, p["userId"], "email", change))


@handles("usersUpdatePhone")
def update_phone(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """An empty number removes it; a new one is unverified again."""
    phone = _phone(p["number"], "number") if p["number"] else None

    def change(conn: sqlite3.Connection, doc: Doc) -> None:
        if phone:
            _check_phone_free(conn, ctx.project, phone, doc["$id"])
        _set_target(doc, "sms", doc.get("phone"), phone)
        doc.update(phone=phone, phoneVerification=False)

    return _model(_update(ctx, p["userId"], "phone", change))


@handles("usersUpdatePassword")
def update_password(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """An empty password removes it (the user can then only sign in another way)."""
    password = p["password"]
    if password:
        stored, options = hash_password(_password(password))
        change = _setter(password=stored, hash="scrypt", hashOptions=options, passwordUpdate=now_iso())
    else:
        change = _setter(password=None, passwordUpdate=now_iso())
    return _model(_update(ctx, p["userId"], "password", change))


@handles("usersUpdatePrefs")
def update_prefs(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Replaces the whole prefs object; the response is the prefs, the event payload the user."""
    prefs = _prefs(p["prefs"])
    _update(ctx, p["userId"], "prefs", _setter(prefs=prefs))
    return dict(prefs)
