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
        )
