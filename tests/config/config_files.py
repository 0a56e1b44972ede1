"""Literal configuration files for the config tests, and a helper that writes them under a folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.site import REPO

PROJECT = """{
  "projectId": "demo",
  "projectName": "Demo",
  "tablesDB": [{"$id": "app", "name": "App", "enabled": true}],
  "tables": [
    {
      "$id": "notes", "$permissions": ["read(\\"users\\")"], "databaseId": "app", "name": "Notes",
      "enabled": true, "rowSecurity": true,
      "columns": [
        {"key": "owner", "type": "varchar", "required": true, "array": false, "size": 36, "default": null},
        {"key": "status", "type": "string", "format": "enum", "elements": ["new", "done"], "required": false,
         "array": false, "default": "new"},
        {"key": "score", "type": "double", "required": false, "array": false, "min": 0, "default": 0.0},
        {"key": "body", "type": "longtext", "required": false, "array": false, "default": null}
      ],
      "indexes": [{"key": "by_owner", "type": "key", "columns": ["owner", "$createdAt"], "orders": ["ASC", "DESC"]}]
    }
  ],
  "buckets": [
    {"$id": "uploads", "$permissions": ["create(\\"users\\")"], "fileSecurity": true, "name": "Uploads",
     "enabled": true, "maximumFileSize": 1000000, "allowedFileExtensions": ["wav"], "compression": "none",
     "encryption": true, "antivirus": true}
  ],
  "functions": [
    {"$id": "worker", "name": "Worker", "runtime": "python-3.11", "execute": ["users"], "events": [],
     "schedule": "", "timeout": 60, "enabled": true, "logging": true, "entrypoint": "src/main.py",
     "commands": "pip install -r requirements.txt", "scopes": ["rows.read"], "path": "functions/worker"}
  ]
}
"""

TEMPLATE = """{
  "variables": [
    {"name": "MAX_MB", "type": "int", "default": 5, "min": 1, "max": 30, "required": true,
     "functions": ["worker"], "drives": {"buckets.uploads.maximumFileSize": 1000000},
     "description": "Largest upload in MB."},
    {"name": "START_CREDITS", "type": "float", "default": 1.0, "min": 0, "functions": ["worker"],
     "description": "Credits of a new account."},
    {"name": "MODE", "type": "enum", "values": ["fast", "slow"], "default": "fast", "functions": "*",
     "description": "How hard to try."},
    {"name": "API_TOKEN", "type": "string", "secret": true, "required": true, "functions": ["worker"],
     "description": "Token for a third party."},
    {"name": "HOOK", "type": "url", "secret": true, "functions": ["worker"], "description": "Where to post."}
  ]
}
"""

DEV = """{
  "projectId": "demo-dev",
  "endpoint": "http://127.0.0.1:9/v1",
  "variables": {"MAX_MB": 10, "START_CREDITS": 50.0},
  "functions": {"worker": {"timeout": 120}},
  "protection": {"requireConfirmation": true}
}
"""

PROD = """{
  "projectId": "demo-prod",
  "projectName": "Demo",
  "endpoint": "https://cloud.appwrite.io/v1",
  "variables": {"MAX_MB": 25},
  "protection": {"requireConfirmation": true, "refuseDestructive": true, "backupBeforeMigrations": true}
}
"""

# A value for API_TOKEN so that environments with a required secret load.
SECRETS = {"QUIXOTIC_DEV_API_TOKEN": "tok-dev-0001", "QUIXOTIC_PROD_API_TOKEN": "tok-prod-0002"}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def demo_root(root: Path, changes: dict[str, str | None] | None = None) -> Path:
    """The literal demo project under ``root``; ``changes`` replaces files by relative path (None removes one)."""
    files: dict[str, str | None] = {
        "appwrite.json": PROJECT,
        "templates/shared-variables.json": TEMPLATE,
        "environments/dev.json": DEV,
        "environments/prod.json": PROD,
        **(changes or {}),
    }
    return write_tree(root, {k: v for k, v in files.items() if v is not None})


def copy_repo_config(root: Path) -> Path:
    """This repository's own configuration files (never its git-ignored ``.env.*``) under ``root``."""
    shutil.copy(REPO / "appwrite.json", root / "appwrite.json")
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "environments").mkdir()
    for path in (REPO / "environments").glob("*.json"):
        if not path.name.startswith("appwrite."):
            shutil.copy(path, root / "environments" / path.name)
    return root
