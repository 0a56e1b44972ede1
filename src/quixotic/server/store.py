"""SQLite storage of the local server: one database file (WAL) plus a files folder, in one data dir.

Layout. Every resource lives in a table with the same shape, which is what ``queries`` compiles for:
``_seq`` (integer key, ``$sequence``), ``_uid`` (``$id``), ``_createdAt``, ``_updatedAt``,
``_permissions`` (JSON array) and ``data`` (JSON object of the other fields).

- ``meta``: system resources of every project (databases, tables, columns, indexes, buckets, files,
  users, ...), told apart by ``project``, ``kind`` and ``parent`` (the ID path of the owner).
- ``r_<n>``: the rows of one Appwrite table, ``n`` being that table's ``_seq`` in ``meta``, so
  dropping a table is one ``DROP TABLE`` and ``$sequence`` counts per table as in Appwrite.
- ``projects`` and ``keys``: projects and hashed API keys (see ``auth``).

All writes go through :meth:`Store.tx`, one ``BEGIN IMMEDIATE`` transaction on the one writer
connection under a process-wide lock, so a request either writes everything or nothing, and
concurrent increments never lose updates. Other processes (the CLI creating a project while the
server runs) are serialised by SQLite's own file lock (``busy_timeout``).

Reads (:meth:`Store.read`) do not wait for writers: each takes a reader connection of its own from a
small pool (``query_only``), in one read transaction, so it sees one committed snapshot (WAL) however
long a bulk write holds the writer. A thread that holds the writer lock (inside :meth:`Store.tx`, or
under ``store.lock``) reads on the writer connection instead, so it sees its own uncommitted writes.

Secrets live here (hashed API keys, the signing secret of dynamic keys, secret variables), so the data
dir is private to the server's user (0700, the database files 0600), and ``secure_delete`` is on: a
changed or deleted value is overwritten with zeros, not left in free pages or the WAL for a copy of the
file to give away. Function code never gets to open any of it (``compute.runtime.isolation``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quixotic.errors import ApiError, LocalDataError
from quixotic.server import cache
from quixotic.server import queries as q
from quixotic.server.account import sessions
from quixotic.server.clock import now_iso

Doc = dict[str, Any]
# Start-up facts (the isolation in force, what a crash left behind) are shown at INFO whatever the server's
# log level: they are what an operator reads a server's log for.
startup_log = logging.getLogger("quixotic.server.startup")
startup_log.setLevel(logging.INFO)
MAX_COUNT = 5000  # Appwrite's APP_LIMIT_COUNT: totals are counted up to this

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, createdAt TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL, expire TEXT, createdAt TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    _seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL, _uid TEXT NOT NULL,
    _createdAt TEXT NOT NULL, _updatedAt TEXT NOT NULL, _permissions TEXT NOT NULL DEFAULT '[]',
    data TEXT NOT NULL DEFAULT '{}',
    UNIQUE (project, kind, parent, _uid)
);
CREATE INDEX IF NOT EXISTS meta_parent ON meta (project, kind, parent, _seq);
"""

