"""JSON views of resources, as changes carry them in ``before``/``after``, and the way back to values.

A view is plain JSON (objects, lists, strings, numbers, booleans, null), so a plan compares equal after
a save and load and hashes the same on every machine. Fields of a config value keep their dataclass
names (``row_security``, ``maximum_file_size``), so ``column_from(view)`` rebuilds the
:class:`~quixotic.config.resources.Column`; what quixotic adds around them is camelCase, as Appwrite
writes ids:

- columns and indexes: ``databaseId``, ``tableId``;
- deployments: ``functionId``, ``codeHash``, ``path`` (desired) or ``deploymentId`` (live);
- variables: ``scope``, ``key``, ``secret``, ``valueHash``, ``value`` (only when not secret), ``id`` (live).

A secret's value is never in a view: the applier takes it from the configuration and checks it
against ``valueHash``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, TypeVar

from quixotic.config.resources import Bucket, Column, Database, Function, Index, Table
from quixotic.errors import PlanError
from quixotic.plan.state import FunctionState, VariableState

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

SECRET_SHOWN = "********"
_PLAIN = re.compile(r"[A-Za-z0-9_.:/@+-]+")


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists and frozensets as sorted lists, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(jsonable(v) for v in value)
    return value


def show_value(value: Any, limit: int = 60) -> str:
    """A value as one short token for people: plain words bare, other strings quoted, JSON otherwise."""
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value not in ("null", "true", "false"):
        text = value
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show_value(v, limit) for v in value) + "]"
    else:
        text = json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- values -> views ------------------------------------------------------------------------------


def _fields_view(value: DataclassInstance) -> dict[str, Any]:
    view: dict[str, Any] = jsonable(asdict(value))
    return view


def database_view(database: Database) -> dict[str, Any]:
    return _fields_view(database)


def table_view(table: Table) -> dict[str, Any]:
    """A table's own settings; its columns and indexes are changes of their own."""
    view = _fields_view(table)
    del view["columns"], view["indexes"]
    return view


def column_view(database_id: str, table_id: str, column: Column) -> dict[str, Any]:
    return {"databaseId": database_id, "tableId": table_id, **_fields_view(column)}


def index_view(database_id: str, table_id: str, index: Index) -> dict[str, Any]:
    return {"databaseId": database_id, "tableId": table_id, **_fields_view(index)}


def bucket_view(bucket: Bucket) -> dict[str, Any]:
    return _fields_view(bucket)


def function_view(function: Function) -> dict[str, Any]:
    return _fields_view(function)


def deployment_view(function: FunctionState, *, live: bool) -> dict[str, Any]:
    """The live view records the deployment that was active; the desired one what to package."""
    view: dict[str, Any] = {"functionId": function.spec.id, "codeHash": function.code_hash}
    if live:
        view["deploymentId"] = function.deployment_id
    else:
        view["path"] = function.spec.path
    return view


def variable_view(variable: VariableState, *, hide_value: bool = False) -> dict[str, Any]:
    """``hide_value``: leave out a plain value too (a live one that the configuration now calls secret)."""
    view: dict[str, Any] = {
        "scope": variable.scope,
        "key": variable.key,
        "secret": variable.secret,
        "valueHash": variable.value_hash,
    }
    if not variable.secret and not hide_value:
        view["value"] = variable.value
    if variable.id is not None:
        view["id"] = variable.id
    return view


# --- views -> values ------------------------------------------------------------------------------


def _restore(cls: type[T], view: Mapping[str, Any]) -> T:
    """An instance of dataclass ``cls`` from the view's keys that are its fields (lists become tuples)."""
    kwargs = {
        f.name: tuple(view[f.name]) if isinstance(view[f.name], list) else view[f.name]
        for f in fields(cls)
        if f.name in view
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise PlanError(f"a {cls.__name__} view in the plan is incomplete ({exc}); make the plan again") from exc


def _parents(view: Mapping[str, Any]) -> tuple[str, str]:
    try:
        return str(view["databaseId"]), str(view["tableId"])
    except KeyError as exc:
        raise PlanError(f"a column or index view lacks {exc}; make the plan again") from exc


def database_from(view: Mapping[str, Any]) -> Database:
    return _restore(Database, view)


def table_from(view: Mapping[str, Any]) -> Table:
    """The table's settings (no columns or indexes: those come as their own changes)."""
    return _restore(Table, view)


def column_from(view: Mapping[str, Any]) -> tuple[str, str, Column]:
    """``(database_id, table_id, column)``."""
    return (*_parents(view), _restore(Column, view))


def index_from(view: Mapping[str, Any]) -> tuple[str, str, Index]:
    """``(database_id, table_id, index)``."""
    return (*_parents(view), _restore(Index, view))


def bucket_from(view: Mapping[str, Any]) -> Bucket:
    return _restore(Bucket, view)


def function_from(view: Mapping[str, Any]) -> Function:
    return _restore(Function, view)
