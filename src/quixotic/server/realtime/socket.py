"""The ``/v1/realtime`` WebSocket endpoint and its message protocol, as Appwrite's realtime server speaks it.

On open: the project comes from ``x-appwrite-project`` or ``?project=`` (empty or ``console``: the console,
which has no channels here); the user is found as for HTTP (``auth.resolve``: session cookies,
``x-appwrite-session``, ``x-fallback-cookies``, a JWT header or ``?jwt=``); a browser's Origin must be one
of the project's platforms (``origins``). Then ``connected`` is sent, with the Account model when a user
signed in. ``?channels[]=…`` opens in URL mode: those channels are subscribed at once (per-channel queries
in the parameter named after the channel with ``.`` as ``_``).

Messages: ``authentication`` (a session's store string), ``subscribe`` and ``unsubscribe`` (lists, with the
client's subscription IDs), ``ping`` (answered ``pong``); ``presence`` is ignored. Errors are ``error``
frames: 1008 (unknown project, refused Origin, no project context, a bad query in URL mode) closes the
socket, 1003 (bad JSON, message or payload) and 1013 (more than 32 messages a minute) keep it; a message
over 64 KB closes it with 1009. A credential error while opening (``user_jwt_invalid``...) sends its HTTP
code in the error frame and closes with 1008: WebSocket close codes below 1000 do not exist on the wire,
and 1008 is the code after which the SDKs do not reconnect with the same bad credential.

Keepalive is uvicorn's: it pings every client every 20 s and drops one that does not answer within 20 s. A
client that stops reading has its events dropped once 1000 frames wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from quixotic.errors import ApiError
from quixotic.server import auth
from quixotic.server.account.handlers import _account as account_model
from quixotic.server.ids import new_id, validate_id
from quixotic.server.origins import Origins
from quixotic.server.realtime import channels, filters
from quixotic.server.realtime.hub import Connection, Hub, Subscription
from quixotic.server.store import Store
from quixotic.server.users import model as users

MAX_MESSAGE: Final = 64 * 1024  # bytes of one client message
MESSAGES_PER_MINUTE: Final = 32
MAX_PENDING: Final = 1000  # frames queued for one socket before its events are dropped
POLICY: Final = 1008
INVALID: Final = 1003
TOO_MANY: Final = 1013
TOO_BIG: Final = 1009
_CLOSE: Final = object()
log = logging.getLogger("quixotic.server.realtime")
_SLOT = re.compile(r"^(?P<name>[^\[\]]+)(?:\[(?P<index>\d*)\])?(?P<list>\[\])?$")


class Host(Protocol):
    """What the endpoint needs of the server (``app.Server``)."""

    store: Store
    realtime: Hub

    def origins_of(self, project: str) -> Origins | None: ...


class Refused(Exception):
    """An error frame to send: ``code`` and Appwrite's message; 1008 also closes the socket."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def endpoint(host: Host) -> Callable[[WebSocket], Awaitable[None]]:
    """The ASGI WebSocket handler of ``/v1/realtime``."""

    async def realtime(websocket: WebSocket) -> None:
        await _Session(host, websocket).run()

    return realtime


@dataclass
class _Window:
    """Messages of the current minute, for the 32-a-minute limit."""

    start: float = 0.0
    count: int = 0

    def allow(self, now: float) -> bool:
        if now - self.start >= 60:
            self.start, self.count = now, 0
        self.count += 1
        return self.count <= MESSAGES_PER_MINUTE


