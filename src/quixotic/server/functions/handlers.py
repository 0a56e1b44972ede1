"""Functions' HTTP handlers: functions, deployments, executions and variables (plus project variables).

Deployment archives are stored by Storage's file model (plain or chunked, any order) in a hidden bucket
of a shadow project, so chunking is written once. The engine in ``quixotic.server.compute`` builds, runs
and schedules; these handlers validate, store and answer.

Clients (sessions, JWTs, guests) may execute a function whose ``execute`` roles name one of theirs; the
function then sees who called through ``x-appwrite-user-id`` and ``x-appwrite-user-jwt``, which only the
server sets (an API key may still name a user in the request headers). A user's execution is readable by
that user alone, as in Appwrite's ``Executions/{Create,Get,XList,Delete}.php``.
"""

from __future__ import annotations

import base64
import concurrent.futures
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import auth, validation
from quixotic.server import store as st
from quixotic.server.account import sessions
from quixotic.server.clock import to_iso
from quixotic.server.compute.engine import DEPLOYMENTS_BUCKET, RUNTIMES, SYNC_TIMEOUT, Compute, shadow_project
from quixotic.server.context import Ctx
from quixotic.server.functions import model, scrub, variables
from quixotic.server.ids import custom_id, new_id
from quixotic.server.registry import Reply, handles
from quixotic.server.storage import buckets, files
from quixotic.timestamps import parse_iso

ARCHIVE_MAX_SIZE: Final = 30_000_000  # the hidden archive bucket's maximumFileSize
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


def compute(ctx: Ctx) -> Compute:
    if ctx.compute is None:
        raise ApiError("general_server_error", "Functions are not available on this server.")
    return ctx.compute


@handles("functionsCreate")
def create_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = custom_id(p["functionId"], "functionId")
    data = model.check_settings(p, None)
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
        doc = model.create_function(conn, ctx.project, function_id, data)
        return model.function_model(conn, ctx.project, doc)