ROW_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {name} (
    _seq INTEGER PRIMARY KEY AUTOINCREMENT,
    _uid TEXT NOT NULL UNIQUE,
    _createdAt TEXT NOT NULL, _updatedAt TEXT NOT NULL,
    _permissions TEXT NOT NULL DEFAULT '[]',
    data TEXT NOT NULL DEFAULT '{{}}'
)
"""


def _qx_search(text: Any, query: Any) -> int:
    if text is None or query is None:
        return 0
    return 1 if q.search_matches(str(text), str(query)) else 0


# How much of the database file a reader maps instead of copying pages into its own cache (2 MB each, SQLite's
# default). A count of a table's rows reads its whole ID index: once that index outgrows the 2 MB (~50,000 rows),
# every count read it again through the OS, 0.4-1 ms a list where the mapped file answers in ~50 us. The mapping
# is the OS's page cache, shared by every reader, not memory of each.
READER_MMAP = 1 << 30


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's settings; ``readonly`` refuses every write on it (``query_only``)."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    # Each time a checkpoint resets the WAL it is cut back to nothing, so the frames that held a value before it
    # changed do not linger past the next checkpoint in the tail of a WAL that is being reused.
    conn.execute("PRAGMA journal_size_limit=0")
    conn.create_function("qx_search", 2, _qx_search, deterministic=True)
    if readonly:
        conn.execute("PRAGMA query_only=ON")
        conn.execute(f"PRAGMA mmap_size={READER_MMAP}")
    return conn


class WriterLock:
    """The writer connection's re-entrant lock, which knows whether the calling thread holds it.

    A thread marked :meth:`refused` (the event loop's, running the handlers that only read) may not take
    it: a write there would stall every request behind whatever write holds it.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._depth = 0
        self._local = threading.local()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if getattr(self._local, "refused", False):
            raise RuntimeError("a write was attempted on a thread that only reads (the event loop's)")
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner = threading.get_ident()
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def refused(self) -> AbstractContextManager[None]:
        """While this lasts, the calling thread may not take the lock (it raises ``RuntimeError``)."""
        return _Refused(self._local)


class _Refused:
    """:meth:`WriterLock.refused` as a plain context manager: it is entered on every request the loop serves,
    where a generator-based one costs a few microseconds more."""

    __slots__ = ("_before", "_local")

    def __init__(self, local: threading.local) -> None:
        self._local = local
        self._before = False

    def __enter__(self) -> None:
        self._before = getattr(self._local, "refused", False)
        self._local.refused = True

    def __exit__(self, *exc: object) -> None:
        self._local.refused = self._before


def create_schema(conn: sqlite3.Connection) -> None:
    """The store's tables, the account service's sessions and the caches' generation triggers on them (in that
    order: a trigger needs its table); idempotent."""
    conn.executescript(_SCHEMA)
    sessions.ensure_tables(conn)
    cache.install(conn)


class Store:
    """The data dir: ``quixotic.db`` and ``files/``. Safe to share between threads."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).absolute()  # function builds and workers run in other folders
        self.lock = WriterLock()
        self._readers: list[sqlite3.Connection] = []  # idle reader connections
        self._all_readers: list[sqlite3.Connection] = []  # every one opened, for close()
        self._readers_lock = threading.Lock()
        self._local = threading.local()  # the reader connection a thread is reading on, if any
        self._closed = False
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)
            self.files_dir.mkdir(exist_ok=True)
            self.conn = connect(self.path)
            create_schema(self.conn)
            for suffix in ("", "-wal", "-shm"):
                database_file = self.data_dir / f"quixotic.db{suffix}"
                if database_file.exists():
                    database_file.chmod(0o600)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise LocalDataError(
                f"cannot use data folder {self.data_dir}: {exc}. Check that it is writable and that "
                "quixotic.db in it is a quixotic database (move it away to start afresh)."
            ) from exc

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def path(self) -> Path:
        return self.data_dir / "quixotic.db"

    def close(self) -> None:
        """Close the writer and every reader connection (a reader in use by another thread fails its next
        statement: closing is for a server that is stopping)."""
        with self._readers_lock:
            self._closed = True
            readers, self._all_readers, self._readers = self._all_readers, [], []
        for conn in readers:
            conn.close()
        self.conn.close()

    def sweep_leftovers(self) -> list[str]:
        """Remove what a crash leaves in ``files/``: upload bodies half copied into ``.tmp`` and deleted buckets
        half removed from ``.trash``. Only for a server starting up (nothing is in flight then); logs each."""
        removed: list[str] = []
        for folder in (".tmp", ".trash"):
            where = self.files_dir / folder
            if not where.is_dir():
                continue
            for entry in sorted(where.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(os.path.relpath(entry, self.data_dir))
        if removed:
            startup_log.warning(
                "start-up: removed %d leftover(s) of an interrupted run from the files folder: %s",
                len(removed), ", ".join(removed[:20]) + (" ..." if len(removed) > 20 else ""),
            )  # fmt: skip
        return removed

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all or nothing."""
        with self.lock:
            if self.conn.in_transaction:  # nested: join the outer transaction
                yield self.conn
                return
            reading: sqlite3.Connection | None = getattr(self._local, "reader", None)
            if reading is not None and reading.in_transaction:
                # A write inside this thread's read: the rest of the read sees it (its snapshot ends here).
                reading.execute("COMMIT")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection to read with, in one snapshot; never waits for a writer of this or another process.

        The thread's own write transaction, or the writer lock it holds, reads on the writer connection (its
        own writes included); a read inside a read goes on with the outer one's connection and snapshot.
        """
        return _Reading(self)

    def _take_reader(self) -> sqlite3.Connection:
        with self._readers_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if self._readers:
                return self._readers.pop()
        conn = connect(self.path, readonly=True)
        with self._readers_lock:
            self._all_readers.append(conn)
        return conn

    def _give_back(self, conn: sqlite3.Connection) -> None:
        """Back to the pool with its snapshot ended; closed instead if it cannot end it (or the store is)."""
        healthy = True
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.Error:
            healthy = False
        with self._readers_lock:
            if healthy and not self._closed:
                self._readers.append(conn)
                return
            if conn in self._all_readers:
                self._all_readers.remove(conn)
        conn.close()


class _Reading:
    """:meth:`Store.read` as a plain context manager (every request enters one or two)."""

    __slots__ = ("_conn", "_how", "_store")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._how = ""  # "writer": under the writer lock; "outer": a read inside a read; "own": a reader taken
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        if store.lock.held():
            store.lock.acquire()
            self._how = "writer"
            return store.conn
        current: sqlite3.Connection | None = getattr(store._local, "reader", None)
        if current is not None:
            self._how = "outer"
            return current
        conn = store._take_reader()
        store._local.reader = conn
        self._how, self._conn = "own", conn
        try:
            conn.execute("BEGIN")  # deferred: the snapshot starts at the first read and lasts to the end
        except BaseException:
            self.__exit__()
            raise
        return conn

    def __exit__(self, *exc: object) -> None:
        if self._how == "writer":
            self._store.lock.release()
        elif self._how == "own" and self._conn is not None:
            self._store._local.reader = None
            self._store._give_back(self._conn)
            self._conn = None
        self._how = ""


# --- documents ------------------------------------------------------------------------------------

_COLS = "_seq, _uid, _createdAt, _updatedAt, _permissions, data"


def to_doc(row: Sequence[Any]) -> Doc:
    """A stored row (``_COLS`` order) as an Appwrite-style document."""
    seq, uid, created, updated, perms, data = row
    doc: Doc = {
        "$id": uid,
        "$sequence": seq,
        "$createdAt": created,
        "$updatedAt": updated,
        "$permissions": json.loads(perms),
    }
    doc.update(json.loads(data))
    return doc


def _data_of(doc: Mapping[str, Any]) -> str:
    # allow_nan=False: what validation let through still cannot store a NaN the reads could not parse (#17)
    return json.dumps({k: v for k, v in doc.items() if not k.startswith("$")}, separators=(",", ":"), allow_nan=False)


def meta_get(conn: sqlite3.Connection, project: str, kind: str, parent: str, uid: str) -> Doc | None:
    row = conn.execute(
        f"SELECT {_COLS} FROM meta WHERE project=? AND kind=? AND parent=? AND _uid=?",
        (project, kind, parent, uid),
    ).fetchone()
    return to_doc(row) if row else None


def meta_insert(
    conn: sqlite3.Connection,
    project: str,
    kind: str,
    parent: str,
    uid: str,
    data: Mapping[str, Any],
    permissions: Sequence[str] = (),
    *,
    conflict: ApiError | None = None,
) -> Doc:
    now = now_iso()
    try:
        cur = conn.execute(
            "INSERT INTO meta (project, kind, parent, _uid, _createdAt, _updatedAt, _permissions, data)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (project, kind, parent, uid, now, now, json.dumps(list(permissions)), _data_of(data)),
        )
    except sqlite3.IntegrityError as exc:
        if conflict is not None:
            raise conflict from exc
        raise
    doc: Doc = {
        "$id": uid,
        "$sequence": cur.lastrowid,
        "$createdAt": now,
        "$updatedAt": now,
        "$permissions": list(permissions),
    }
    doc.update({k: v for k, v in data.items() if not k.startswith("$")})
    return doc


def meta_save(conn: sqlite3.Connection, project: str, kind: str, parent: str, doc: Doc) -> Doc:
    """Write back ``doc`` (fetched by ``meta_get`` and changed), bumping ``$updatedAt``."""
    doc["$updatedAt"] = now_iso()
    conn.execute(
        "UPDATE meta SET _updatedAt=?, _permissions=?, data=? WHERE project=? AND kind=? AND parent=? AND _uid=?",
        (
            doc["$updatedAt"],
            json.dumps(doc.get("$permissions", [])),
            _data_of(doc),
            project,
            kind,
            parent,
            doc["$id"],
        ),
    )
    return doc


def meta_delete(conn: sqlite3.Connection, project: str, kind: str, parent: str, uid: str) -> None:
    conn.execute("DELETE FROM meta WHERE project=? AND kind=? AND parent=? AND _uid=?", (project, kind, parent, uid))


def meta_delete_under(conn: sqlite3.Connection, project: str, parent_prefix: str) -> None:
    """Delete every resource whose parent is ``parent_prefix`` or below it."""
    conn.execute(
        "DELETE FROM meta WHERE project=? AND (parent=? OR parent LIKE ? ESCAPE '\\')",
        (project, parent_prefix, _like_prefix(parent_prefix + "/")),
    )


def meta_all(conn: sqlite3.Connection, project: str, kind: str, parent: str) -> list[Doc]:
    rows = conn.execute(
        f"SELECT {_COLS} FROM meta WHERE project=? AND kind=? AND parent=? ORDER BY _seq",
        (project, kind, parent),
    ).fetchall()
    return [to_doc(r) for r in rows]


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- listing --------------------------------------------------------------------------------------

# What a list request's ``search`` matches in records that have a name: "<name> <id>".
NAME_SEARCH = "json_extract(data, '$.name') || ' ' || _uid"


def meta_list(
    conn: sqlite3.Connection,
    project: str,
    kind: str,
    parent: str,
    params: Mapping[str, Any],
    fields: Mapping[str, q.Field],
    *,
    search_expr: str | None = None,
) -> tuple[int, list[Doc]]:
    """One page of the ``kind`` records under ``parent``, as a list request's ``params`` ask: its
    ``queries``, its ``search`` (only where ``search_expr`` says what it searches) and ``total``."""
    total, docs, _ = list_docs(
        conn, "meta", "project=? AND kind=? AND parent=?", [project, kind, parent], params.get("queries"), fields,
        search=params.get("search") if search_expr else None, search_expr=search_expr,
        total=params.get("total") is not False,
    )  # fmt: skip
    return total, docs


def list_docs(
    conn: sqlite3.Connection,
    table: str,
    base_where: str,
    base_params: Sequence[Any],
    raw_queries: Sequence[str] | None,
    fields: Mapping[str, q.Field],
    *,
    search: str | None = None,
    search_expr: str | None = None,
    total: bool = True,
) -> tuple[int, list[Doc], list[str] | None]:
    """One page of documents matching Appwrite queries, its total (capped) and the selected keys."""
    page = plan_page(
        conn, table, base_where, base_params, raw_queries, fields, search=search, search_expr=search_expr, total=total
    )
    return page.total, [to_doc(r) for r in page_rows(conn, page)], page.select


@dataclass(frozen=True)
class Page:
    """A list request's page, planned: its total and the statement's parts, whatever columns it then reads."""

    table: str
    total: int
    where: str
    params: list[Any]
    order: str
    limit: int
    offset: int
    reverse: bool  # a ``cursorBefore`` page is read backwards and turned round
    select: list[str] | None


def plan_page(
    conn: sqlite3.Connection,
    table: str,
    base_where: str,
    base_params: Sequence[Any],
    raw_queries: Sequence[str] | None,
    fields: Mapping[str, q.Field],
    *,
    search: str | None = None,
    search_expr: str | None = None,
    total: bool = True,
    count_unfiltered: tuple[str, Sequence[Any]] | None = None,
) -> Page:
    """The page that Appwrite queries ask for (its total counted, capped, and its cursor looked up): what
    :func:`page_rows` reads, with the stored columns or with an expression of them (``rows.json_of``).
    ``count_unfiltered``: a statement (and its values) counting, capped, the rows ``base_where`` picks, used
    for the total when no query narrows them."""
    compiled = q.compile_queries(q.parse_queries(list(raw_queries or [])), fields)
    where = f"({base_where}) AND ({compiled.where})"
    params: list[Any] = [*base_params, *compiled.params]
    if search:
        if search_expr is None:
            raise ApiError("general_argument_invalid", "Invalid `search` param: search is not supported here")
        where += f" AND qx_search({search_expr}, ?)"
        params.append(search)
    count = 0
    if total:
        narrowed = compiled.where != "1" or bool(search)
        if count_unfiltered is not None and not narrowed:
            count = conn.execute(count_unfiltered[0], tuple(count_unfiltered[1])).fetchone()[0]
        else:
            unfiltered = base_where == "1" and not narrowed
            count = conn.execute(_count_sql(table, "1" if unfiltered else where, unfiltered), params).fetchone()[0]
    order = list(compiled.order)
    page_where, page_params = where, list(params)
    before = False
    if compiled.cursor is not None:
        direction, cursor_id = compiled.cursor
        before = direction == "before"
        exprs = ", ".join(expr for _, expr, _ in order)
        found = conn.execute(
            f"SELECT {exprs} FROM {table} WHERE ({base_where}) AND _uid=?", [*base_params, cursor_id]
        ).fetchone()
        if found is None:
            raise ApiError(
                "general_cursor_not_found",
                f"Cursor not found: no document with ID '{cursor_id}' here. It may have been deleted.",
            )
        for (name, _, _), value in zip(order, found, strict=True):
            if value is None:  # as Appwrite: cursor paging needs the cursor's order values non-null
                raise ApiError(
                    "database_query_order_null",
                    f"Order attribute '{name}' is empty: the cursor '{cursor_id}' has no value there. "
                    "Cursor pagination requires the order attributes of the cursor to be non-null.",
                )
        cond, cond_params = q.keyset_condition(order, list(found), before)
        page_where = f"{where} AND ({cond})"
        page_params = [*params, *cond_params]
    if before:
        order = [(name, expr, "DESC" if d == "ASC" else "ASC") for name, expr, d in order]
    order_sql = ", ".join(f"{expr} {d}" for _, expr, d in order)
    return Page(
        table, count, page_where, page_params, order_sql, compiled.limit, compiled.offset, before, compiled.select
    )


# Below this many ``_seq`` values a table is counted whole (see ``_count_sql``). Measured on a reader (mapped,
# ``READER_MMAP``) with 36-character IDs: the whole count takes 35 us at 60,000 rows, 147 us at 250,000 and
# 291 us at 500,000, where stepping 5,000 rows takes ~200 us at any size.
_WHOLE_COUNT_SEQ = 300_000


def _count_sql(table: str, where: str, unfiltered: bool) -> str:
    """The capped total of the rows ``where`` picks. Rows that match a condition are stepped through, up to
    ``MAX_COUNT``; a table counted with no condition is counted by SQLite's own b-tree count (3 us at 2,000 rows
    where stepping them takes 66 us), while its largest ``_seq`` (a bound of its row count, read from the
    b-tree's edge) says it is small enough for that to be quicker than stepping ``MAX_COUNT`` rows. Both give
    the same number."""
    capped = f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT {MAX_COUNT}))"
    if not unfiltered:
        return f"SELECT {capped}"
    whole = f"min((SELECT COUNT(*) FROM {table}), {MAX_COUNT})"
    small = f"coalesce((SELECT max(_seq) FROM {table}), 0) <= {_WHOLE_COUNT_SEQ}"
    return f"SELECT CASE WHEN {small} THEN {whole} ELSE {capped} END"


def page_rows(conn: sqlite3.Connection, page: Page, columns: str = _COLS) -> list[Any]:
    """The rows of ``page``, in its order, each as ``columns`` (an expression with no parameters) reads them."""
    rows = conn.execute(
        f"SELECT {columns} FROM {page.table} WHERE {page.where} ORDER BY {page.order} LIMIT ? OFFSET ?",
        [*page.params, page.limit, page.offset],
    ).fetchall()
    if page.reverse:
        rows.reverse()
    return rows
