"""The backup tests' project (built through ``support.site.Site``) and a way to fill a project.

Every environment gets its own fresh project (``add_env``); its endpoint, API key and the secret ``API_TOKEN``
come from ``QUIXOTIC_<ENV>_*`` process variables, as in production.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.projects import appwrite_json, bucket, hello_function, hello_variables, notes_table, table
from support.server import LocalServer
from support.site import Site

from quixotic.commands import deploy as deploy_cmd
from quixotic.server import admin
from quixotic.target import Target

HELLO = """
import hashlib
import os

def main(context):
    token = os.environ.get("API_TOKEN", "")
    return context.res.json({
        "greeting": os.environ.get("GREETING"),
        "region": os.environ.get("REGION"),
        "token": hashlib.sha256(token.encode()).hexdigest()[:12],
    })
"""

APPWRITE_JSON: dict[str, Any] = appwrite_json(
    "backup-test",
    "Backup test",
    tables=[
        notes_table(
            200,
            {"key": "score", "type": "double", "required": False, "array": False},
            {"key": "done", "type": "boolean", "required": False, "array": False, "default": False},
            {"key": "tags", "type": "varchar", "size": 30, "required": False, "array": True},
            {"key": "author", "type": "string", "format": "email", "required": False, "array": False},
            {"key": "due", "type": "datetime", "required": False, "array": False},
            row_security=True,
            permissions=['read("any")'],
        ),
        table(
            "credits",
            "Credits",
            [
                {"key": "user", "type": "varchar", "size": 36, "required": True, "array": False},
                {"key": "balance", "type": "integer", "required": True, "array": False},
                {
                    "key": "plan",
                    "type": "string",
                    "format": "enum",
                    "elements": ["free", "pro"],
                    "required": False,
                    "array": False,
                },
            ],
            indexes=[{"key": "by_user", "type": "unique", "columns": ["user"], "orders": ["ASC"]}],
        ),
        table("events", "Events", [{"key": "payload", "type": "longtext", "required": False, "array": False}]),
    ],
    buckets=[
        bucket("uploads", "Uploads", maximum_file_size=25_000_000, file_security=True, permissions=['read("any")'])
    ],
    functions=[hello_function()],
)

TEMPLATE: dict[str, Any] = {
    "variables": [
        *hello_variables("A secret that only a sealed backup carries."),
        {
            "name": "REGION",
            "type": "string",
            "default": "eu",
            "functions": "*",
            "secret": False,
            "description": "A project-wide variable.",
        },
    ]
}


FILES = {
    "appwrite.json": APPWRITE_JSON,
    "templates/shared-variables.json": TEMPLATE,
    "functions/hello/src/main.py": HELLO,
}


def make_site(root: Path, server: LocalServer) -> Site:
    """The backup test project under ``root``, no environment yet (see ``add_env``)."""
    return Site.create(root, server, files=FILES)


def add_env(site: Site, name: str, *, protected: bool = False, key: str | None = None) -> admin.ProjectCredentials:
    """Environment ``name`` on a fresh project of the test server; its secret ``API_TOKEN`` is ``token-of-<name>``."""
    return site.add_env(
        name,
        key=key,
        secrets={"API_TOKEN": f"token-of-{name}"},
        project_name=f"Backup test ({name})",
        variables={"GREETING": f"hello from {name}"},
        protection={"requireConfirmation": protected, "refuseDestructive": protected, "backupBeforeMigrations": False},
    )


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Seeded:
    rows: dict[str, int]
    files: dict[str, bytes]
    users: list[str]


def seed(
    target: Target, *, notes: int = 1500, credits: int = 800, events: int = 300, sizes: tuple[int, ...] = ()
) -> Seeded:
    """Deploy the configuration, then fill it with rows, files and users through the SDK."""
    deploy_cmd.deploy(target, yes=True)
    client = target.backend.client
    db, storage, users = TablesDB(client), Storage(client), Users(client)
    rng = random.Random(7)
    user_ids = [f"u{n:03d}" for n in range(6)]
    users.create(user_ids[0], "ada@example.com", None, "correct horse battery", "Ada Lovelace")
    users.create(user_ids[1], "grace@example.com", "+14155550101", "another secret pw", "Grace Hopper")
    users.create(user_ids[2], "alan@example.com", None, None, "Alan Turing")
    users.create_bcrypt_user(
        user_ids[3], "barbara@example.com", "$2y$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVW", "Barbara"
    )
    users.create(user_ids[4], None, "+14155550199", None, None)
    users.create(user_ids[5], "edsger@example.com", None, "shortest path", "Edsger")
    users.update_labels(user_ids[0], ["admin", "beta"])
    users.update_prefs(user_ids[0], {"theme": "dark", "lang": "en"})
    users.update_status(user_ids[5], False)
    users.update_email_verification(user_ids[1], True)
    rows: dict[str, list[dict[str, Any]]] = {"notes": [], "credits": [], "events": []}
    for n in range(notes):
        owner = user_ids[n % len(user_ids)]
        rows["notes"].append(
            {
                "$id": f"n{n:05d}",
                "$permissions": [Permission.read(Role.user(owner)), Permission.update(Role.user(owner))]
                if n % 3 == 0
                else [],
                "title": f"note {n} " + "x" * rng.randint(0, 40),
                "words": rng.randint(0, 5000),
                "score": round(rng.random() * 100, 3),
                "done": n % 2 == 0,
                "tags": [f"t{rng.randint(0, 9)}" for _ in range(rng.randint(0, 3))],
                "author": f"author{n % 17}@example.com" if n % 5 else None,
                "due": f"2025-0{1 + n % 9}-1{n % 10}T10:00:00.000+00:00" if n % 4 else None,
            }
        )
    for n in range(credits):
        rows["credits"].append(
            {"$id": ID.unique(), "user": f"user-{n}", "balance": rng.randint(-10, 1000), "plan": ("free", "pro")[n % 2]}
        )
    for n in range(events):
        rows["events"].append({"$id": f"e{n}", "payload": json.dumps({"n": n, "blob": "y" * rng.randint(0, 2000)})})
    for table_id, items in rows.items():
        for start in range(0, len(items), 1000):
            db.create_rows("app", table_id, items[start : start + 1000])
    files: dict[str, bytes] = {}
    for n, size in enumerate(sizes):
        data = rng.randbytes(size)
        file_id = f"f{n}"
        perms = [Permission.read(Role.user(user_ids[0]))] if n % 2 else []
        storage.create_file("uploads", file_id, InputFile.from_bytes(data, f"clip-{n}.bin"), perms)
        files[file_id] = data
    return Seeded({k: len(v) for k, v in rows.items()}, files, user_ids)


PASSPHRASE = "correct horse battery staple"
FILE_SIZES = (1_000, 300_000, 6_000_000, 20_000_000)  # the 6 and 20 MB files go up and down in 5 MiB chunks


@dataclass
class Source:
    """The seeded source environment ``src`` and its sealed backup."""

    site: Site
    seeded: Seeded
    archive: Path
    names: itertools.count[int]

    def fresh(self, prefix: str = "dst", *, protected: bool = False, key: str | None = None) -> str:
        """A new environment on a fresh, empty project; returns its name."""
        name = f"{prefix}{next(self.names)}"
        add_env(self.site, name, protected=protected, key=key)
        return name
