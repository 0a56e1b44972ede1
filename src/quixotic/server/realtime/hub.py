"""The Realtime hub: open connections, their subscriptions indexed by project and channel, and delivery.

``publish`` is called once per request that wrote something, after its transaction committed, from a
worker thread (``app``); every write path (the API, bulk writes, transactions, a function's own calls back
to the API) goes through that one hook, so each event is published once. For each event the hub finds the
connections subscribed to one of its channels, keeps those whose caller may read it (``audience``) and
whose subscription queries pass, and queues one frame per connection, listing the IDs of that
connection's matching subscriptions (the SDKs drop a frame without them). Frames are queued onto each
connection's event loop with ``call_soon_threadsafe``, so a slow socket never holds up a writer.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quixotic.server.auth import Caller
from quixotic.server.clock import now_iso
from quixotic.server.queries import Query
from quixotic.server.realtime import audience, channels, filters
from quixotic.server.store import Store

log = logging.getLogger("quixotic.server.realtime")


@dataclass
class Subscription:
    """One subscription of a connection: the channels it registered and its queries."""

    id: str
    channels: tuple[str, ...]
    queries: list[str]  # as reported back to the client
    filters: list[Query] = field(default_factory=list)

    def reply(self) -> dict[str, Any]:
        return {"subscriptionId": self.id, "channels": list(self.channels), "queries": list(self.queries)}


@dataclass
class Connection:
    """One open socket: its project, who is behind it, and where its frames go (``send`` is thread-safe)."""

    project: str
    caller: Caller
    send: Callable[[str], None]
    id: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


class Hub:
    """Connections and subscriptions of one server; all methods are thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._connections: dict[int, Connection] = {}
        self._by_channel: dict[tuple[str, str], set[int]] = {}

    def add(self, connection: Connection) -> Connection:
        with self._lock:
            connection.id = next(self._ids)
            self._connections[connection.id] = connection
        return connection

    def remove(self, connection: Connection) -> None:
        with self._lock:
            subs = list(connection.subscriptions.values())
            connection.subscriptions.clear()
            for sub in subs:
                self._unindex(connection, sub)
            self._connections.pop(connection.id, None)

    def subscribe(self, connection: Connection, subscription: Subscription) -> None:
        """Add ``subscription``, replacing the connection's one of the same ID (the SDKs' ``update``)."""
        with self._lock:
            old = connection.subscriptions.pop(subscription.id, None)
            if old is not None:
                self._unindex(connection, old)
            connection.subscriptions[subscription.id] = subscription
            for channel in subscription.channels:
                self._by_channel.setdefault((connection.project, channel), set()).add(connection.id)

    def unsubscribe(self, connection: Connection, subscription_id: str) -> bool:
        with self._lock:
            old = connection.subscriptions.pop(subscription_id, None)
            if old is None:
                return False
            self._unindex(connection, old)
            return True

    def authenticate(self, connection: Connection, caller: Caller) -> None:
        """The connection is now ``caller``: its account channels are rebound to the new user."""
        with self._lock:
            old_user = connection.caller.user_id or ""
            connection.caller = caller
            for sub in list(connection.subscriptions.values()):
                rebound = tuple(channels.rebind_account_channels(sub.channels, old_user, caller.user_id or ""))
                if rebound != sub.channels:
                    self._unindex(connection, sub)
                    sub.channels = rebound
                    for channel in rebound:
                        self._by_channel.setdefault((connection.project, channel), set()).add(connection.id)

    def _unindex(self, connection: Connection, sub: Subscription) -> None:
        for channel in sub.channels:
            key = (connection.project, channel)
            if any(channel in other.channels for other in connection.subscriptions.values() if other is not sub):
                continue
            ids = self._by_channel.get(key)
            if ids is not None:
                ids.discard(connection.id)
                if not ids:
                    del self._by_channel[key]

    def count(self) -> int:
        with self._lock:
            return len(self._connections)

    # --- delivery -------------------------------------------------------------------------------

    def listens(self, project: str) -> bool:
        """Whether any connection of ``project`` has a subscription (else publishing costs nothing)."""
        with self._lock:
            return any(key[0] == project for key in self._by_channel)

    def publish(self, project: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Deliver the events of one request; returns how many frames were queued. Never raises: a
        failure here must not turn a committed write into an error."""
        try:
            return self._publish(project, list(events))
        except Exception:
            log.exception("realtime delivery failed for project %s", project)
            return 0

    def _publish(self, project: str, events: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        if not self.listens(project):
            return 0
        sent = 0
        with self.store.read() as conn:
            for event, payload in events:
                pub = channels.publication(event, payload)
                if pub is None:
                    continue
                targets = self._targets(project, pub.channels)
                if not targets:
                    continue
                may_read = audience.reader(conn, project, pub, payload)
                verdicts: dict[tuple[str, tuple[str, ...]], bool] = {}  # callers with the same roles decide alike
                tails: dict[tuple[str, ...], str] = {}
                head: str | None = None
                for connection, matched in targets:
                    caller = connection.caller
                    who = (caller.role, caller.roles)
                    allowed = verdicts.get(who)
                    if allowed is None:
                        allowed = verdicts[who] = may_read(caller)
                    if not allowed:
                        continue
                    ids = tuple(s.id for s in matched if filters.passes(s.filters, payload))
                    if not ids:
                        continue
                    if head is None:
                        head = _event_frame(event, pub.channels, payload)[:-2]
                    tail = tails.get(ids)
                    if tail is None:
                        tail = tails[ids] = ',"subscriptions":' + json.dumps(list(ids)) + "}}"
                    connection.send(head + tail)
                    sent += 1
        return sent

    def _targets(self, project: str, names: Sequence[str]) -> list[tuple[Connection, list[Subscription]]]:
        """The connections subscribed to one of ``names``, each with its subscriptions that are."""
        wanted = set(names)
        with self._lock:
            ids: set[int] = set()
            for name in names:
                ids |= self._by_channel.get((project, name), set())
            out = []
            for connection_id in sorted(ids):
                connection = self._connections.get(connection_id)
                if connection is None:
                    continue
                matched = [s for s in connection.subscriptions.values() if wanted.intersection(s.channels)]
                if matched:
                    out.append((connection, matched))
            return out


def _event_frame(event: str, names: Sequence[str], payload: Mapping[str, Any]) -> str:
    """The event frame without its ``subscriptions`` (added per connection); ends in ``}}``."""
    data = {"events": channels.event_names(event), "channels": list(names), "timestamp": now_iso(), "payload": payload}
    return json.dumps({"type": "event", "data": data}, separators=(",", ":"), ensure_ascii=False)
