"""Where SDK errors become quixotic's, once (httpx's ``map_httpcore_exceptions`` is the model).

:func:`call` runs one SDK call and names the step for the message (``"reading a lock: ..."``); a
:class:`Service` wraps an SDK service so that each of its methods translates on its own. Inside a
``call`` the wrapped methods use the step it names (a context variable carries it), so nesting the two
never loses the better message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from appwrite.exception import AppwriteException

from quixotic.errors import ApiError, Unreachable

P = ParamSpec("P")
T = TypeVar("T")

_doing: ContextVar[str | None] = ContextVar("quixotic_sdk_doing", default=None)


def translate(exc: AppwriteException, doing: str) -> ApiError:
    """An SDK error as the project's own, of the class its status names, with what to do about it."""
    kind = getattr(exc, "type", None) or "general_unknown"
    code = int(getattr(exc, "code", None) or 0)
    message = str(getattr(exc, "message", None) or exc)
    if code == 0:  # no HTTP answer at all: refused, reset, a bad host
        return Unreachable(
            "general_unknown", f"{doing}: {message} Is the server running? For `local`, run `quixotic up`.", 0
        )
    hint = ""
    if kind == "general_unauthorized_scope":
        hint = " The API key lacks that scope: create a key that has it."
    elif kind == "project_not_found":
        hint = " Check `projectId` and `endpoint` in the environment's file."
    return ApiError.of(kind, f"{doing}: {message}{hint}", code)


def call(doing: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` with any SDK error translated; ``doing`` names the step in the message."""
    token = _doing.set(doing)
    try:
        return fn(*args, **kwargs)
    except AppwriteException as exc:
        raise translate(exc, doing) from exc
    finally:
        _doing.reset(token)


@contextmanager
def doing_step(doing: str) -> Iterator[None]:
    """Name the step for every wrapped SDK call in the block (several calls, one step)."""
    token = _doing.set(doing)
    try:
        yield
    finally:
        _doing.reset(token)


class Service:
    """An SDK service (``TablesDB``, ``Storage``, ...) whose every method translates its errors.

    The step named in a message is the enclosing :func:`call`'s, else ``<label>.<method>``.
    """

    def __init__(self, raw: Any, label: str) -> None:
        self._raw = raw
        self._label = label

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._raw, name)
        label = f"{self._label}.{name}"

        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except AppwriteException as exc:
                raise translate(exc, _doing.get() or label) from exc

        return guarded
