"""Functions: functions, deployments, executions and variables (plus project variables).

Deployment archives are uploaded through Storage's own upload path (plain or chunked, any order)
into a hidden bucket of a shadow project, so chunking is written once. The engine in
``quixotic.server.compute`` builds, runs and schedules; these handlers validate, store and answer.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import store as st
from quixotic.server.auth import ALL_SCOPES
from quixotic.server.clock import parse_iso, to_iso
from quixotic.server.compute import DEPLOYMENTS_BUCKET, RUNTIMES, SYNC_TIMEOUT, Compute, shadow_project
from quixotic.server.context import Ctx
from quixotic.server.ids import custom_id, new_id
from quixotic.server.queries import Field
from quixotic.server.routes import Reply, handles
from quixotic.server.routes import storage as storage_routes
from quixotic.server.spec import bind, route_table

MAX_TIMEOUT = 900
_FUNCTION_FIELDS = {
    "name": Field("string"),
    "enabled": Field("boolean"),
    "runtime": Field("string"),
    "deploymentId": Field("string"),
    "schedule": Field("string"),
    "scheduleNext": Field("string"),
    "timeout": Field("integer"),
    "entrypoint": Field("string"),
    "commands": Field("string"),
}
_DEPLOYMENT_FIELDS = {
    "buildSize": Field("integer"),
    "sourceSize": Field("integer"),
    "totalSize": Field("integer"),
    "buildDuration": Field("integer"),
    "status": Field("string"),
    "type": Field("string"),
    "entrypoint": Field("string"),
    "activate": Field("boolean"),
}
_EXECUTION_FIELDS = {
    "trigger": Field("string"),
    "status": Field("string"),
    "responseStatusCode": Field("integer"),
    "duration": Field("double"),
    "requestMethod": Field("string"),
    "requestPath": Field("string"),
    "deploymentId": Field("string"),
}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


def compute(ctx: Ctx) -> Compute:
    if ctx.compute is None:
        raise ApiError("general_server_error", "Functions are not available on this server.")
    return ctx.compute


# --- models -------------------------------------------------------------------------------------


def _vars(conn: Any, project: str, function_id: str) -> list[dict[str, Any]]:
    return [
        _variable_model(v, "function", function_id)
        for v in st.meta_all(conn, project, "variable", f"function/{function_id}")
    ]


def function_model(conn: Any, project: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "execute", "name", "enabled", "live", "logging", "runtime", "deploymentId", "deploymentCreatedAt",
        "latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus", "scopes", "events",
        "schedule", "timeout", "entrypoint", "commands", "version", "installationId", "providerRepositoryId",
        "providerBranch", "providerRootDirectory", "providerSilentMode", "specification",
    )  # fmt: skip
    out = {"$id": doc["$id"], "$createdAt": doc["$createdAt"], "$updatedAt": doc["$updatedAt"]}
    out.update({k: doc.get(k) for k in keys})
    out["vars"] = _vars(conn, project, doc["$id"])
    return out


def deployment_model(doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "type", "resourceId", "resourceType", "entrypoint", "sourceSize", "buildSize", "totalSize", "buildId",
        "activate", "screenshotLight", "screenshotDark", "status", "buildLogs", "buildDuration",
        "providerRepositoryName", "providerRepositoryOwner", "providerRepositoryUrl", "providerCommitHash",
        "providerCommitAuthorUrl", "providerCommitAuthor", "providerCommitMessage", "providerCommitUrl",
        "providerBranch", "providerBranchUrl",
    )  # fmt: skip
    out = {"$id": doc["$id"], "$createdAt": doc["$createdAt"], "$updatedAt": doc["$updatedAt"]}
    out.update({k: doc.get(k, "") for k in keys})
    return out


def execution_model(doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "functionId", "deploymentId", "trigger", "status", "requestMethod", "requestPath", "requestHeaders",
        "responseStatusCode", "responseBody", "responseHeaders", "logs", "errors", "duration",
    )  # fmt: skip
    out = {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "$permissions": doc.get("$permissions", []),
    }
    out.update({k: doc.get(k) for k in keys})
    if doc.get("scheduledAt"):
        out["scheduledAt"] = doc["scheduledAt"]
    return out


def _variable_model(doc: Mapping[str, Any], resource_type: str, resource_id: str) -> dict[str, Any]:
    return {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "key": doc["key"],
        "value": "" if doc.get("secret") else doc["value"],
        "secret": bool(doc.get("secret")),
        "resourceType": resource_type,
        "resourceId": resource_id,
    }


# --- lookups ------------------------------------------------------------------------------------


def _function(conn: Any, ctx: Ctx, function_id: str) -> st.Doc:
    doc = st.meta_get(conn, ctx.project, "function", "", function_id)
    if doc is None:
        raise ApiError("function_not_found", f"Function with the requested ID '{function_id}' could not be found.")
    return doc


def _deployment(conn: Any, ctx: Ctx, function_id: str, deployment_id: str) -> st.Doc:
    doc = st.meta_get(conn, ctx.project, "deployment", function_id, deployment_id)
    if doc is None:
        raise ApiError(
            "deployment_not_found", f"Deployment with the requested ID '{deployment_id}' could not be found."
        )
    return doc


def _execution(conn: Any, ctx: Ctx, function_id: str, execution_id: str) -> st.Doc:
    doc = st.meta_get(conn, ctx.project, "execution", function_id, execution_id)
    if doc is None:
        raise ApiError("execution_not_found", f"Execution with the requested ID '{execution_id}' could not be found.")
    return doc


# --- functions ----------------------------------------------------------------------------------


def _settings(p: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated function settings from create/update parameters (unset ones keep ``current``)."""
    base: dict[str, Any] = dict(current or {})

    def pick(name: str, default: Any) -> Any:
        value = p.get(name)
        if value is None:
            return base.get(name, default)
        return value

    runtime = pick("runtime", "python-3.11")
    if runtime not in RUNTIMES:
        raise ApiError(
            "function_runtime_unsupported",
            f"Runtime '{runtime}' is not supported by the local server. Supported: {', '.join(RUNTIMES)}.",
        )
    timeout = pick("timeout", 15)
    if not 1 <= int(timeout) <= MAX_TIMEOUT:
        raise ApiError(
            "general_argument_invalid", f"Invalid `timeout` param: Value must be between 1 and {MAX_TIMEOUT}"
        )
    schedule = pick("schedule", "")
    if schedule:
        from quixotic.server import cron

        try:
            cron.parse_cron(schedule)
        except ValueError as exc:
            raise ApiError("general_argument_invalid", f"Invalid `schedule` param: {exc}") from exc
    scopes = list(pick("scopes", []))
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ApiError("general_argument_invalid", f"Invalid `scopes` param: unknown scopes {', '.join(unknown)}")
    execute = list(pick("execute", []))
    events = list(pick("events", []))
    if len(execute) > 100 or len(events) > 100:
        raise ApiError("general_argument_invalid", "At most 100 `execute` roles and 100 `events`.")
    return {
        **base,
        "name": pick("name", ""),
        "runtime": runtime,
        "execute": execute,
        "events": events,
        "schedule": schedule,
        "timeout": int(timeout),
        "enabled": pick("enabled", True),
        "logging": pick("logging", True),
        "entrypoint": pick("entrypoint", ""),
        "commands": pick("commands", ""),
        "scopes": scopes,
        "installationId": pick("installationId", ""),
        "providerRepositoryId": pick("providerRepositoryId", ""),
        "providerBranch": pick("providerBranch", ""),
        "providerRootDirectory": pick("providerRootDirectory", ""),
        "providerSilentMode": pick("providerSilentMode", False),
        "specification": pick("specification", "s-1vcpu-512mb"),
    }


