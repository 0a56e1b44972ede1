"""What the QuixoticWhisper functions share: their error envelope, their SDK client, Appwrite error codes.

``quixotic deploy`` adds this folder's files to every function's archive (``src/function_kit.py`` beside each
entrypoint), so a function imports it relatively: ``from .function_kit import Failure, serve, server_client``.

Every function answers a health check on GET, HEAD and OPTIONS, ``{"ok": true, ...}`` when its work succeeds,
and ``{"ok": false, "error": {"code", "message"}}`` when it fails: a :class:`Failure` with its own status, or
``internal_error`` (500, the traceback in the execution's error log) for anything unexpected.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException


class Failure(Exception):
    """An error answered to the caller with ``status`` and a stable ``code``."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def serve(context: Any, name: str, work: Callable[[Any], dict[str, Any]]) -> Any:
    """Answer the request of ``context``: a health check, the JSON ``work(context)`` returns, or the envelope."""
    try:
        if context.req.method in ("GET", "HEAD", "OPTIONS"):
            return context.res.json({"ok": True, "function": name})
        return context.res.json(work(context))
    except Failure as exc:
        context.log(f"{exc.code}: {exc.message}")
        return context.res.json({"ok": False, "error": {"code": exc.code, "message": exc.message}}, exc.status)
    except Exception as exc:
        context.error(traceback.format_exc())
        error = {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"[:500]}
        return context.res.json({"ok": False, "error": error}, 500)


def server_client(context: Any) -> Client:
    """An SDK client of this project with the execution's own API key (the function's scopes)."""
    return (
        Client()
        .set_endpoint(os.environ["APPWRITE_FUNCTION_API_ENDPOINT"])
        .set_project(os.environ["APPWRITE_FUNCTION_PROJECT_ID"])
        .set_key(context.req.headers.get("x-appwrite-key", ""))
    )


def json_body(context: Any, example: str) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body); ``example`` shows the caller what to send."""
    text = context.req.body_text or ""
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise Failure("bad_request", f"the body must be JSON, e.g. {example}", 400) from exc
    if not isinstance(body, dict):
        raise Failure("bad_request", f"the body must be a JSON object, e.g. {example}", 400)
    return body


def env_number(name: str, default: float, *, zero_allowed: bool) -> float:
    """The function variable ``name`` as a number (``default`` when unset); a wrong one is ``misconfigured``."""
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError as exc:
        raise Failure("misconfigured", f"{name}={raw!r} is not a number", 500) from exc
    if value < 0 or (value == 0 and not zero_allowed):
        raise Failure(
            "misconfigured", f"{name}={raw!r} must {'not be negative' if zero_allowed else 'be above 0'}", 500
        )
    return value


def code_of(exc: AppwriteException) -> int:
    """The HTTP status of an SDK error (0 when it has none, as for a network error)."""
    try:
        return int(getattr(exc, "code", 0) or 0)
    except (TypeError, ValueError):
        return 0
