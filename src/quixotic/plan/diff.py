"""What must change to turn the live project into the desired one, one :class:`Change` per resource.

The result is unordered (:mod:`quixotic.plan.order` orders it). Judgements:

- missing on the live side: create, additive; settings that differ: update, compatible;
- a column's type/array/format/encrypt: replace, destructive; narrowing a column: update, destructive
  (see :mod:`quixotic.plan.schema`); an index that differs: replace, compatible;
- on the live side only: delete, destructive. Deleting a database, table or function takes its tables,
  columns, indexes and variables with it, so those get no changes of their own;
- a live index over a column that is deleted or recreated is dropped first and created again after;
- a function whose code (or build settings) differ gets a deployment;
- variables: see :func:`_variables`. The tool's own databases (``ignore_databases``) are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from quixotic.config.resources import SIZED_TYPES, SYSTEM_COLUMNS, Bucket, Column, Database, Index, Table
from quixotic.errors import PlanError
from quixotic.plan.changes import (
    Change,
    Kind,
    Safety,
    bucket_address,
    column_address,
    database_address,
    deployment_address,
    function_address,
    index_address,
    table_address,
)
from quixotic.plan.compare import changed_settings
from quixotic.plan.schema import Verdict, compare_columns, compare_indexes, duplicates_risk
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState
from quixotic.plan.views import (
    bucket_view,
    column_view,
    database_view,
    deployment_view,
    function_view,
    index_view,
    show_value,
    table_view,
    variable_view,
)

SYSTEM_DATABASES: Final = frozenset({"quixotic"})
# What is not a table's or a function's own setting: its address, a table's contents (compared column by
# column and index by index), and a function's path (where its code is on this machine).
TABLE_LEFT_OUT: Final = ("id", "database_id", "columns", "indexes")
FUNCTION_LEFT_OUT: Final = ("id", "path")
BUILD_SETTINGS: Final = ("runtime", "entrypoint", "commands")  # a deployment is built with these
DUPLICATES_RISK: Final = "; fails if existing rows hold duplicate values"

V = TypeVar("V")


def diff(
    live: ProjectState,
    desired: ProjectState,
    *,
    prune_variables: bool = False,
    ignore_databases: frozenset[str] = SYSTEM_DATABASES,
) -> list[Change]:
    """The changes that make ``live`` into ``desired``; :class:`PlanError` when ``desired`` contradicts itself."""
    old = _Side.of(live, "the live project", ignore_databases)
    new = _Side.of(desired, "the configuration", ignore_databases)
    _check_desired(new)
    return [
        *_databases(old, new),
        *_tables(old, new),
        *_buckets(old, new),
        *_functions(old, new),
        *_variables(old, new, desired.managed_variables, prune_variables),
    ]


@dataclass(frozen=True)
class _Side:
    """One state's resources by address, without the ignored databases."""

    databases: dict[str, Database]
    tables: dict[str, Table]
    buckets: dict[str, Bucket]
    functions: dict[str, FunctionState]
    variables: dict[str, VariableState]

    @classmethod
    def of(cls, state: ProjectState, name: str, ignore: frozenset[str]) -> _Side:
        return cls(
            databases=_by_address(
                (d for d in state.databases if d.id not in ignore), lambda d: database_address(d.id), name
            ),
            tables=_by_address(
                (t for t in state.tables if t.database_id not in ignore),
                lambda t: table_address(t.database_id, t.id),
                name,
            ),
            buckets=_by_address(state.buckets, lambda b: bucket_address(b.id), name),
            functions=_by_address(state.functions, lambda f: function_address(f.spec.id), name),
            variables=_by_address(state.variables, lambda v: v.address, name),
        )

    def tables_of(self, database_id: str) -> list[Table]:
        return [t for t in self.tables.values() if t.database_id == database_id]

    def has_function(self, function_id: str) -> bool:
        return function_address(function_id) in self.functions