@handles("functionsCreate")
def create_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = custom_id(p["functionId"], "functionId")
    data = _settings(p, None)
    data.update(
        {
            "live": False,
            "deploymentId": "",
            "deploymentCreatedAt": "",
            "latestDeploymentId": "",
            "latestDeploymentCreatedAt": "",
            "latestDeploymentStatus": "",
            "version": "v5",
        }
    )
    with ctx.store.tx() as conn:
        exists = ApiError("function_already_exists", f"Function with the requested ID '{function_id}' already exists.")
        doc = st.meta_insert(conn, ctx.project, "function", "", function_id, data, conflict=exists)
        return function_model(conn, ctx.project, doc)


@handles("functionsList")
def list_functions(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='function' AND parent=''", [ctx.project], p["queries"],
            _FUNCTION_FIELDS, search=p.get("search"), search_expr="json_extract(data, '$.name') || ' ' || _uid",
            total=p["total"] is not False,
        )  # fmt: skip
        return {"total": total, "functions": [function_model(conn, ctx.project, d) for d in docs]}


@handles("functionsGet")
def get_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        return function_model(conn, ctx.project, _function(conn, ctx, p["functionId"]))


@handles("functionsUpdate")
def update_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        doc = _function(conn, ctx, p["functionId"])
        doc.update(_settings(p, doc))
        if p.get("schedule") is not None:
            doc.pop("scheduleLastRun", None)
        st.meta_save(conn, ctx.project, "function", "", doc)
        return function_model(conn, ctx.project, doc)


