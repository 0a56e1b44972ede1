"""The variable model: a function's variables and the project's, with their checks.

Function variables are stored under ``function/<functionId>``, project variables under ``project``;
a secret variable's value is stored (executions need it) but never rendered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import store as st

PROJECT: Final = "project"  # the parent of project variables
MAX_KEY: Final = 255
MAX_VALUE: Final = 8192


def function_parent(function_id: str) -> str:
    return f"function/{function_id}"


def model(doc: Mapping[str, Any], resource_type: str, resource_id: str) -> dict[str, Any]:
    return {
        "$id": doc["$id"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "key": doc["key"],
        "value": "" if doc.get("secret") else doc["value"],
        "secret": bool(doc.get("secret")),
        "resourceType": resource_type,
        "resourceId": resource_id,
        "description": doc.get("description") or "",  # 2.5.0 (formats drops it below)
    }


def check(key: str, value: str | None) -> None:
    if not key or len(key) > MAX_KEY:
        raise ApiError("general_argument_invalid", f"Invalid `key` param: 1 to {MAX_KEY} characters")
    if value is not None and len(value) > MAX_VALUE:
        raise ApiError("general_argument_invalid", f"Invalid `value` param: at most {MAX_VALUE} characters")


def all_of(conn: sqlite3.Connection, project: str, parent: str) -> list[st.Doc]:
    return st.meta_all(conn, project, "variable", parent)


def values(conn: sqlite3.Connection, project: str, parent: str) -> dict[str, str]:
    """Key -> value of the variables under ``parent``, secrets included (for executions)."""
    return {v["key"]: v["value"] for v in all_of(conn, project, parent)}


def get(conn: sqlite3.Connection, project: str, parent: str, variable_id: str) -> st.Doc:
    doc = st.meta_get(conn, project, "variable", parent, variable_id)
    if doc is None:
        raise ApiError("variable_not_found", f"Variable with the requested ID '{variable_id}' could not be found.")
    return doc


def _already_exists(key: str) -> ApiError:
    return ApiError("variable_already_exists", f"Variable with the same key '{key}' already exists.")


def create(
    conn: sqlite3.Connection,
    project: str,
    parent: str,
    variable_id: str,
    key: str,
    value: str,
    secret: bool,
    description: str = "",
) -> st.Doc:
    if any(v["key"] == key for v in all_of(conn, project, parent)):
        raise _already_exists(key)
    if st.meta_get(conn, project, "variable", parent, variable_id) is not None:
        raise ApiError("variable_already_exists", f"Variable with the same ID '{variable_id}' already exists.")
    data = {"key": key, "value": value, "secret": secret, "description": description}
    return st.meta_insert(conn, project, "variable", parent, variable_id, data)


def update(
    conn: sqlite3.Connection,
    project: str,
    parent: str,
    variable_id: str,
    key: str,
    value: str | None,
    secret: bool | None,
    description: str | None = None,
) -> st.Doc:
    """Change a variable; a secret one stays secret (Appwrite refuses to unset it); a description not given is
    kept."""
    doc = get(conn, project, parent, variable_id)
    if doc.get("secret") and secret is False:
        raise ApiError(
            "variable_cannot_unset_secret", "A secret variable cannot be made non-secret. Delete and recreate it."
        )
    if key != doc["key"] and any(v["key"] == key for v in all_of(conn, project, parent)):
        raise _already_exists(key)
    doc["key"] = key
    if value is not None:
        doc["value"] = value
    if secret is not None:
        doc["secret"] = bool(secret) or bool(doc.get("secret"))
    if description is not None:
        doc["description"] = description
    st.meta_save(conn, project, "variable", parent, doc)
    return doc


def delete(conn: sqlite3.Connection, project: str, parent: str, variable_id: str) -> st.Doc:
    """Delete a variable; returns it as it was (whether it was secret says if its value must be scrubbed)."""
    doc = get(conn, project, parent, variable_id)
    st.meta_delete(conn, project, "variable", parent, variable_id)
    return doc


def delete_all(conn: sqlite3.Connection, project: str, parent: str) -> bool:
    """Delete the variables under ``parent``; True when a secret one was among them."""
    secret = any(v.get("secret") for v in all_of(conn, project, parent))
    conn.execute("DELETE FROM meta WHERE project=? AND kind='variable' AND parent=?", (project, parent))
    return secret
