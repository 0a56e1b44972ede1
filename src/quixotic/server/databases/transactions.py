"""TablesDB transactions (and the legacy Databases API's, over the same engine), all or nothing in SQLite.

A transaction is a ``meta`` record (kind ``transaction``) of its project holding its staged operations:
each one is a row operation ID and its bound parameters, exactly what the row route would have run.

- Staging (``createOperations`` or a row write with ``transactionId``) replays the staged operations
  plus the new ones in a SQLite transaction that is then rolled back: the new operations are checked as
  the commit will run them, and the row route answers what its write would return. For every row an
  operation touches, the row's committed state the first time the transaction saw it is recorded.
- Reads with ``transactionId`` run the same way: staged operations replayed, the read, rolled back,
  so a read sees the transaction's own uncommitted changes and nobody else does.
- Commit checks every recorded row against its committed state now (any change by someone else, a
  row gone, a row created meanwhile: ``transaction_conflict``), then replays every operation and marks
  the transaction committed, all in ONE SQLite transaction. A unique-index or ID clash during the replay
  is a conflict too; any error writes nothing. Events fire after the commit, through the request's
  own events, as the row routes' do.
- A client's staged operations run through the row routes, so they are checked against table and row
  permissions as the direct writes are, when staged and again at commit; bulk actions are refused to
  clients (Appwrite: ``user_unauthorized``). A transaction a user creates is theirs (``read``, ``update``,
  ``delete`` on ``user:ID``); other clients do not find it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import auth
from quixotic.server import queries as q
from quixotic.server import store as st
from quixotic.server.auth import Caller
from quixotic.server.clock import to_iso
from quixotic.server.context import Ctx
from quixotic.server.databases import rows
from quixotic.server.databases.flavor import LEGACY, TABLES, Flavor, flavor_of
from quixotic.server.ids import custom_id, new_id
from quixotic.server.registry import HANDLERS, Handler, handles
from quixotic.server.spec import bind, route_table
from quixotic.timestamps import parse_iso

KIND = "transaction"
MAX_OPERATIONS = 100  # Appwrite's APP_LIMIT_DATABASE_TRANSACTION
TTL_MIN, TTL_MAX, TTL_DEFAULT = 60, 3600, 300
_CONFLICTS = ("already_exists", "unique_constraint_violation")

FIELDS: dict[str, q.Field] = {
    "status": q.Field("string"),
    "operations": q.Field("integer"),
    "expiresAt": q.Field("datetime"),
}

# A staged operation's action -> the row operation it runs (without the API's prefix).
_ACTIONS: dict[str, dict[str, str]] = {
    "tablesdb": {
        "create": "CreateRow",
        "update": "UpdateRow",
        "upsert": "UpsertRow",
        "delete": "DeleteRow",
        "increment": "IncrementRowColumn",
        "decrement": "DecrementRowColumn",
        "bulkCreate": "CreateRow",
        "bulkUpdate": "UpdateRows",
        "bulkUpsert": "UpsertRows",
        "bulkDelete": "DeleteRows",
    },
    "legacy": {
        "create": "CreateDocument",
        "update": "UpdateDocument",
        "upsert": "UpsertDocument",
        "delete": "DeleteDocument",
        "increment": "IncrementDocumentAttribute",
        "decrement": "DecrementDocumentAttribute",
        "bulkCreate": "CreateDocument",
        "bulkUpdate": "UpdateDocuments",
        "bulkUpsert": "UpsertDocuments",
        "bulkDelete": "DeleteDocuments",
    },
}
_NEEDS_ROW = {"update", "upsert", "delete", "increment", "decrement"}
_READS = {"tablesDBGetRow", "tablesDBListRows", "databasesGetDocument", "databasesListDocuments"}


class _Discard(Exception):
    """Raised to roll back a trial replay, carrying what it computed."""

    def __init__(self, result: Any) -> None:
        super().__init__("discard")
        self.result = result


def _now() -> datetime:
    return datetime.now(UTC)


def render(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "status": doc["status"],
        "operations": doc["operations"],
        "expiresAt": doc["expiresAt"],
    }


def _load(conn: sqlite3.Connection, project: str, transaction_id: Any, caller: Caller | None = None) -> st.Doc:
    """The transaction; one the (non-key) ``caller`` may not read is not found, as on Appwrite."""
    doc = st.meta_get(conn, project, KIND, "", str(transaction_id or ""))
    if doc is None or (caller is not None and not caller.may(doc["$permissions"], "read")):
        raise ApiError(
            "transaction_not_found", f"Transaction with the requested ID '{transaction_id}' could not be found."
        )
    return doc


def _check_open(doc: st.Doc, *, committing: bool = False) -> None:
    """A transaction still usable: pending (Appwrite's errors otherwise) and not expired."""
    if doc["status"] != "pending":
        if committing:
            raise ApiError(
                "transaction_not_ready",
                f"Transaction '{doc['$id']}' is {doc['status']}: only a pending transaction can be committed "
                "or rolled back.",
            )
        raise ApiError("general_bad_request", f"Invalid or non-pending transaction: '{doc['$id']}' is {doc['status']}.")
    if _now() > parse_iso(doc["expiresAt"]):
        raise ApiError(
            "transaction_expired", "The transaction has expired. Please create a new transaction and try again."
        )


# --- row versions (conflict detection) ------------------------------------------------------------


def _version(conn: sqlite3.Connection, table_sql: str, row_id: str) -> str | None:
    """A fingerprint of the committed row (None: no such row, or no such table)."""
    try:
        found = conn.execute(
            f"SELECT _seq, _createdAt, _updatedAt, _permissions, data FROM {table_sql} WHERE _uid=?", (row_id,)
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    if found is None:
        return None
    return hashlib.sha256(json.dumps(list(found)).encode()).hexdigest()


def _touched(staged: Mapping[str, Any], result: Any, fl: Flavor) -> list[str]:
    """The IDs of the rows a staged operation (or a read) touched, from its parameters and its result."""
    ids: list[str] = []
    row_id = staged["params"].get(fl.row_param)
    if row_id:
        ids.append(str(row_id))
    if isinstance(result, dict):
        if isinstance(result.get("$id"), str):
            ids.append(result["$id"])
        for item in result.get(fl.rows) or ():
            if isinstance(item, dict) and isinstance(item.get("$id"), str):
                ids.append(item["$id"])
    body = getattr(result, "body", None)
    if isinstance(body, dict):
        ids.extend(i["$id"] for i in body.get(fl.rows) or () if isinstance(i, dict) and "$id" in i)
    return ids


# --- replay -----------------------------------------------------------------------------------------


def _run(ctx: Ctx, staged: Mapping[str, Any], events: list[tuple[str, dict[str, Any]]]) -> Any:
    op_id = staged["op"]
    handler: Handler = HANDLERS[op_id]
    sub = dataclasses.replace(ctx, op=route_table().by_id[op_id], events=events)
    return handler(sub, dict(staged["params"]))


def _table_sql(ctx: Ctx, conn: sqlite3.Connection, staged: Mapping[str, Any]) -> tuple[str, Flavor]:
    fl = flavor_of(staged["op"])
    p = staged["params"]
    return rows.target(conn, ctx.project, fl, p["databaseId"], p[fl.table_param]).sql, fl


def _trial(ctx: Ctx, doc: st.Doc, new: list[dict[str, Any]], *, record: bool) -> tuple[Any, dict[str, str | None]]:
    """Replay ``doc``'s operations and then ``new`` in a SQLite transaction that is rolled back; the last
    result, and (with ``record``) the committed versions of the rows ``new`` touched not yet recorded."""
    known: dict[str, str | None] = dict(doc.get("versions") or {})
    touched: list[tuple[str, str]] = []
    with ctx.store.lock:
        if ctx.store.conn.in_transaction:
            raise RuntimeError("a transaction trial cannot run inside another SQLite transaction")
        try:
            with ctx.store.tx() as conn:
                for staged in doc.get("ops") or ():
                    _run(ctx, staged, [])
                result: Any = None
                for staged in new:
                    result = _run(ctx, staged, [])
                    if record:
                        table_sql, fl = _table_sql(ctx, conn, staged)
                        touched.extend((table_sql, row_id) for row_id in _touched(staged, result, fl))
                raise _Discard(result)
        except _Discard as done:
            result = done.result
        fresh: dict[str, str | None] = {}
        with ctx.store.read() as conn:  # still under the lock: nobody wrote since the rollback
            for table_sql, row_id in touched:
                key = f"{table_sql}/{row_id}"
                if key not in known and key not in fresh:
                    fresh[key] = _version(conn, table_sql, row_id)
    return result, fresh


def _stage(ctx: Ctx, transaction_id: Any, new: list[dict[str, Any]], *, read: bool = False) -> tuple[Any, st.Doc]:
    with ctx.store.lock:
        with ctx.store.read() as conn:
            doc = _load(conn, ctx.project, transaction_id, ctx.caller)
        _check_open(doc)
        if not read and doc["operations"] + len(new) > MAX_OPERATIONS:
            raise ApiError(
                "transaction_limit_exceeded",
                f"Transaction already has {doc['operations']} operations, adding {len(new)} would exceed the "
                f"maximum of {MAX_OPERATIONS}",
            )
        result, fresh = _trial(ctx, doc, new, record=True)
        if read and not fresh:
            return result, doc
        with ctx.store.tx() as conn:
            doc = _load(conn, ctx.project, transaction_id)
            doc["versions"] = {**(doc.get("versions") or {}), **fresh}
            if not read:
                doc["ops"] = [*(doc.get("ops") or []), *new]
                doc["operations"] = doc["operations"] + len(new)
            st.meta_save(conn, ctx.project, KIND, "", doc)
        return result, doc


def _pinned(staged: dict[str, Any]) -> dict[str, Any]:
    """``staged`` with every ``unique()`` row ID it creates drawn now, so each replay creates the same rows."""
    fl = flavor_of(staged["op"])
    p = staged["params"]
    if staged["op"].endswith(("CreateRow", "CreateDocument")) and p.get(fl.row_param):
        p[fl.row_param] = custom_id(p[fl.row_param], fl.row_param)
    items = p.get(fl.rows)
    if isinstance(items, list):
        p[fl.rows] = [
            {**item, "$id": custom_id(item.get("$id") or "unique()", "$id")} if isinstance(item, dict) else item
            for item in items
        ]
    return staged


def in_transaction(handler: Handler) -> Handler:
    """A row route that takes ``transactionId``: with one, a write is staged (not applied) and answers what
    it would return; a read sees the transaction's own uncommitted changes. Without one, ``handler``."""

    def wrapper(ctx: Ctx, params: dict[str, Any]) -> Any:
        transaction_id = params.get("transactionId")
        if not transaction_id:
            return handler(ctx, params)
        staged = _pinned({"op": ctx.op.id, "params": {k: v for k, v in params.items() if k != "transactionId"}})
        result, _ = _stage(ctx, transaction_id, [staged], read=ctx.op.id in _READS)
        return result

    wrapper.__name__ = getattr(handler, "__name__", "handler")
    wrapper.__doc__ = handler.__doc__
    return wrapper


# --- operations of createOperations ---------------------------------------------------------------


def _operation(fl: Flavor, item: Any, index: int, caller: Caller) -> dict[str, Any]:
    """One item of ``operations`` as the row operation it stages."""
    if not isinstance(item, dict):
        raise ApiError("general_argument_invalid", f"Invalid `operations` param: item {index} must be a JSON object")
    action = item.get("action")
    if str(action).startswith("bulk") and not caller.is_key:
        raise ApiError(
            "user_unauthorized",
            f"Invalid `operations` param: item {index} is a {action}, and bulk operations take an API key. "
            "Stage the rows one at a time (create, update, upsert, delete).",
            401,
        )
    name = _ACTIONS[fl.name].get(str(action))
    if name is None:
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `operations` param: item {index} has an invalid action {action!r}; one of "
            f"{', '.join(_ACTIONS[fl.name])}",
        )
    other = LEGACY if fl is TABLES else TABLES
    database_id = item.get("databaseId")
    table_id = item.get(fl.table_param) or item.get(other.table_param)
    row_id = item.get(fl.row_param) or item.get(other.row_param)
    if not database_id or not table_id:
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `operations` param: item {index} needs databaseId and {fl.table_param}",
        )
    if action in _NEEDS_ROW and not row_id:
        raise ApiError("general_bad_request", f"{fl.row.capitalize()} ID is required for {action} operations")
    data = item.get("data")
    path = {"databaseId": str(database_id), fl.table_param: str(table_id)}
    body: dict[str, Any] = {}
    if action in ("create", "update", "upsert"):
        data = dict(data) if isinstance(data, dict) else data
        if isinstance(data, dict) and "$permissions" in data:
            body["permissions"] = data.pop("$permissions")
        body["data"] = data
        if action == "create":
            body[fl.row_param] = row_id or (data.get("$id") if isinstance(data, dict) else None) or "unique()"
        else:
            path[fl.row_param] = str(row_id)
    elif action == "delete":
        path[fl.row_param] = str(row_id)
    elif action in ("increment", "decrement"):
        data = data if isinstance(data, dict) else {}
        column = data.get("column") or data.get("attribute")
        if not column:
            raise ApiError(
                "general_argument_invalid",
                f"Invalid `operations` param: item {index} ({action}) needs data.{fl.column_param}",
            )
        path[fl.row_param] = str(row_id)
        path[fl.column_param] = str(column)
        for key in ("value", "min", "max"):
            if data.get(key) is not None:
                body[key] = data[key]
    elif action in ("bulkCreate", "bulkUpsert"):
        body[fl.rows] = data
    elif action == "bulkUpdate":
        data = data if isinstance(data, dict) else {}
        body["data"] = data.get("data")
        body["queries"] = data.get("queries") or []
    else:  # bulkDelete
        data = data if isinstance(data, dict) else {}
        body["queries"] = data.get("queries") or []
    op_id = ("tablesDB" if fl is TABLES else "databases") + name
    op = route_table().by_id[op_id]
    query = {k: body.pop(k) for k in list(body) if any(p.name == k and p.where == "query" for p in op.params)}
    params = bind(op, path, query, body, False)
    params.pop("transactionId", None)
    return _pinned({"op": op_id, "params": params})