class _Session:
    """One socket from open to close."""

    def __init__(self, host: Host, websocket: WebSocket) -> None:
        self.host = host
        self.ws = websocket
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.connection: Connection | None = None
        self.project = ""
        self.window = _Window()
        self.dropping = False

    def _enqueue(self, frame: Any) -> None:
        self.queue.put_nowait(frame)

    def _enqueue_event(self, frame: str) -> None:
        """An event for this socket; dropped while the client lets MAX_PENDING frames pile up unread, so a
        stalled client costs bounded memory (Appwrite's server drops what overflows its output buffer)."""
        if self.queue.qsize() < MAX_PENDING:
            self.queue.put_nowait(frame)
        elif not self.dropping:
            self.dropping = True
            log.warning("realtime: a client of %s reads too slowly; its events are dropped", self.project)

    async def run(self) -> None:
        await self.ws.accept()
        loop = asyncio.get_running_loop()
        writer = asyncio.create_task(self._write())
        try:
            try:
                caller, url_subscriptions = await asyncio.to_thread(self._open)
            except Refused as exc:
                self._error(exc)
                self._enqueue((_CLOSE, POLICY))
                return

            def send(frame: str) -> None:  # from any thread: onto this socket's loop
                with contextlib.suppress(RuntimeError):  # the loop is gone (server shutting down): nobody to tell
                    loop.call_soon_threadsafe(self._enqueue_event, frame)

            self.connection = self.host.realtime.add(Connection(self.project, caller, send))
            for sub in url_subscriptions:
                self.host.realtime.subscribe(self.connection, sub)
            self._send(await asyncio.to_thread(self._connected, caller, url_subscriptions))
            await self._read()
        finally:
            if self.connection is not None:
                self.host.realtime.remove(self.connection)
            if not writer.done():
                self._enqueue(None)
            await writer

    async def _write(self) -> None:
        """The one task that writes to the socket, so frames go out whole and in order."""
        while True:
            frame = await self.queue.get()
            try:
                if frame is None:
                    return
                if isinstance(frame, tuple) and frame[0] is _CLOSE:
                    await self.ws.close(frame[1])
                    return
                await self.ws.send_text(frame)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

    def _send(self, value: Mapping[str, Any]) -> None:
        self._enqueue(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    def _error(self, exc: Refused) -> None:
        self._send({"type": "error", "data": {"code": exc.code, "message": exc.message}})

    # --- opening ---------------------------------------------------------------------------------

    def _open(self) -> tuple[auth.Caller, list[Subscription]]:
        """Project, user and Origin of the upgrade request, and URL mode's subscriptions (worker thread)."""
        headers = {k.lower(): v for k, v in self.ws.headers.items()}
        params = self.ws.query_params
        project = headers.get("x-appwrite-project") or params.get("project") or auth.CONSOLE_PROJECT
        self.project = project
        if project == auth.CONSOLE_PROJECT:
            return auth.Caller(project, auth.CONSOLE_SCOPES, "guests"), []
        origins = self.host.origins_of(project)
        if origins is None:
            raise Refused(POLICY, "Missing or unknown project ID")
        if params.get("jwt") and not headers.get("x-appwrite-jwt"):
            headers["x-appwrite-jwt"] = params["jwt"]
        try:
            with self.host.store.read() as conn:
                caller = auth.resolve(conn, project, None, None, auth.Credentials.of(headers, self.ws.cookies))
        except ApiError as exc:
            raise Refused(exc.code, exc.message) from exc
        origin = headers.get("origin")
        if origin and not origins.allows(origin):
            raise Refused(POLICY, origins.refusal(origin))
        requested = params.getlist("channels[]") or params.getlist("channels")
        names = channels.convert_channels(requested, caller.user_id or "")
        try:
            return caller, _url_subscriptions(names, params.multi_items())
        except filters.InvalidQuery as exc:
            raise Refused(POLICY, str(exc)) from exc

    def _connected(self, caller: auth.Caller, subs: list[Subscription]) -> dict[str, Any]:
        names = list(dict.fromkeys(name for sub in subs for name in sub.channels))
        ids = [sub.id for sub in subs]
        return {"type": "connected", "data": {"channels": names, "subscriptions": ids, "user": self._user(caller)}}

    def _user(self, caller: auth.Caller) -> dict[str, Any] | None:
        if not caller.user_id:
            return None
        with self.host.store.read() as conn:
            return account_model(users.load(conn, caller.project, caller.user_id))

    # --- messages --------------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                data = message.get("bytes") or b""
                raw = data.decode("utf-8", "replace")
                size = len(data)
            else:
                size = len(raw.encode("utf-8"))
            if size > MAX_MESSAGE:
                self._error(Refused(TOO_BIG, f"Message too big: {size} bytes; a message may hold {MAX_MESSAGE}."))
                self._enqueue((_CLOSE, TOO_BIG))
                return
            try:
                if not self.window.allow(time.monotonic()):
                    raise Refused(TOO_MANY, "Too many messages.")
                reply = await self._handle(raw)
            except Refused as exc:
                self._error(exc)
                if exc.code == POLICY:
                    self._enqueue((_CLOSE, POLICY))
                    return
                continue
            if reply is not None:
                self._send(reply)

    async def _handle(self, raw: str) -> dict[str, Any] | None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict) or ("type" not in message and "data" not in message):
            raise Refused(INVALID, "Message format is not valid.")
        kind = message.get("type", "invalid")
        if kind == "ping":
            return {"type": "pong"}
        if kind not in ("authentication", "subscribe", "unsubscribe", "presence"):
            raise Refused(INVALID, "Message type is not valid.")
        if self.project == auth.CONSOLE_PROJECT or self.connection is None:
            raise Refused(POLICY, "Missing project context. Reconnect to the project first.")
        if kind == "presence":
            return None  # optional in Appwrite's protocol; the local server keeps no presences
        if "data" not in message:
            raise Refused(INVALID, "Payload is not valid. Items is required" if kind != "authentication" else
                          "Payload is not valid. Session is required")  # fmt: skip
        data = message["data"]
        if kind == "authentication":
            return await asyncio.to_thread(self._authenticate, self.connection, data)
        if kind == "subscribe":
            return self._subscribe(self.connection, data)
        return self._unsubscribe(self.connection, data)

    def _authenticate(self, connection: Connection, data: Any) -> dict[str, Any]:
        session = data.get("session") if isinstance(data, dict) else None
        if not isinstance(session, str):
            raise Refused(INVALID, "Payload is not valid. Session is required")
        if len(session) > 2048:
            raise Refused(INVALID, "session: Value must be a valid string and at most 2048 chars")
        try:
            with self.host.store.read() as conn:
                caller = auth.resolve(conn, connection.project, None, None, auth.Credentials(session=session))
        except ApiError as exc:  # a blocked user
            raise Refused(INVALID, "Session is not valid.") from exc
        if not caller.user_id:
            raise Refused(INVALID, "Session is not valid.")
        self.host.realtime.authenticate(connection, caller)
        return {"type": "response", "data": {"to": "authentication", "success": True, "user": self._user(caller)}}

    def _subscribe(self, connection: Connection, data: Any) -> dict[str, Any]:
        if not isinstance(data, list):
            raise Refused(INVALID, "items: Payload is not valid.")
        parsed: list[Subscription] = []
        for item in data:
            parsed.append(_subscription(item, connection.caller.user_id or ""))
        for sub in parsed:
            self.host.realtime.subscribe(connection, sub)
        replies = [sub.reply() for sub in parsed]
        return {"type": "response", "data": {"to": "subscribe", "success": True, "subscriptions": replies}}

    def _unsubscribe(self, connection: Connection, data: Any) -> dict[str, Any]:
        if not isinstance(data, list) or any(
            not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str) or not item["subscriptionId"]
            for item in data
        ):
            raise Refused(INVALID, "items: Each unsubscribe payload must include a non-empty subscriptionId.")
        results = [
            {"subscriptionId": item["subscriptionId"],
             "removed": self.host.realtime.unsubscribe(connection, item["subscriptionId"])}
            for item in data
        ]  # fmt: skip
        return {"type": "response", "data": {"to": "unsubscribe", "success": True, "subscriptions": results}}


