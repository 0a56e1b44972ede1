"""Sealing secret variable values in an archive with a passphrase the user supplies.

AES-256-GCM with a key derived by scrypt (N=2^15, r=8, p=1, a random 16-byte salt per archive). Each
value has its own random 96-bit nonce and is bound to its ``scope/key`` as associated data, so a sealed
value cannot be moved to another variable unnoticed. ``check`` seals a known text: a wrong passphrase is
reported as such before anything is restored.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quixotic.errors import BackupError

CIPHER: Final = "AES-256-GCM"
KDF: Final = "scrypt"
N: Final = 1 << 15
R: Final = 8
P: Final = 1
_CHECK_TEXT: Final = "quixotic-backup"
_CHECK_CONTEXT: Final = "check"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise BackupError(f"{what} is missing from the archive's encryption settings: the archive was edited")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise BackupError(f"{what} in the archive is not base64: the archive was edited") from exc


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


class Sealer:
    """Seals and opens values with one derived key."""

    def __init__(self, passphrase: str, salt: bytes, n: int = N, r: int = R, p: int = P) -> None:
        if not passphrase:
            raise BackupError("the passphrase for secret values is empty: give a non-empty one")
        self.salt, self.n, self.r, self.p = salt, n, r, p
        self._aead = AESGCM(_derive(passphrase, salt, n, r, p))

    @classmethod
    def new(cls, passphrase: str) -> Sealer:
        return cls(passphrase, os.urandom(16))

    @classmethod
    def from_settings(cls, settings: dict[str, Any], passphrase: str) -> Sealer:
        """The sealer of an archive; :class:`BackupError` for a wrong passphrase or unknown settings."""
        if settings.get("cipher") != CIPHER or settings.get("kdf") != KDF:
            raise BackupError(
                f"the archive's secrets use {settings.get('cipher')}/{settings.get('kdf')}, this quixotic reads "
                f"{CIPHER}/{KDF}"
            )
        try:
            n, r, p = int(settings["n"]), int(settings["r"]), int(settings["p"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError("the archive's scrypt settings are invalid: the archive was edited") from exc
        sealer = cls(passphrase, _unb64(settings.get("salt"), "the salt"), n, r, p)
        check = settings.get("check")
        if not isinstance(check, dict) or sealer.open(check, _CHECK_CONTEXT, quiet=True) != _CHECK_TEXT:
            raise BackupError(
                "wrong passphrase for the archive's secret values (or its encryption settings were edited)"
            )
        return sealer

    def settings(self) -> dict[str, Any]:
        """What the manifest records to derive the key again (never the key)."""
        return {
            "cipher": CIPHER,
            "kdf": KDF,
            "salt": _b64(self.salt),
            "n": self.n,
            "r": self.r,
            "p": self.p,
            "check": self.seal(_CHECK_TEXT, _CHECK_CONTEXT),
        }

    def seal(self, value: str, context: str) -> dict[str, str]:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return {"nonce": _b64(nonce), "ciphertext": _b64(sealed)}

    def open(self, box: dict[str, Any], context: str, *, quiet: bool = False) -> str | None:
        """The value sealed in ``box`` for ``context``; a tampered box raises (or is None when ``quiet``)."""
        nonce = _unb64(box.get("nonce"), f"the nonce of {context}")
        sealed = _unb64(box.get("ciphertext"), f"the ciphertext of {context}")
        try:
            return self._aead.decrypt(nonce, sealed, context.encode()).decode()
        except (InvalidTag, ValueError, UnicodeDecodeError) as exc:
            if quiet:
                return None
            raise BackupError(f"the sealed value of {context} does not open: the archive was edited") from exc
