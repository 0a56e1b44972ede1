"""Health: the server, its database and its local storage, and the clock."""

from __future__ import annotations

import time
from typing import Any

from quixotic.server.context import Ctx
from quixotic.server.registry import handles


def _status(name: str, started: float, ok: bool) -> dict[str, Any]:
    return {"name": name, "ping": round((time.perf_counter() - started) * 1000), "status": "pass" if ok else "fail"}


@handles("healthGet")
def get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return _status("http", time.perf_counter(), True)


@handles("healthGetVersion")
def version(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return {"version": ctx.settings.appwrite_version}


@handles("healthGetDB")
def db(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    with ctx.store.read() as conn:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    return {"total": 1, "statuses": [_status("database", started, ok)]}


@handles("healthGetStorageLocal", "healthGetStorage")
def storage_local(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    probe = ctx.store.files_dir / ".health"
    try:
        probe.write_bytes(b"ok")
        ok = probe.read_bytes() == b"ok"
        probe.unlink()
    except OSError:
        ok = False
    return _status("storage", started, ok)


@handles("healthGetTime")
def clock(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {"remoteTime": now, "localTime": now, "diff": 0}