def _subscription(item: Any, user_id: str) -> Subscription:
    """One item of a ``subscribe`` message, checked as Appwrite's ``SubscribePayload`` checks it."""
    if not isinstance(item, dict):
        raise Refused(INVALID, "items: Each subscribe payload must be an object.")
    sub_id = item.get("subscriptionId")
    if "subscriptionId" in item:
        try:
            validate_id(str(sub_id) if isinstance(sub_id, str) else "", "subscriptionId")
        except ApiError as exc:
            raise Refused(INVALID, "items: subscriptionId is not a valid id.") from exc
    if "channels" not in item:
        raise Refused(INVALID, "items: channels is not present in payload.")
    names = item["channels"]
    if not isinstance(names, list):
        raise Refused(INVALID, "items: channels is not a valid array.")
    if any(not isinstance(name, str) for name in names):
        raise Refused(INVALID, "items: channels must contain only strings.")
    raw_queries = item.get("queries") or []
    if not isinstance(raw_queries, list):
        raise Refused(INVALID, "items: queries is not a valid array.")
    try:
        shown, compiled = filters.parse(raw_queries)
    except filters.InvalidQuery as exc:
        raise Refused(INVALID, f"Invalid query: {exc}") from exc
    converted = tuple(channels.convert_channels(names, user_id))
    return Subscription(sub_id if isinstance(sub_id, str) else new_id(), converted, shown, compiled)


def _url_subscriptions(names: list[str], params: list[tuple[str, str]]) -> list[Subscription]:
    """URL mode, as Appwrite reads PHP-style parameters: each query slot of a channel's parameter (named after
    the channel with ``.`` as ``_``: ``x=q``, ``x[]=q1&x[]=q2``, ``x[N][]=q``) is one subscription, the first
    channel to fill a slot gives its queries; channels without a parameter join slot 0 (all events)."""
    wanted = {name.replace(".", "_") for name in names}
    given: dict[str, dict[int, list[str]]] = {}
    for key, value in params:
        match = _SLOT.match(key)
        if match is None or match["name"] not in wanted or match["name"] == "project":
            continue
        per_slot = given.setdefault(match["name"], {})
        index = int(match["index"]) if match["index"] else (len(per_slot) if match["index"] == "" else 0)
        per_slot.setdefault(index, []).append(value)
    slots: dict[int, tuple[list[str], list[str]]] = {}
    for name in names:
        for index, queries in (given.get(name.replace(".", "_")) or {0: []}).items():
            chans, held = slots.setdefault(index, ([], []))
            if name not in chans:
                chans.append(name)
            if not held:
                held.extend(queries)
    subs = []
    for index in sorted(slots):
        chans, queries = slots[index]
        shown, compiled = filters.parse(queries)
        subs.append(Subscription(new_id(), tuple(chans), shown, compiled))
    return subs
