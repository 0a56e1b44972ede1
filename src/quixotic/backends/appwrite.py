"""The backend over the official Appwrite SDK: reads a project's live state and applies plan changes.

This is the one place that talks to Appwrite (ours or a real one) for deploys; every
``AppwriteException`` is translated here, once, into :class:`quixotic.errors.ApiError` with a message
that says what to do (a missing scope names the scope; an unknown project says so).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, TypeVar

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB

from quixotic.config.resources import Bucket, Column, Database, Function, Index, Table
from quixotic.errors import ApiError, QuixoticError
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState

T = TypeVar("T")
Progress = Callable[[str], None]
PAGE = 100


def translate(exc: AppwriteException, doing: str) -> ApiError:
    """An SDK error as the project's own, with what to do about it."""
    kind = getattr(exc, "type", None) or "general_unknown"
    code = int(getattr(exc, "code", None) or 0) or 500
    message = str(getattr(exc, "message", None) or exc)
    hint = ""
    if kind == "general_unauthorized_scope":
        hint = " The API key lacks that scope: create a key that has it."
    elif kind == "project_not_found":
        hint = " Check `projectId` and `endpoint` in the environment's file."
    elif code == 500 and kind == "general_unknown" and "Connection" in message:
        hint = " Is the server running? For `local`, run `quixotic up`."
    return ApiError(kind, f"{doing}: {message}{hint}", code)


