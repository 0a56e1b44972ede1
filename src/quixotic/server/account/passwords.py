"""Passwords of the account service: Argon2id for new ones (as Appwrite hashes them), and a verifier for
every layout a user may carry (users created here, by the Users API, or imported with another hash).

Appwrite's defaults are Argon2id with 64 MiB of memory, 4 passes and 3 lanes, stored as the PHC string
(``$argon2id$v=19$m=65536,t=4,p=3$...``) with ``hash: "argon2"``. Users created by the Users API are
hashed with scrypt (``users.model``); Appwrite re-hashes such a password with Argon2 when its owner
signs in, and so does :func:`quixotic.server.account.handlers` (``needs_rehash``).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from quixotic.errors import ApiError

ALGORITHM: Final = "argon2"
OPTIONS: Final[dict[str, int]] = {"memoryCost": 65536, "timeCost": 4, "threads": 3}
_HASHER: Final = PasswordHasher(
    time_cost=OPTIONS["timeCost"], memory_cost=OPTIONS["memoryCost"], parallelism=OPTIONS["threads"]
)
_SHA: Final[dict[str, str]] = {"sha512/224": "sha512_224", "sha512/256": "sha512_256"}


def hash_password(password: str) -> tuple[str, str, dict[str, Any]]:
    """``(stored hash, algorithm, hashOptions)`` of a new password."""
    return _HASHER.hash(password), ALGORITHM, {"type": ALGORITHM, **OPTIONS}


def default_options() -> dict[str, Any]:
    """What a user without a password reports: the algorithm a new password would get."""
    return {"type": ALGORITHM, **OPTIONS}


def verify(password: str, stored: str | None, algorithm: str | None, options: dict[str, Any] | None) -> bool:
    """Whether ``password`` matches a stored hash of ``algorithm`` (Appwrite's ``hash`` field)."""
    if not stored:
        return False
    opts = options or {}
    if algorithm == "argon2":
        try:
            return _HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    if algorithm == "scrypt":
        try:
            derived = hashlib.scrypt(
                password.encode(),
                salt=str(opts.get("salt", "")).encode(),
                n=int(opts["costCpu"]),
                r=int(opts["costMemory"]),
                p=int(opts["costParallel"]),
                dklen=int(opts["length"]),
                maxmem=512 * 1024 * 1024,
            )
        except (KeyError, ValueError, TypeError):
            return False
        return hmac.compare_digest(derived.hex(), stored.lower())
    if algorithm == "md5":
        return hmac.compare_digest(hashlib.md5(password.encode()).hexdigest(), stored.lower())
    if algorithm == "sha":
        version = str(opts.get("version") or "sha3-512")
        name = _SHA.get(version, version.replace("-", "_"))
        try:
            digest = hashlib.new(name, password.encode()).hexdigest()
        except ValueError:
            return False
        return hmac.compare_digest(digest, stored.lower())
    raise ApiError(
        "general_not_implemented",
        f"This user's password is stored as a '{algorithm}' hash, which the quixotic local server cannot check "
        "yet: set a new password with the Users API (users.update_password), then sign in.",
    )


def needs_rehash(algorithm: str | None) -> bool:
    """Appwrite re-hashes a password with its own algorithm when the user signs in with another one."""
    return algorithm != ALGORITHM
