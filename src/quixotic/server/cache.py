"""In-memory caches of what nearly every request reads (API keys, projects, a table's schema), and how they
know they are stale: generation stamps that SQLite triggers keep in the database itself.

Why in the database: the CLI (``quixotic local project create``, ``key create``), a second server, a test's own
:class:`~quixotic.server.store.Store` may write the same data folder while the server runs. A write of any of
them fires the triggers :func:`install` creates, in the writer's own transaction, so a generation moves exactly
when the data it stands for commits (and moves back if that transaction rolls back). Every cached read first
reads its generation with one small statement on the connection it is about to read with, whichever that is
(the writer, a per-thread reader, a transaction's snapshot), and uses an entry only when the stamp it was
stored under is the one read now.

Each generation is a random 64-bit value set afresh by every write, not a counter: equal stamps mean "no write
since", even across two copies of one data folder (a copy shares its content until one of them writes) or a
rolled-back transaction. Stamps also carry the database's *epoch*, a random value set when the folder's
database is first opened, so two unrelated folders never share an entry. Scopes:

- ``auth``: the ``keys`` and ``projects`` tables (any insert, update or delete of a key or a project);
- ``schema:<project>``: that project's databases, tables, columns and indexes in ``meta`` (both APIs store
  collections and attributes under the same kinds), creates, updates (status changes included) and deletes;
- ``functions:<project>``: that project's functions (what the engine's event dispatch reads on every write);
- ``principals:<project>``: who a session or JWT is: that project's sessions (``account_sessions``), users and
  memberships, so logging out, deleting or blocking a user, a label or a membership change is seen at once.

A request that reads on the event loop reads the stamps it needs (``auth``, its project's ``schema`` and
``principals``) in one statement at the start of its one read snapshot (:func:`prefetched`); :func:`stamp`
answers from those while that snapshot lasts and nothing was written on its connection, and reads the table
otherwise.

An entry is stored only when what was loaded is known to match its stamp: inside a transaction (one snapshot),
or when the stamp read again after loading has not moved. Entries are per process, bounded, and keyed by the
project where there is one, so a project never reads another's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Generic, NamedTuple, TypeVar

SCHEMA_KINDS: Final[tuple[str, ...]] = ("database", "table", "column", "index")
PRINCIPAL_KINDS: Final[tuple[str, ...]] = ("user", "membership")  # with ``account_sessions``
AUTH: Final = "auth"
_EPOCH: Final = ""  # the scope whose value is the database's epoch
# Two statements that never conflict, not an ``INSERT OR REPLACE``: a trigger's conflict clause gives way to
# the firing statement's, so under ``INSERT OR IGNORE INTO projects`` a replace would be ignored.
_BUMP = (
    "INSERT INTO cache_generations (scope, n) SELECT {scope}, 0"
    " WHERE NOT EXISTS (SELECT 1 FROM cache_generations WHERE scope = {scope});"
    " UPDATE cache_generations SET n = random() WHERE scope = {scope};"
)

_AUTH_TRIGGERS = "\n".join(
    f"CREATE TRIGGER IF NOT EXISTS cache_{table}_{event.lower()} AFTER {event} ON {table} "
    f"BEGIN {_BUMP.format(scope=repr(AUTH))} END;"
    for table in ("keys", "projects")
    for event in ("INSERT", "UPDATE", "DELETE")
)


def _project_triggers(name: str, table: str, prefix: str, kinds: tuple[str, ...] = ()) -> str:
    """Triggers moving ``<prefix>:<project>`` on every insert, delete and update of ``table``'s rows (of ``kinds``
    only, when given); an update moves both the old row's project and the new one's."""
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    new, old = (f" WHEN NEW.kind IN ({listed})", f" WHEN OLD.kind IN ({listed})") if kinds else ("", "")
    either = f" WHEN OLD.kind IN ({listed}) OR NEW.kind IN ({listed})" if kinds else ""
    bump_new, bump_old = (_BUMP.format(scope=f"'{prefix}:' || {row}.project") for row in ("NEW", "OLD"))
    return (
        f"CREATE TRIGGER IF NOT EXISTS cache_{name}_insert AFTER INSERT ON {table}{new} BEGIN {bump_new} END;\n"
        f"CREATE TRIGGER IF NOT EXISTS cache_{name}_delete AFTER DELETE ON {table}{old} BEGIN {bump_old} END;\n"
        f"CREATE TRIGGER IF NOT EXISTS cache_{name}_update AFTER UPDATE ON {table}{either}"
        f" BEGIN {bump_old} {bump_new} END;"
    )


_DDL = f"""
CREATE TABLE IF NOT EXISTS cache_generations (scope TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO cache_generations (scope, n) VALUES ('{_EPOCH}', random());
{_AUTH_TRIGGERS}
{_project_triggers("meta", "meta", "schema", SCHEMA_KINDS)}
{_project_triggers("functions", "meta", "functions", ("function",))}
{_project_triggers("principals", "meta", "principals", PRINCIPAL_KINDS)}
{_project_triggers("sessions", "account_sessions", "principals")}
"""
_STAMP_SQL = (
    f"SELECT (SELECT n FROM cache_generations WHERE scope='{_EPOCH}'), (SELECT n FROM cache_generations WHERE scope=?)"
)


def install(conn: sqlite3.Connection) -> None:
    """Create the generations table and its triggers (idempotent; after the store's own tables and the account
    service's ``account_sessions`` exist).

    ``IF NOT EXISTS`` keeps a trigger a data folder already has: a change to a trigger's body needs a new name
    (and a ``DROP TRIGGER`` of the old one here), or older folders keep the old body."""
    conn.executescript(_DDL)


def schema_scope(project: str) -> str:
    """The scope of a project's databases, tables, columns and indexes."""
    return "schema:" + project


def functions_scope(project: str) -> str:
    """The scope of a project's functions."""
    return "functions:" + project


def principals_scope(project: str) -> str:
    """The scope of a project's sessions, users and memberships (who a session or a JWT is)."""
    return "principals:" + project


class Stamp(NamedTuple):
    """Which state of ``scope`` a read sees: the database's epoch and the scope's generation (None: never written).

    A named tuple, not a dataclass: a request makes three and compares them (a frozen dataclass costs ~4x)."""

    epoch: int | None
    scope: str
    generation: int | None


def stamp(conn: sqlite3.Connection, scope: str) -> Stamp:
    """The stamp of ``scope`` as ``conn`` sees it now: one statement, none when :func:`prefetched` read it."""
    held = _PREFETCHED.get(id(conn))
    if held is not None and held.conn is conn and conn.in_transaction and conn.total_changes == held.changes:
        found = held.stamps.get(scope)
        if found is not None:
            return found
    epoch, generation = conn.execute(_STAMP_SQL, (scope,)).fetchone()
    return Stamp(epoch, scope, generation)


class _Prefetch(NamedTuple):
    conn: sqlite3.Connection
    changes: int  # ``conn.total_changes`` when read: any write since (triggers included) may move a stamp
    stamps: dict[str, Stamp]


# Connection id -> the stamps read for its current snapshot. A connection is used by one thread at a time
# (``Store.read``), so an entry is only read and written by the thread that holds that connection.
_PREFETCHED: dict[int, _Prefetch] = {}


def prefetched(conn: sqlite3.Connection, scopes: Sequence[str]) -> AbstractContextManager[None]:
    """Read the stamps of ``scopes`` on ``conn`` in one statement, for :func:`stamp` to answer from while this
    lasts. Only inside a read transaction whose snapshot this statement starts (or one already started):
    once the transaction ends or anything is written on ``conn``, :func:`stamp` reads the table again."""
    return _Prefetching(conn, scopes)


class _Prefetching:
    """:func:`prefetched` as a plain context manager (every request on the loop enters one)."""

    __slots__ = ("_conn", "_held", "_scopes")

    def __init__(self, conn: sqlite3.Connection, scopes: Sequence[str]) -> None:
        self._conn = conn
        self._scopes = scopes
        self._held = False

    def __enter__(self) -> None:
        conn, scopes = self._conn, self._scopes
        if not conn.in_transaction or id(conn) in _PREFETCHED:
            return
        values = conn.execute(_prefetch_sql(len(scopes)), tuple(scopes)).fetchone()
        epoch = values[0]
        stamps = {scope: Stamp(epoch, scope, values[i]) for i, scope in enumerate(scopes, 1)}
        _PREFETCHED[id(conn)] = _Prefetch(conn, conn.total_changes, stamps)
        self._held = True

    def __exit__(self, *exc: object) -> None:
        if self._held:
            _PREFETCHED.pop(id(self._conn), None)
            self._held = False


@lru_cache(maxsize=8)
def _prefetch_sql(count: int) -> str:
    generations = ", ".join(["(SELECT n FROM cache_generations WHERE scope=?)"] * count)
    return f"SELECT (SELECT n FROM cache_generations WHERE scope='{_EPOCH}'), {generations}"


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    stamp: Stamp
    value: V


class Memo(Generic[K, V]):
    """Values by key, each kept with the stamp it was loaded under; at most ``limit`` entries (oldest go first).

    Values are shared by every thread and request that reads them: callers must treat them as read-only.
    """

    def __init__(self, limit: int = 2048) -> None:
        self._limit = limit
        self._entries: dict[tuple[int, K], _Entry[V]] = {}
        self._lock = threading.Lock()

    def recall(self, conn: sqlite3.Connection, now: Stamp, key: K, load: Callable[[], V]) -> V:
        """The value of ``key`` at ``now`` (read by :func:`stamp` on ``conn``): the entry stored under that very
        stamp, else ``load()`` on ``conn``, which is kept when it is known to match ``now``."""
        if now.epoch is None:  # a database without an epoch: nothing to tell its states apart by
            return load()
        entry = self._entries.get((now.epoch, key))
        if entry is not None and entry.stamp == now:
            return entry.value
        value = load()
        # Outside a transaction each statement sees the newest commit: what was loaded matches ``now`` only if
        # no write of the scope committed meanwhile, which the stamp read again tells.
        if conn.in_transaction or stamp(conn, now.scope) == now:
            with self._lock:
                if len(self._entries) >= self._limit:
                    self._entries.pop(next(iter(self._entries)), None)
                self._entries[(now.epoch, key)] = _Entry(now, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
