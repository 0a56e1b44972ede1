"""A small, complete project (config + one function) for deploy-level tests, built through support.site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.projects import appwrite_json, bucket, hello_function, hello_variables, notes_table
from support.server import LocalServer
from support.site import Site, write

SECRET = "tok-3f1c9e-never-print-me"

HELLO = """
import os

def main(context):
    return context.res.json({"version": VERSION, "greeting": os.environ.get("GREETING"),
                             "token": bool(os.environ.get("API_TOKEN"))})

VERSION = 1
"""

APPWRITE_JSON: dict[str, Any] = appwrite_json(
    "",  # set to the environment's project id
    "Deploy test",
    tables=[notes_table(100)],
    buckets=[bucket("uploads", "Uploads", maximum_file_size=5000000, allowed_file_extensions=["txt"])],
    functions=[hello_function()],
)

TEMPLATE: dict[str, Any] = {
    "variables": hello_variables("A secret hello must never print."),
}


def files(project_id: str) -> dict[str, Any]:
    return {
        "appwrite.json": {**APPWRITE_JSON, "projectId": project_id},
        "templates/shared-variables.json": TEMPLATE,
        "functions/hello/src/main.py": HELLO,
    }


# One table, one bucket, one function with a plain and a secret variable; destructive changes refused.
ENV_CONFIG: dict[str, Any] = {
    "project_name": "Deploy test",
    "variables": {"GREETING": "hello"},
    "protection": {"requireConfirmation": False, "refuseDestructive": True, "backupBeforeMigrations": False},
}


def local_site(root: Path, project_id: str, env: str) -> Site:
    """The project under ``root`` with environment ``env`` for ``project_id``, and no test server (for ``up``)."""
    site = Site.create(root, None, files=files(project_id))
    site.write_env(env, project_id, **ENV_CONFIG)
    return site


def deploy_site(root: Path, server: LocalServer) -> Site:
    """The project with its environment ``test`` on a fresh project of ``server``, ``API_TOKEN`` set to SECRET."""
    site = Site.create(root, server)
    creds = site.add_env("test", secrets={"API_TOKEN": SECRET}, **ENV_CONFIG)
    for relative, data in files(creds.project_id).items():
        write(root / relative, data)
    return site
