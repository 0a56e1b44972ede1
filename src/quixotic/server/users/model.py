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
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import validation
from quixotic.server.clock import now_iso
from quixotic.server.ids import new_id
from quixotic.server.queries import Field
from quixotic.server.store import Doc, meta_get, meta_insert
from quixotic.server.validation import invalid

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
SEARCH_EXPR: Final = (
    "(_uid || ' ' || coalesce(json_extract(data, '$.email'), '') || ' ' || "
    "coalesce(json_extract(data, '$.phone'), '') || ' ' || coalesce(json_extract(data, '$.name'), ''))"
)

MAX_NAME: Final = validation.TEXT_LIMITS["name"]
MAX_SEARCH: Final = validation.TEXT_LIMITS["search"]
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = validation.TEXT_LIMITS["password"]
MAX_EMAIL: Final = 254
MAX_LABELS: Final = validation.ARRAY_LIMITS["labels"]
MAX_LABEL: Final = 36  # the 1.8.1 spec: "each up to 36 alphanumeric characters long"
MAX_PREFS: Final = validation.MAX_ASSOC  # bytes of the prefs JSON, as Appwrite's Assoc validator allows

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


def check_email(value: str, param: str = "email") -> str:
    """Appwrite lower-cases emails before storing and comparing them."""
    if len(value) > MAX_EMAIL or not _EMAIL_RE.fullmatch(value):
        raise invalid(param, "Value must be a valid email address")
    return value.lower()


def check_phone(value: str, param: str = "phone") -> str:
    if not _PHONE_RE.fullmatch(value):
        raise invalid(
            param,
            "Phone number must start with a '+' and a country code and can have a maximum of fifteen "
            "digits, e.g. +16175551212.",
        )
    return value


def check_password(value: str, param: str = "password") -> str:
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise invalid(param, f"Password must be between {MIN_PASSWORD} and {MAX_PASSWORD} characters long.")
    return value


def check_name(value: str | None) -> str:
    name = value or ""
    if len(name) > MAX_NAME:
        raise invalid("name", f"Value must be a valid string and no longer than {MAX_NAME} chars")
    return name


def check_labels(values: list[Any]) -> list[str]:
    """Appwrite replaces the labels with the given ones, keeping the first of any repeats."""
    if len(values) > MAX_LABELS or not all(isinstance(v, str) and _LABEL_RE.fullmatch(v) for v in values):
        raise invalid(
            "labels",
            f"Value must a valid array no longer than {MAX_LABELS} items and each label must be 1 to "
            f"{MAX_LABEL} alphanumeric characters (a-z, A-Z, 0-9)",
        )
    return list(dict.fromkeys(values))


def check_prefs(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and not value:  # PHP cannot tell {} from []: both mean no prefs
        value = {}
    if not isinstance(value, dict):
        raise invalid("prefs", "Value must be a valid object")
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_PREFS:
        raise invalid("prefs", f"Value must be a valid object no larger than {MAX_PREFS} bytes of JSON")
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


def default_hash_options() -> dict[str, Any]:
    """What a user without a password reports: the algorithm a new password would get."""
    return {"type": "scrypt", **SCRYPT_OPTIONS}


# --- records ---------------------------------------------------------------------------------------


def not_found() -> ApiError:
    return ApiError("user_not_found", "User with the requested ID could not be found.")


def load(conn: sqlite3.Connection, project: str, user_id: str) -> Doc:
    doc = meta_get(conn, project, KIND, PARENT, user_id)
    if doc is None:
        raise not_found()
    return doc


def taken(conn: sqlite3.Connection, project: str, field: str, value: str, own_id: str | None) -> bool:
    """True when another user of the project already has ``value`` as ``field`` (email or phone)."""
    row = conn.execute(
        f"SELECT 1 FROM meta WHERE project=? AND kind=? AND parent=? AND json_extract(data, '$.{field}')=?"
        " AND _uid IS NOT ? LIMIT 1",
        (project, KIND, PARENT, value, own_id),
    ).fetchone()
    return row is not None


def find_by(conn: sqlite3.Connection, project: str, field: str, value: str) -> Doc | None:
    """The project's user whose ``field`` (email, stored lower-cased, or phone) is ``value``."""
    row = conn.execute(
        f"SELECT _uid FROM meta WHERE project=? AND kind=? AND parent=? AND json_extract(data, '$.{field}')=? LIMIT 1",
        (project, KIND, PARENT, value),
    ).fetchone()
    return meta_get(conn, project, KIND, PARENT, row[0]) if row else None


def check_email_free(conn: sqlite3.Connection, project: str, email: str, own_id: str | None) -> None:
    if taken(conn, project, "email", email, own_id):
        raise ApiError("user_email_already_exists", "A user with the same email already exists in the current project.")


def check_phone_free(conn: sqlite3.Connection, project: str, phone: str, own_id: str | None) -> None:
    if taken(conn, project, "phone", phone, own_id):
        raise ApiError(
            "user_phone_already_exists",
            "A user with the same phone number already exists in the current project.",
        )


def set_target(doc: Doc, provider_type: str, old: str | None, new: str | None) -> None:
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


def model(doc: Doc) -> dict[str, Any]:
    """The user model (newest format); unset strings are ``""`` and the password is the hash (key callers only)."""
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
        "impersonator": bool(doc.get("impersonator")),  # 1.9; formats drops both below 1.9.0
        "impersonatorUserId": None,  # set on the account an impersonator acts as (account handlers)
        "passwordPwned": False,  # 2.5.0 (formats drops it below): the local server checks no breach lists
    }


# The stored password (or None), the algorithm's name and its options.
Hashed = tuple[str | None, str, dict[str, Any]]


def insert(conn: sqlite3.Connection, project: str, user_id: str, data: dict[str, Any]) -> Doc:
    """Insert a new user after the conflict checks; its email and phone get messaging targets."""
    exists = ApiError("user_already_exists", "A user with the same id, email, or phone already exists in this project.")
    if meta_get(conn, project, KIND, PARENT, user_id) is not None:
        raise exists
    # One error for all three on create, as Appwrite (updates name the field: check_*_free).
    if data.get("email") and taken(conn, project, "email", data["email"], None):
        raise exists
    if data.get("phone") and taken(conn, project, "phone", data["phone"], None):
        raise exists
    draft: Doc = {"$id": user_id, **data}
    set_target(draft, "email", None, data.get("email"))
    set_target(draft, "sms", None, data.get("phone"))
    data["targets"] = draft["targets"]
    permissions = ['read("any")', f'update("user:{user_id}")', f'delete("user:{user_id}")']
    return meta_insert(conn, project, KIND, PARENT, user_id, data, permissions, conflict=exists)
