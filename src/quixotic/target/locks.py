"""Named locks in the tool's system database, safe against races and against holders that die.

A lock is one row of ``quixotic.locks`` whose id is the lock's name. Creating the row takes a free lock
(the server refuses a second create with 409). Its integer column ``expiresMs`` (expiry, epoch ms) is also
its fencing token: taking over an expired lock, and every heartbeat, moves it forward with an atomic
``increment`` bounded by ``max``, which succeeds only if nobody moved it since it was read. So two
runners that both see an expired lock cannot both take it, and a holder whose lock was taken over (or
broken with ``--force``) learns it at its next heartbeat (``Lock.lost``) instead of running on blindly.

A lock broken by hand and taken again starts a new row whose expiry may be lower than the old holder's;
so each taking also writes a random ``nonce``, and a heartbeat that finds another nonce in the row it
renewed knows the lock is no longer its own.

A holder on this host whose process is gone is treated as expired at once; one on another host expires
after its TTL, which a live holder keeps pushing forward with heartbeats.

One policy for every lock (deploy, migrations, restore): a short TTL (:data:`TTL`) renewed by a heartbeat
every :data:`HEARTBEAT` s for as long as the holder runs, so a build that waits 15 minutes keeps its lock
and a killed holder's lock frees itself within a minute.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from quixotic.errors import ApiError, Conflict, NotFound
from quixotic.sdk.boundary import Service, call

TABLE = "locks"
TTL: Final = 60.0  # a dead holder's lock expires within this (at once when it ran on this host)
HEARTBEAT: Final = 10.0  # how often a live holder pushes its expiry forward


@dataclass(frozen=True)
class Lock:
    name: str
    owner: str
    host: str
    pid: int
    expires_at: str
    heartbeat_at: str = ""
    token: int = 0  # expiresMs when read or taken: the fencing value
    nonce: str = ""  # random per taking: tells this holder's row from a later one
    lost: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def expired(self, now_ms: int | None = None) -> bool:
        return self.token < (_now_ms() if now_ms is None else now_ms)

    def holder_gone(self) -> bool:
        """True when the holder ran on this host and its process no longer exists."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        if self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    def describe(self) -> str:
        beat = f", last heartbeat {self.heartbeat_at}" if self.heartbeat_at else ""
        return f"{self.owner} on {self.host} (pid {self.pid}) until {self.expires_at}{beat}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def read(db: Service, database: str, name: str) -> Lock | None:
    try:
        row = call("reading a lock", db.get_row, database, TABLE, name)
    except NotFound:
        return None
    return _from_row(name, row)


def _from_row(name: str, row: dict[str, Any]) -> Lock:
    data = json.loads(row.get("data") or "{}")
    return Lock(
        name,
        row["owner"],
        data.get("host", "?"),
        int(data.get("pid", 0)),
        row["expiresAt"],
        heartbeat_at=str(data.get("heartbeatAt") or ""),
        token=int(row.get("expiresMs") or 0),
        nonce=str(data.get("nonce") or ""),
    )


def _row(lock: Lock) -> dict[str, Any]:
    data = {"host": lock.host, "pid": lock.pid, "nonce": lock.nonce, "heartbeatAt": _iso_ms(_now_ms())}
    return {"owner": lock.owner, "expiresAt": _iso_ms(lock.token), "expiresMs": lock.token, "data": json.dumps(data)}


def _advance(db: Service, database: str, name: str, seen: int, new: int) -> Lock | None:
    """Move ``expiresMs`` from ``seen`` to ``new`` only if it is not past ``seen`` (atomic): the row after, or
    None if someone moved it first or it is gone."""
    try:
        row = call(f"renewing the {name} lock", db.increment_row_column, database, TABLE, name, "expiresMs",
                   new - seen, new)  # fmt: skip
    except NotFound:
        return None
    except ApiError as exc:
        if exc.type == "column_limit_exceeded":
            return None
        raise
    return _from_row(name, row)


def try_acquire(db: Service, database: str, name: str, owner: str, ttl: float) -> tuple[Lock | None, Lock | None]:
    """One attempt: (the lock now ours, None) or (None, the current holder or None if it just vanished)."""
    token = _now_ms() + int(ttl * 1000)
    mine = Lock(name, owner, socket.gethostname(), os.getpid(), _iso_ms(token), token=token, nonce=secrets.token_hex(8))
    try:
        call(f"taking the {name} lock", db.create_row, database, TABLE, name, _row(mine))
        return mine, None
    except Conflict:
        pass
    held = read(db, database, name)
    if held is None or not (held.expired() or held.holder_gone()):
        return None, held
    token = max(token, held.token + 1)
    if _advance(db, database, name, held.token, token) is None:
        return None, read(db, database, name)
    mine = replace(mine, expires_at=_iso_ms(token), token=token)
    _write_owner(db, database, mine)
    return mine, None


def _write_owner(db: Service, database: str, lock: Lock) -> None:
    row = _row(lock)
    del row["expiresMs"]  # the token moves only through the atomic increment
    call(f"recording the owner of the {lock.name} lock", db.update_row, database, TABLE, lock.name, row)


def release(db: Service, database: str, name: str, nonce: str | None) -> None:
    """Delete the lock; with ``nonce``, only if it is still the taking that wrote it (not a later one)."""
    if nonce is not None:
        held = read(db, database, name)
        if held is None or held.nonce != nonce:
            return
    try:
        call(f"releasing the {name} lock", db.delete_row, database, TABLE, name)
    except NotFound:
        pass


class Heartbeat:
    """Pushes a held lock's expiry forward every ``every`` s; sets ``lock.lost`` if it was taken over."""

    def __init__(self, db: Service, database: str, lock: Lock, ttl: float, every: float) -> None:
        self.db, self.database, self.lock = db, database, lock
        self.ttl, self.every = ttl, every
        self.token = lock.token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lock-heartbeat-{lock.name}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception:  # a network hiccup: try again next time, unless the lock ran out meanwhile
                if self.token < _now_ms():  # could not renew before it expired: someone may take it
                    self.lock.lost.set()
                    return
            if self.lock.lost.is_set():
                return

    def beat(self) -> None:
        new = max(_now_ms() + int(self.ttl * 1000), self.token + 1)
        after = _advance(self.db, self.database, self.lock.name, self.token, new)
        if after is None or after.nonce != self.lock.nonce:  # moved by someone else, or a later taking's row
            self.lock.lost.set()
            return
        self.token = new
        _write_owner(self.db, self.database, replace(self.lock, expires_at=_iso_ms(new), token=new))
