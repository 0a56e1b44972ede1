"""The table of handlers by operation ID, filled by each service's ``handlers`` module as it is imported.

A handler takes ``(ctx, params)`` (``params`` already typed from the spec) and returns a JSON value,
``None`` (204), a :class:`Reply` for other bodies, or an :class:`Encoded` JSON answer; it raises
:class:`quixotic.errors.ApiError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quixotic.server.context import Ctx

Handler = Callable[["Ctx", dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}


@dataclass
class Reply:
    """A response other than the operation's JSON model at its default status."""

    body: Any = None  # JSON value, bytes, or None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None
    path: str | None = None  # stream this file as the body instead of ``body`` (large downloads)
    cookies: list[str] = field(default_factory=list)  # ``Set-Cookie`` values, one header each


@dataclass(frozen=True)
class Encoded:
    """A JSON answer already encoded, byte for byte as ``validation.encode`` writes it, sent as it is at the
    operation's status: what a handler returns when it has the answer's JSON text without decoding it (a row
    list built by SQLite). No response format filter applies to it: a handler returns one only where none would
    change the answer."""

    body: bytes


def handles(*operation_ids: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for op_id in operation_ids:
            HANDLERS[op_id] = fn
        return fn

    return register


def load_all() -> dict[str, Handler]:
    """Import every service's handlers so that they register; the table returned has the client routes behind
    Appwrite's abuse limits (``account.abuse``)."""
    from quixotic.server import health  # noqa: F401
    from quixotic.server.account import (
        abuse,
        user_sessions,  # noqa: F401  (the Users API's session routes)
    )
    from quixotic.server.account import handlers as account  # noqa: F401
    from quixotic.server.console import handlers as console  # noqa: F401
    from quixotic.server.databases import handlers as databases  # noqa: F401
    from quixotic.server.databases import rows_handlers  # noqa: F401  (and transactions, which it imports)
    from quixotic.server.functions import handlers as functions  # noqa: F401
    from quixotic.server.storage import handlers as storage  # noqa: F401
    from quixotic.server.teams import handlers as teams  # noqa: F401
    from quixotic.server.users import handlers as users  # noqa: F401

    return abuse.guarded(HANDLERS)
