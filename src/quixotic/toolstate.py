"""The tool's own state, kept in the target project itself: a system database ``quixotic``.

Keeping it in the project (not on a laptop or in CI) means every operator and every CI run sees the
same releases, locks and secret fingerprints. Tables (each a few queryable columns plus a JSON
``data`` column, so records can grow without schema changes):

- ``releases``: one row per deploy or rollback (who, when, git commit, plan digest, what changed);
- ``secrets``: SHA-256 of each secret variable value quixotic set, to diff secrets it cannot read;
- ``locks``: named locks with owner, host, pid and expiry, so two deploys never interleave and a
  lock whose holder died expires on its own (fenced and renewed by heartbeats: see ``quixotic.toollock``);
- ``migrations``: one row per migration attempt (up, down or baseline): status, file checksum, who,
  git commit, timings, error and the progress cursor of a data migration, so a killed one resumes.

The app never sees it: deploy ignores this database when diffing.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from appwrite.exception import AppwriteException
from appwrite.query import Query

from quixotic import toollock
from quixotic.backends.appwrite import AppwriteBackend, call, translate
from quixotic.config.resources import Column
from quixotic.errors import ApiError
from quixotic.toollock import Heartbeat, Lock, LockHeld

__all__ = ["SYSTEM_DB", "Lock", "LockHeld", "ToolState", "who"]

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
        Column("expiresMs", "integer"),
    ),
    "migrations": (
        Column("migrationId", "varchar", size=16),
        Column("direction", "varchar", size=16),
        Column("status", "varchar", size=16),
        Column("startedAt", "datetime"),
        Column("data", "longtext"),
    ),
}
# How to break each lock by hand, for the LockHeld message.
UNLOCK_HINT = {"migrations": "quixotic migrate unlock ENV"}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _created_or_exists(create: Callable[[], object]) -> None:
    try:
        create()
    except ApiError as exc:
        if exc.code != 409:
            raise


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
        """Create the system database and its tables if missing (idempotent; cheap when present). Two processes
        may do this at once (two first runs): whatever the other one created first counts as created."""
        if self._ready:
            return
        if not self.exists():
            _created_or_exists(
                lambda: call(
                    "creating the quixotic system database", lambda: self.db.create(SYSTEM_DB, "quixotic (tool state)")
                )
            )
        existing = {
            t["$id"]: {c["key"] for c in t.get("columns", [])}
            for t in call("listing system tables", lambda: self.db.list_tables(SYSTEM_DB, [Query.limit(100)]))["tables"]
        }
        waiting: list[tuple[str, str]] = []
        for table, columns in _TABLES.items():
            if table not in existing:
                _created_or_exists(lambda t=table: self._create_table(t))  # type: ignore[misc]
                existing[table] = set()
            for column in columns:
                if column.key not in existing[table]:
                    _created_or_exists(lambda t=table, c=column: self.backend.create_column(SYSTEM_DB, t, c))  # type: ignore[misc]
                    waiting.append((table, column.key))
        for table, key in waiting:
            self.backend.wait_column(SYSTEM_DB, table, key)
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
        return toollock.read(self.db, SYSTEM_DB, name)

    @contextmanager
    def lock(self, name: str, ttl: float = 600.0, wait: float = 0.0, heartbeat: float | None = None) -> Iterator[Lock]:
        """Hold lock ``name`` for the block. Waits up to ``wait`` s for a holder; an expired lock (or one whose
        holder died on this host) is taken over. With ``heartbeat``, the expiry is pushed forward every
        ``heartbeat`` s, so a short ``ttl`` still covers a long run; ``Lock.lost`` is set if it was taken over."""
        self.ensure()
        owner = who()
        deadline = time.monotonic() + wait
        while True:
            mine, held = toollock.try_acquire(self.db, SYSTEM_DB, name, owner, ttl)
            if mine is not None:
                break
            if held is not None and time.monotonic() >= deadline:
                hint = UNLOCK_HINT.get(name, f"quixotic unlock ENV {name}")
                raise LockHeld(
                    f"the {name} lock is held by {held.describe()}. Wait for it to finish (--wait SECONDS), or if "
                    f"that process is gone, the lock expires on its own (or break it with `{hint}`)."
                )
            if held is not None:
                time.sleep(0.5)
        beat = Heartbeat(self.db, SYSTEM_DB, mine, ttl, heartbeat).start() if heartbeat else None
        try:
            yield mine
        finally:
            if beat is not None:
                beat.stop()
            toollock.release(self.db, SYSTEM_DB, name, mine.nonce)

    def break_lock(self, name: str) -> None:
        toollock.release(self.db, SYSTEM_DB, name, None)

    # --- migrations ---------------------------------------------------------------------------

    def migration_rows(self) -> list[dict[str, Any]]:
        """Every migration attempt, oldest first, each as ``{attempt, migrationId, direction, status, startedAt,
        **data}``."""
        if not self.exists():
            return []
        try:
            self.db.get_table(SYSTEM_DB, "migrations")
        except AppwriteException as exc:
            if getattr(exc, "code", None) == 404:
                return []
            raise translate(exc, "reading the migrations history") from exc
        out = []
        for row in self._all("migrations", ordered=True):
            record = json.loads(row.get("data") or "{}")
            record.update({k: row[k] for k in ("migrationId", "direction", "status", "startedAt")})
            record["attempt"] = row["$id"]
            out.append(record)
        return out

    def start_migration(self, migration_id: str, direction: str, status: str, data: dict[str, Any]) -> str:
        self.ensure()
        attempt = f"m{migration_id}-" + _now().strftime("%Y%m%d%H%M%S") + hashlib.sha256(os.urandom(8)).hexdigest()[:6]
        row = {
            "migrationId": migration_id,
            "direction": direction,
            "status": status,
            "startedAt": _iso(_now()),
            "data": json.dumps(data, sort_keys=True),
        }
        call("recording a migration attempt", lambda: self.db.create_row(SYSTEM_DB, "migrations", attempt, row))
        return attempt

    def update_migration(self, attempt: str, status: str, data: dict[str, Any]) -> None:
        row = {"status": status, "data": json.dumps(data, sort_keys=True)}
        call("recording a migration attempt", lambda: self.db.update_row(SYSTEM_DB, "migrations", attempt, row))

    # --- helpers ------------------------------------------------------------------------------

    def _all(self, table: str, ordered: bool = False) -> Iterator[dict[str, Any]]:
        def fetch(queries: list[str]) -> dict[str, Any]:
            extra = [Query.order_asc("$sequence")] if ordered else []
            return dict(self.db.list_rows(SYSTEM_DB, table, [*queries, *extra]))

        yield from self.backend.pages(f"reading {table}", fetch, "rows")
