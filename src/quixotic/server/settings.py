"""The server's settings, read once from the environment when the app is made, then passed down.

Handlers and the engine read these fields, never ``os.environ``: a test or an embedding process can
hand ``create_app`` any mapping, and what a server runs with is visible in one value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from quixotic.server.version import APPWRITE_VERSION, SUPPORTED_VERSIONS

DEFAULT_STORAGE_LIMIT: Final = 30_000_000  # Appwrite's _APP_STORAGE_LIMIT default
DEFAULT_BUILD_TIMEOUT: Final = 900.0
DEFAULT_FUNCTION_CONCURRENCY: Final = 2
SANDBOX_MODES: Final = ("on", "required", "off")
DEFAULT_EXECUTION_RETENTION: Final = 1_209_600  # Appwrite's _APP_MAINTENANCE_RETENTION_EXECUTION: 14 days
DEFAULT_MAINTENANCE_INTERVAL: Final = 86_400  # Appwrite's _APP_MAINTENANCE_INTERVAL: a day


@dataclass(frozen=True)
class ServerSettings:
    storage_limit: int = DEFAULT_STORAGE_LIMIT  # largest file a bucket may allow (_APP_STORAGE_LIMIT)
    schedule_speedup: float = 1.0  # the scheduler's clock runs this much faster (QUIXOTIC_SCHEDULE_SPEEDUP)
    function_concurrency: int = DEFAULT_FUNCTION_CONCURRENCY  # warm workers per deployment
    build_timeout: float = DEFAULT_BUILD_TIMEOUT  # seconds a deployment build may take
    appwrite_version: str = APPWRITE_VERSION  # the Appwrite version emulated (QUIXOTIC_APPWRITE_VERSION)
    # How function code is confined (QUIXOTIC_FUNCTION_SANDBOX): "on" (the walls this machine allows),
    # "required" (refuse to run code without a file-system wall) or "off"; see compute.runtime.isolation.
    function_sandbox: str = "on"
    # Folders outside the deployment that function code may read, e.g. a model (QUIXOTIC_FUNCTION_READ_PATHS,
    # separated by os.pathsep).
    function_read_paths: tuple[str, ...] = ()
    record_ops: str = ""  # a file to note each operation ID requested in (QUIXOTIC_RECORD_OPS; tools/coverage.py)
    # Seconds an execution (with its logs) is kept before maintenance deletes it (_APP_MAINTENANCE_RETENTION_EXECUTION).
    execution_retention: int = DEFAULT_EXECUTION_RETENTION
    maintenance_interval: int = DEFAULT_MAINTENANCE_INTERVAL  # seconds between two runs (_APP_MAINTENANCE_INTERVAL)
    # Whether database writes run in a process of their own (QUIXOTIC_WRITER_PROCESS; see ``writer_process``).
    writer_process: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        """Settings from ``env`` (``os.environ`` when None); unparsable values fall back as they always did."""
        source = os.environ if env is None else env
        try:
            storage_limit = int(source.get("_APP_STORAGE_LIMIT", DEFAULT_STORAGE_LIMIT))
        except ValueError:
            storage_limit = DEFAULT_STORAGE_LIMIT
        version = source.get("QUIXOTIC_APPWRITE_VERSION", "") or APPWRITE_VERSION
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"QUIXOTIC_APPWRITE_VERSION={version!r}: the server emulates one of {', '.join(SUPPORTED_VERSIONS)}"
            )
        sandbox = (source.get("QUIXOTIC_FUNCTION_SANDBOX", "") or "on").strip().lower()
        if sandbox not in SANDBOX_MODES:
            raise ValueError(f"QUIXOTIC_FUNCTION_SANDBOX={sandbox!r}: use one of {', '.join(SANDBOX_MODES)}")
        retention = _seconds(source, "_APP_MAINTENANCE_RETENTION_EXECUTION", DEFAULT_EXECUTION_RETENTION,
                             "an execution and its logs are kept")  # fmt: skip
        interval = _seconds(source, "_APP_MAINTENANCE_INTERVAL", DEFAULT_MAINTENANCE_INTERVAL,
                            "between two maintenance runs")  # fmt: skip
        writer_process = _switch(source, "QUIXOTIC_WRITER_PROCESS", "database writes run in a process of their own",
                                 default=True)  # fmt: skip
        read_paths = tuple(p for p in source.get("QUIXOTIC_FUNCTION_READ_PATHS", "").split(os.pathsep) if p)
        return cls(
            storage_limit=storage_limit,
            schedule_speedup=float(source.get("QUIXOTIC_SCHEDULE_SPEEDUP", "1") or 1),
            function_concurrency=int(source.get("QUIXOTIC_FUNCTION_CONCURRENCY", str(DEFAULT_FUNCTION_CONCURRENCY))),
            build_timeout=float(source.get("QUIXOTIC_BUILD_TIMEOUT", DEFAULT_BUILD_TIMEOUT)),
            appwrite_version=version,
            function_sandbox=sandbox,
            function_read_paths=read_paths,
            record_ops=source.get("QUIXOTIC_RECORD_OPS", ""),
            execution_retention=retention,
            maintenance_interval=interval,
            writer_process=writer_process,
        )


def _seconds(source: Mapping[str, str], name: str, default: int, what: str) -> int:
    """A whole number of seconds of at least 1 from ``source[name]`` (unset or empty: ``default``)."""
    text = source.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{name}={text!r}: give the seconds {what} as a whole number of at least 1 "
            f"(default {default}, as on Appwrite)"
        )
    return int(text)


_ON, _OFF = ("on", "1", "true", "yes"), ("off", "0", "false", "no")


def _switch(source: Mapping[str, str], name: str, what: str, default: bool = False) -> bool:
    """A yes-or-no setting from ``source[name]`` (unset or empty: ``default``)."""
    text = source.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _ON + _OFF:
        raise ValueError(f"{name}={text!r}: say whether {what} with on or off (default {'on' if default else 'off'})")
    return text in _ON
