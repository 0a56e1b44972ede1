"""``ctx``: what a migration's ``up(ctx)`` and ``down(ctx)`` get. Everything goes through the official SDK.

Schema operations are idempotent (creating what already exists, identically, is skipped; deleting what is
gone is skipped) because a migration that failed or was killed is run again from the top, and because
``quixotic deploy`` may already have created a column that ``appwrite.json`` and a migration both declare.
Each one waits until Appwrite reports the column or index ``available``.

Data operations walk a table in ``$sequence`` order, a batch at a time. After each batch the position is
saved in the attempt's history row, so a run that is killed resumes after the last finished batch. A batch
is written with one bulk request; one killed between its write and its saved cursor is done again on
resume, which writes the same values when they are computed from the row (as backfills are), so the end
state matches an uninterrupted run.

In a dry run nothing is written: each operation records what it would do in :attr:`Context.actions`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from quixotic.config.resources import Column, Index
from quixotic.errors import MigrationError, NotFound
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.models import column_from_model, index_from_model
from quixotic.sdk.values import Query

Row = dict[str, Any]
Progress = Callable[[str], None]
SaveCursors = Callable[[Mapping[str, str], int], None]
BATCH = 1000  # rows per read and per bulk write (Appwrite's bulk limit)


class Context:
    """Schema and data operations on one target project, for one migration attempt."""

    def __init__(
        self,
        backend: AppwriteBackend,
        *,
        database: str | None = None,
        dry_run: bool = False,
        cursors: Mapping[str, str] | None = None,
        save_cursors: SaveCursors | None = None,
        progress: Progress | None = None,
        guard: Callable[[], None] | None = None,
        batch_size: int = BATCH,
        planned: set[tuple[str, str]] | None = None,
    ) -> None:
        self.backend = backend
        self.db = backend.db
        self.database = database
        self.dry_run = dry_run
        self.cursors: dict[str, str] = dict(cursors or {})
        self.resumed = bool(self.cursors)
        self.batch_size = max(1, min(batch_size, BATCH))
        self.actions: list[str] = []
        self.rows_written = 0
        self._save = save_cursors
        self._say = progress or (lambda _m: None)
        self._guard = guard or (lambda: None)
        self._loops: dict[str, int] = {}
        # Tables a dry run would have created (shared by the migrations of one dry run): reading them yields nothing.
        self._planned: set[tuple[str, str]] = set() if planned is None else planned
        self._written: dict[str, int] = {}
        self._count_line: dict[str, int] = {}

    # --- helpers --------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        """Progress for the operator (stderr in the CLI)."""
        self._say(message)

    def _db(self, database: str | None) -> str:
        chosen = database or self.database
        if not chosen:
            raise MigrationError("this project has several databases: pass database= to the ctx operation")
        return chosen

    def _did(self, action: str) -> None:
        self.actions.append(("would " if self.dry_run else "") + action)
        self._say(self.actions[-1])

    def _do(self, action: str, *effects: Callable[[], object]) -> None:
        """Record ``action`` and, unless this is a dry run, carry out its effects in order."""
        self._did(action)
        if not self.dry_run:
            for effect in effects:
                effect()

    def _gone(self, live: object, what: str) -> bool:
        """Whether ``what`` a delete names is already gone (noted, not an error: a rerun skips it)."""
        if live is None:
            self.actions.append(f"skip deleting {what} (gone)")
        return live is None

    def _get(self, doing: str, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return call(doing, fetch)
        except NotFound:
            return None

    def table(self, table: str, *, database: str | None = None) -> dict[str, Any] | None:
        """The live table (with its columns and indexes), or None."""
        d = self._db(database)
        return self._get(f"reading table {table}", lambda: self.db.get_table(d, table))

    def column(self, table: str, key: str, *, database: str | None = None) -> Column | None:
        d = self._db(database)
        model = self._get(f"reading column {table}.{key}", lambda: self.db.get_column(d, table, key))
        return column_from_model(model) if model else None

    # --- schema -------------------------------------------------------------------------------

    def create_database(self, database_id: str, name: str | None = None) -> None:
        if self._get(f"reading database {database_id}", lambda: self.db.get(database_id)) is not None:
            self.actions.append(f"keep database {database_id} (exists)")
            return
        self._do(
            f"create database {database_id}",
            lambda: call(f"creating database {database_id}", lambda: self.db.create(database_id, name or database_id)),
        )

    def create_table(
        self,
        table: str,
        name: str | None = None,
        *,
        columns: Sequence[Column] = (),
        indexes: Sequence[Index] = (),
        row_security: bool = False,
        permissions: Sequence[str] = (),
        database: str | None = None,
    ) -> None:
        """Create the table, then each missing column, then each missing index (waiting for all)."""
        d = self._db(database)
        if self.table(table, database=d) is not None:
            self.actions.append(f"keep table {table} (exists)")
        else:
            self._did(f"create table {table}")
            if self.dry_run:
                self._planned.add((d, table))
            else:
                call(f"creating table {table}", lambda: self.db.create_table(
                    d, table, name or table, list(permissions), row_security, True))  # fmt: skip
        for column in columns:
            self.create_column(table, column, database=d, wait=False)
        if not self.dry_run:
            for column in columns:
                self.backend.wait_column(d, table, column.key)
        for index in indexes:
            self.create_index(table, index, database=d)

    def delete_table(self, table: str, *, database: str | None = None) -> None:
        d = self._db(database)
        if self._gone(self.table(table, database=d), f"table {table}"):
            return
        self._do(
            f"delete table {table} and all its rows",
            lambda: call(f"deleting table {table}", lambda: self.db.delete_table(d, table)),
            lambda: self.backend.wait_gone(f"table {table}", lambda: self.db.get_table(d, table)),
        )

    def create_column(self, table: str, column: Column, *, database: str | None = None, wait: bool = True) -> None:
        d = self._db(database)
        live = None if (d, table) in self._planned else self.column(table, column.key, database=d)
        if live is not None:
            if (live.type, live.array, live.format) != (column.type, column.array, column.format):
                raise MigrationError(
                    f"column {table}.{column.key} exists as {live.type}{'[]' if live.array else ''}, not "
                    f"{column.type}{'[]' if column.array else ''}: rename one of them, or migrate the old column first"
                )
            self.actions.append(f"keep column {table}.{column.key} (exists)")
            return
        waits = [lambda: self.backend.wait_column(d, table, column.key)] if wait else []
        self._do(
            f"create column {table}.{column.key} ({column.type})",
            lambda: self.backend.create_column(d, table, column),
            *waits,
        )

    def update_column(self, table: str, column: Column, *, database: str | None = None) -> None:
        """Change required/default/size/min/max (Appwrite cannot change a column's type in place)."""
        d = self._db(database)
        self._do(
            f"update column {table}.{column.key}",
            lambda: self.backend.update_column(d, table, column),
            lambda: self.backend.wait_column(d, table, column.key),
        )

    def delete_column(self, table: str, key: str, *, database: str | None = None) -> None:
        d = self._db(database)
        if not self._gone(self.column(table, key, database=d), f"column {table}.{key}"):
            self._do(f"delete column {table}.{key} and its values", lambda: self.backend.delete_column(d, table, key))

    def create_index(self, table: str, index: Index, *, database: str | None = None) -> None:
        d = self._db(database)
        model = None
        if (d, table) not in self._planned:
            model = self._get(f"reading index {table}.{index.key}", lambda: self.db.get_index(d, table, index.key))
        if model is not None:
            live = index_from_model(model)
            if (live.type, live.columns) != (index.type, index.columns):
                raise MigrationError(f"index {table}.{index.key} exists with other columns or type: {live}")
            self.actions.append(f"keep index {table}.{index.key} (exists)")
            return
        self._do(
            f"create index {table}.{index.key} ({index.type} on {', '.join(index.columns)})",
            lambda: self.backend.create_index(d, table, index),
            lambda: self.backend.wait_index(d, table, index.key),
        )

    def delete_index(self, table: str, key: str, *, database: str | None = None) -> None:
        d = self._db(database)
        live = self._get(f"reading index {table}.{key}", lambda: self.db.get_index(d, table, key))
        if not self._gone(live, f"index {table}.{key}"):
            self._do(f"delete index {table}.{key}", lambda: self.backend.delete_index(d, table, key))

    # --- data ---------------------------------------------------------------------------------

    def rows(
        self,
        table: str,
        *,
        queries: Sequence[str] = (),
        select: Sequence[str] | None = None,
        key: str | None = None,
        database: str | None = None,
    ) -> Iterator[list[Row]]:
        """Batches of rows in ``$sequence`` order, resuming after the saved cursor ``key`` (default: the table,
        numbered if a migration walks the same table twice). The cursor moves past a batch when the next one
        is asked for, that is once the caller has finished with it."""
        d = self._db(database)
        name = key or self._loop_key(d, table)
        if (d, table) in self._planned:
            return
        after = int(self.cursors.get(name) or 0)
        if after:
            self._say(f"{table}: resuming after row #{after} (saved cursor)")
        fields = None if select is None else sorted({"$id", "$sequence", *select})
        done, started = 0, time.monotonic()
        while True:
            wanted = [*queries, Query.order_asc("$sequence"), Query.limit(self.batch_size)]
            if after:
                wanted.append(Query.greater_than("$sequence", after))
            if fields is not None:
                wanted.append(Query.select(fields))
            page = call(f"reading rows of {table}", lambda q=wanted: self.db.list_rows(d, table, q, total=False))  # type: ignore[misc]
            batch: list[Row] = list(page["rows"])
            if not batch:
                return
            yield batch
            after = int(batch[-1]["$sequence"])
            done += len(batch)
            if not self.dry_run:
                self.cursors[name] = str(after)
                if self._save is not None:
                    self._save(self.cursors, self.rows_written)
            rate = done / max(time.monotonic() - started, 1e-6)
            self._say(f"{table}: {done} rows ({rate:,.0f} rows/s)")
            self._guard()
            if len(batch) < self.batch_size:
                return

    def _loop_key(self, database: str, table: str) -> str:
        base = table if database == self.database else f"{database}.{table}"
        self._loops[base] = self._loops.get(base, 0) + 1
        return base if self._loops[base] == 1 else f"{base}#{self._loops[base]}"

    def upsert_rows(self, table: str, rows: Sequence[Mapping[str, Any]], *, database: str | None = None) -> int:
        """Bulk upsert (each row with ``$id``; only the given columns change on existing rows), in chunks of
        the batch size, each chunk all-or-nothing."""
        d = self._db(database)
        items = [dict(r) for r in rows]
        if self.dry_run:
            self._count(table, len(items))
            return len(items)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            # The backend's upsert reads only the answer's count: the rows it echoes are neither parsed nor,
            # on SDK 17+, built into models.
            call(f"writing {len(chunk)} rows of {table}", lambda c=chunk: self.backend.upsert_rows(d, table, c))  # type: ignore[misc]
            self._count(table, len(chunk))
        return len(items)

    def update_matching(
        self, table: str, data: Mapping[str, Any], queries: Sequence[str] = (), *, database: str | None = None
    ) -> int:
        """Set the same values on every row matching ``queries`` in one bulk request."""
        d = self._db(database)
        if self.dry_run:
            self._did(f"set {', '.join(data)} on rows of {table} matching {list(queries) or 'all'}")
            return 0
        result = call(f"updating rows of {table}", lambda: self.db.update_rows(d, table, dict(data), list(queries)))
        self._count(table, int(result.get("total", 0)))
        return int(result.get("total", 0))

    def delete_matching(self, table: str, queries: Sequence[str], *, database: str | None = None) -> int:
        d = self._db(database)
        if self.dry_run:
            self._did(f"delete rows of {table} matching {list(queries)}")
            return 0
        result = call(f"deleting rows of {table}", lambda: self.db.delete_rows(d, table, list(queries)))
        self.actions.append(f"deleted {result.get('total', 0)} rows of {table}")
        return int(result.get("total", 0))

    def backfill(
        self,
        table: str,
        compute: Callable[[Row], Mapping[str, Any] | None],
        *,
        select: Sequence[str] | None = None,
        queries: Sequence[str] = (),
        key: str | None = None,
        database: str | None = None,
    ) -> int:
        """For each row, write what ``compute(row)`` returns (None: leave the row alone); returns rows written."""
        written = 0
        for batch in self.rows(table, queries=queries, select=select, key=key, database=database):
            changes = []
            for row in batch:
                values = compute(row)
                if values:
                    changes.append({"$id": row["$id"], **values})
            if changes:
                written += self.upsert_rows(table, changes, database=database)
        return written

    def _count(self, table: str, n: int) -> None:
        self.rows_written += n
        self._written[table] = self._written.get(table, 0) + n
        line = f"{'would write' if self.dry_run else 'wrote'} {self._written[table]} rows of {table}"
        if table in self._count_line:
            self.actions[self._count_line[table]] = line
        else:
            self._count_line[table] = len(self.actions)
            self.actions.append(line)
