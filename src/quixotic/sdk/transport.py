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
"""

from __future__ import annotations

import types
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Final

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# Connections kept per host: the toolkit calls one client from at most a few threads (row writers,
# downloads), and SDK 22+ uploads the chunks of one file 8 at a time.
POOL_SIZE: Final = 16


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

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method=method, url=url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)  # anything else (exceptions, ...) is the real module's


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
