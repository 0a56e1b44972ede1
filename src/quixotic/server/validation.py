"""Parameter checks shared by every service: one error shape and one permission grammar.

Permissions are ``ACTION("ROLE")`` strings as the SDK's ``Permission`` and ``Role`` helpers write them.
``write`` is an alias that Appwrite expands when it stores permissions (utopia's ``Permission::aggregate``):
into whichever of ``create``, ``update`` and ``delete`` the resource allows, so ``write("users")`` on a row
or a file becomes ``update("users")`` + ``delete("users")``, and on a table, collection or bucket also
``create("users")``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from quixotic.errors import ApiError

MAX_PERMISSIONS: Final = 100  # APP_LIMIT_ARRAY_PARAMS_SIZE

# What each kind of resource may grant; ``write`` is accepted by all and expanded within these.
ITEM_ACTIONS: Final = ("read", "update", "delete")  # rows, documents, files
CONTAINER_ACTIONS: Final = ("create", "read", "update", "delete")  # tables, collections, buckets
_WRITE_EXPANDS_TO: Final = ("create", "update", "delete")

ID_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,35}"
_PERMISSION_RE: Final = re.compile(r'^(read|create|update|delete|write)\("([^"]*)"\)$')
_ROLE_RE: Final = re.compile(
    rf"^(any|guests|users(/(verified|unverified))?|user:{ID_PATTERN}(/(verified|unverified))?"
    rf"|team:{ID_PATTERN}(/{ID_PATTERN})?|member:{ID_PATTERN}|label:[A-Za-z0-9]{{1,36}})$"
)


def invalid(name: str, why: str) -> ApiError:
    """Appwrite's error for a parameter its validator rejects."""
    return ApiError("general_argument_invalid", f"Invalid `{name}` param: {why}")


def permissions(value: Sequence[str] | None, actions: Sequence[str]) -> list[str] | None:
    """Check permission strings and store them as Appwrite does: ``write`` expanded, repeats dropped, in order.

    ``None`` (not given) stays ``None`` so that updates can tell "keep" from "clear".
    """
    if value is None:
        return None
    allowed = (*actions, "write")
    if len(value) > MAX_PERMISSIONS:
        raise invalid("permissions", f"Value must a valid array no longer than {MAX_PERMISSIONS} items")
    out: list[str] = []
    for text in value:
        m = _PERMISSION_RE.match(text) if isinstance(text, str) else None
        if m is None:
            raise invalid(
                "permissions",
                f'Permission "{text}" is invalid: expected ACTION("ROLE"), e.g. read("any"); '
                "use the SDK's Permission and Role helpers.",
            )
        action, role = m.groups()
        if action not in allowed:
            raise invalid("permissions", f'Permission "{action}" is not allowed. Must be one of: {", ".join(allowed)}.')
        if not _ROLE_RE.match(role):
            raise invalid("permissions", f'Role "{role}" is not valid in permission "{text}".')
        granted = [a for a in _WRITE_EXPANDS_TO if a in actions] if action == "write" else [action]
        for name in granted:
            perm = f'{name}("{role}")'
            if perm not in out:
                out.append(perm)
    return out


def text(value: str | None, name: str, limit: int) -> str | None:
    """A string parameter of at most ``limit`` characters (``None``: not given)."""
    if value is not None and len(value) > limit:
        raise invalid(name, f"Value must be a valid string and at most {limit} chars")
    return value
