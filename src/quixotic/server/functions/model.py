"""The function model: functions, deployments and executions as stored and as Appwrite renders them,
their lookups, and the checks of a function's settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import store as st
from quixotic.server import validation
from quixotic.server.auth import ALL_SCOPES
from quixotic.server.compute.engine import RUNTIMES
from quixotic.server.compute.schedule import parse_cron
from quixotic.server.functions import variables
from quixotic.server.queries import Field

DEFAULT_SPECIFICATION: Final = "s-1vcpu-512mb"

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


# --- models -------------------------------------------------------------------------------------


def function_model(conn: sqlite3.Connection, project: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "execute", "name", "enabled", "live", "logging", "runtime", "deploymentId", "deploymentCreatedAt",
        "latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus", "scopes", "events",
        "schedule", "timeout", "entrypoint", "commands", "version", "installationId", "providerRepositoryId",
        "providerBranch", "providerRootDirectory", "providerSilentMode",
    )  # fmt: skip
    out = {"$id": doc["$id"], "$createdAt": doc["$createdAt"], "$updatedAt": doc["$updatedAt"]}
    out.update({k: doc.get(k) for k in keys})
    old_spec = doc.get("specification") or DEFAULT_SPECIFICATION  # stored by servers before 1.9 shapes
    out["buildSpecification"] = doc.get("buildSpecification") or old_spec
    out["runtimeSpecification"] = doc.get("runtimeSpecification") or old_spec
    out["deploymentRetention"] = int(doc.get("deploymentRetention") or 0)
    out["providerBranches"] = list(doc.get("providerBranches") or [])
    out["providerPaths"] = list(doc.get("providerPaths") or [])
    # 2.5.0 (formats drops them below); functions stored before have none
    out["description"] = doc.get("description") or ""
    out["interval"] = int(doc.get("interval") or 0)  # minutes between runs; 0: none
    out["emailEnabled"] = bool(doc.get("emailEnabled"))
    out["vars"] = [
        variables.model(v, "function", doc["$id"])
        for v in variables.all_of(conn, project, variables.function_parent(doc["$id"]))
    ]
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


def execution_model(doc: Mapping[str, Any], *, sensitive: bool = False) -> dict[str, Any]:
    """An execution as Appwrite answers it; ``logs`` and ``errors`` are sensitive: empty unless ``sensitive``
    (an API key or a function's key asks), as Appwrite blanks them for users and guests."""
    keys = (
        "deploymentId", "trigger", "status", "requestMethod", "requestPath", "requestHeaders",
        "responseStatusCode", "responseBody", "responseHeaders", "logs", "errors", "duration",
    )  # fmt: skip
    out = {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "$permissions": doc.get("$permissions", []),
    }
    out.update({k: validation.scrub(doc.get(k)) for k in keys})  # function output may hold lone surrogates
    if not sensitive:
        out["logs"] = out["errors"] = ""
    out["resourceId"] = doc.get("functionId") or ""  # 2.x; formats renames it back below 2.0.0
    out["resourceType"] = "functions"
    if doc.get("scheduledAt"):
        out["scheduledAt"] = doc["scheduledAt"]
    return out


# --- lookups ------------------------------------------------------------------------------------


def get_function(conn: sqlite3.Connection, project: str, function_id: str) -> st.Doc:
    doc = st.meta_get(conn, project, "function", "", function_id)
    if doc is None:
        raise ApiError("function_not_found", f"Function with the requested ID '{function_id}' could not be found.")
    return doc


def get_deployment(conn: sqlite3.Connection, project: str, function_id: str, deployment_id: str) -> st.Doc:
    """The deployment of an existing function."""
    get_function(conn, project, function_id)
    doc = st.meta_get(conn, project, "deployment", function_id, deployment_id)
    if doc is None:
        raise ApiError(
            "deployment_not_found", f"Deployment with the requested ID '{deployment_id}' could not be found."
        )
    return doc


def get_execution(conn: sqlite3.Connection, project: str, function_id: str, execution_id: str) -> st.Doc:
    """The execution of an existing function."""
    get_function(conn, project, function_id)
    doc = st.meta_get(conn, project, "execution", function_id, execution_id)
    if doc is None:
        raise ApiError("execution_not_found", f"Execution with the requested ID '{execution_id}' could not be found.")
    return doc


# --- records ------------------------------------------------------------------------------------


def create_function(conn: sqlite3.Connection, project: str, function_id: str, data: dict[str, Any]) -> st.Doc:
    exists = ApiError("function_already_exists", f"Function with the requested ID '{function_id}' already exists.")
    return st.meta_insert(conn, project, "function", "", function_id, data, conflict=exists)


def list_functions(conn: sqlite3.Connection, project: str, params: Mapping[str, Any]) -> tuple[int, list[st.Doc]]:
    return st.meta_list(conn, project, "function", "", params, _FUNCTION_FIELDS, search_expr=st.NAME_SEARCH)


def update_function(conn: sqlite3.Connection, project: str, function_id: str, p: Mapping[str, Any]) -> st.Doc:
    """Apply update parameters (checked by :func:`check_settings`); a new schedule starts afresh."""
    doc = get_function(conn, project, function_id)
    doc.update(check_settings(p, doc))
    if p.get("schedule") is not None:
        doc.pop("scheduleLastRun", None)
    return st.meta_save(conn, project, "function", "", doc)


def delete_function(conn: sqlite3.Connection, project: str, function_id: str) -> bool:
    """The function's record with its deployments', executions' and variables'; True when a secret variable
    went with it."""
    get_function(conn, project, function_id)
    for kind in ("deployment", "execution"):
        conn.execute("DELETE FROM meta WHERE project=? AND kind=? AND parent=?", (project, kind, function_id))
    secret = variables.delete_all(conn, project, variables.function_parent(function_id))
    st.meta_delete(conn, project, "function", "", function_id)
    return secret


def list_deployments(
    conn: sqlite3.Connection, project: str, function_id: str, params: Mapping[str, Any]
) -> tuple[int, list[st.Doc]]:
    get_function(conn, project, function_id)
    return st.meta_list(conn, project, "deployment", function_id, params, _DEPLOYMENT_FIELDS, search_expr="_uid")


def cancel_deployment(conn: sqlite3.Connection, project: str, function_id: str, deployment_id: str) -> st.Doc:
    doc = get_deployment(conn, project, function_id, deployment_id)
    if doc["status"] in ("ready", "failed"):
        raise ApiError("build_already_completed", f"Deployment '{doc['$id']}' has already finished building.", 400)
    doc["status"] = "canceled"
    return st.meta_save(conn, project, "deployment", function_id, doc)


def delete_deployment(conn: sqlite3.Connection, project: str, function_id: str, deployment_id: str) -> st.Doc:
    """Delete the deployment's record (the function goes offline when it was the active one); returns the
    function's record."""
    function = get_function(conn, project, function_id)
    get_deployment(conn, project, function_id, deployment_id)
    st.meta_delete(conn, project, "deployment", function_id, deployment_id)
    if function.get("deploymentId") == deployment_id:
        function.update({"deploymentId": "", "deploymentCreatedAt": "", "live": False})
        st.meta_save(conn, project, "function", "", function)
    return function


def list_executions(
    conn: sqlite3.Connection,
    project: str,
    function_id: str,
    params: Mapping[str, Any],
    where: tuple[str, list[str]] | None = None,
) -> tuple[int, list[st.Doc]]:
    """A page of the function's executions; ``where`` (SQL and parameters) keeps only what a client may read."""
    get_function(conn, project, function_id)
    if where is None:
        return st.meta_list(conn, project, "execution", function_id, params, _EXECUTION_FIELDS)
    total, docs, _ = st.list_docs(
        conn, "meta", f"project=? AND kind='execution' AND parent=? AND {where[0]}", [project, function_id, *where[1]],
        params.get("queries"), _EXECUTION_FIELDS, total=params.get("total") is not False,
    )  # fmt: skip
    return total, docs


def delete_execution(conn: sqlite3.Connection, project: str, function_id: str, execution_id: str) -> None:
    """Delete a finished execution's record."""
    doc = get_execution(conn, project, function_id, execution_id)
    if doc["status"] in ("waiting", "processing"):
        raise ApiError("execution_in_progress", "The execution is still running; delete it once it has finished.")
    st.meta_delete(conn, project, "execution", function_id, doc["$id"])


# --- functions ----------------------------------------------------------------------------------


def check_settings(p: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated function settings from create/update parameters (unset ones keep ``current``)."""
    base: dict[str, Any] = dict(current or {})

    def pick(name: str, default: Any) -> Any:
        value = p.get(name)
        if value is None:
            return base.get(name, default)
        return value

    old_spec = base.pop("specification", None) or DEFAULT_SPECIFICATION
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
        try:
            parse_cron(schedule)
        except ValueError as exc:
            raise ApiError("general_argument_invalid", f"Invalid `schedule` param: {exc}") from exc
    interval = int(pick("interval", 0))
    if interval < 0:
        raise ApiError("general_argument_invalid", "Invalid `interval` param: Value must be 0 or more minutes")
    if interval and schedule:
        raise ApiError(
            "general_argument_invalid",
            "Invalid `interval` param: a function runs on a `schedule` or at an `interval`, not both. "
            "Set the other to an empty schedule or interval 0.",
        )
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
        "buildSpecification": pick("buildSpecification", old_spec),
        "runtimeSpecification": pick("runtimeSpecification", old_spec),
        "deploymentRetention": int(pick("deploymentRetention", 0)),
        "providerBranches": list(pick("providerBranches", [])),
        "providerPaths": list(pick("providerPaths", [])),
        "description": pick("description", ""),
        "interval": interval,
        "emailEnabled": bool(pick("emailEnabled", False)),
    }
