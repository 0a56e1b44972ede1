"""The tool's own state, kept in the target project itself: a system database ``quixotic``.

Keeping it in the project (not on a laptop or in CI) means every operator and every CI run sees the
same releases, locks and secret fingerprints. Tables (each a few queryable columns plus a JSON
``data`` column, so records can grow without schema changes):

- ``releases``: one row per deploy or rollback (who, when, git commit, plan digest, what changed);
- ``secrets``: SHA-256 of each secret variable value quixotic set, to diff secrets it cannot read;
- ``locks``: named locks with owner, host, pid and expiry, so two deploys never interleave and a
  lock whose holder died expires on its own.

The app never sees it: deploy ignores this database when diffing.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from appwrite.exception import AppwriteException
from appwrite.query import Query

from quixotic.backends.appwrite import AppwriteBackend, call, translate
from quixotic.config.resources import Column
from quixotic.errors import QuixoticError

SYSTEM_DB = "quixotic"
_TABLES: dict[str, tuple[Column, ...]] = {
    "releases": (
        Column("environment", "varchar", size=64),
        Column("kind", "varchar", size=16),
        Column("status", "varchar", size=16),
        Column("startedAt", "datetime"),
        Column("data", "longtext"),
    ),
    "secrets": (
        Column("scope", "varchar", size=64),
        Column("key", "varchar", size=255),
        Column("hash", "varchar", size=64),
    ),
    "locks": (
        Column("owner", "varchar", size=255),
        Column("expiresAt", "datetime"),
        Column("data", "longtext"),
    ),
}


class LockHeld(QuixoticError):
    """Another process holds the lock (deploy, migrate): who, where and until when are in the message."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def who() -> str:
    """The operator as recorded in releases and locks: ``user@host`` (CI sets QUIXOTIC_ACTOR)."""
    actor = os.environ.get("QUIXOTIC_ACTOR")
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class Lock:
    name: str
    owner: str
    host: str
    pid: int
    expires_at: str