@handles("functionsDelete")
def delete_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = p["functionId"]
    with ctx.store.tx() as conn:
        _function(conn, ctx, function_id)
        for kind in ("deployment", "execution"):
            conn.execute("DELETE FROM meta WHERE project=? AND kind=? AND parent=?", (ctx.project, kind, function_id))
        conn.execute(
            "DELETE FROM meta WHERE project=? AND kind='variable' AND parent=?",
            (ctx.project, f"function/{function_id}"),
        )
        st.meta_delete(conn, ctx.project, "function", "", function_id)
    engine = compute(ctx)
    engine.retire(ctx.project, function_id)
    engine.remove_function_files(ctx.project, function_id)
    return None


@handles("functionsListRuntimes")
def list_runtimes(ctx: Ctx, p: dict[str, Any]) -> Any:
    runtimes = [
        {
            "$id": key,
            "key": key.rsplit("-", 1)[0],
            "name": "Python ML" if "-ml-" in key else "Python",
            "version": version,
            "base": "python:local",
            "image": f"quixotic/local-{key}",
            "logo": "python.png",
            "supports": ["amd64", "arm64"],
        }
        for key, version in RUNTIMES.items()
    ]
    return {"total": len(runtimes), "runtimes": runtimes}


@handles("functionsListSpecifications")
def list_specifications(ctx: Ctx, p: dict[str, Any]) -> Any:
    spec = {"memory": 512, "cpus": 1, "enabled": True, "slug": "s-1vcpu-512mb"}
    return {"total": 1, "specifications": [spec]}


# --- deployments --------------------------------------------------------------------------------


def _shadow(ctx: Ctx) -> Ctx:
    """A context on the shadow project whose hidden bucket holds deployment archives."""
    caller = dataclasses.replace(ctx.caller, project=shadow_project(ctx.project))
    return dataclasses.replace(ctx, caller=caller, events=[], uploads=dict(ctx.uploads))


def _ensure_archive_bucket(shadow: Ctx) -> None:
    with shadow.store.read() as conn:
        if st.meta_get(conn, shadow.project, "bucket", "", DEPLOYMENTS_BUCKET) is not None:
            return
    op = route_table().by_id["storageCreateBucket"]
    params = bind(
        op, {}, {}, {"bucketId": DEPLOYMENTS_BUCKET, "name": "Deployments", "maximumFileSize": 30_000_000}, False
    )
    try:
        storage_routes.create_bucket(shadow, params)
    except ApiError as exc:
        if exc.type != "storage_bucket_already_exists":
            raise


