"""A project's platforms (web hostnames, native app IDs): the apps whose browser or OS origin may call it.

Appwrite keeps them in the console (``/v1/projects/{id}/platforms``, which a project key may not call);
the local server keeps them in its store as ``platform`` records of the project and edits them from the
data folder (``quixotic local platform add|list|remove``), like projects and keys. The rules they feed
are in :mod:`quixotic.server.origins`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from quixotic.errors import UsageError
from quixotic.platform_types import PLATFORM_TYPES, WEB_TYPES, missing
from quixotic.server import auth
from quixotic.server.ids import new_id
from quixotic.server.origins import Origins, Platform, split_origin
from quixotic.server.store import Doc, Store, meta_all, meta_delete, meta_get, meta_insert

KIND: Final = "platform"


@dataclass(frozen=True)
class PlatformRecord:
    id: str
    name: str
    type: str
    hostname: str
    key: str

    def as_json(self) -> dict[str, Any]:
        return {"$id": self.id, "name": self.name, "type": self.type, "hostname": self.hostname, "key": self.key}


def _record(doc: Doc) -> PlatformRecord:
    return PlatformRecord(doc["$id"], doc.get("name", ""), doc.get("type", ""), doc.get("hostname", ""),
                          doc.get("key", ""))  # fmt: skip


def origins_of(conn: sqlite3.Connection, project: str, server_hosts: tuple[str, ...] = ("localhost",)) -> Origins:
    """What ``project`` lets in: the server's own hosts plus its platforms."""
    docs = meta_all(conn, project, KIND, "") if project and project != "console" else []
    platforms = [Platform(d.get("type", ""), d.get("hostname", ""), d.get("key", "")) for d in docs]
    return Origins.of(project, platforms, server_hosts)


def _check(platform_type: str, hostname: str, key: str) -> tuple[str, str]:
    if platform_type not in PLATFORM_TYPES:
        raise UsageError(f"unknown platform type {platform_type!r}: use one of {', '.join(PLATFORM_TYPES)}")
    if platform_type in WEB_TYPES and "://" in hostname:  # a pasted URL: keep its host
        hostname = split_origin(hostname)[1] or hostname
    lacks = missing(platform_type, hostname, key)
    if lacks == "hostname":
        raise UsageError("a web platform needs --hostname (e.g. app.example.com, *.example.com or localhost)")
    if lacks == "host":
        raise UsageError(f"--hostname {hostname!r} is not a host name: give the host alone, e.g. app.example.com")
    if lacks == "key":
        raise UsageError(
            f"a {platform_type} platform needs --key, the app's bundle or package ID (e.g. com.example.app)"
        )
    return (hostname.lower(), key) if platform_type in WEB_TYPES else (hostname, key)


def add(data_dir: Path, project: str, platform_type: str, name: str = "", hostname: str = "",
        key: str = "") -> PlatformRecord:  # fmt: skip
    """Register a platform of ``project``; the server honours it from its next request on."""
    hostname, key = _check(platform_type.strip().lower(), hostname.strip(), key.strip())
    store = Store(data_dir)
    try:
        with store.tx() as conn:
            if not auth.project_exists(conn, project):
                raise UsageError(
                    f"project {project!r} does not exist here: create it with `quixotic local project create`"
                )
            data = {"name": name or hostname or key or platform_type, "type": platform_type.strip().lower(),
                    "key": key, "store": "", "hostname": hostname}  # fmt: skip
            return _record(meta_insert(conn, project, KIND, "", new_id(), data))
    finally:
        store.close()


def ensure(data_dir: Path, project: str, wanted: Iterable[tuple[str, str, str, str]]) -> list[PlatformRecord]:
    """Register each ``(type, hostname, key, name)`` that ``project`` does not have yet (``quixotic up`` with the
    platforms the environment declares); those it has, and others registered by hand, stay. The ones added."""
    have = {(r.type, r.hostname, r.key) for r in listing(data_dir, project)}
    added: list[PlatformRecord] = []
    for platform_type, hostname, key, name in wanted:
        kind = platform_type.strip().lower()
        host, app_key = _check(kind, hostname.strip(), key.strip())
        if (kind, host, app_key) not in have:
            added.append(add(data_dir, project, kind, name, host, app_key))
            have.add((kind, host, app_key))
    return added


def listing(data_dir: Path, project: str) -> list[PlatformRecord]:
    store = Store(data_dir)
    try:
        with store.read() as conn:
            return [_record(d) for d in meta_all(conn, project, KIND, "")]
    finally:
        store.close()


def remove(data_dir: Path, project: str, platform_id: str) -> PlatformRecord:
    store = Store(data_dir)
    try:
        with store.tx() as conn:
            doc = meta_get(conn, project, KIND, "", platform_id)
            if doc is None:
                raise UsageError(
                    f"project {project!r} has no platform {platform_id!r}: `quixotic local platform list` shows them"
                )
            meta_delete(conn, project, KIND, "", platform_id)
            return _record(doc)
    finally:
        store.close()
