"""Pieces the suites' literal test projects share: appwrite.json and its table and bucket entries, the ``hello``
function and its two variables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def appwrite_json(
    project_id: str,
    name: str,
    *,
    tables: Sequence[dict[str, Any]],
    buckets: Sequence[dict[str, Any]],
    functions: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """A whole appwrite.json (TablesDB form) whose ``tables`` live in its one database ``app``."""
    return {
        "projectId": project_id, "projectName": name, "tablesDB": [{"$id": "app", "name": "App", "enabled": True}],
        "tables": list(tables), "buckets": list(buckets), "functions": list(functions),
    }  # fmt: skip


def table(
    table_id: str,
    name: str,
    columns: Sequence[dict[str, Any]],
    *,
    indexes: Sequence[dict[str, Any]] = (),
    row_security: bool = False,
    permissions: Sequence[str] = (),
    database: str = "app",
) -> dict[str, Any]:
    """A ``tables`` entry of appwrite.json (TablesDB form), enabled, in database ``app`` unless told."""
    return {
        "$id": table_id, "$permissions": list(permissions), "databaseId": database, "name": name, "enabled": True,
        "rowSecurity": row_security, "columns": list(columns), "indexes": list(indexes),
    }  # fmt: skip


def notes_table(title_size: int, *more: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """The suites' ``notes`` table: a required ``title`` of ``title_size`` (indexed ``by_title``) and an optional
    ``words`` count of 0 or more, then the ``more`` columns; ``settings`` as for :func:`table`."""
    title = {"key": "title", "type": "varchar", "size": title_size, "required": True, "array": False}
    words = {"key": "words", "type": "integer", "required": False, "array": False, "min": 0}
    by_title = {"key": "by_title", "type": "key", "columns": ["title"], "orders": ["ASC"]}
    return table("notes", "Notes", [title, words, *more], indexes=[by_title], **settings)


def bucket(
    bucket_id: str,
    name: str,
    *,
    maximum_file_size: int,
    allowed_file_extensions: Sequence[str] = (),
    file_security: bool = False,
    permissions: Sequence[str] = (),
) -> dict[str, Any]:
    """A ``buckets`` entry of appwrite.json: enabled, uncompressed, neither encrypted nor scanned."""
    return {
        "$id": bucket_id, "$permissions": list(permissions), "fileSecurity": file_security, "name": name,
        "enabled": True, "maximumFileSize": maximum_file_size, "allowedFileExtensions": list(allowed_file_extensions),
        "compression": "none", "encryption": False, "antivirus": False,
    }  # fmt: skip


def hello_function() -> dict[str, Any]:
    """``functions/hello`` in appwrite.json: Python 3.11, no schedule or events, 15 s."""
    return {
        "$id": "hello",
        "name": "Hello",
        "runtime": "python-3.11",
        "execute": [],
        "events": [],
        "schedule": "",
        "timeout": 15,
        "enabled": True,
        "logging": True,
        "entrypoint": "src/main.py",
        "commands": "",
        "scopes": [],
        "path": "functions/hello",
    }


def hello_variables(token_description: str) -> list[dict[str, Any]]:
    """The template's ``GREETING`` (plain, default "hi") and ``API_TOKEN`` (a required secret) of ``hello``."""
    return [
        {
            "name": "GREETING",
            "type": "string",
            "default": "hi",
            "functions": ["hello"],
            "secret": False,
            "description": "How hello greets.",
        },
        {
            "name": "API_TOKEN",
            "type": "string",
            "functions": ["hello"],
            "secret": True,
            "required": True,
            "description": token_description,
        },
    ]
