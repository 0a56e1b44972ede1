"""A small, complete project on disk (config + one function) for deploy-level tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SECRET = "tok-3f1c9e-never-print-me"

HELLO = """
import os

def main(context):
    return context.res.json({"version": VERSION, "greeting": os.environ.get("GREETING"),
                             "token": bool(os.environ.get("API_TOKEN"))})

VERSION = 1
"""


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))


def project_files(root: Path, project_id: str, env: str = "test") -> None:
    """A small project: one table, one bucket, one function with a plain and a secret variable."""
    write(
        root / "appwrite.json",
        {
            "projectId": project_id,
            "projectName": "Deploy test",
            "tablesDB": [{"$id": "app", "name": "App", "enabled": True}],
            "tables": [
                {
                    "$id": "notes",
                    "$permissions": [],
                    "databaseId": "app",
                    "name": "Notes",
                    "enabled": True,
                    "rowSecurity": False,
                    "columns": [
                        {"key": "title", "type": "varchar", "size": 100, "required": True, "array": False},
                        {"key": "words", "type": "integer", "required": False, "array": False, "min": 0},
                    ],
                    "indexes": [{"key": "by_title", "type": "key", "columns": ["title"], "orders": ["ASC"]}],
                }
            ],
            "buckets": [
                {
                    "$id": "uploads",
                    "$permissions": [],
                    "fileSecurity": False,
                    "name": "Uploads",
                    "enabled": True,
                    "maximumFileSize": 5000000,
                    "allowedFileExtensions": ["txt"],
                    "compression": "none",
                    "encryption": False,
                    "antivirus": False,
                }
            ],
            "functions": [
                {
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
            ],
        },
    )
    write(
        root / "templates" / "shared-variables.json",
        {
            "variables": [
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
                    "description": "A secret hello must never print.",
                },
            ]
        },
    )
    write(
        root / "environments" / f"{env}.json",
        {
            "projectId": project_id,
            "projectName": "Deploy test",
            "endpoint": "http://127.0.0.1:1/v1",
            "variables": {"GREETING": "hello"},
            "protection": {"requireConfirmation": False, "refuseDestructive": True, "backupBeforeMigrations": False},
        },
    )
    write(root / "functions" / "hello" / "src" / "main.py", HELLO)