# --- routes -----------------------------------------------------------------------------------------


@handles("tablesDBCreateTransaction", "databasesCreateTransaction")
def create_transaction(ctx: Ctx, p: dict[str, Any]) -> Any:
    ttl = TTL_DEFAULT if p.get("ttl") is None else p["ttl"]
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not TTL_MIN <= ttl <= TTL_MAX:
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `ttl` param: Value must be a valid range between {TTL_MIN:,} and {TTL_MAX:,}",
        )
    expires = to_iso(_now() + timedelta(seconds=ttl))
    with ctx.store.tx() as conn:
        doc = st.meta_insert(
            conn,
            ctx.project,
            KIND,
            "",
            new_id(),
            {"status": "pending", "operations": 0, "expiresAt": expires, "ops": [], "versions": {}},
            ctx.caller.own_permissions(("read", "update", "delete")),
        )
    return render(doc)


@handles("tablesDBListTransactions", "databasesListTransactions")
def list_transactions(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        if ctx.caller.is_key:
            total, docs = st.meta_list(conn, ctx.project, KIND, "", p, FIELDS)
        else:
            where, params = auth.readable_sql(ctx.caller)
            total, docs, _ = st.list_docs(
                conn, "meta", f"project=? AND kind=? AND parent='' AND {where}", [ctx.project, KIND, *params],
                p.get("queries"), FIELDS, total=p.get("total") is not False,
            )  # fmt: skip
    return {"total": total, "transactions": [render(d) for d in docs]}


@handles("tablesDBGetTransaction", "databasesGetTransaction")
def get_transaction(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        return render(_load(conn, ctx.project, p["transactionId"], ctx.caller))


@handles("tablesDBDeleteTransaction", "databasesDeleteTransaction")
def delete_transaction(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        doc = _load(conn, ctx.project, p["transactionId"], ctx.caller)
        if not ctx.caller.may(doc["$permissions"], "delete"):
            raise auth.unauthorized(f"transaction '{doc['$id']}'", "delete", ctx.caller)
        st.meta_delete(conn, ctx.project, KIND, "", doc["$id"])
    return None


@handles("tablesDBCreateOperations", "databasesCreateOperations")
def create_operations(ctx: Ctx, p: dict[str, Any]) -> Any:
    items = p.get("operations")
    if not items:
        raise ApiError("general_bad_request", "Operations array cannot be empty")
    if not isinstance(items, list):
        raise ApiError("general_argument_invalid", "Invalid `operations` param: Value must be a valid array")
    fl = flavor_of(ctx.op.id)
    with ctx.store.read() as conn:
        doc = _load(conn, ctx.project, p["transactionId"], ctx.caller)
    _check_open(doc)
    if doc["operations"] + len(items) > MAX_OPERATIONS:  # before looking at them, as Appwrite does
        raise ApiError(
            "transaction_limit_exceeded",
            f"Transaction already has {doc['operations']} operations, adding {len(items)} would exceed the "
            f"maximum of {MAX_OPERATIONS}",
        )
    new = [_operation(fl, item, i, ctx.caller) for i, item in enumerate(items)]
    try:
        _, doc = _stage(ctx, p["transactionId"], new)
    except ApiError as exc:
        raise fl.adapt(exc) from exc.__cause__
    return render(doc)


@handles("tablesDBUpdateTransaction", "databasesUpdateTransaction")
def update_transaction(ctx: Ctx, p: dict[str, Any]) -> Any:
    commit, rollback = bool(p.get("commit")), bool(p.get("rollback"))
    if not commit and not rollback:
        raise ApiError("general_bad_request", "Either commit or rollback must be true")
    if commit and rollback:
        raise ApiError("general_bad_request", "Cannot commit and rollback at the same time")
    with ctx.store.lock:
        with ctx.store.read() as conn:
            doc = _load(conn, ctx.project, p["transactionId"], ctx.caller)
        _check_open(doc, committing=True)
        if rollback:
            return render(_set_status(ctx, doc, "failed"))
        return render(_commit(ctx, doc))


def _set_status(ctx: Ctx, doc: st.Doc, status: str) -> st.Doc:
    with ctx.store.tx() as conn:
        doc["status"] = status
        return st.meta_save(conn, ctx.project, KIND, "", doc)


def _commit(ctx: Ctx, doc: st.Doc) -> st.Doc:
    events: list[tuple[str, dict[str, Any]]] = []
    try:
        with ctx.store.tx() as conn:
            for key, version in (doc.get("versions") or {}).items():
                table_sql, _, row_id = key.partition("/")
                if _version(conn, table_sql, row_id) != version:
                    raise ApiError(
                        "transaction_conflict",
                        f"The transaction has a conflict: row '{row_id}' was changed by someone else after the "
                        "transaction first read or staged it. Nothing was applied; retry in a new transaction.",
                    )
            for staged in doc.get("ops") or ():
                _run(ctx, staged, events)
            doc["status"] = "committed"
            st.meta_save(conn, ctx.project, KIND, "", doc)  # in the same SQLite transaction as the rows
    except ApiError as exc:
        _set_status(ctx, doc, "failed")
        if exc.type.endswith(_CONFLICTS):
            raise ApiError(
                "transaction_conflict", f"The transaction has a conflict: {exc.message} Nothing was applied."
            ) from exc
        raise
    except Exception:
        _set_status(ctx, doc, "failed")
        raise
    ctx.events.extend(events)
    return doc
