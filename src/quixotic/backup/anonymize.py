"""Deterministic anonymization for ``env clone --anonymize``: the same input always gives the same output.

Deterministic so that a clone made twice is the same clone, and so that an email in a user and the same
email in a row (an ``email`` column) still match after both are replaced. Values are keyed HMACs
(SHA-256) of the original, with a key derived from the source project id and an optional salt
(``QUIXOTIC_ANONYMIZE_SALT``): without the salt this is pseudonymization, not secrecy. Phone numbers and
password hashes are dropped (the users can still be signed in by a developer setting a password).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from quixotic.config.resources import Table


class Anonymizer:
    def __init__(self, project_id: str, salt: str = "") -> None:
        self._key = hashlib.sha256(f"quixotic-anonymize/{project_id}/{salt}".encode()).digest()

    def _token(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]

    def email(self, value: str) -> str:
        if not value:
            return value
        return f"user-{self._token('email', value.strip().lower())}@example.com"

    def name(self, value: str) -> str:
        return f"User {self._token('name', value)[:8]}" if value else value

    def user(self, user: dict[str, Any]) -> dict[str, Any]:
        out = dict(user)
        out["email"] = self.email(str(user.get("email") or ""))
        out["name"] = self.name(str(user.get("name") or ""))
        out["phone"] = ""
        out["phoneVerification"] = False
        out["password"] = None
        out["targets"] = []
        return out

    def row(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the values of its ``email`` columns replaced (arrays item by item)."""
        columns = [c.key for c in table.columns if c.format == "email"]
        if not columns:
            return row
        out = dict(row)
        for key in columns:
            value = out.get(key)
            if isinstance(value, str):
                out[key] = self.email(value)
            elif isinstance(value, list):
                out[key] = [self.email(v) if isinstance(v, str) else v for v in value]
        return out
