"""Applies a plan's changes to a live project through the SDK backend, in the plan's order (of the kinds asked
for: a deploy applies its functions, variables and code uploads before the schema, see ``engine._applies``).

Every value comes from the change itself (its ``after`` view, and ``before`` for the live variable's id),
so what is applied is exactly what was reviewed. Only two things come from elsewhere: function code
packages, and secret values, which no plan carries: they are read from the desired state when applied
and checked against the plan's hash. Columns and indexes are waited for until Appwrite reports them
``available``; function code is uploaded, built side by side and activated only when its build succeeds.
A deployment change whose ``after`` names a ``deploymentId`` (rollback) re-activates that deployment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec

from quixotic.config import Environment
from quixotic.config.resources import Column, Index, column_to_cli_json
from quixotic.deploy.desired import Desired, secret_values
from quixotic.errors import PlanError
from quixotic.plan.changes import Change
from quixotic.plan.plan import Plan
from quixotic.plan.views import bucket_from, column_from, database_from, function_from, index_from, table_from
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.target.system import SystemDatabase

P = ParamSpec("P")
Progress = Callable[[str], None]
SIDE_BY_SIDE = 8  # uploads, and waits for their builds, at once (fewer than the SDK client's pooled connections)


def _split(address: str) -> tuple[str, list[str]]:
    kind, _, rest = address.partition(":")
    return kind, rest.split("/")


def _after(change: Change) -> dict[str, Any]:
    if change.after is None:
        raise PlanError(f"{change.address}: a {change.action} change carries no value to apply; make the plan again")
    return change.after


def _deleted(change: Change, what: str, delete: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> bool:
    """Delete ``what`` if that is the change; True then, as the handler has nothing more to do (every kind is
    deleted by its ids alone, so no value from the plan is needed)."""
    if change.action != "delete":
        return False
    call(f"deleting {what}", delete, *args, **kwargs)
    return True


def _create_or_update(
    change: Change,
    what: str,
    create: Callable[P, object],
    update: Callable[P, object],
    *args: P.args,
    **kwargs: P.kwargs,
) -> None:
    """Create or update ``what`` with the same values: Appwrite's create and update of a database or a function
    take the same arguments."""
    verb, write = ("creating", create) if change.action == "create" else ("updating", update)
    call(f"{verb} {what}", write, *args, **kwargs)


class Applier:
    def __init__(
        self,
        backend: AppwriteBackend,
        system: SystemDatabase,
        env: Environment,
        desired: Desired | None,
        plan: Plan,
        progress: Progress | None = None,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.system = system
        self.env = env
        self.desired = desired
        self.plan = plan
        self.progress = progress or (lambda _msg: None)
        self.guard = guard or (lambda: None)  # raises once the run may no longer write (its lock was lost)
        self.created_tables: set[tuple[str, str]] = set()
        self.deployments: dict[str, str] = {}  # function id -> new deployment id, once built and active
        self.pending: dict[str, str] = {}  # function id -> uploaded deployment still building
        self.applied = 0
        self._count = threading.Lock()
        self.activate_built = True  # False: a built deployment waits for finish() to activate it

    # --- dispatch -----------------------------------------------------------------------------

    def apply_all(self, kinds: Iterable[str] | None = None) -> set[str]:
        """Apply the plan's changes (of ``kinds`` only, if given) in order; the addresses applied.

        Consecutive code uploads (the plan's last stage) go side by side: none depends on another, and
        the builds they start run on the server meanwhile. The first failure, in plan order, is raised
        once all of them have returned, as a failure in a sequential run would have been.
        """
        wanted = None if kinds is None else frozenset(kinds)
        done: set[str] = set()
        uploads: list[Change] = []
        for change in self.plan.changes:
            if wanted is not None and change.kind not in wanted:
                continue
            if change.kind == "deployment" and change.action != "delete":
                uploads.append(change)
                continue
            self._apply_side_by_side(uploads, done)
            self.apply(change)
            done.add(change.address)
        self._apply_side_by_side(uploads, done)
        return done

    def _apply_side_by_side(self, changes: list[Change], done: set[str]) -> None:
        batch, changes[:] = list(changes), []
        if len(batch) <= 1:
            for change in batch:
                self.apply(change)
                done.add(change.address)
            return
        with ThreadPoolExecutor(min(len(batch), SIDE_BY_SIDE), thread_name_prefix="quixotic-upload") as pool:
            futures = [(change, pool.submit(self.apply, change)) for change in batch]
        errors = [f.exception() for _, f in futures]
        done.update(change.address for change, f in futures if f.exception() is None)
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def apply(self, change: Change) -> None:
        kind, ids = _split(change.address)
        handler = getattr(self, f"_apply_{kind}", None)
        if handler is None:
            raise PlanError(f"cannot apply a change to {change.address}")
        self.guard()
        self.progress(f"{change.action} {change.address}")
        handler(change, ids)
        with self._count:
            self.applied += 1

    # --- schema -------------------------------------------------------------------------------

    def _apply_database(self, change: Change, ids: list[str]) -> None:
        (database_id,) = ids
        db = self.backend.db
        if _deleted(change, f"database {database_id}", db.delete, database_id):
            return
        spec = database_from(_after(change))
        _create_or_update(change, f"database {database_id}", db.create, db.update, database_id, spec.name, spec.enabled)

    def _planned(self, kind: str, database_id: str, table_id: str) -> list[Change]:
        """The plan's creates of columns or indexes of one table (a new table is created with them)."""
        prefix = f"{kind}:{database_id}/{table_id}/"
        return [c for c in self.plan.changes if c.action == "create" and c.address.startswith(prefix)]

    def _apply_table(self, change: Change, ids: list[str]) -> None:
        database_id, table_id = ids
        db = self.backend.db
        if _deleted(change, f"table {table_id}", db.delete_table, database_id, table_id):
            return
        table = table_from(_after(change))
        perms = list(table.permissions)
        if change.action == "create":
            columns: list[Column] = [column_from(_after(c))[2] for c in self._planned("column", database_id, table_id)]
            indexes: list[Index] = [index_from(_after(c))[2] for c in self._planned("index", database_id, table_id)]
            created = call(
                f"creating table {table_id}",
                db.create_table, database_id, table_id, table.name, perms, table.row_security, table.enabled,
                [column_to_cli_json(c) for c in columns],
                [{"key": i.key, "type": i.type, "columns": list(i.columns), "orders": [o.lower() for o in i.orders]}
                 for i in indexes],
            )  # fmt: skip
            self.created_tables.add((database_id, table_id))
            self.backend.wait_table(database_id, table_id, [c.key for c in columns], [i.key for i in indexes],
                                    answer=created if isinstance(created, dict) else None)  # fmt: skip
        else:
            call(f"updating table {table_id}", db.update_table, database_id, table_id, table.name, perms,
                 table.row_security, table.enabled)  # fmt: skip

    def _apply_column(self, change: Change, ids: list[str]) -> None:
        database_id, table_id, key = ids
        if (database_id, table_id) in self.created_tables and change.action == "create":
            return  # created with its table
        if change.action in ("delete", "replace"):
            self.backend.delete_column(database_id, table_id, key)
            if change.action == "delete":
                return
        _, _, column = column_from(_after(change))
        if change.action == "update":
            self.backend.update_column(database_id, table_id, column)
        else:
            self.backend.create_column(database_id, table_id, column)
        self.backend.wait_column(database_id, table_id, key)

    def _apply_index(self, change: Change, ids: list[str]) -> None:
        database_id, table_id, key = ids
        if (database_id, table_id) in self.created_tables and change.action == "create":
            return
        if change.action in ("delete", "replace", "update"):
            self.backend.delete_index(database_id, table_id, key)
            if change.action == "delete":
                return
        _, _, index = index_from(_after(change))
        self.backend.create_index(database_id, table_id, index)
        self.backend.wait_index(database_id, table_id, key)

    # --- storage ------------------------------------------------------------------------------

    def _apply_bucket(self, change: Change, ids: list[str]) -> None:
        (bucket_id,) = ids
        if _deleted(change, f"bucket {bucket_id}", self.backend.storage.delete_bucket, bucket_id):
            return
        bucket = bucket_from(_after(change))
        if change.action == "create":
            self.backend.create_bucket(bucket)
        else:
            self.backend.update_bucket(bucket)

    # --- functions ----------------------------------------------------------------------------

    def _apply_function(self, change: Change, ids: list[str]) -> None:
        (function_id,) = ids
        functions = self.backend.functions
        if _deleted(change, f"function {function_id}", functions.delete, function_id):
            return
        settings = self.backend.function_settings(function_from(_after(change)))
        _create_or_update(
            change, f"function {function_id}", functions.create, functions.update, function_id, **settings
        )

    def _apply_deployment(self, change: Change, ids: list[str]) -> None:
        """Upload only: builds run on the server side by side; :meth:`finish` waits for them all. A recorded
        ``deploymentId`` (rollback) is re-activated instead, with no build."""
        (function_id,) = ids
        after = _after(change)
        if after.get("deploymentId"):
            self.backend.activate(function_id, str(after["deploymentId"]))
            self.deployments[function_id] = str(after["deploymentId"])
            return
        package = self.desired.packages.get(function_id) if self.desired is not None else None
        if package is None or package.sha256 != after.get("codeHash"):
            raise PlanError(f"the code of function {function_id} changed since the plan was made: plan again")
        self.progress(f"{function_id}: uploading {len(package.data) / 1024:.0f} KiB to build")
        self.pending[function_id] = self.backend.upload_code(function_id, package.data, activate=self.activate_built)

    def finish(self) -> None:
        """Wait for every uploaded deployment's build, all at once (each is activated as soon as it is ready);
        raise for the first that failed, in upload order (the others still finish)."""
        pending = list(self.pending.items())

        def one(function_id: str, deployment_id: str) -> None:
            try:
                self.guard()
                self.backend.finish_deploy(function_id, deployment_id, self.progress)
                self.deployments[function_id] = deployment_id
            finally:
                del self.pending[function_id]

        if not pending:
            return
        with ThreadPoolExecutor(min(len(pending), SIDE_BY_SIDE), thread_name_prefix="quixotic-build") as pool:
            futures = [pool.submit(one, f, d) for f, d in pending]
        failures = [e for e in (f.exception() for f in futures) if e is not None]
        if failures:
            raise failures[0]

    # --- variables ----------------------------------------------------------------------------

    def _apply_variable(self, change: Change, ids: list[str]) -> None:
        scope, key = ids[0], "/".join(ids[1:])
        live_id = str((change.before or {}).get("id") or "")
        if change.action in ("delete", "replace") and live_id:
            self.backend.delete_variable(scope, live_id)
            if (change.before or {}).get("secret"):
                self.system.forget_secret(scope, key)
            if change.action == "delete":
                return
            live_id = ""
        want = _after(change)
        secret = bool(want.get("secret"))
        fingerprint = ""
        if secret:
            found = self.desired.secret(self.env, scope, key) if self.desired is not None else None
            planned = str(want.get("valueHash") or "")  # "": planned before the target had a key
            fingerprint = self._fingerprint(found) if found is not None else ""
            if found is None or (planned and fingerprint != planned):
                raise PlanError(f"the value of secret {key} changed since the plan was made: plan again")
            value = found
        else:
            value = str(want.get("value") or "")
        if not live_id:
            self.backend.create_variable(scope, key, value, secret)
        else:
            self.backend.update_variable(scope, live_id, key, value, secret)
        if secret:
            self.system.record_secret(scope, key, fingerprint)

    def _fingerprint(self, value: str) -> str:
        """``value``'s keyed fingerprint; the first secret applied to a target makes its key (plans write
        nothing), migrating an older version's plain fingerprints against the values at hand."""
        known = {**secret_values(self.env), **(self.desired.secrets if self.desired is not None else {})}
        return self.system.fingerprint(value, known)
