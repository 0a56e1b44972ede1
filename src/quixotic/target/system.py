"""The tool's own state, kept in the target project itself: a system database ``quixotic``.

Keeping it in the project (not on a laptop or in CI) means every operator and every CI run sees the
same releases, locks and secret fingerprints. Tables (each a few queryable columns plus a JSON
``data`` column, so records can grow without schema changes):

- ``releases``: one row per deploy or rollback (who, when, git commit, plan digest, what changed);
- ``secrets``: the keyed fingerprint of each secret variable value quixotic set, to diff secrets it cannot
  read, and (row ``fingerprintkey``) the project's fingerprint key itself: see ``quixotic.plan.state`` for
  why it lives here; backups leave this table out, and plan files and release records never hold it;
- ``locks``: named locks with owner, host, pid and expiry, so two deploys never interleave and a
  lock whose holder died expires on its own (fenced and renewed by heartbeats: see ``quixotic.target.locks``);
- ``migrations``: one row per migration attempt (up, down or baseline): status, file checksum, who,
  git commit, timings, error and the progress cursor of a data migration, so a killed one resumes;
- ``evidence``: one row per go/no-go run (validate, monitor, bench, parity, preflight): its kind, the
  environment it is about, when, its verdict and its report, so ``preflight`` can ask "did this pass within
  N hours" and ``report`` can draw the latest of each;
- ``freezes``: the feature freeze of each environment (reason, days, who started it), one row per environment,
  so a freeze started on one laptop holds for every deploy and migration from then on.

The app never sees it: deploy ignores this database when diffing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quixotic.config.resources import Column, column_to_cli_json
from quixotic.errors import Conflict, LockHeld, NotFound
from quixotic.plan.release import Release
from quixotic.plan.state import is_legacy_fingerprint, migrate_fingerprint, migrate_record, secret_fingerprint
from quixotic.sdk.backend import SYSTEM_DATABASE, AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.values import Query
from quixotic.target import locks
from quixotic.target.locks import Heartbeat, Lock
from quixotic.target.provenance import who

__all__ = ["SYSTEM_DB", "EvidenceRecord", "SystemDatabase"]

SYSTEM_DB = SYSTEM_DATABASE
# The columns of a recorded run (a release, a migration attempt): how it stands, when it started, its record.
_RUN = (Column("status", "varchar", size=16), Column("startedAt", "datetime"), Column("data", "longtext"))
_TABLES: dict[str, tuple[Column, ...]] = {
    "releases": (Column("environment", "varchar", size=64), Column("kind", "varchar", size=16), *_RUN),
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
    "migrations": (Column("migrationId", "varchar", size=16), Column("direction", "varchar", size=16), *_RUN),
    "evidence": (
        Column("kind", "varchar", size=16),
        Column("environment", "varchar", size=64),
        Column("startedAt", "datetime"),
        Column("verdict", "varchar", size=16),
        Column("data", "longtext"),
    ),
    "freezes": (
        Column("environment", "varchar", size=64),
        Column("data", "longtext"),
    ),
}
# How to break each lock by hand, for the LockHeld message.
UNLOCK_HINT = {"migrations": "quixotic migrate unlock ENV"}
KEY_ROW = "fingerprintkey"  # the secrets table's row holding the fingerprint key (hex), not a secret's record
_COLUMNS = ("id", "environment", "kind", "status", "startedAt")


@dataclass(frozen=True)
class EvidenceRecord:
    """One recorded go/no-go run: ``kind`` (validate, monitor, bench, parity, preflight), the environment it is
    about, when it started (ISO 8601), its verdict and its report."""

    id: str
    kind: str
    environment: str
    started_at: str
    verdict: str
    data: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _created_or_exists(doing: str, create: Any, *args: Any) -> None:
    try:
        call(doing, create, *args)
    except Conflict:
        pass


class SystemDatabase:
    """The tool's own database in one target project: releases, secret fingerprints, locks, migrations."""

    def __init__(self, backend: AppwriteBackend) -> None:
        self.backend = backend
        self.db = backend.db
        self._ready = False
        self._seen = False  # the database was found once: nothing of the toolkit deletes it, so it stays
        self._key: bytes | None = None

    # --- schema -------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the target has the system database yet (asked once it has been found: every read asks)."""
        if self._seen or self._ready:
            return True
        try:
            call("reading the quixotic system database", self.db.get, SYSTEM_DB)
        except NotFound:
            return False
        self._seen = True
        return True

    def ensure(self) -> None:
        """Create the system database and its tables if missing (idempotent; cheap when present). Two processes
        may do this at once (two first runs): whatever the other one created first counts as created."""
        if self._ready:
            return
        if not self.exists():
            _created_or_exists("creating the quixotic system database", self.db.create, SYSTEM_DB,
                               "quixotic (tool state)")  # fmt: skip
        existing = {t["$id"]: {c["key"] for c in t.get("columns", [])} for t in self.backend.tables_of(SYSTEM_DB)}
        waiting: list[tuple[str, str]] = []
        for table, columns in _TABLES.items():
            if table not in existing:
                try:  # with its columns in one call; one another run created first gets them one by one
                    created = call(f"creating system table {table}", self.db.create_table, SYSTEM_DB, table, table,
                                   columns=[column_to_cli_json(c) for c in columns])  # fmt: skip
                    self.backend.wait_table(SYSTEM_DB, table, [c.key for c in columns], answer=created)
                    continue
                except Conflict:
                    existing[table] = set()
            for column in columns:
                if column.key not in existing[table]:
                    _created_or_exists(f"creating column {table}.{column.key}", self.backend.create_column,
                                       SYSTEM_DB, table, column)  # fmt: skip
                    waiting.append((table, column.key))
        for table, key in waiting:
            self.backend.wait_column(SYSTEM_DB, table, key)
        self._ready = True

    # --- secrets ------------------------------------------------------------------------------

    @staticmethod
    def _secret_row(scope: str, key: str) -> str:
        return "s" + hashlib.sha256(f"{scope}/{key}".encode()).hexdigest()[:35]

    def fingerprint_key(self, known: Mapping[tuple[str, str], str] | None = None) -> bytes:
        """The project's key for secret fingerprints, made on first use. Making it is the moment an older
        version's plain fingerprints are migrated (``known``: the configuration's secret values, by scope and
        key, so that those still matching are re-keyed rather than forgotten). Two first runs at once agree:
        the key that was stored first wins."""
        if self._key is not None:
            return self._key
        self.ensure()
        found = self._stored_key()
        if found is None:
            fresh = os.urandom(32)
            try:
                call("storing the fingerprint key", self.db.create_row, SYSTEM_DB, "secrets", KEY_ROW,
                     {"scope": "", "key": "", "hash": fresh.hex()})  # fmt: skip
                found = fresh
            except Conflict:  # another first run stored its key first: use that one
                found = self._stored_key()
                if found is None:
                    raise
            self._key = found
            self.migrate_fingerprints(known or {})
        self._key = found
        return found

    def stored_fingerprint_key(self) -> bytes | None:
        """The fingerprint key if the target has one, without making it (no write: previews, checks)."""
        if self._key is None and self.exists():
            self._key = self._stored_key()
        return self._key

    def _stored_key(self) -> bytes | None:
        try:
            row = call("reading the fingerprint key", self.db.get_row, SYSTEM_DB, "secrets", KEY_ROW)
        except NotFound:
            return None
        return bytes.fromhex(str(row["hash"]))

    def fingerprint(self, value: str, known: Mapping[tuple[str, str], str] | None = None) -> str:
        """``value``'s keyed fingerprint in this project (the key is made if it is missing: ``known`` as for
        :meth:`fingerprint_key`)."""
        return secret_fingerprint(value, self.fingerprint_key(known))

    def preview_fingerprint(self, value: str) -> str:
        """``value``'s fingerprint, or "" (unknown) while the target has no key: nothing recorded can match
        then anyway. Writes nothing."""
        key = self.stored_fingerprint_key()
        return secret_fingerprint(value, key) if key else ""

    def migrate_fingerprints(self, known: Mapping[tuple[str, str], str]) -> int:
        """Re-key the plain SHA-256 fingerprints of older versions, in the secrets table and in release
        records: those of a value in ``known`` that still matches become keyed; the others are forgotten
        (secrets: the value counts as unknown, so the next deploy sets it) or marked ``LEGACY`` (releases: a
        rollback then reports the secret as differing). Returns how many were migrated."""
        key = self.fingerprint_key()
        count = 0
        for row in list(self._all("secrets")):
            scope, name, recorded = str(row["scope"]), str(row["key"]), str(row["hash"])
            if row["$id"] == KEY_ROW or not is_legacy_fingerprint(recorded):
                continue
            keyed = migrate_fingerprint(recorded, known.get((scope, name)), key)
            if keyed.startswith("k1:"):
                self.record_secret(scope, name, keyed)
            else:
                self.forget_secret(scope, name)
            count += 1
        for row in list(self._all("releases")):
            record, changed = migrate_record(json.loads(row.get("data") or "{}"), known, key)
            if changed:
                call("migrating a release's fingerprints", self.db.update_row, SYSTEM_DB, "releases", row["$id"],
                     {"data": json.dumps(record, sort_keys=True)})  # fmt: skip
                count += changed
        return count

    def secret_hashes(self) -> dict[tuple[str, str], str]:
        """The recorded fingerprint of each secret, by (scope, key); a legacy one not yet migrated is ""
        (unknown: compared, it never passes for the current value)."""
        if not self.exists():
            return {}
        out: dict[tuple[str, str], str] = {}
        for row in self._all("secrets"):
            if row["$id"] == KEY_ROW:
                continue
            recorded = str(row["hash"])
            out[(row["scope"], row["key"])] = "" if is_legacy_fingerprint(recorded) else recorded
        return out

    def record_secret(self, scope: str, key: str, value_hash: str) -> None:
        self.ensure()
        data = {"scope": scope, "key": key, "hash": value_hash}
        call("recording a secret's fingerprint", self.db.upsert_row, SYSTEM_DB, "secrets",
             self._secret_row(scope, key), data)  # fmt: skip

    def forget_secret(self, scope: str, key: str) -> None:
        if not self.exists():
            return
        try:
            call("forgetting a secret's fingerprint", self.db.delete_row, SYSTEM_DB, "secrets",
                 self._secret_row(scope, key))  # fmt: skip
        except NotFound:
            pass

    # --- the feature freeze ----------------------------------------------------------------------

    @staticmethod
    def _freeze_row(environment: str) -> str:
        return "f" + hashlib.sha256(environment.encode()).hexdigest()[:35]

    def freeze_record(self, environment: str) -> dict[str, Any] | None:
        """The freeze started for ``environment`` (its JSON: reason, from, until, by, at), or None. Writes nothing."""
        if not self.exists():
            return None
        try:
            row = call("reading the feature freeze", self.db.get_row, SYSTEM_DB, "freezes",
                       self._freeze_row(environment))  # fmt: skip
        except NotFound:
            return None
        data = json.loads(row.get("data") or "{}")
        return data if isinstance(data, dict) else None

    def set_freeze(self, environment: str, record: Mapping[str, Any]) -> None:
        self.ensure()
        row = {"environment": environment, "data": json.dumps(dict(record), sort_keys=True)}
        call("recording the feature freeze", self.db.upsert_row, SYSTEM_DB, "freezes",
             self._freeze_row(environment), row)  # fmt: skip

    def clear_freeze(self, environment: str) -> bool:
        """Remove ``environment``'s freeze; whether there was one."""
        if not self.exists():
            return False
        try:
            call("ending the feature freeze", self.db.delete_row, SYSTEM_DB, "freezes", self._freeze_row(environment))
        except NotFound:
            return False
        return True

    # --- releases -----------------------------------------------------------------------------

    def start_release(self, environment: str, kind: str, record: dict[str, Any]) -> Release:
        """Record a release as running (see :meth:`release`, which also finishes it)."""
        self.ensure()
        release = Release(
            _now().strftime("r%Y%m%d%H%M%S") + hashlib.sha256(os.urandom(8)).hexdigest()[:6],
            environment, kind, "running", _iso(_now()), record,
        )  # fmt: skip
        row = {"environment": environment, "kind": kind, "status": release.status, "startedAt": release.started_at,
               "data": json.dumps(record, sort_keys=True)}  # fmt: skip
        call("recording the release", self.db.create_row, SYSTEM_DB, "releases", release.id, row)
        return release

    def finish_release(self, release: Release, status: str) -> None:
        release.status = status
        row = {"status": status, "data": json.dumps(release.record, sort_keys=True)}
        call("recording the release", self.db.update_row, SYSTEM_DB, "releases", release.id, row)

    @contextmanager
    def release(self, environment: str, kind: str, record: dict[str, Any], *, redact: Any = str) -> Iterator[Release]:
        """Record a release for the block: running, then succeeded, or failed with the error (``redact``-ed)
        when the block raises. The block adds to ``release.record`` what it wants kept."""
        release = self.start_release(environment, kind, record)
        try:
            yield release
        except BaseException as exc:
            release.record["error"] = redact(str(exc))
            self.finish_release(release, "failed")
            raise
        self.finish_release(release, "succeeded")

    def releases(self, limit: int = 50) -> list[Release]:
        """Newest first."""
        if not self.exists():
            return []
        rows = call(
            "listing releases",
            self.db.list_rows, SYSTEM_DB, "releases", [Query.order_desc("$sequence"), Query.limit(limit)],
        )["rows"]  # fmt: skip
        return [
            Release(row["$id"], row["environment"], row["kind"], row["status"], row["startedAt"],
                    {k: v for k, v in json.loads(row.get("data") or "{}").items() if k not in _COLUMNS})
            for row in rows
        ]  # fmt: skip

    # --- locks --------------------------------------------------------------------------------

    def current_lock(self, name: str) -> Lock | None:
        if not self.exists():
            return None
        return locks.read(self.db, SYSTEM_DB, name)

    @contextmanager
    def lock(
        self, name: str, wait: float = 0.0, *, ttl: float | None = None, heartbeat: float | None = None
    ) -> Iterator[Lock]:
        """Hold lock ``name`` for the block, under the one lock policy (:data:`quixotic.target.locks.TTL`, pushed
        forward every :data:`~quixotic.target.locks.HEARTBEAT` s while the block runs). Waits up to ``wait`` s
        for a holder; an expired lock (or one whose holder died on this host) is taken over; ``Lock.lost`` is
        set if this one was taken over meanwhile."""
        ttl = locks.TTL if ttl is None else ttl
        heartbeat = locks.HEARTBEAT if heartbeat is None else heartbeat
        self.ensure()
        owner = who()
        deadline = time.monotonic() + wait
        while True:
            mine, held = locks.try_acquire(self.db, SYSTEM_DB, name, owner, ttl)
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
        beat = Heartbeat(self.db, SYSTEM_DB, mine, ttl, heartbeat).start()
        try:
            yield mine
        finally:
            beat.stop()
            if not mine.lost.is_set():  # once lost, the row may be another run's by now: never delete it
                locks.release(self.db, SYSTEM_DB, name, mine.nonce)

    def break_lock(self, name: str) -> None:
        locks.release(self.db, SYSTEM_DB, name, None)

    # --- migrations ---------------------------------------------------------------------------

    def migration_rows(self) -> list[dict[str, Any]]:
        """Every migration attempt, oldest first, each as ``{attempt, migrationId, direction, status, startedAt,
        **data}``."""
        if not self.exists():
            return []
        try:
            call("reading the migrations history", self.db.get_table, SYSTEM_DB, "migrations")
        except NotFound:
            return []
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
        call("recording a migration attempt", self.db.create_row, SYSTEM_DB, "migrations", attempt, row)
        return attempt

    def update_migration(self, attempt: str, status: str, data: dict[str, Any]) -> None:
        row = {"status": status, "data": json.dumps(data, sort_keys=True)}
        call("recording a migration attempt", self.db.update_row, SYSTEM_DB, "migrations", attempt, row)

    # --- evidence -----------------------------------------------------------------------------

    def record_evidence(self, kind: str, environment: str, verdict: str, data: dict[str, Any],
                        started_at: str | None = None) -> EvidenceRecord:  # fmt: skip
        """Keep one run's verdict and report."""
        self.ensure()
        record = EvidenceRecord(
            "e" + _now().strftime("%Y%m%d%H%M%S") + hashlib.sha256(os.urandom(8)).hexdigest()[:8],
            kind, environment, started_at or _iso(_now()), verdict, data,
        )  # fmt: skip
        row = {"kind": kind, "environment": environment, "startedAt": record.started_at, "verdict": verdict,
               "data": json.dumps(data, sort_keys=True, default=str)}  # fmt: skip
        call(f"recording the {kind} evidence", self.db.create_row, SYSTEM_DB, "evidence", record.id, row)
        return record

    def evidence(self, kind: str | None = None, limit: int = 100) -> list[EvidenceRecord]:
        """Newest first (of ``kind`` when given)."""
        if not self.exists():
            return []
        queries = [Query.order_desc("$sequence"), Query.limit(limit)]
        if kind is not None:
            queries.append(Query.equal("kind", kind))
        try:
            rows = call("listing evidence", self.db.list_rows, SYSTEM_DB, "evidence", queries)["rows"]
        except NotFound:  # a system database from before the evidence table
            return []
        return [EvidenceRecord(row["$id"], row["kind"], row["environment"], row["startedAt"], row["verdict"],
                               json.loads(row.get("data") or "{}")) for row in rows]  # fmt: skip

    # --- helpers ------------------------------------------------------------------------------

    def _all(self, table: str, ordered: bool = False) -> Iterator[dict[str, Any]]:
        def fetch(queries: list[str]) -> dict[str, Any]:
            extra = [Query.order_asc("$sequence")] if ordered else []
            return dict(self.db.list_rows(SYSTEM_DB, table, [*queries, *extra]))

        yield from self.backend.pages(f"reading {table}", fetch, "rows")