@handles("functionsCreateDeployment")
def create_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = p["functionId"]
    with ctx.store.read() as conn:
        function = _function(conn, ctx, function_id)
    code = ctx.uploads.get("code")
    if code is None:
        raise ApiError("general_argument_invalid", "Invalid `code` param: send the .tar.gz archive as the `code` part.")
    shadow = _shadow(ctx)
    shadow.uploads = {"file": code}
    _ensure_archive_bucket(shadow)
    chunked = bool(ctx.headers.get("content-range"))
    deployment_id = ctx.headers.get("x-appwrite-id") if chunked else None
    file_params = {"bucketId": DEPLOYMENTS_BUCKET, "fileId": deployment_id or new_id(), "permissions": None}
    try:
        stored = storage_routes.create_file(shadow, file_params)
    except ApiError as exc:
        if exc.type == "storage_invalid_file_size":
            raise ApiError("deployment_invalid_file_size", exc.message) from exc
        raise
    deployment_id = stored["$id"]
    complete = stored["chunksUploaded"] == stored["chunksTotal"]
    data = {
        "type": "manual",
        "resourceId": function_id,
        "resourceType": "functions",
        "entrypoint": p.get("entrypoint") or function.get("entrypoint") or "",
        "commands": p["commands"] if p.get("commands") is not None else function.get("commands", ""),
        "sourceSize": stored["sizeOriginal"],
        "buildSize": 0,
        "totalSize": stored["sizeOriginal"],
        "buildId": deployment_id,
        "activate": bool(p["activate"]),
        "screenshotLight": "",
        "screenshotDark": "",
        "status": "waiting",
        "buildLogs": "",
        "buildDuration": 0,
        "chunksTotal": stored["chunksTotal"],
        "chunksUploaded": stored["chunksUploaded"],
    }
    if not data["entrypoint"]:
        raise ApiError("function_entrypoint_missing", "Entrypoint for your Appwrite Function is missing: set one.")
    with ctx.store.tx() as conn:
        doc = st.meta_get(conn, ctx.project, "deployment", function_id, deployment_id)
        if doc is None:
            doc = st.meta_insert(conn, ctx.project, "deployment", function_id, deployment_id, data)
        else:
            doc.update({"chunksUploaded": stored["chunksUploaded"]})
            st.meta_save(conn, ctx.project, "deployment", function_id, doc)
        if complete:
            function = _function(conn, ctx, function_id)
            function.update(
                {
                    "latestDeploymentId": deployment_id,
                    "latestDeploymentCreatedAt": doc["$createdAt"],
                    "latestDeploymentStatus": "waiting",
                }
            )
            st.meta_save(conn, ctx.project, "function", "", function)
    if complete:
        compute(ctx).submit_build(ctx.project, function_id, deployment_id)
    model = deployment_model(doc)
    model["chunksTotal"], model["chunksUploaded"] = stored["chunksTotal"], stored["chunksUploaded"]
    return model


@handles("functionsListDeployments")
def list_deployments(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        _function(conn, ctx, p["functionId"])
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='deployment' AND parent=?", [ctx.project, p["functionId"]],
            p["queries"], _DEPLOYMENT_FIELDS, search=p.get("search"), search_expr="_uid",
            total=p["total"] is not False,
        )  # fmt: skip
    return {"total": total, "deployments": [deployment_model(d) for d in docs]}


@handles("functionsGetDeployment")
def get_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        _function(conn, ctx, p["functionId"])
        return deployment_model(_deployment(conn, ctx, p["functionId"], p["deploymentId"]))


@handles("functionsUpdateFunctionDeployment")
def activate_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id, deployment_id = p["functionId"], p["deploymentId"]
    with ctx.store.read() as conn:
        _function(conn, ctx, function_id)
        deployment = _deployment(conn, ctx, function_id, deployment_id)
    if deployment["status"] != "ready":
        kind = (
            "build_in_progress" if deployment["status"] in ("waiting", "processing", "building") else "build_not_ready"
        )
        raise ApiError(
            kind, f"Deployment '{deployment_id}' is {deployment['status']}, not ready: it cannot be activated."
        )
    compute(ctx).activate(ctx.project, function_id, deployment_id)
    with ctx.store.read() as conn:
        return function_model(conn, ctx.project, _function(conn, ctx, function_id))


@handles("functionsUpdateDeploymentStatus")
def cancel_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        _function(conn, ctx, p["functionId"])
        doc = _deployment(conn, ctx, p["functionId"], p["deploymentId"])
        if doc["status"] in ("ready", "failed"):
            raise ApiError("build_already_completed", f"Deployment '{doc['$id']}' has already finished building.", 400)
        doc["status"] = "canceled"
        st.meta_save(conn, ctx.project, "deployment", p["functionId"], doc)
    return deployment_model(doc)


@handles("functionsDeleteDeployment")
def delete_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id, deployment_id = p["functionId"], p["deploymentId"]
    with ctx.store.tx() as conn:
        function = _function(conn, ctx, function_id)
        _deployment(conn, ctx, function_id, deployment_id)
        st.meta_delete(conn, ctx.project, "deployment", function_id, deployment_id)
        if function.get("deploymentId") == deployment_id:
            function.update({"deploymentId": "", "deploymentCreatedAt": "", "live": False})
            st.meta_save(conn, ctx.project, "function", "", function)
    engine = compute(ctx)
    engine.retire(ctx.project, function_id, keep=function.get("deploymentId") or None)
    shutil.rmtree(engine.deployment_dir(ctx.project, function_id, deployment_id), ignore_errors=True)
    engine.archive_path(ctx.project, deployment_id).unlink(missing_ok=True)
    with ctx.store.tx() as conn:
        st.meta_delete(conn, shadow_project(ctx.project), "file", DEPLOYMENTS_BUCKET, deployment_id)
    return None


