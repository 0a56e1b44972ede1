"""Appwrite's abuse limits on client routes: so many calls per window, per key template (``url:{url},ip:{ip}``).

The numbers and templates are the ``x-appwrite`` ``rate-limit``/``rate-time``/``rate-key`` of Appwrite 1.8.1's
spec for the routes served here (:data:`LIMITS`). As ``app/controllers/shared/api.php`` does, each template is
counted in fixed windows aligned on multiples of its length, the response carries ``X-RateLimit-Limit``,
``-Remaining`` (before this call) and ``-Reset`` (the window's end, unix seconds) of the template with the
least left, and a call over the limit answers ``429 general_rate_limit_exceeded``. Key callers get the
headers but are never counted or refused, and nobody is when abuse limits are off
(``_APP_OPTIONS_ABUSE=disabled``). A route with ``reset`` forgets its counts once it answers that status (a
successful sign-in clears the failed ones).

Counts live in this process's memory, per project, as Appwrite's live in its cache: a restart forgets them.
The IP is the first address of ``X-Forwarded-For`` (Appwrite's default trusted header).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from quixotic.server.registry import Handler, Reply

if TYPE_CHECKING:
    from quixotic.server.context import Ctx


@dataclass(frozen=True)
class Limit:
    """``count`` calls per ``seconds`` for each of ``keys`` (templates); ``reset``: the status that clears them."""

    count: int
    seconds: int
    keys: tuple[str, ...] = ("url:{url},ip:{ip}",)
    reset: int | None = None


LIMITS: Final[dict[str, Limit]] = {
    "accountCreate": Limit(10, 3600),
    "accountCreateAnonymousSession": Limit(50, 3600, ("ip:{ip}",)),
    "accountCreateEmailPasswordSession": Limit(10, 3600, ("url:{url},email:{param-email}",), reset=201),
    "accountCreateJWT": Limit(120, 60, ("url:{url},userId:{userId}",)),
    "accountUpdatePassword": Limit(10, 3600),
    "accountDeleteSession": Limit(100, 3600),
    "accountDeleteSessions": Limit(100, 3600),
    "accountCreateRecovery": Limit(10, 3600, ("url:{url},email:{param-email}", "url:{url},ip:{ip}")),
    "accountUpdateRecovery": Limit(10, 3600, ("url:{url},userId:{param-userId}",)),
    "teamsCreateMembership": Limit(10, 3600),
}
_PRUNE_EVERY: Final = 1024  # hits between two sweeps of expired windows


class Counter:
    """Hits per (project, key, window start), thread-safe; old windows are swept now and then."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()
        self._since_prune = 0

    def count(self, project: str, key: str, window: int) -> int:
        with self._lock:
            return self._hits.get((project, key, window), 0)

    def hit(self, project: str, key: str, window: int, seconds: int) -> None:
        with self._lock:
            self._hits[(project, key, window)] = self._hits.get((project, key, window), 0) + 1
            self._since_prune += 1
            if self._since_prune >= _PRUNE_EVERY:
                self._since_prune = 0
                oldest = int(time.time()) - 2 * 86_400 - seconds
                for stale in [k for k in self._hits if k[2] < oldest]:
                    del self._hits[stale]

    def reset(self, project: str, key: str, window: int) -> None:
        with self._lock:
            self._hits.pop((project, key, window), None)


COUNTER: Final = Counter()


def client_ip(headers: Mapping[str, str]) -> str:
    """The first address of ``X-Forwarded-For``; without one, every client shares one count (the handler does not
    see the peer's address)."""
    return headers.get("x-forwarded-for", "").split(",")[0].strip()


def expand(template: str, ctx: Ctx, params: Mapping[str, Any]) -> str:
    """The key of one template for this request (``{param-X}`` is the request's parameter X)."""
    values = {
        "{url}": ctx.host + "/v1" + ctx.op.path,
        "{ip}": client_ip(ctx.headers),
        "{userId}": ctx.caller.user_id or "",
        "{method}": ctx.op.method,
        "{projectId}": ctx.project,
        "{userAgent}": ctx.headers.get("user-agent", ""),
    }
    key = template
    for name, value in values.items():
        key = key.replace(name, value)
    for name, value in params.items():
        if value not in (None, "", [], {}):
            key = key.replace("{param-" + name + "}", str(value).lower() if name == "email" else str(value))
    return key


def enabled(ctx: Ctx) -> bool:
    """Whether limits are enforced on this server (``_APP_OPTIONS_ABUSE``, read into the settings)."""
    return bool(getattr(ctx.settings, "abuse", True))


def limited(handler: Handler, limit: Limit, counter: Counter = COUNTER) -> Handler:
    """``handler`` behind ``limit``: its answer gains the rate-limit headers, a call over it answers 429."""

    def guarded(ctx: Ctx, params: dict[str, Any]) -> Any:
        now = int(time.time())
        window = now - now % limit.seconds
        keys = [expand(template, ctx, params) for template in limit.keys]
        remaining = min(max(0, limit.count - counter.count(ctx.project, key, window)) for key in keys)
        headers = {
            "X-RateLimit-Limit": str(limit.count),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(window + limit.seconds),
        }
        if not ctx.caller.is_key and enabled(ctx):
            for key in keys:
                if counter.count(ctx.project, key, window) >= limit.count:
                    return Reply(_exceeded(ctx, limit), 429, headers)
                counter.hit(ctx.project, key, window, limit.seconds)
        result = handler(ctx, params)
        reply = result if isinstance(result, Reply) else Reply(result, 204 if result is None else None)
        reply.headers = {**headers, **reply.headers}
        if limit.reset is not None and (reply.status or ctx.op.status) == limit.reset:
            for key in keys:
                counter.reset(ctx.project, key, window)
        return reply

    return guarded


def _exceeded(ctx: Ctx, limit: Limit) -> dict[str, Any]:
    minutes = limit.seconds // 60
    return {
        "message": (
            f"Rate limit for the current endpoint has been exceeded. Please try again after some time "
            f"({limit.count} calls per {minutes} minute{'s' if minutes != 1 else ''} from one client here, as on "
            "Appwrite; start the local server with _APP_OPTIONS_ABUSE=disabled to turn the limits off)."
        ),
        "code": 429,
        "type": "general_rate_limit_exceeded",
        "version": ctx.settings.appwrite_version,
    }


def guarded(handlers: Mapping[str, Handler], limits: Mapping[str, Limit] = LIMITS) -> dict[str, Handler]:
    """``handlers`` with every limited route behind its limit (a new table: the registry's stays as registered)."""
    return {op_id: limited(fn, limits[op_id]) if op_id in limits else fn for op_id, fn in handlers.items()}
