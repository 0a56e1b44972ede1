"""One synchronous execution of a function, timed and decoded: what smoke checks, parity and bench send."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from quixotic.config.checks_file import Request
from quixotic.errors import ApiError
from quixotic.sdk.boundary import call
from quixotic.sdk.values import ExecutionMethod
from quixotic.target import Target


@dataclass(frozen=True)
class Executed:
    """An execution's outcome: HTTP status (0 when it did not run), decoded JSON body (None if not JSON),
    client-side latency, Appwrite's own ``duration`` (s) and the error text if any."""

    status: int
    json: Any
    ms: float
    duration: float = 0.0
    error: str = ""
    ok: bool = True


def execute(target: Target, function_id: str, request: Request) -> Executed:
    started = time.perf_counter()
    try:
        result = call(
            f"executing {function_id}", target.backend.functions.create_execution, function_id, request.body, False,
            request.path, ExecutionMethod(request.method), dict(request.headers),
        )  # fmt: skip
    except ApiError as exc:
        return Executed(0, None, (time.perf_counter() - started) * 1000, error=exc.message, ok=False)
    ms = (time.perf_counter() - started) * 1000
    raw = str(result.get("responseBody") or "")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    status = int(result.get("responseStatusCode") or 0)
    error = str(result.get("errors") or "").strip().splitlines()[-1:] or [""]
    ok = result.get("status") == "completed" and 0 < status < 500
    return Executed(status, body, ms, float(result.get("duration") or 0.0), error[0], ok)