class ToolState:
    def __init__(self, backend: AppwriteBackend) -> None:
        self.backend = backend
        self.db = backend.db
        self._ready = False

    # --- schema -------------------------------------------------------------------------------

    def exists(self) -> bool:
        try:
            self.db.get(SYSTEM_DB)
        except AppwriteException as exc:
            if getattr(exc, "code", None) == 404:
                return False
            raise translate(exc, "reading the quixotic system database") from exc
        return True

    def ensure(self) -> None:
        """Create the system database and its tables if missing (idempotent; cheap when present)."""
        if self._ready:
            return
        if not self.exists():
            call("creating the quixotic system database", lambda: self.db.create(SYSTEM_DB, "quixotic (tool state)"))
        existing = {
            t["$id"]: {c["key"] for c in t.get("columns", [])}
            for t in call("listing system tables", lambda: self.db.list_tables(SYSTEM_DB, [Query.limit(100)]))["tables"]
        }
        for table, columns in _TABLES.items():
            if table not in existing:
                self._create_table(table)
                existing[table] = set()
            for column in columns:
                if column.key not in existing[table]:
                    self.backend.create_column(SYSTEM_DB, table, column)
            for column in columns:
                if column.key not in existing[table]:
                    self.backend.wait_column(SYSTEM_DB, table, column.key)
        self._ready = True

    def _create_table(self, table: str) -> None:
        call(f"creating system table {table}", lambda: self.db.create_table(SYSTEM_DB, table, table))

    # --- secrets ------------------------------------------------------------------------------

    @staticmethod
    def _secret_row(scope: str, key: str) -> str:
        return "s" + hashlib.sha256(f"{scope}/{key}".encode()).hexdigest()[:35]

    def secret_hashes(self) -> dict[tuple[str, str], str]:
        if not self.exists():
            return {}
        out: dict[tuple[str, str], str] = {}
        for row in self._all("secrets"):
            out[(row["scope"], row["key"])] = row["hash"]
        return out

    def record_secret(self, scope: str, key: str, value_hash: str) -> None:
        self.ensure()
        data = {"scope": scope, "key": key, "hash": value_hash}
        row_id = self._secret_row(scope, key)
        call("recording a secret's fingerprint", lambda: self.db.upsert_row(SYSTEM_DB, "secrets", row_id, data))

    def forget_secret(self, scope: str, key: str) -> None:
        if not self.exists():
            return
        try:
            self.db.delete_row(SYSTEM_DB, "secrets", self._secret_row(scope, key))
        except AppwriteException as exc:
            if getattr(exc, "code", None) != 404:
                raise translate(exc, "forgetting a secret's fingerprint") from exc

    # --- releases -----------------------------------------------------------------------------

    def start_release(self, environment: str, kind: str, data: dict[str, Any]) -> str:
        self.ensure()
        release_id = _now().strftime("r%Y%m%d%H%M%S") + hashlib.sha256(os.urandom(8)).hexdigest()[:6]
        row = {
            "environment": environment,
            "kind": kind,
            "status": "running",
            "startedAt": _iso(_now()),
            "data": json.dumps(data, sort_keys=True),
        }
        call("recording the release", lambda: self.db.create_row(SYSTEM_DB, "releases", release_id, row))
        return release_id

    def finish_release(self, release_id: str, status: str, data: dict[str, Any]) -> None:
        row = {"status": status, "data": json.dumps(data, sort_keys=True)}
        call("recording the release", lambda: self.db.update_row(SYSTEM_DB, "releases", release_id, row))

    def releases(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first, each as ``{id, environment, kind, status, startedAt, **data}``."""
        if not self.exists():
            return []
        rows = call(
            "listing releases",
            lambda: self.db.list_rows(SYSTEM_DB, "releases", [Query.order_desc("$sequence"), Query.limit(limit)]),
        )["rows"]
        out = []
        for row in rows:
            record = json.loads(row.get("data") or "{}")
            record.update(
                {
                    "id": row["$id"],
                    "environment": row["environment"],
                    "kind": row["kind"],
                    "status": row["status"],
                    "startedAt": row["startedAt"],
                }
            )
            out.append(record)
        return out

    # --- locks --------------------------------------------------------------------------------

    def current_lock(self, name: str) -> Lock | None:
        if not self.exists():
            return None
        try:
            row = self.db.get_row(SYSTEM_DB, "locks", name)
        except AppwriteException as exc:
            if getattr(exc, "code", None) == 404:
                return None
            raise translate(exc, "reading a lock") from exc
        data = json.loads(row.get("data") or "{}")
        return Lock(name, row["owner"], data.get("host", "?"), int(data.get("pid", 0)), row["expiresAt"])

    @contextmanager
    def lock(self, name: str, ttl: float = 600.0, wait: float = 0.0) -> Iterator[Lock]:
        """Hold lock ``name`` for the block. Waits up to ``wait`` s for a holder; an expired lock is taken over."""
        self.ensure()
        owner = who()
        host, pid = socket.gethostname(), os.getpid()
        data = {"host": host, "pid": pid}
        deadline = time.monotonic() + wait
        while True:
            expires = _iso(_now() + timedelta(seconds=ttl))
            row = {"owner": owner, "expiresAt": expires, "data": json.dumps(data)}
            try:
                self.db.create_row(SYSTEM_DB, "locks", name, row)
                break
            except AppwriteException as exc:
                if getattr(exc, "code", None) != 409:
                    raise translate(exc, f"taking the {name} lock") from exc
            held = self.current_lock(name)
            if held is not None and datetime.fromisoformat(held.expires_at) < _now():
                self.break_lock(name)
                continue
            if time.monotonic() >= deadline:
                who_holds = (
                    f"{held.owner} on {held.host} (pid {held.pid}) until {held.expires_at}" if held else "someone"
                )
                raise LockHeld(
                    f"the {name} lock is held by {who_holds}. Wait for it to finish, or if that process is gone, "
                    f"the lock expires on its own (or break it with `quixotic unlock ENV {name}`)."
                )
            time.sleep(0.5)
        try:
            yield Lock(name, owner, host, pid, expires)
        finally:
            self.break_lock(name)

    def break_lock(self, name: str) -> None:
        try:
            self.db.delete_row(SYSTEM_DB, "locks", name)
        except AppwriteException as exc:
            if getattr(exc, "code", None) != 404:
                raise translate(exc, f"releasing the {name} lock") from exc

    # --- helpers ------------------------------------------------------------------------------

    def _all(self, table: str) -> Iterator[dict[str, Any]]:
        yield from self.backend.pages(f"reading {table}", lambda q: self.db.list_rows(SYSTEM_DB, table, q), "rows")
