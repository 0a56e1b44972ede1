"""Where SDK errors become quixotic's, and SDK answers plain JSON, once (httpx's
``map_httpcore_exceptions`` is the model).

:func:`call` runs one SDK call and names the step for the message (``"reading a lock: ..."``); a
:class:`Service` wraps an SDK service so that each of its methods translates on its own. Inside a
``call`` the wrapped methods use the step it names (a context variable carries it), so nesting the two
never loses the better message.

Every answer leaves as the JSON Appwrite sent, whatever the SDK line: SDK 15.x returns it as dicts, 17.x
and newer wrap it in pydantic models that are lossy (a row's column named ``data`` vanishes into the
model's payload; integer bounds become floats). So the services' client (:class:`RecordingClient`)
keeps each method's last raw answer, and that is what a wrapped method returns; :func:`plain` turns a
model into JSON only where no raw answer was recorded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any, ParamSpec, TypeVar

from appwrite.client import Client
from appwrite.exception import AppwriteException

from quixotic.errors import ApiError, Unreachable
from quixotic.sdk.transport import keepalive_session, through_session, unparsed

P = ParamSpec("P")
T = TypeVar("T")

_doing: ContextVar[str | None] = ContextVar("quixotic_sdk_doing", default=None)
_NOTHING: Any = object()
_answer: ContextVar[Any] = ContextVar("quixotic_sdk_answer", default=_NOTHING)


class RecordingClient(Client):  # type: ignore[misc]
    """The SDK client over one keep-alive session (:mod:`quixotic.sdk.transport`), keeping the raw answer
    of its last call (per thread and context) for :class:`Service`."""

    def __init__(self) -> None:
        super().__init__()
        self.session = keepalive_session()
        self._send = through_session(Client.call, self.session)

    def call(self, method: str, path: str = "", headers: Any = None, params: Any = None,
             response_type: str = "json") -> Any:  # fmt: skip
        answer = self._send(self, method, path, headers, params, response_type=response_type)
        _answer.set(answer)
        return answer

    def call_unparsed(self, method: str, path: str, headers: Any, params: Any) -> Any:
        """The SDK's ``call``, a successful JSON answer handed back unparsed, as
        :class:`~quixotic.sdk.raw.RawJson` (:func:`~quixotic.sdk.transport.unparsed`); parsed JSON or bytes
        where this line does not send through our session."""
        with unparsed():
            return self.call(method, path, headers, params)

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        self.session.close()


def plain(value: Any) -> Any:
    """An SDK answer as JSON values (see the module docstring); bytes and scalars as they are."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    fields = getattr(type(value), "model_fields", None)
    if not isinstance(fields, dict):
        return value
    out = {info.alias or name: plain(getattr(value, name)) for name, info in fields.items()}
    out.update(plain(getattr(value, "model_extra", None) or {}))
    payload = getattr(value, "_data", None)  # rows, documents and preferences keep their own data aside
    if payload is not None:
        data = plain(payload)
        if isinstance(data, dict):
            if not fields:  # preferences: the payload is the whole answer
                return data
            out.update(data)
    return out


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


_PARAMETERS: dict[tuple[Any, str], frozenset[str]] = {}


def _parameters(service: Any, method: str) -> frozenset[str]:
    key = (service, method)
    if key not in _PARAMETERS:
        _PARAMETERS[key] = frozenset(inspect.signature(getattr(service, method)).parameters)
    return _PARAMETERS[key]


class Service:
    """An SDK service (``TablesDB``, ``Storage``, ...) whose every method translates its errors.

    The step named in a message is the enclosing :func:`call`'s, else ``<label>.<method>``.
    """

    def __init__(self, raw: Any, label: str) -> None:
        self._raw = raw
        self._label = label

    def accepts(self, method: str, parameter: str) -> bool:
        """Whether this SDK line's ``method`` has ``parameter`` (the lines differ in a few places)."""
        return parameter in _parameters(type(self._raw), method)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._raw, name)
        label = f"{self._label}.{name}"

        def guarded(*args: Any, **kwargs: Any) -> Any:
            token = _answer.set(_NOTHING)
            try:
                result = method(*args, **kwargs)
                raw = _answer.get()
                return plain(result) if raw is _NOTHING else raw  # the JSON as parsed: no copy per page
            except AppwriteException as exc:
                raise translate(exc, _doing.get() or label) from exc
            finally:
                _answer.reset(token)

        return guarded