@handles("functionsList")
def list_functions(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        total, docs = model.list_functions(conn, ctx.project, p)
        return {"total": total, "functions": [model.function_model(conn, ctx.project, d) for d in docs]}


@handles("functionsGet")
def get_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        return model.function_model(conn, ctx.project, model.get_function(conn, ctx.project, p["functionId"]))


@handles("functionsUpdate")
def update_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        doc = model.update_function(conn, ctx.project, p["functionId"], p)
        return model.function_model(conn, ctx.project, doc)


@handles("functionsDelete")
def delete_function(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = p["functionId"]
    with ctx.store.tx() as conn:
        secret = model.delete_function(conn, ctx.project, function_id)
    if secret:
        scrub.soon(ctx.store)
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


@handles("functionsCreateDeployment")
def create_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id = p["functionId"]
    with ctx.store.read() as conn:
        function = model.get_function(conn, ctx.project, function_id)
    code = ctx.uploads.get("code")
    if code is None:
        raise ApiError("general_argument_invalid", "Invalid `code` param: send the .tar.gz archive as the `code` part.")
    shadow, limit = shadow_project(ctx.project), ctx.settings.storage_limit
    buckets.ensure(ctx.store, shadow, DEPLOYMENTS_BUCKET, "Deployments", ARCHIVE_MAX_SIZE, limit)
    content_range = ctx.headers.get("content-range", "")
    header_id = ctx.headers.get("x-appwrite-id")
    deployment_id = header_id if content_range else None
    try:
        with ctx.store.read() as conn:
            bucket = buckets.for_files(conn, shadow, DEPLOYMENTS_BUCKET, is_key=True)
        target = files.Target(ctx.store, shadow, bucket, True, limit)
        stored = files.create(target, deployment_id or new_id(), code, content_range, header_id, [])
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
            function = model.get_function(conn, ctx.project, function_id)
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
    rendered = model.deployment_model(doc)
    rendered["chunksTotal"], rendered["chunksUploaded"] = stored["chunksTotal"], stored["chunksUploaded"]
    return rendered


@handles("functionsListDeployments")
def list_deployments(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        total, docs = model.list_deployments(conn, ctx.project, p["functionId"], p)
    return {"total": total, "deployments": [model.deployment_model(d) for d in docs]}


@handles("functionsGetDeployment")
def get_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        return model.deployment_model(model.get_deployment(conn, ctx.project, p["functionId"], p["deploymentId"]))


@handles("functionsUpdateFunctionDeployment")
def activate_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id, deployment_id = p["functionId"], p["deploymentId"]
    with ctx.store.read() as conn:
        deployment = model.get_deployment(conn, ctx.project, function_id, deployment_id)
    if deployment["status"] != "ready":
        kind = (
            "build_in_progress" if deployment["status"] in ("waiting", "processing", "building") else "build_not_ready"
        )
        raise ApiError(
            kind, f"Deployment '{deployment_id}' is {deployment['status']}, not ready: it cannot be activated."
        )
    compute(ctx).activate(ctx.project, function_id, deployment_id)
    with ctx.store.read() as conn:
        return model.function_model(conn, ctx.project, model.get_function(conn, ctx.project, function_id))


@handles("functionsUpdateDeploymentStatus")
def cancel_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        doc = model.cancel_deployment(conn, ctx.project, p["functionId"], p["deploymentId"])
    return model.deployment_model(doc)


@handles("functionsDeleteDeployment")
def delete_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    function_id, deployment_id = p["functionId"], p["deploymentId"]
    with ctx.store.tx() as conn:
        function = model.delete_deployment(conn, ctx.project, function_id, deployment_id)
    engine = compute(ctx)
    engine.retire(ctx.project, function_id, keep=function.get("deploymentId") or None)
    engine.remove_deployment_files(ctx.project, function_id, deployment_id)
    engine.archive_path(ctx.project, deployment_id).unlink(missing_ok=True)
    with ctx.store.tx() as conn:
        files.forget(conn, shadow_project(ctx.project), DEPLOYMENTS_BUCKET, deployment_id)
    return None


@handles("functionsGetDeploymentDownload")
def download_deployment(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        doc = model.get_deployment(conn, ctx.project, p["functionId"], p["deploymentId"])
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
    named = headers.pop("x-appwrite-user-id", "")  # only a key may say who the call is for
    user_id = named if ctx.caller.is_key else (ctx.caller.user_id or "")
    headers = {k: v for k, v in headers.items() if not k.startswith(("x-appwrite-", "x-open-runtimes-"))}
    body = (p.get("body") or "").encode()
    with ctx.store.read() as conn:
        function = model.get_function(conn, ctx.project, function_id)
        if not function.get("enabled", True):
            raise ApiError("function_not_found", f"Function '{function_id}' is disabled.")
        deployment_id = function.get("deploymentId") or ""
        if not deployment_id:
            raise ApiError("deployment_not_found", f"Function '{function_id}' has no active deployment. Deploy one.")
        deployment = model.get_deployment(conn, ctx.project, function_id, deployment_id)
        if deployment["status"] != "ready":
            raise ApiError("build_not_ready", f"The active deployment of '{function_id}' is not ready yet.")
    if not ctx.caller.holds_any(function.get("execute") or []):
        raise ApiError(
            "user_unauthorized",
            f"The current user is not authorized to execute function '{function_id}': its execute roles "
            f"({', '.join(function.get('execute') or []) or 'none: API keys only'}) name none of yours "
            f"({', '.join(ctx.caller.roles)}).",
            401,
        )
    engine = compute(ctx)
    readers = [f'read("user:{ctx.caller.user_id}")'] if ctx.caller.user_id else []
    run_headers = {**headers, "x-appwrite-user-jwt": _user_jwt(ctx, function)}
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
            ctx.project, function, "http", method, path, headers, status="scheduled", scheduled_at=to_iso(when),
            permissions=readers,
        )  # fmt: skip
        # Who it runs for, so the function sees the same x-appwrite-user-id then (its JWT is not kept).
        request = {"headers": headers, "body": base64.b64encode(body).decode(), "userId": user_id}
        with ctx.store.tx() as conn:
            doc = st.meta_get(conn, ctx.project, "execution", function_id, execution["$id"])
            if doc is not None:
                doc["_request"] = request
                st.meta_save(conn, ctx.project, "execution", function_id, doc)
        return Reply(model.execution_model(execution, sensitive=ctx.caller.is_key), status=202)
    execution = engine.new_execution(ctx.project, function, "http", method, path, headers, permissions=readers)
    future = engine.run_async(
        ctx.project,
        function_id,
        execution["$id"],
        method=method,
        path=path,
        headers=run_headers,
        body=body,
        user_id=user_id,
    )
    if p.get("async"):
        return Reply(model.execution_model(execution, sensitive=ctx.caller.is_key), status=202)
    try:
        done = future.result(timeout=SYNC_TIMEOUT)
    except concurrent.futures.TimeoutError as exc:
        raise ApiError(
            "function_synchronous_timeout",
            "Synchronous function execution timed out. Use asynchronous execution instead, or ensure the "
            "execution duration doesn't exceed 30 seconds.",
            408,
        ) from exc
    rendered = model.execution_model(done, sensitive=ctx.caller.is_key)
    headers_out = validation.scrub(done.get("_responseHeaders", {}))
    rendered["responseHeaders"] = [{"name": k, "value": v} for k, v in headers_out.items()]
    return rendered


def _user_jwt(ctx: Ctx, function: Mapping[str, Any]) -> str:
    """The JWT a user's execution carries: for a caller signed in with a session secret (not a JWT), valid
    for the function's timeout plus a minute, as on Appwrite; empty otherwise."""
    caller = ctx.caller
    if caller.is_key or caller.via != "session" or not caller.user_id or not caller.session_id:
        return ""
    with ctx.store.tx() as conn:
        return sessions.issue_jwt(conn, caller.user_id, caller.session_id, int(function.get("timeout") or 15) + 60)


def _visible_function(ctx: Ctx, conn: Any, function_id: str) -> None:
    """A disabled function is not found by clients (keys still see it)."""
    function = model.get_function(conn, ctx.project, function_id)
    if not ctx.caller.is_key and function.get("enabled") is False:
        raise ApiError("function_not_found", f"Function with the requested ID '{function_id}' could not be found.")


def _readable_execution(ctx: Ctx, conn: Any, p: Mapping[str, Any]) -> st.Doc:
    _visible_function(ctx, conn, p["functionId"])
    doc = model.get_execution(conn, ctx.project, p["functionId"], p["executionId"])
    if not ctx.caller.may(doc.get("$permissions") or [], "read"):
        raise ApiError("execution_not_found", f"Execution with the requested ID '{doc['$id']}' could not be found.")
    return doc


@handles("functionsListExecutions")
def list_executions(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        _visible_function(ctx, conn, p["functionId"])
        where = None if ctx.caller.is_key else auth.readable_sql(ctx.caller)
        total, docs = model.list_executions(conn, ctx.project, p["functionId"], p, where)
    return {"total": total, "executions": [model.execution_model(d, sensitive=ctx.caller.is_key) for d in docs]}


@handles("functionsGetExecution")
def get_execution(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        return model.execution_model(_readable_execution(ctx, conn, p), sensitive=ctx.caller.is_key)


@handles("functionsDeleteExecution")
def delete_execution(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        doc = _readable_execution(ctx, conn, p)
        if not ctx.caller.may(doc.get("$permissions") or [], "delete"):
            raise auth.unauthorized(f"execution '{doc['$id']}'", "delete", ctx.caller)
        model.delete_execution(conn, ctx.project, p["functionId"], p["executionId"])
    return None


# --- variables ----------------------------------------------------------------------------------


def _scope(ctx: Ctx, p: Mapping[str, Any]) -> tuple[str, str, str]:
    """(parent in the store, resourceType, resourceId) of the variables an operation addresses."""
    if ctx.op.id.startswith("project"):
        return variables.PROJECT, "project", ""
    with ctx.store.read() as conn:
        model.get_function(conn, ctx.project, p["functionId"])
    return variables.function_parent(p["functionId"]), "function", p["functionId"]


@handles("functionsListVariables", "projectListVariables")
def list_variables(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    with ctx.store.read() as conn:
        docs = variables.all_of(conn, ctx.project, parent)
    return {"total": len(docs), "variables": [variables.model(d, rtype, rid) for d in docs]}


@handles("functionsCreateVariable", "projectCreateVariable")
def create_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    variables.check(p["key"], p["value"])
    variable_id = custom_id(p["variableId"], "variableId")
    with ctx.store.tx() as conn:
        doc = variables.create(
            conn, ctx.project, parent, variable_id, p["key"], p["value"], bool(p.get("secret")),
            p.get("description") or "",
        )  # fmt: skip
    return variables.model(doc, rtype, rid)


@handles("functionsGetVariable", "projectGetVariable")
def get_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    with ctx.store.read() as conn:
        return variables.model(variables.get(conn, ctx.project, parent, p["variableId"]), rtype, rid)


@handles("functionsUpdateVariable", "projectUpdateVariable")
def update_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, rtype, rid = _scope(ctx, p)
    variables.check(p["key"], p.get("value"))
    with ctx.store.tx() as conn:
        doc = variables.update(
            conn, ctx.project, parent, p["variableId"], p["key"], p.get("value"), p.get("secret"), p.get("description")
        )
    if doc.get("secret"):  # the value it held before may still be in the WAL
        scrub.soon(ctx.store)
    return variables.model(doc, rtype, rid)


@handles("functionsDeleteVariable", "projectDeleteVariable")
def delete_variable(ctx: Ctx, p: dict[str, Any]) -> Any:
    parent, _, _ = _scope(ctx, p)
    with ctx.store.tx() as conn:
        gone = variables.delete(conn, ctx.project, parent, p["variableId"])
    if gone.get("secret"):
        scrub.soon(ctx.store)
    return None
