"""Keep-alive HTTP for the SDK client: one pooled ``requests.Session`` per client, on every SDK line.

Every line we support (15.x to 27.x) sends with the module-level ``requests.request`` inside
``Client.call``, which builds a new ``Session`` (and a new TCP connection) per call: a deploy, a
migration or a backup opened one connection per row page, per poll of a build. The SDK offers no
setting for that, and patching its module would change every client in the process. So each of our
clients runs the SDK's own ``call`` (its code object, unchanged) with its own globals, in which the
name ``requests`` is a :class:`SessionRequests` that sends through that client's session. Nothing of
the SDK is copied or rewritten; a line whose ``call`` stops using ``requests.request`` keeps working,
only without keep-alive (``tests/test_sdk_keepalive.py`` counts the connections on 15.x and 27.x).

The session keeps what ``requests.request`` did: no cookies from one call to the next (a fresh session
per call never had any), the same proxy and certificate settings from the environment. A pooled
connection the server has closed (restarted, idle timeout) is noticed when it is taken from the pool
and replaced; a GET that fails on a connection that dropped meanwhile is sent once more, a write never.

A call made inside :func:`unparsed` gets a successful JSON answer back as :class:`~quixotic.sdk.raw.RawJson`
(the body's bytes): the SDK's own ``call`` runs as ever (headers, parameters, errors), only the response it
is handed answers ``json()`` with the bytes. A backup splits a page of rows into its lines itself, a restore
reads only the count of a bulk write's answer: parsing 1,000 rows a page (and, from 17.x on, building a
model of each) was most of the client's time, and the client's time sets their pace.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Final

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from quixotic.sdk.raw import RawJson

# Connections kept per host: the toolkit calls one client from at most a few threads (row writers,
# downloads), and SDK 22+ uploads the chunks of one file 8 at a time.
POOL_SIZE: Final = 16
_unparsed: ContextVar[bool] = ContextVar("quixotic_sdk_unparsed", default=False)


@contextmanager
def unparsed() -> Iterator[None]:
    """Calls in the block hand back a successful JSON answer's body unparsed (see the module docstring)."""
    token = _unparsed.set(True)
    try:
        yield
    finally:
        _unparsed.reset(token)


def keepalive_session(pool_size: int = POOL_SIZE) -> requests.Session:
    """A session that reuses its connections and, like ``requests.request``, keeps no cookies."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # none kept, none sent back
    # Connecting again is always safe (nothing was sent); a read error only for methods that change nothing.
    retry = Retry(total=3, connect=2, read=1, status=0, other=0, allowed_methods=frozenset({"GET", "HEAD"}))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class SessionRequests:
    """What the SDK's ``call`` sees as the ``requests`` module: ``request`` goes through one session."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.session.request(method=method, url=url, **kwargs)
        return UnparsedResponse(response) if _unparsed.get() else response

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)  # anything else (exceptions, ...) is the real module's


class UnparsedResponse:
    """A response as the SDK's ``call`` uses it, except that a successful ``json()`` is the body unparsed;
    an error's JSON is parsed as ever (the SDK reads its message)."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response

    def json(self, **kwargs: Any) -> Any:
        if not self._response.ok:
            return self._response.json(**kwargs)
        return RawJson(self._response.content)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)


def through_session(send: Any, session: requests.Session) -> Any:
    """``send`` (the SDK's ``Client.call``) with ``requests`` bound to ``session``; ``send`` itself when it
    does not name ``requests`` (a line that sends some other way: it works, without keep-alive)."""
    code = getattr(send, "__code__", None)
    if code is None or "requests" not in code.co_names or send.__closure__:
        return send
    scope = {**send.__globals__, "requests": SessionRequests(session)}
    bound = types.FunctionType(code, scope, send.__name__, send.__defaults__, send.__closure__)
    bound.__kwdefaults__ = send.__kwdefaults__
    return bound
