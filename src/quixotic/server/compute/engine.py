"""The Functions engine of the local server: builds, executions, events and schedules.

Routes store functions, deployments, executions and variables in the store; this engine does the
work behind them in background threads: it builds deployments (``runtime.build``, on the dependency
layers of ``runtime.layers``, the builds of a deploy side by side, longest first: ``runtime.build_queue``), runs
executions in warm worker processes (``runtime.pool``), turns Appwrite events into event-triggered executions
and fires cron schedules. State that must survive a restart (statuses, the last scheduled run)
lives in the store, never only in memory.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quixotic.server import cache, validation
from quixotic.server import store as st
from quixotic.server.compute.events import event_matches
from quixotic.server.compute.keys import issue_dynamic_key
from quixotic.server.compute.runtime.build_queue import BuildQueue
from quixotic.server.compute.runtime.isolation import Isolation, probe
from quixotic.server.compute.runtime.layers import Layers
from quixotic.server.compute.scheduler import Scheduler
from quixotic.server.functions import variables
from quixotic.server.ids import new_id
from quixotic.server.settings import ServerSettings
from quixotic.server.storage import files

if TYPE_CHECKING:
    from quixotic.server.compute.runtime.pool import Runtimes

log = logging.getLogger("quixotic.server")

RUNTIMES: dict[str, str] = {
    "python-3.8": "3.8",
    "python-3.9": "3.9",
    "python-3.10": "3.10",
    "python-3.11": "3.11",
    "python-3.12": "3.12",
    "python-ml-3.11": "3.11",
    "python-ml-3.12": "3.12",
}
SYNC_TIMEOUT = 30.0  # seconds a synchronous execution may take before 408
MAX_LOG = 1_000_000
STORED_REQUEST_HEADERS = ("content-type", "agent", "content-length", "host", "x-appwrite-client-ip")
STORED_RESPONSE_HEADERS = ("content-type", "content-length")
DEPLOYMENTS_BUCKET = "deployments"
RUN_FOLDER = ".run"  # IDs cannot start with '.', so this never clashes with a project's folder
LAYERS_FOLDER = ".layers"  # dependency layers (runtime.layers)
UV_CACHE_FOLDER = ".uv-cache"  # in the data folder: each project's download and wheel caches (uv's, pip's)
BUILD_THREADS = 4  # builds at once: a deploy's functions side by side (runtime.build_queue says why)


def shadow_project(project: str) -> str:
    """The hidden project that holds a project's deployment archives (stored by Storage's file model)."""
    return project + "#deploy"


# --- the engine ---------------------------------------------------------------------------------


class Compute:
    """Background work for Functions. One per server; thread-safe."""

    def __init__(self, store: st.Store, endpoint: str | None = None, settings: ServerSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ServerSettings()
        self.endpoint = endpoint or ""
        self.root = store.data_dir / "functions"
        self.root.mkdir(exist_ok=True)
        self.run_dir = self.root / RUN_FOLDER  # workers' homes: per server run, emptied at start-up
        self.isolation: Isolation = probe(self.settings.function_sandbox)
        self._runtimes: Runtimes | None = None
        self.layers = Layers(self.root / LAYERS_FOLDER, self.isolation)
        self.builds = BuildQueue(BUILD_THREADS)
        self.executions = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="quixotic-exec")
        self.secret = self._secret()
        self._stop = threading.Event()
        self._speedup = self.settings.schedule_speedup
        self._clock_start = datetime.now(UTC)
        self.schedules = Scheduler(self)  # creates its indexes in a data dir that lacks them
        # Where an execution's create and update events go (the server's Realtime hub): never to functions, so
        # no function is triggered by executions, its own included.
        self.publish: Callable[[str, list[tuple[str, dict[str, Any]]]], object] | None = None
        # The functions that listen to events, per project (read-only), kept while its functions do not change.
        self._listening: cache.Memo[str, tuple[st.Doc, ...]] = cache.Memo(256)
        self._scheduler = threading.Thread(target=self._schedule_loop, name="quixotic-scheduler", daemon=True)
        self._scheduler.start()
        self.sweep_leftovers()
        self._resume_builds()

    def close(self) -> None:
        self._stop.set()
        self.builds.close()
        self.executions.shutdown(wait=False, cancel_futures=True)
        if self._runtimes is not None:
            self._runtimes.close()
        self.layers.close()

    @property
    def runtimes(self) -> Runtimes:
        """Worker pools, created on first use (the runtime package loads only when functions run)."""
        if self._runtimes is None:
            from quixotic.server.compute.runtime.pool import Confinement, Runtimes

            confinement = Confinement(self.isolation, self.settings.function_read_paths, self.run_dir)
            self._runtimes = Runtimes(size=self.settings.function_concurrency, confinement=confinement)
        return self._runtimes

    def _secret(self) -> bytes:
        with self.store.tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = conn.execute("SELECT value FROM settings WHERE name='dynamic_key_secret'").fetchone()
            if row:
                return bytes.fromhex(row[0])
            secret = os.urandom(32)
            conn.execute("INSERT INTO settings VALUES ('dynamic_key_secret', ?)", (secret.hex(),))
            return secret

    # --- start-up

    def sweep_leftovers(self) -> list[str]:
        """At start-up (one Compute per server run), remove what a crash left: the files folder's temporaries,
        the workers' homes of the last run, half-built deployment folders (they are built again), folders of
        deployments that no longer exist, and dependency layers that are half-built or that no deployment uses.
        Each removal is logged; returns the removed paths (data-dir relative).

        Workers talk over socket pairs, which leave nothing on disk, and end themselves when the server dies.
        """
        removed = self.store.sweep_leftovers()
        homes: list[str] = []
        if self.run_dir.is_dir():
            for entry in sorted(self.run_dir.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                homes.append(os.path.relpath(entry, self.store.data_dir))
        if homes:
            st.startup_log.warning("start-up: removed %d worker home(s) of the last run: %s", len(homes),
                                   ", ".join(homes[:20]))  # fmt: skip
        with self.store.read() as conn:
            statuses = {
                (project, function_id, deployment_id): status
                for project, function_id, deployment_id, status in conn.execute(
                    "SELECT project, parent, _uid, json_extract(data, '$.status') FROM meta WHERE kind='deployment'"
                )
            }
        for folder in sorted(p for p in self.root.glob("*/*/*") if p.is_dir() and not p.parts[-3].startswith(".")):
            project, function_id, deployment_id = folder.parts[-3:]
            status = statuses.get((project, function_id, deployment_id))
            if status is None:
                why = "its deployment no longer exists"
            elif status in ("waiting", "processing", "building"):
                why = f"a build cut short (status {status}; it is built again)"
            else:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            path = os.path.relpath(folder, self.store.data_dir)
            st.startup_log.warning("start-up: removed %s: %s", path, why)
            removed.append(path)
        for gone in self.layers.collect(self._layers_in_use):
            path = os.path.relpath(self.layers.root / gone.split(" ")[0], self.store.data_dir)
            st.startup_log.warning("start-up: removed dependency layer %s", gone)
            removed.append(path)
        return removed + homes

    # --- paths

    def deployment_dir(self, project: str, function_id: str, deployment_id: str) -> Path:
        return self.root / project / function_id / deployment_id

    def archive_path(self, project: str, deployment_id: str) -> Path:
        return files.file_path(self.store, shadow_project(project), DEPLOYMENTS_BUCKET, deployment_id)

    def remove_function_files(self, project: str, function_id: str) -> None:
        shutil.rmtree(self.root / project / function_id, ignore_errors=True)
        self.collect_layers()

    def remove_deployment_files(self, project: str, function_id: str, deployment_id: str) -> None:
        shutil.rmtree(self.deployment_dir(project, function_id, deployment_id), ignore_errors=True)
        self.collect_layers()

    # --- dependency layers

    def _layers_in_use(self) -> set[str]:
        """Layers some deployment folder links to, or some running worker (of a deleted deployment too) uses."""
        used: set[str] = set()
        for project in self.root.iterdir():
            if project.name.startswith(".") or not project.is_dir():
                continue
            for link in project.glob("*/*/venv"):
                if link.is_symlink() and (key := self.layers.key_of(link)) is not None:
                    used.add(key)
        if self._runtimes is not None:
            used.update(k for v in self._runtimes.venv_dirs() if (k := self.layers.key_of(v)) is not None)
        return used

    def collect_layers(self) -> list[str]:
        """Remove the dependency layers nothing uses any more (logged); returns what went, with why."""
        removed = self.layers.collect(self._layers_in_use)
        for gone in removed:
            log.info("removed dependency layer %s", gone)
        return removed

    # --- builds

    def _resume_builds(self) -> None:
        """A build cut short by a restart is started again, so nothing stays ``building`` for ever."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT project, parent, _uid FROM meta WHERE kind='deployment' AND "
                "json_extract(data, '$.status') IN ('waiting', 'processing', 'building')"
            ).fetchall()
        for project, function_id, deployment_id in rows:
            self.submit_build(project, function_id, deployment_id)

    def submit_build(self, project: str, function_id: str, deployment_id: str) -> None:
        self.builds.submit(
            lambda: self._build(project, function_id, deployment_id),
            self._expected_build_seconds(project, function_id, deployment_id),
        )

    def _expected_build_seconds(self, project: str, function_id: str, deployment_id: str) -> float:
        """The function's longest recent build; else a guess from the archive (a MB a second, and commands
        that install packages count for more than none). Only the order of builds waiting for a thread uses it."""
        with self.store.read() as conn:
            deployments = st.meta_all(conn, project, "deployment", function_id)
        this = next((d for d in deployments if d["$id"] == deployment_id), {})
        durations = [float(d.get("buildDuration") or 0) for d in deployments if d.get("status") == "ready"]
        guess = int(this.get("sourceSize") or 0) / 1e6 + (10.0 if (this.get("commands") or "").strip() else 0.0)
        return max(durations[-5:] or [guess])

    def _set_deployment(self, project: str, function_id: str, deployment_id: str, **changes: Any) -> st.Doc | None:
        with self.store.tx() as conn:
            doc = st.meta_get(conn, project, "deployment", function_id, deployment_id)
            if doc is None:
                return None
            doc.update(changes)
            st.meta_save(conn, project, "deployment", function_id, doc)
            function = st.meta_get(conn, project, "function", "", function_id)
            if function is not None and function.get("latestDeploymentId") == deployment_id:
                function["latestDeploymentStatus"] = doc["status"]
                st.meta_save(conn, project, "function", "", function)
            return doc

    def _build(self, project: str, function_id: str, deployment_id: str) -> None:
        try:
            doc = self._set_deployment(project, function_id, deployment_id, status="processing")
            if doc is None or doc.get("status") == "canceled":
                return
            # The folder exists before the status says "building", so whoever sees that status (the start-up
            # sweep after a crash, a test) finds the half-built folder it implies.
            dest = self.deployment_dir(project, function_id, deployment_id)
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            self._set_deployment(project, function_id, deployment_id, status="building")
            from quixotic.server.compute.runtime import installer_env
            from quixotic.server.compute.runtime.build import build_deployment

            # The installs use the server's mirrors/proxies and the project's own caches of uv and pip (in the data
            # folder), so a build of requirements the project built before downloads nothing, and a build of one
            # project can put nothing in the caches another project's builds read.
            build_env = installer_env()
            caches = (self.store.data_dir / UV_CACHE_FOLDER / project).absolute()
            build_env["PIP_CACHE_DIR"] = str(caches / "pip")
            build_env["UV_CACHE_DIR"] = str(caches / "uv")
            with self.store.read() as conn:
                function = st.meta_get(conn, project, "function", "", function_id) or {}
            result = build_deployment(
                self.archive_path(project, deployment_id),
                dest,
                doc["entrypoint"],
                doc.get("commands") or "",
                timeout=self.settings.build_timeout,
                env=build_env,
                isolation=self.isolation,
                layers=self.layers,
                runtime=str(function.get("runtime") or ""),
                scope=project,
            )
            current = self._set_deployment(
                project,
                function_id,
                deployment_id,
                status="ready" if result.ok else "failed",
                buildLogs=result.logs[-MAX_LOG:],
                buildDuration=round(result.duration),
                buildSize=result.size,
                totalSize=int(doc.get("sourceSize", 0)) + result.size,
            )
            if result.ok and current is not None and current.get("activate"):
                self.activate(project, function_id, deployment_id)
            if not result.ok:
                venv_dir = dest / "venv"
                if venv_dir.is_symlink():
                    venv_dir.unlink()
                else:
                    shutil.rmtree(venv_dir, ignore_errors=True)
        except Exception as exc:  # the build must end in a status, whatever happens
            log.exception("build of %s/%s failed", function_id, deployment_id)
            self._set_deployment(project, function_id, deployment_id, status="failed", buildLogs=f"Build error: {exc}")

    def activate(self, project: str, function_id: str, deployment_id: str) -> st.Doc | None:
        """Make a ready deployment the live one; old workers retire."""
        with self.store.tx() as conn:
            function = st.meta_get(conn, project, "function", "", function_id)
            deployment = st.meta_get(conn, project, "deployment", function_id, deployment_id)
            if function is None or deployment is None or deployment["status"] != "ready":
                return None
            function["deploymentId"] = deployment_id
            function["deploymentCreatedAt"] = deployment["$createdAt"]
            function["live"] = True
            st.meta_save(conn, project, "function", "", function)
        self.retire(project, function_id, keep=deployment_id)
        return function

    def retire(self, project: str, function_id: str, keep: str | None = None) -> None:
        if self._runtimes is None:
            return
        prefix = f"{project}/{function_id}/"
        self.runtimes.retire(
            lambda key: not key.startswith(prefix) or (keep is not None and key.startswith(prefix + keep + "/"))
        )

    # --- executions

    def environment(self, conn: Any, project: str, function: Mapping[str, Any], deployment_id: str) -> dict[str, str]:
        """Project variables, overridden by function variables, then Appwrite's own (which win)."""
        env: dict[str, str] = {}
        env.update(variables.values(conn, project, variables.PROJECT))
        env.update(variables.values(conn, project, variables.function_parent(function["$id"])))
        runtime = function.get("runtime", "python-3.11")
        env.update(
            {
                "APPWRITE_FUNCTION_API_ENDPOINT": self.endpoint,
                "APPWRITE_FUNCTION_ID": function["$id"],
                "APPWRITE_FUNCTION_NAME": function.get("name", ""),
                "APPWRITE_FUNCTION_DEPLOYMENT": deployment_id,
                "APPWRITE_FUNCTION_PROJECT_ID": project,
                "APPWRITE_FUNCTION_RUNTIME_NAME": "Python",
                "APPWRITE_FUNCTION_RUNTIME_VERSION": RUNTIMES.get(runtime, "3.11"),
                "APPWRITE_FUNCTION_CPUS": "1",
                "APPWRITE_FUNCTION_MEMORY": "512",
                "APPWRITE_VERSION": self.settings.appwrite_version,
                "APPWRITE_REGION": "local",
                "APPWRITE_DEPLOYMENT_TYPE": "manual",
            }
        )
        return env

    def new_execution(
        self,
        project: str,
        function: Mapping[str, Any],
        trigger: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        status: str = "waiting",
        scheduled_at: str | None = None,
        permissions: Sequence[str] = (),
    ) -> st.Doc:
        stored = [{"name": k, "value": v} for k, v in headers.items() if k in STORED_REQUEST_HEADERS]
        data = {
            "functionId": function["$id"],
            "deploymentId": function.get("deploymentId", ""),
            "trigger": trigger,
            "status": status,
            "requestMethod": method,
            "requestPath": path,
            "requestHeaders": stored,
            "responseStatusCode": 0,
            "responseBody": "",
            "responseHeaders": [],
            "logs": "",
            "errors": "",
            "duration": 0.0,
        }
        if scheduled_at:
            data["scheduledAt"] = scheduled_at
        with self.store.tx() as conn:
            doc = st.meta_insert(conn, project, "execution", function["$id"], new_id(), data, permissions)
        self._announce(project, doc, "create")
        return doc

    def _announce(self, project: str, execution: Mapping[str, Any], action: str) -> None:
        """Tell Realtime of an execution's create or update, as Appwrite does for one a user may read (a user
        started it); the payload is the execution's model."""
        if self.publish is None or not execution.get("$permissions"):
            return
        from quixotic.server.functions.model import execution_model

        event = f"functions.{execution['functionId']}.executions.{execution['$id']}.{action}"
        self.publish(project, [(event, execution_model(execution))])

    def run(
        self,
        project: str,
        function_id: str,
        execution_id: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        event: str = "",
        user_id: str = "",
    ) -> st.Doc:
        """Run one stored execution to its end and store the outcome; never raises for function faults."""
        with self.store.tx() as conn:
            function = st.meta_get(conn, project, "function", "", function_id)
            execution = st.meta_get(conn, project, "execution", function_id, execution_id)
            if function is None or execution is None:
                raise LookupError(f"execution {function_id}/{execution_id} is gone")
            deployment_id = function.get("deploymentId") or ""
            deployment = st.meta_get(conn, project, "deployment", function_id, deployment_id) if deployment_id else None
            execution["status"] = "processing"
            execution["deploymentId"] = deployment_id
            st.meta_save(conn, project, "execution", function_id, execution)
            env = self.environment(conn, project, function, deployment_id)
        self._announce(project, execution, "update")
        from quixotic.server.compute.runtime.pool import RuntimeRequest, RuntimeResponse

        started = time.perf_counter()
        if deployment is None or deployment.get("status") != "ready":
            response = RuntimeResponse(
                503, {}, b"", "", "No ready deployment is active for this function. Deploy one and activate it.", 0.0
            )
        else:
            timeout = float(function.get("timeout") or 15)
            request_headers = {k.lower(): v for k, v in headers.items()}
            request_headers.update(
                {
                    "x-appwrite-trigger": execution["trigger"],
                    "x-appwrite-event": event,
                    "x-appwrite-key": issue_dynamic_key(self.secret, project, function.get("scopes", []), timeout + 60),
                    "x-appwrite-execution-id": execution_id,
                    "x-appwrite-user-id": user_id,
                    "x-appwrite-country-code": "",
                    "x-appwrite-continent-code": "",
                    "x-appwrite-continent-eu": "false",
                }
            )
            request_headers.setdefault("host", "localhost")
            dest = self.deployment_dir(project, function_id, deployment_id)
            fingerprint = hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:16]
            key = f"{project}/{function_id}/{deployment_id}/{fingerprint}"
            pool = self.runtimes.pool(key, dest / "code", dest / "venv", deployment["entrypoint"], env)
            response = pool.execute(RuntimeRequest(method, path, request_headers, body, timeout))
        duration = response.duration or (time.perf_counter() - started)
        logging_on = function.get("logging", True) is not False
        with self.store.tx() as conn:
            execution = st.meta_get(conn, project, "execution", function_id, execution_id)
            if execution is None:
                raise LookupError(f"execution {function_id}/{execution_id} was deleted while it ran")
            # What the code wrote is stored as it will be served: lone surrogates become U+FFFD here, so the
            # record itself is valid Unicode (a backup, the doctor and every reader see clean text).
            outcome = {
                "status": "completed" if response.status < 500 else "failed",
                "responseStatusCode": response.status,
                "responseBody": response.body.decode("utf-8", errors="replace"),
                "responseHeaders": [
                    {"name": k, "value": v} for k, v in response.headers.items() if k.lower() in STORED_RESPONSE_HEADERS
                ],
                "logs": response.logs[-MAX_LOG:] if logging_on else "",
                "errors": response.errors[-MAX_LOG:] if logging_on else "",
                "duration": round(duration, 6),
            }
            execution.update(validation.scrub(outcome))
            st.meta_save(conn, project, "execution", function_id, execution)
        self._announce(project, execution, "update")
        execution["_responseHeaders"] = dict(response.headers)
        return execution

    def run_async(
        self, project: str, function_id: str, execution_id: str, **kwargs: Any
    ) -> concurrent.futures.Future[st.Doc]:
        return self.executions.submit(self._run_logged, project, function_id, execution_id, kwargs)

    def _run_logged(self, project: str, function_id: str, execution_id: str, kwargs: dict[str, Any]) -> st.Doc:
        try:
            return self.run(project, function_id, execution_id, **kwargs)
        except Exception:
            log.exception("execution %s/%s failed in the engine", function_id, execution_id)
            with self.store.tx() as conn:
                execution = st.meta_get(conn, project, "execution", function_id, execution_id)
                if execution is not None:
                    execution.update({"status": "failed", "errors": "Internal error of the local server."})
                    st.meta_save(conn, project, "execution", function_id, execution)
            raise

    # --- events

    def listening(self, conn: sqlite3.Connection, project: str) -> tuple[st.Doc, ...]:
        """``project``'s enabled, deployed functions that listen to events, as ``conn`` sees them (kept while its
        functions do not change)."""

        def load() -> tuple[st.Doc, ...]:
            found = st.meta_all(conn, project, "function", "")
            return tuple(f for f in found if f.get("events") and f.get("enabled", True) and f.get("deploymentId"))

        return self._listening.recall(conn, cache.stamp(conn, cache.functions_scope(project)), project, load)

    def dispatch(self, project: str, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Start an event-triggered execution of every enabled, deployed function that listens."""
        if not events or project.endswith("#deploy"):
            return
        with self.store.read() as conn:
            functions = self.listening(conn, project)
        for event, payload in events:
            for function in functions:
                if any(event_matches(pattern, event) for pattern in function["events"]):
                    execution = self.new_execution(project, function, "event", "POST", "/", {})
                    body = json.dumps(payload, separators=(",", ":")).encode()
                    headers = {"content-type": "application/json"}
                    self.run_async(
                        project, function["$id"], execution["$id"], method="POST", path="/", headers=headers,
                        body=body, event=event,
                    )  # fmt: skip

    # --- schedules

    def now(self) -> datetime:
        """The scheduler's clock: real time, or faster by ``settings.schedule_speedup`` (tests)."""
        real = datetime.now(UTC)
        if self._speedup == 1:
            return real
        return self._clock_start + (real - self._clock_start) * self._speedup

    def _schedule_loop(self) -> None:
        self.schedules.run(self._stop)

    def tick(self, now: datetime) -> list[str]:
        """Fire every schedule due up to ``now`` exactly once (see ``compute.scheduler``)."""
        return self.schedules.tick(now)

    def _start_scheduled_executions(self, now: datetime) -> list[str]:
        return self.schedules.start_due_executions(now)
