"""Users in and out of an archive: kept with their password hashes, recreated through the import routes.

The Users API returns a user's password *hash* and its algorithm's options to API keys, and Appwrite can
create a user from such a hash (argon2, bcrypt, md5, phpass, sha, scrypt, scrypt-modified), so users
survive a restore able to sign in with the same password. What the API cannot set is kept in the archive
but not restored: ``$createdAt``/``registration``, sessions, identities and the email/phone targets'
own ids (Appwrite makes new ones for the restored email and phone).
"""

from __future__ import annotations

from typing import Any, Final

from quixotic.errors import BackupError, NotFound
from quixotic.sdk.boundary import Service, call, doing_step
from quixotic.sdk.values import PasswordHash

# The fields a restore sets and diff-data compares.
USER_FIELDS: Final = (
    "email",
    "phone",
    "name",
    "password",
    "hash",
    "status",
    "labels",
    "emailVerification",
    "phoneVerification",
    "mfa",
    "prefs",
)


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    """What makes two users the same user (no timestamps, no targets, no sessions)."""
    view = {k: user.get(k) for k in USER_FIELDS}
    view["$id"] = user.get("$id")
    view["labels"] = sorted(view["labels"] or [])
    view["prefs"] = dict(view["prefs"] or {})
    view["email"] = view["email"] or ""
    view["phone"] = view["phone"] or ""
    view["name"] = view["name"] or ""
    if not view["password"]:
        view["password"] = None
        view["hash"] = None
    return view


def restore_user(users: Service, user: dict[str, Any]) -> str:
    """Make the live user ``user['$id']`` equal to the archived one: "created", "replaced" or "kept"."""
    user_id = str(user["$id"])
    live: dict[str, Any] | None
    try:
        live = dict(call(f"reading user {user_id}", users.get, user_id))
    except NotFound:
        live = None
    if live is not None:
        if user_view(live) == user_view(user):
            return "kept"
        try:
            call(f"replacing user {user_id}", users.delete, user_id)
        except NotFound:
            pass
    phone_set = _create(users, user)
    _settings(users, user, phone=not phone_set)
    return "created" if live is None else "replaced"


def _create(users: Service, user: dict[str, Any]) -> bool:
    """Create the user from its hash; True when the phone was set with it."""
    user_id = str(user["$id"])
    email = str(user.get("email") or "") or None
    phone = str(user.get("phone") or "") or None
    name = str(user.get("name") or "") or None
    password = str(user.get("password") or "") or None
    kind = str(user.get("hash") or "")
    options = dict(user.get("hashOptions") or {})
    try:
        return _import(users, user_id, email, phone, name, password, kind, options)
    except KeyError as exc:
        raise BackupError(f"user {user_id}: the {kind} hash options lack {exc}; the archive was edited") from exc


def _import(
    users: Service, user_id: str, email: str | None, phone: str | None, name: str | None, password: str | None,
    kind: str, options: dict[str, Any],
) -> bool:  # fmt: skip
    """One create call, by the hash's kind; True when the phone was set with it."""
    with doing_step(f"restoring user {user_id}"):
        if password is None:
            users.create(user_id, email, phone, None, name)
            return True
        if email is None:
            raise BackupError(
                f"user {user_id} has a password hash but no email; Appwrite imports hashed passwords only with an "
                "email, so this user cannot be restored as it was"
            )
        elif kind == "argon2":
            users.create_argon2_user(user_id, email, password, name)
        elif kind == "bcrypt":
            users.create_bcrypt_user(user_id, email, password, name)
        elif kind == "md5":
            users.create_md5_user(user_id, email, password, name)
        elif kind == "phpass":
            users.create_ph_pass_user(user_id, email, password, name)
        elif kind == "sha":
            version = options.get("version")
            users.create_sha_user(user_id, email, password, PasswordHash(version) if version else None, name)
        elif kind == "scrypt":
            users.create_scrypt_user(
                user_id, email, password, str(options["salt"]), options["costCpu"], options["costMemory"],
                options["costParallel"], options["length"], name,
            )  # fmt: skip
        elif kind == "scryptMod":
            users.create_scrypt_modified_user(
                user_id, email, password, str(options["salt"]), str(options["saltSeparator"]),
                str(options["signerKey"]), name,
            )  # fmt: skip
        else:
            raise BackupError(f"user {user_id}: password hash {kind!r} cannot be imported into Appwrite")
    return False


def _settings(users: Service, user: dict[str, Any], *, phone: bool) -> None:
    """What creation cannot set: phone, status, labels, verification, MFA, prefs (only where not default)."""
    user_id = str(user["$id"])
    steps: list[tuple[str, Any]] = []
    if phone and user.get("phone"):
        steps.append(("phone", lambda: users.update_phone(user_id, user["phone"])))
    if user.get("status") is False:
        steps.append(("status", lambda: users.update_status(user_id, False)))
    if user.get("labels"):
        steps.append(("labels", lambda: users.update_labels(user_id, list(user["labels"]))))
    if user.get("emailVerification"):
        steps.append(("email verification", lambda: users.update_email_verification(user_id, True)))
    if user.get("phoneVerification"):
        steps.append(("phone verification", lambda: users.update_phone_verification(user_id, True)))
    if user.get("mfa"):
        steps.append(("MFA", lambda: users.update_mfa(user_id, True)))
    if user.get("prefs"):
        steps.append(("prefs", lambda: users.update_prefs(user_id, dict(user["prefs"]))))
    for what, step in steps:
        call(f"restoring the {what} of user {user_id}", step)
