"""Applies plan changes to a live project through the SDK backend, in the plan's order.

Each change is looked up by its address in the desired state that the plan was computed from, so
the plan file never needs to carry secret values: they are read from the environment here, and
their hash is checked against the plan's. Columns and indexes are waited for until Appwrite reports
them ``available``; function code is uploaded, built and activated only when its build succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quixotic.backends.appwrite import AppwriteBackend, call
from quixotic.config import Environment
from quixotic.config.resources import Bucket, Function, Table, column_to_cli_json
from quixotic.desired import Desired
from quixotic.errors import PlanError
from quixotic.plan.changes import Change
from quixotic.plan.state import ProjectState, VariableState, value_hash
from quixotic.toolstate import ToolState

Progress = Callable[[str], None]


def _split(address: str) -> tuple[str, list[str]]:
    kind, _, rest = address.partition(":")
    return kind, rest.split("/")


class Applier:
    def __init__(
        self,
        backend: AppwriteBackend,
        tool: ToolState,
        env: Environment,
        desired: Desired,
        live: ProjectState,
        progress: Progress | None = None,
    ) -> None:
        self.backend = backend
        self.tool = tool
        self.env = env
        self.desired = desired
        self.live = live
        self.progress = progress or (lambda _msg: None)
        self.created_tables: set[tuple[str, str]] = set()
        self.deployments: dict[str, str] = {}  # function id -> new deployment id, once built and active
        self.pending: dict[str, str] = {}  # function id -> uploaded deployment still building

    # --- lookups ---------------------------------------------------------------------------

    def _live_variable(self, scope: str, key: str) -> VariableState | None:
        return next((v for v in self.live.variables if v.scope == scope and v.key == key), None)

    # --- dispatch -----------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        kind, ids = _split(change.address)
        handler = getattr(self, f"_apply_{kind}", None)
        if handler is None:
            raise PlanError(f"cannot apply a change to {change.address}")
        self.progress(f"{change.action} {change.address}")
        handler(change.action, ids)

    # --- schema -------------------------------------------------------------------------------

    def _apply_database(self, action: str, ids: list[str]) -> None:
        (database_id,) = ids
        db = self.backend.db
        if action == "delete":
            call(f"deleting database {database_id}", lambda: db.delete(database_id))
            return
        spec = next((d for d in self.desired.state.databases if d.id == database_id), None)
        if spec is None:
            raise PlanError(f"database {database_id} is not in the configuration any more: plan again")
        if action == "create":
            call(f"creating database {database_id}", lambda: db.create(database_id, spec.name, spec.enabled))
        else:
            call(f"updating database {database_id}", lambda: db.update(database_id, spec.name, spec.enabled))

    def _apply_table(self, action: str, ids: list[str]) -> None:
        database_id, table_id = ids
        db = self.backend.db
        if action == "delete":
            call(f"deleting table {table_id}", lambda: db.delete_table(database_id, table_id))
            return
        table = self.lookup_table(database_id, table_id)
        perms = list(table.permissions)
        if action == "create":
            columns = [column_to_cli_json(c) for c in table.columns]
            indexes = [
                {"key": i.key, "type": i.type, "columns": list(i.columns), "orders": [o.lower() for o in i.orders]}
                for i in table.indexes
            ]
            call(
                f"creating table {table_id}",
                lambda: db.create_table(
                    database_id, table_id, table.name, perms, table.row_security, table.enabled, columns, indexes
                ),
            )
            self.created_tables.add((database_id, table_id))
            for column in table.columns:
                self.backend.wait_column(database_id, table_id, column.key)
            for index in table.indexes:
                self.backend.wait_index(database_id, table_id, index.key)
        else:
            call(
                f"updating table {table_id}",
                lambda: db.update_table(database_id, table_id, table.name, perms, table.row_security, table.enabled),
            )

    def lookup_table(self, database_id: str, table_id: str) -> Table:
        for table in self.desired.state.tables:
            if table.database_id == database_id and table.id == table_id:
                return table
        raise PlanError(f"table {database_id}/{table_id} is not in the configuration any more: plan again")

    def _apply_column(self, action: str, ids: list[str]) -> None:
        database_id, table_id, key = ids
        if (database_id, table_id) in self.created_tables and action == "create":
            return  # created with its table
        if action in ("delete", "replace"):
            self.backend.delete_column(database_id, table_id, key)
            if action == "delete":
                return
        column = self.lookup_table(database_id, table_id).column(key)
        if column is None:
            raise PlanError(f"column {table_id}.{key} is not in the configuration any more: plan again")
        if action == "update":
            self.backend.update_column(database_id, table_id, column)
        else:
            self.backend.create_column(database_id, table_id, column)
        self.backend.wait_column(database_id, table_id, key)

    def _apply_index(self, action: str, ids: list[str]) -> None:
        database_id, table_id, key = ids
        if (database_id, table_id) in self.created_tables and action == "create":
            return
        if action in ("delete", "replace", "update"):
            self.backend.delete_index(database_id, table_id, key)
            if action == "delete":
                return
        index = next((i for i in self.lookup_table(database_id, table_id).indexes if i.key == key), None)
        if index is None:
            raise PlanError(f"index {table_id}.{key} is not in the configuration any more: plan again")
        self.backend.create_index(database_id, table_id, index)
        self.backend.wait_index(database_id, table_id, key)

    # --- storage ------------------------------------------------------------------------------

    def _apply_bucket(self, action: str, ids: list[str]) -> None:
        (bucket_id,) = ids
        storage = self.backend.storage
        if action == "delete":
            call(f"deleting bucket {bucket_id}", lambda: storage.delete_bucket(bucket_id))
            return
        b = self.lookup_bucket(bucket_id)
        args: dict[str, Any] = {
            "permissions": list(b.permissions),
            "file_security": b.file_security,
            "enabled": b.enabled,
            "maximum_file_size": b.maximum_file_size,
            "allowed_file_extensions": list(b.allowed_file_extensions),
            "compression": b.compression,
            "encryption": b.encryption,
            "antivirus": b.antivirus,
        }
        if action == "create":
            call(f"creating bucket {bucket_id}", lambda: storage.create_bucket(bucket_id, b.name, **args))
        else:
            call(f"updating bucket {bucket_id}", lambda: storage.update_bucket(bucket_id, b.name, **args))

    def lookup_bucket(self, bucket_id: str) -> Bucket:
        for bucket in self.desired.state.buckets:
            if bucket.id == bucket_id:
                return bucket
        raise PlanError(f"bucket {bucket_id} is not in the configuration any more: plan again")

    # --- functions ----------------------------------------------------------------------------

    def _apply_function(self, action: str, ids: list[str]) -> None:
        (function_id,) = ids
        functions = self.backend.functions
        if action == "delete":
            call(f"deleting function {function_id}", lambda: functions.delete(function_id))
            return
        spec = self.lookup_function(function_id)
        settings = self.backend.function_settings(spec)
        if action == "create":
            call(f"creating function {function_id}", lambda: functions.create(function_id, **settings))
        else:
            call(f"updating function {function_id}", lambda: functions.update(function_id, **settings))

    def lookup_function(self, function_id: str) -> Function:
        for fn in self.desired.state.functions:
            if fn.spec.id == function_id:
                return fn.spec
        raise PlanError(f"function {function_id} is not in the configuration any more: plan again")

    def _apply_deployment(self, action: str, ids: list[str]) -> None:
        """Upload only: builds run on the server side by side; :meth:`finish` waits for them all."""
        (function_id,) = ids
        package = self.desired.packages[function_id]
        self.progress(f"{function_id}: uploading {len(package.data) / 1024:.0f} KiB to build")
        self.pending[function_id] = self.backend.upload_code(function_id, package.data)

    def finish(self) -> None:
        """Wait for every uploaded deployment's build; raise for the first that failed (others still finish)."""
        failures: list[Exception] = []
        for function_id, deployment_id in list(self.pending.items()):
            try:
                self.backend.finish_deploy(function_id, deployment_id, self.progress)
                self.deployments[function_id] = deployment_id
            except Exception as exc:
                failures.append(exc)
            finally:
                del self.pending[function_id]
        if failures:
            raise failures[0]

    # --- variables ----------------------------------------------------------------------------

    def _apply_variable(self, action: str, ids: list[str]) -> None:
        scope, key = ids[0], "/".join(ids[1:])
        live = self._live_variable(scope, key)
        if action in ("delete", "replace") and live is not None and live.id:
            self.backend.delete_variable(scope, live.id)
            if live.secret:
                self.tool.forget_secret(scope, key)
            if action == "delete":
                return
            live = None
        want = self.lookup_variable(scope, key)
        value = want.value
        if want.secret:
            value = self.desired.secret(self.env, scope, key)
            if value is None or value_hash(value) != want.value_hash:
                raise PlanError(f"the value of secret {key} changed since the plan was made: plan again")
        assert value is not None
        if live is None or not live.id:
            self.backend.create_variable(scope, key, value, want.secret)
        else:
            self.backend.update_variable(scope, live.id, key, value, want.secret)
        if want.secret:
            self.tool.record_secret(scope, key, want.value_hash)

    def lookup_variable(self, scope: str, key: str) -> VariableState:
        for var in self.desired.state.variables:
            if var.scope == scope and var.key == key:
                return var
        raise PlanError(f"variable {scope}/{key} is not in the configuration any more: plan again")