@handles("functionsGetDeploymentDownload")
def download_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        _function(conn, ctx, p["functionId"])
        doc = _deployment(conn, ctx, p["functionId"], p["deploymentId"])
    path = compute(ctx).archive_path(ctx.project, doc["$id"])
    if not path.exists():
        raise ApiError("deployment_not_found", f"The source of deployment '{doc['$id']}' is not stored.")
    return Reply(
        body=path.read_bytes(),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{doc["$id"]}.tar.gz"'},
    )


# --- executions ---------------------------------------------------------------------------------


@handles("functionsCreateExecution")
def create_execution(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = p["functionId"]
    method = (p.get("method") or "POST").upper()
    if method not in _METHODS:
        raise ApiError("general_argument_invalid", f"Invalid `method` param: use one of {', '.join(_METHODS)}")
    path = p.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    headers = {str(k).lower(): str(v) for k, v in (p.get("headers") or {}).items()}
    user_id = headers.pop("x-appwrite-user-id", "")
    headers = {k: v for k, v in headers.items() if not k.startswith(("x-appwrite-", "x-open-runtimes-"))}
    body = (p.get("body") or "").encode()
    with ctx.store.read() as conn:
        function = _function(conn, ctx, function_id)
        if not function.get("enabled", True):
            raise ApiError("function_not_found", f"Function '{function_id}' is disabled.")
        deployment_id = function.get("deploymentId") or ""
        if not deployment_id:
            raise ApiError("deployment_not_found", f"Function '{function_id}' has no active deployment. Deploy one.")
        deployment = _deployment(conn, ctx, function_id, deployment_id)
        if deployment["status"] != "ready":
            raise ApiError("build_not_ready", f"The active deployment of '{function_id}' is not ready yet.")
    engine = compute(ctx)
    scheduled_at = p.get("scheduledAt")
    if scheduled_at:
        if not p.get("async"):
            raise ApiError("general_argument_invalid", "`scheduledAt` needs `async` set to true.")
        try:
            when = parse_iso(scheduled_at)
        except ValueError as exc:
            raise ApiError("general_argument_invalid", "Invalid `scheduledAt` param: use ISO 8601.") from exc
        if when < datetime.now(UTC) + timedelta(seconds=55):
            raise ApiError("general_argument_invalid", "`scheduledAt` must be at least a minute in the future.")
        execution = engine.new_execution(
            ctx.project, function, "http", method, path, headers, status="scheduled", scheduled_at=to_iso(when)
        )
        request = {"headers": headers, "body": base64.b64encode(body).decode()}
        with ctx.store.tx() as conn:
            doc = st.meta_get(conn, ctx.project, "execution", function_id, execution["$id"])
            if doc is not None:
                doc["_request"] = request
                st.meta_save(conn, ctx.project, "execution", function_id, doc)
        return Reply(execution_model(execution), status=202)
    execution = engine.new_execution(ctx.project, function, "http", method, path, headers)
    future = engine.run_async(
        ctx.project,
        function_id,
        execution["$id"],
        method=method,
        path=path,
        headers=headers,
        body=body,
        user_id=user_id,
    )
    if p.get("async"):
        return Reply(execution_model(execution), status=202)
    try:
        done = future.result(timeout=SYNC_TIMEOUT)
    except concurrent.futures.TimeoutError as exc:
        raise ApiError(
            "function_synchronous_timeout",
            "Synchronous function execution timed out. Use asynchronous execution instead, or ensure the "
            "execution duration doesn't exceed 30 seconds.",
            408,
        ) from exc
    model = execution_model(done)
    model["responseHeaders"] = [{"name": k, "value": v} for k, v in done.get("_responseHeaders", {}).items()]
    return model


@handles("functionsListExecutions")
def list_executions(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        _function(conn, ctx, p["functionId"])
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='execution' AND parent=?", [ctx.project, p["functionId"]],
            p["queries"], _EXECUTION_FIELDS, total=p["total"] is not False,
        )  # fmt: skip
    return {"total": total, "executions": [execution_model(d) for d in docs]}


@handles("functionsGetExecution")
def get_execution(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        _function(conn, ctx, p["functionId"])
        return execution_model(_execution(conn, ctx, p["functionId"], p["executionId"]))


@handles("functionsDeleteExecution")
def delete_execution(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        _function(conn, ctx, p["functionId"])
        doc = _execution(conn, ctx, p["functionId"], p["executionId"])
        if doc["status"] in ("waiting", "processing"):
            raise ApiError("execution_in_progress", "The execution is still running; delete it once it has finished.")
        st.meta_delete(conn, ctx.project, "execution", p["functionId"], doc["$id"])
    return None


# --- variables ----------------------------------------------------------------------------------


def _scope(ctx: Ctx, p: Mapping[str, Any]) -> tuple[str, str, str]:
    """(parent in the store, resourceType, resourceId) of the variables an operation addresses."""
    if ctx.op.id.startswith("project"):
        return "project", "project", ""
    with ctx.store.read() as conn:
        _function(conn, ctx, p["functionId"])
    return f"function/{p['functionId']}", "function", p["functionId"]


def _check_variable(key: str, value: str | None) -> None:
    if not key or len(key) > 255:
        raise ApiError("general_argument_invalid", "Invalid `key` param: 1 to 255 characters")
    if value is not None and len(value) > 8192:
        raise ApiError("general_argument_invalid", "Invalid `value` param: at most 8192 characters")


@handles("functionsListVariables", "projectListVariables")
def list_variables(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    with ctx.store.read() as conn:
        docs = st.meta_all(conn, ctx.project, "variable", parent)
    return {"total": len(docs), "variables": [_variable_model(d, rtype, rid) for d in docs]}


@handles("functionsCreateVariable", "projectCreateVariable")
def create_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    _check_variable(p["key"], p["value"])
    with ctx.store.tx() as conn:
        if any(v["key"] == p["key"] for v in st.meta_all(conn, ctx.project, "variable", parent)):
            raise ApiError("variable_already_exists", f"Variable with the same key '{p['key']}' already exists.")
        data = {"key": p["key"], "value": p["value"], "secret": bool(p.get("secret"))}
        doc = st.meta_insert(conn, ctx.project, "variable", parent, new_id(), data)
    return _variable_model(doc, rtype, rid)


def _variable(conn: Any, ctx: Ctx, parent: str, variable_id: str) -> st.Doc:
    doc = st.meta_get(conn, ctx.project, "variable", parent, variable_id)
    if doc is None:
        raise ApiError("variable_not_found", f"Variable with the requested ID '{variable_id}' could not be found.")
    return doc


@handles("functionsGetVariable", "projectGetVariable")
def get_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    with ctx.store.read() as conn:
        return _variable_model(_variable(conn, ctx, parent, p["variableId"]), rtype, rid)


@handles("functionsUpdateVariable", "projectUpdateVariable")
def update_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    _check_variable(p["key"], p.get("value"))
    with ctx.store.tx() as conn:
        doc = _variable(conn, ctx, parent, p["variableId"])
        if doc.get("secret") and p.get("secret") is False:
            raise ApiError(
                "variable_cannot_unset_secret", "A secret variable cannot be made non-secret. Delete and recreate it."
            )
        if p["key"] != doc["key"] and any(
            v["key"] == p["key"] for v in st.meta_all(conn, ctx.project, "variable", parent)
        ):
            raise ApiError("variable_already_exists", f"Variable with the same key '{p['key']}' already exists.")
        doc["key"] = p["key"]
        if p.get("value") is not None:
            doc["value"] = p["value"]
        if p.get("secret") is not None:
            doc["secret"] = bool(p["secret"]) or bool(doc.get("secret"))
        st.meta_save(conn, ctx.project, "variable", parent, doc)
    return _variable_model(doc, rtype, rid)


@handles("functionsDeleteVariable", "projectDeleteVariable")
def delete_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, _, _ = _scope(ctx, p)
    with ctx.store.tx() as conn:
        _variable(conn, ctx, parent, p["variableId"])
        st.meta_delete(conn, ctx.project, "variable", parent, p["variableId"])
    return None