def _by_address(items: Iterable[V], address: Callable[[V], str], name: str) -> dict[str, V]:
    out: dict[str, V] = {}
    for item in items:
        key = address(item)
        if key in out:
            raise PlanError(f"{name} has {key} twice; each resource id must be unique")
        out[key] = item
    return out


def _check_desired(new: _Side) -> None:
    """Every parent a desired resource names exists, so a plan never creates orphans."""
    problems: list[str] = []
    for table in new.tables.values():
        if database_address(table.database_id) not in new.databases:
            problems.append(f"table {table.id} is in database {table.database_id}, which is not defined")
        keys = [c.key for c in table.columns]
        problems += [f"table {table.id} has column {k} twice" for k in sorted({k for k in keys if keys.count(k) > 1})]
        index_keys = [i.key for i in table.indexes]
        problems += [
            f"table {table.id} has index {k} twice" for k in sorted({k for k in index_keys if index_keys.count(k) > 1})
        ]
        for index in table.indexes:
            unknown = [c for c in index.columns if c not in keys and c not in SYSTEM_COLUMNS]
            if unknown:
                problems.append(f"index {table.id}.{index.key} is on {', '.join(unknown)}, which the table lacks")
    for variable in new.variables.values():
        if variable.scope != PROJECT_SCOPE and not new.has_function(variable.scope):
            problems.append(f"variable {variable.key} belongs to function {variable.scope}, which is not defined")
    if problems:
        raise PlanError(
            "the desired state contradicts itself; fix the configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _pairs(old: dict[str, V], new: dict[str, V]) -> Iterator[tuple[str, V | None, V | None]]:
    for address in sorted(old.keys() | new.keys()):
        yield address, old.get(address), new.get(address)


def _update(kind: Kind, address: str, before: dict[str, Any], after: dict[str, Any], fields: tuple[str, ...]) -> Change:
    reason = f"updated in place ({', '.join(fields)})"
    return Change("update", kind, address, before, after, "compatible", reason, fields)


def _settings_changes(
    kind: Kind,
    old: dict[str, V],
    new: dict[str, V],
    view: Callable[[V], dict[str, Any]],
    gone: Callable[[V], str],
) -> Iterator[Change]:
    """Resources that are only their settings (databases, buckets): deleted, created or updated in place."""
    for address, live, want in _pairs(old, new):
        if want is None:
            assert live is not None
            yield Change("delete", kind, address, view(live), None, "destructive", gone(live))
        elif live is None:
            yield Change("create", kind, address, None, view(want), "additive", f"new {kind}")
        elif fields := changed_settings(live, want):
            yield _update(kind, address, view(live), view(want), fields)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- databases and tables -------------------------------------------------------------------------


def _databases(old: _Side, new: _Side) -> Iterator[Change]:
    def gone(live: Database) -> str:
        tables = sorted(t.id for t in old.tables_of(live.id))
        what = f"its {_count(len(tables), 'table')} ({', '.join(tables)}) and all their rows" if tables else ""
        return "not in the configuration: drops the database" + (f", {what}" if what else "")

    return _settings_changes("database", old.databases, new.databases, database_view, gone)


def _tables(old: _Side, new: _Side) -> Iterator[Change]:
    for address, live, want in _pairs(old.tables, new.tables):
        if want is None:
            assert live is not None
            if database_address(live.database_id) not in new.databases:
                continue  # goes with its database
            columns = _count(len(live.columns), "column")
            reason = f"not in the configuration: drops the table, its {columns} and all its rows"
            yield Change("delete", "table", address, table_view(live), None, "destructive", reason)
        elif live is None:
            yield Change("create", "table", address, None, table_view(want), "additive", "new table")
            yield from _table_contents(Table(want.id, want.database_id, want.name), want, existing=False)
        else:
            if fields := changed_settings(live, want, leave_out=TABLE_LEFT_OUT):
                yield _update("table", address, table_view(live), table_view(want), fields)
            yield from _table_contents(live, want, existing=True)


def _column_summary(column: Column) -> str:
    kind = column.type
    if column.type in SIZED_TYPES and not (column.type == "string" and column.format) and column.size is not None:
        kind += f"({column.size})"
    parts = [kind + ("[]" if column.array else "")]
    if column.type == "string" and column.format:
        parts.append(column.format)
    if column.type == "string" and column.format == "enum":
        parts.append("elements " + "|".join(column.elements))
    if column.required:
        parts.append("required")
    if column.default is not None:
        parts.append(f"default {show_value(column.default)}")
    if column.encrypt:
        parts.append("encrypted")
    return ", ".join(parts)


def _table_contents(live: Table, want: Table, *, existing: bool) -> Iterator[Change]:
    """Columns, then indexes; an index over a recreated or deleted column is dropped first and built again."""
    db, tid = want.database_id, want.id
    old_columns = {c.key: c for c in live.columns}
    new_columns = {c.key: c for c in want.columns}
    gone: set[str] = set()  # columns deleted or recreated
    for key in sorted(old_columns.keys() | new_columns.keys()):
        address = column_address(db, tid, key)
        old, new = old_columns.get(key), new_columns.get(key)
        if new is None:
            assert old is not None
            gone.add(key)
            reason = "not in the configuration: drops the column and its data"
            yield Change("delete", "column", address, column_view(db, tid, old), None, "destructive", reason)
        elif old is None:
            reason = f"new column: {_column_summary(new)}"
            yield Change("create", "column", address, None, column_view(db, tid, new), "additive", reason)
        elif verdict := compare_columns(old, new):
            if verdict.action == "replace":
                gone.add(key)
            before, after = column_view(db, tid, old), column_view(db, tid, new)
            yield Change(verdict.action, "column", address, before, after, *_judged(verdict))
    old_indexes = {i.key: i for i in live.indexes}
    new_indexes = {i.key: i for i in want.indexes}
    for key in sorted(old_indexes.keys() | new_indexes.keys()):
        yield from _index_changes(db, tid, key, old_indexes.get(key), new_indexes.get(key), gone, existing=existing)


def _index_changes(
    db: str, tid: str, key: str, old: Index | None, new: Index | None, gone: set[str], *, existing: bool
) -> Iterator[Change]:
    address = index_address(db, tid, key)
    if new is None:
        assert old is not None
        reason = "not in the configuration: the index is dropped (queries that rely on it slow down or fail)"
        yield Change("delete", "index", address, index_view(db, tid, old), None, "destructive", reason)
        return
    on = f"{new.type} index on ({', '.join(new.columns)})"
    if old is None:
        reason = f"new {on}" + (DUPLICATES_RISK if existing and duplicates_risk(None, new) else "")
        yield Change("create", "index", address, None, index_view(db, tid, new), "additive", reason)
        return
    before, after = index_view(db, tid, old), index_view(db, tid, new)
    hit = sorted(set(old.columns) & gone)
    if hit:
        cols = ", ".join(hit)
        reason = f"over column {cols}, which is deleted or recreated: dropped first, built again after"
        yield Change("delete", "index", address, before, None, "compatible", reason)
        reason = f"rebuilt {on} after column {cols} is recreated" + (
            DUPLICATES_RISK if duplicates_risk(old, new) else ""
        )
        yield Change("create", "index", address, None, after, "compatible", reason)
    elif verdict := compare_indexes(old, new):
        yield Change(verdict.action, "index", address, before, after, *_judged(verdict))


def _judged(verdict: Verdict) -> tuple[Safety, str, tuple[str, ...]]:
    return verdict.safety, verdict.reason, verdict.fields


# --- buckets and functions ------------------------------------------------------------------------


def _buckets(old: _Side, new: _Side) -> Iterator[Change]:
    def gone(_live: Bucket) -> str:
        return "not in the configuration: deletes the bucket and every file in it"

    return _settings_changes("bucket", old.buckets, new.buckets, bucket_view, gone)


def _functions(old: _Side, new: _Side) -> Iterator[Change]:
    for address, live, want in _pairs(old.functions, new.functions):
        if want is None:
            assert live is not None
            count = sum(1 for v in old.variables.values() if v.scope == live.spec.id)
            reason = f"not in the configuration: deletes the function, its deployments and {_count(count, 'variable')}"
            yield Change("delete", "function", address, function_view(live.spec), None, "destructive", reason)
            continue
        if live is None:
            reason = f"new function ({want.spec.runtime})"
            yield Change("create", "function", address, None, function_view(want.spec), "additive", reason)
        else:
            # a specification is compared only when the configuration sets one
            unset = () if want.spec.specification is not None else ("specification",)
            fields = changed_settings(live.spec, want.spec, leave_out=(*FUNCTION_LEFT_OUT, *unset))
            if fields:
                yield _update("function", address, function_view(live.spec), function_view(want.spec), fields)
        if deployment := _deployment(live, want):
            yield deployment


def _deployment(live: FunctionState | None, want: FunctionState) -> Change | None:
    """A new deployment when the code to run is not the code that runs (or was built with other settings)."""
    if want.code_hash is None:
        return None  # nothing to deploy
    before = None
    if live is None:
        reason = "new function: build and activate its code"
    else:
        if live.code_hash is not None or live.deployment_id is not None:
            before = deployment_view(live, live=True)
        rebuilt = [s for s in BUILD_SETTINGS if getattr(live.spec, s) != getattr(want.spec, s)]
        if live.deployment_id is None and live.code_hash is None:
            reason = "no active deployment: build and activate the code"
        elif live.code_hash is None:
            reason = "the active deployment's code is unknown to quixotic: build and activate the code"
        elif live.code_hash != want.code_hash:
            reason = "code changed: build and activate a new deployment"
        elif rebuilt:
            reason = f"build settings changed ({', '.join(rebuilt)}): build and activate again"
        else:
            return None
    after = deployment_view(want, live=False)
    return Change("create", "deployment", deployment_address(want.spec.id), before, after, "compatible", reason)


# --- variables ------------------------------------------------------------------------------------


def _variables(old: _Side, new: _Side, managed: dict[str, frozenset[str]], prune: bool) -> Iterator[Change]:
    """Variables by (scope, key), compared by value hash and secret flag.

    A live key with no desired value is deleted when the configuration manages it (``managed``, per
    scope) or when pruning; other live keys are someone else's and stay. Appwrite cannot turn a secret
    back into a plain variable, so a change of the flag either way is a replace (delete + create).
    """
    for address, live, want in _pairs(old.variables, new.variables):
        if want is None:
            assert live is not None
            if live.scope != PROJECT_SCOPE and not new.has_function(live.scope):
                continue  # goes with its function
            if live.key in managed.get(live.scope, frozenset()):
                reason = "managed by quixotic and no longer set for this environment"
            elif prune:
                reason = "not in the configuration (pruning unmanaged variables)"
            else:
                continue
            yield Change("delete", "variable", address, variable_view(live), None, "destructive", reason)
            continue
        after = variable_view(want)
        if live is None:
            reason = "new secret variable" if want.secret else "new variable"
            yield Change("create", "variable", address, None, after, "additive", reason)
            continue
        before = variable_view(live, hide_value=want.secret)  # a value to become secret is one already
        if live.secret != want.secret:
            reason = (
                "becomes secret: deleted and created again as a secret"
                if want.secret
                else "no longer secret: Appwrite cannot unset secret, so it is deleted and created again"
            )
            fields = ("secret", "value") if live.value_hash != want.value_hash else ("secret",)
            yield Change("replace", "variable", address, before, after, "compatible", reason, fields)
        elif live.secret and not live.value_hash:
            reason = "secret value unknown to quixotic; will be set"
            yield Change("update", "variable", address, before, after, "compatible", reason, ("value",))
        elif live.value_hash != want.value_hash:
            reason = "secret value changed" if want.secret else "value changed"
            yield Change("update", "variable", address, before, after, "compatible", reason, ("value",))
