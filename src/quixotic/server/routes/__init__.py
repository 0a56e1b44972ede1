"""Handlers of the local server, one module per Appwrite service, registered by operation ID.

A handler takes ``(ctx, params)`` (``params`` already typed from the spec) and returns a JSON value,
``None`` (204), or a :class:`Reply` for other bodies; it raises :class:`quixotic.errors.ApiError`.
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


def handles(*operation_ids: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for op_id in operation_ids:
            HANDLERS[op_id] = fn
        return fn

    return register


def load_all() -> dict[str, Handler]:
    """Import every service module so that its handlers register."""
    from quixotic.server.routes import databases, functions, health, rows, storage, users  # noqa: F401

    return HANDLERS
