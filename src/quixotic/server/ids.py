"""Appwrite's ID rules: ``a-zA-Z0-9._-``, not starting with a special character, at most 36 characters;
``unique()`` asks the server to generate one (13 hex characters of time plus 7 random ones)."""

from __future__ import annotations

import re
import secrets
import time

from quixotic.errors import ApiError

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,35}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9$][A-Za-z0-9._\-]{0,35}$")


def new_id() -> str:
    """A new unique ID shaped like Appwrite's ``ID.unique()`` (sortable by creation time)."""
    micros = time.time_ns() // 1000
    return f"{micros // 1_000_000:08x}{micros % 1_000_000:05x}{secrets.token_hex(4)[:7]}"


def validate_id(value: str, param: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):  # `$` would take a trailing newline
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `{param}` param: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, "
            "0-9, period, hyphen, and underscore. Can't start with a special char",
        )
    return value


def custom_id(value: str, param: str) -> str:
    """Resolve a custom-ID parameter: ``unique()`` becomes a fresh ID, anything else must be valid."""
    if value == "unique()":
        return new_id()
    return validate_id(value, param)


def validate_key(value: str, param: str = "key") -> str:
    """Column and index keys follow the ID rules."""
    if not isinstance(value, str) or not _KEY_RE.fullmatch(value) or value.startswith("$"):
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `{param}` param: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, "
            "0-9, period, hyphen, and underscore. Can't start with a special char",
        )
    return value