def call(doing: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except AppwriteException as exc:
        raise translate(exc, doing) from exc


class AppwriteBackend:
    """One project on one Appwrite endpoint, through the SDK 15.x (response format 1.8.0)."""

    def __init__(self, endpoint: str, project_id: str, api_key: str, *, system_database: str = "quixotic") -> None:
        self.endpoint = endpoint
        self.project_id = project_id
        self.client = Client().set_endpoint(endpoint).set_project(project_id).set_key(api_key)
        self.db = TablesDB(self.client)
        self.storage = Storage(self.client)
        self.functions = Functions(self.client)
        self.system_database = system_database

    # --- paging -------------------------------------------------------------------------------

    def pages(self, doing: str, fetch: Callable[[list[str]], dict[str, Any]], plural: str) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, paged with cursors."""
        cursor: str | None = None
        while True:
            queries = [Query.limit(PAGE)]
            if cursor:
                queries.append(Query.cursor_after(cursor))
            page = call(doing, lambda q=queries: fetch(q))  # type: ignore[misc]
            items = page.get(plural, [])
            yield from items
            if len(items) < PAGE:
                return
            cursor = items[-1]["$id"]

    # --- reading ------------------------------------------------------------------------------

    def read_state(
        self, *, with_code: bool = True, secret_hashes: dict[tuple[str, str], str] | None = None
    ) -> ProjectState:
        """The live project as a :class:`ProjectState` (the tool's own database left out)."""
        databases = [
            Database(d["$id"], d["name"], bool(d.get("enabled", True)))
            for d in self.pages("listing databases", lambda q: self.db.list(q), "databases")
            if d["$id"] != self.system_database
        ]
        tables: list[Table] = []
        for database in databases:
            tables.extend(table_from_model(database.id, t) for t in self.tables_of(database.id))
        buckets = [bucket_from_model(b) for b in self.pages("listing buckets", self.storage.list_buckets, "buckets")]
        functions: list[FunctionState] = []
        variables: list[VariableState] = []
        hashes = secret_hashes or {}
        for f in self.pages("listing functions", lambda q: self.functions.list(q), "functions"):
            deployment = f.get("deploymentId") or None
            code_hash = self.deployment_hash(f["$id"], deployment) if (deployment and with_code) else None
            functions.append(FunctionState(function_from_model(f), code_hash, deployment))
            variables.extend(variable_from_model(f["$id"], v, hashes) for v in self.function_variables(f["$id"]))
        for v in self.project_variables():
            variables.append(variable_from_model(PROJECT_SCOPE, v, hashes))
        return ProjectState(
            project_id=self.project_id,
            databases=tuple(databases),
            tables=tuple(tables),
            buckets=tuple(buckets),
            functions=tuple(functions),
            variables=tuple(variables),
        )

    def tables_of(self, database_id: str) -> Iterator[dict[str, Any]]:
        def fetch(queries: list[str]) -> dict[str, Any]:
            return dict(self.db.list_tables(database_id, queries))

        return self.pages(f"listing tables of {database_id}", fetch, "tables")

    def function_variables(self, function_id: str) -> list[dict[str, Any]]:
        def fetch() -> dict[str, Any]:
            return dict(self.functions.list_variables(function_id))

        return list(call(f"listing variables of {function_id}", fetch)["variables"])

    def deployment_hash(self, function_id: str, deployment_id: str) -> str | None:
        """SHA-256 of the active deployment's source, as uploaded (our archives are deterministic)."""
        try:
            data = self.functions.get_deployment_download(function_id, deployment_id)
        except AppwriteException:
            return None
        return hashlib.sha256(data).hexdigest() if isinstance(data, bytes | bytearray) else None

    def project_variables(self) -> list[dict[str, Any]]:
        """Project variables (a console route on Appwrite 1.8; skipped where the key cannot reach it)."""
        try:
            result = self.client.call("get", "/project/variables", {"content-type": "application/json"}, {})
        except AppwriteException as exc:
            if getattr(exc, "code", None) in (401, 403, 404, 405):
                return []
            raise translate(exc, "listing project variables") from exc
        return list(result.get("variables", []))

    # --- waiting ------------------------------------------------------------------------------

    def wait_column(self, database_id: str, table_id: str, key: str, timeout: float = 120.0) -> None:
        self._wait(f"column {table_id}.{key}", lambda: self.db.get_column(database_id, table_id, key), timeout)

    def wait_index(self, database_id: str, table_id: str, key: str, timeout: float = 120.0) -> None:
        self._wait(f"index {table_id}.{key}", lambda: self.db.get_index(database_id, table_id, key), timeout)

    def _wait(self, what: str, get: Callable[[], dict[str, Any]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            model = call(f"checking {what}", get)
            status = model.get("status")
            if status == "available":
                return
            if status in ("failed", "stuck"):
                raise ApiError("column_not_available", f"{what} failed to build: {model.get('error') or status}", 400)
            if time.monotonic() > deadline:
                raise ApiError("column_not_available", f"{what} is still {status} after {timeout:.0f} s", 400)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def wait_gone(self, what: str, get: Callable[[], Any], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                get()
            except AppwriteException as exc:
                if getattr(exc, "code", None) == 404:
                    return
                raise translate(exc, f"checking {what}") from exc
            time.sleep(0.05)
        raise ApiError("general_server_error", f"{what} was not deleted within {timeout:.0f} s", 500)

    # --- schema writes ------------------------------------------------------------------------

    def create_column(self, database_id: str, table_id: str, column: Column) -> None:
        d, t = database_id, table_id
        c = column
        default = c.default
        if c.type == "string" and c.format in ("email", "url", "ip", "enum"):
            if c.format == "enum":
                call(f"creating column {t}.{c.key}", lambda: self.db.create_enum_column(
                    d, t, c.key, list(c.elements), c.required, default, c.array))  # fmt: skip
            else:
                method = getattr(self.db, f"create_{c.format}_column")
                call(f"creating column {t}.{c.key}", lambda: method(d, t, c.key, c.required, default, c.array))
        elif c.type in ("string", "varchar"):
            method = getattr(self.db, f"create_{c.type}_column")
            call(f"creating column {t}.{c.key}", lambda: method(
                d, t, c.key, c.size or 255, c.required, default, c.array, c.encrypt or None))  # fmt: skip
        elif c.type in ("text", "mediumtext", "longtext"):
            method = getattr(self.db, f"create_{c.type}_column")
            call(f"creating column {t}.{c.key}", lambda: method(
                d, t, c.key, c.required, default, c.array, c.encrypt or None))  # fmt: skip
        elif c.type in ("integer", "double"):
            method = self.db.create_integer_column if c.type == "integer" else self.db.create_float_column
            call(
                f"creating column {t}.{c.key}", lambda: method(d, t, c.key, c.required, c.min, c.max, default, c.array)
            )
        elif c.type == "boolean":
            call(f"creating column {t}.{c.key}", lambda: self.db.create_boolean_column(
                d, t, c.key, c.required, default, c.array))  # fmt: skip
        elif c.type == "datetime":
            call(f"creating column {t}.{c.key}", lambda: self.db.create_datetime_column(
                d, t, c.key, c.required, default, c.array))  # fmt: skip
        else:
            raise QuixoticError(f"column {t}.{c.key}: type {c.type!r} cannot be created by quixotic")

    def update_column(self, database_id: str, table_id: str, column: Column) -> None:
        d, t, c = database_id, table_id, column
        doing = f"updating column {t}.{c.key}"
        if c.type == "string" and c.format == "enum":
            call(doing, lambda: self.db.update_enum_column(d, t, c.key, list(c.elements), c.required, c.default))
        elif c.type == "string" and c.format in ("email", "url", "ip"):
            method = getattr(self.db, f"update_{c.format}_column")
            call(doing, lambda: method(d, t, c.key, c.required, c.default))
        elif c.type in ("string", "varchar"):
            method = getattr(self.db, f"update_{c.type}_column")
            call(doing, lambda: method(d, t, c.key, c.required, c.default, c.size))
        elif c.type in ("text", "mediumtext", "longtext", "boolean", "datetime"):
            method = getattr(self.db, f"update_{c.type}_column")
            call(doing, lambda: method(d, t, c.key, c.required, c.default))
        elif c.type in ("integer", "double"):
            method = self.db.update_integer_column if c.type == "integer" else self.db.update_float_column
            call(doing, lambda: method(d, t, c.key, c.required, c.default, c.min, c.max))
        else:
            raise QuixoticError(f"column {t}.{c.key}: type {c.type!r} cannot be updated by quixotic")

    def delete_column(self, database_id: str, table_id: str, key: str) -> None:
        call(f"deleting column {table_id}.{key}", lambda: self.db.delete_column(database_id, table_id, key))
        self.wait_gone(f"column {table_id}.{key}", lambda: self.db.get_column(database_id, table_id, key))

    def create_index(self, database_id: str, table_id: str, index: Index) -> None:
        orders = [o.lower() for o in index.orders] or None
        call(
            f"creating index {table_id}.{index.key}",
            lambda: self.db.create_index(database_id, table_id, index.key, index.type, list(index.columns), orders),
        )

    def delete_index(self, database_id: str, table_id: str, key: str) -> None:
        call(f"deleting index {table_id}.{key}", lambda: self.db.delete_index(database_id, table_id, key))
        self.wait_gone(f"index {table_id}.{key}", lambda: self.db.get_index(database_id, table_id, key))

    # --- functions ----------------------------------------------------------------------------

    def function_settings(self, f: Function) -> dict[str, Any]:
        return {
            "name": f.name,
            "runtime": f.runtime,
            "execute": list(f.execute),
            "events": list(f.events),
            "schedule": f.schedule,
            "timeout": f.timeout,
            "enabled": f.enabled,
            "logging": f.logging,
            "entrypoint": f.entrypoint,
            "commands": f.commands,
            "scopes": list(f.scopes),
            **({"specification": f.specification} if f.specification else {}),
        }

    def upload_code(self, function_id: str, archive: bytes) -> str:
        """Upload ``archive`` as a new deployment (activated by the server once its build is ready)."""
        created = call(
            f"uploading the code of {function_id}",
            lambda: self.functions.create_deployment(function_id, InputFile.from_bytes(archive, "code.tar.gz"), True),
        )
        return str(created["$id"])

    def finish_deploy(
        self, function_id: str, deployment_id: str, progress: Progress | None = None, timeout: float = 900.0
    ) -> dict[str, Any]:
        """Wait for a deployment's build; make sure it is the active one, or raise with the build's log."""
        deadline = time.monotonic() + timeout
        status = ""
        while True:
            dep = call(
                f"checking the build of {function_id}",
                lambda: self.functions.get_deployment(function_id, deployment_id),
            )
            if progress and dep.get("status") != status:
                progress(f"{function_id}: build {dep.get('status')}")
            status = str(dep.get("status"))
            if status in ("ready", "failed", "canceled"):
                break
            if time.monotonic() > deadline:
                raise ApiError("build_not_ready", f"the build of {function_id} did not finish in {timeout:.0f} s", 400)
            time.sleep(0.2)
        if status != "ready":
            logs = str(dep.get("buildLogs") or "")[-4000:]
            raise ApiError(
                "build_failed",
                f"the build of {function_id} ({deployment_id}) {status}; the previous deployment stays active.\n{logs}",
                400,
            )
        fn = call(f"reading {function_id}", lambda: self.functions.get(function_id))
        if fn.get("deploymentId") != deployment_id:
            call(
                f"activating {function_id}",
                lambda: self.functions.update_function_deployment(function_id, deployment_id),
            )
        return dict(dep)

    def deploy_code(
        self, function_id: str, archive: bytes, progress: Progress | None = None, timeout: float = 900.0
    ) -> dict[str, Any]:
        """Upload ``archive``, wait for its build, and activate it when it is ready."""
        return self.finish_deploy(function_id, self.upload_code(function_id, archive), progress, timeout)

    # --- variables (of a function, or of the project: scope "project") ---------------------------

    def create_variable(self, scope: str, key: str, value: str, secret: bool) -> None:
        doing = f"creating variable {scope}/{key}"
        if scope == PROJECT_SCOPE:
            body = {"key": key, "value": value, "secret": secret}
            call(doing, lambda: self.client.call("post", "/project/variables", _JSON, body))
        else:
            call(doing, lambda: self.functions.create_variable(scope, key, value, secret))

    def update_variable(self, scope: str, variable_id: str, key: str, value: str, secret: bool) -> None:
        doing = f"updating variable {scope}/{key}"
        if scope == PROJECT_SCOPE:
            body = {"key": key, "value": value, "secret": secret}
            call(doing, lambda: self.client.call("put", f"/project/variables/{variable_id}", _JSON, body))
        else:
            call(doing, lambda: self.functions.update_variable(scope, variable_id, key, value, secret))

    def delete_variable(self, scope: str, variable_id: str) -> None:
        doing = f"deleting variable {scope}/{variable_id}"
        try:
            if scope == PROJECT_SCOPE:
                self.client.call("delete", f"/project/variables/{variable_id}", _JSON, {})
            else:
                self.functions.delete_variable(scope, variable_id)
        except AppwriteException as exc:
            if getattr(exc, "code", None) != 404:
                raise translate(exc, doing) from exc


_JSON = {"content-type": "application/json"}


# --- models -> values -----------------------------------------------------------------------------


def column_from_model(c: dict[str, Any]) -> Column:
    kind = c.get("type", "string")
    fmt = c.get("format") or ""
    if kind == "datetime":
        fmt = ""
    return Column(
        key=c["key"],
        type=kind,
        required=bool(c.get("required")),
        array=bool(c.get("array")),
        size=c.get("size") if kind in ("string", "varchar") and fmt in ("",) else None,
        default=c.get("default"),
        min=c.get("min") if kind in ("integer", "double") else None,
        max=c.get("max") if kind in ("integer", "double") else None,
        format=fmt if kind == "string" else "",
        elements=tuple(c.get("elements") or ()) if fmt == "enum" else (),
        encrypt=bool(c.get("encrypt")),
    )


def index_from_model(i: dict[str, Any]) -> Index:
    return Index(
        key=i["key"],
        type=i["type"],
        columns=tuple(i.get("columns") or i.get("attributes") or ()),
        orders=tuple(o.upper() for o in i.get("orders") or ()),
    )


def table_from_model(database_id: str, t: dict[str, Any]) -> Table:
    return Table(
        id=t["$id"],
        database_id=database_id,
        name=t["name"],
        enabled=bool(t.get("enabled", True)),
        row_security=bool(t.get("rowSecurity", t.get("documentSecurity", False))),
        permissions=tuple(t.get("$permissions") or ()),
        columns=tuple(column_from_model(c) for c in t.get("columns") or t.get("attributes") or ()),
        indexes=tuple(index_from_model(i) for i in t.get("indexes") or ()),
    )


def bucket_from_model(b: dict[str, Any]) -> Bucket:
    return Bucket(
        id=b["$id"],
        name=b["name"],
        permissions=tuple(b.get("$permissions") or ()),
        file_security=bool(b.get("fileSecurity")),
        enabled=bool(b.get("enabled", True)),
        maximum_file_size=int(b.get("maximumFileSize") or 0),
        allowed_file_extensions=tuple(b.get("allowedFileExtensions") or ()),
        compression=str(b.get("compression") or "none"),
        encryption=bool(b.get("encryption")),
        antivirus=bool(b.get("antivirus")),
    )


def function_from_model(f: dict[str, Any]) -> Function:
    return Function(
        id=f["$id"],
        name=f["name"],
        runtime=f["runtime"],
        path="",
        entrypoint=f.get("entrypoint") or "",
        commands=f.get("commands") or "",
        execute=tuple(f.get("execute") or ()),
        events=tuple(f.get("events") or ()),
        schedule=f.get("schedule") or "",
        timeout=int(f.get("timeout") or 15),
        enabled=bool(f.get("enabled", True)),
        logging=bool(f.get("logging", True)),
        scopes=tuple(f.get("scopes") or ()),
        specification=f.get("specification") or None,
    )


def variable_from_model(scope: str, v: dict[str, Any], hashes: dict[tuple[str, str], str]) -> VariableState:
    secret = bool(v.get("secret"))
    if secret:
        return VariableState(scope, v["key"], None, True, hashes.get((scope, v["key"]), ""), v["$id"])
    value = str(v.get("value") or "")
    return VariableState(scope, v["key"], value, False, hashlib.sha256(value.encode()).hexdigest(), v["$id"])


def column_json(column: Column) -> dict[str, Any]:
    return asdict(column)
