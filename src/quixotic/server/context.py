"""What a handler gets besides its parameters: the store, the caller, the request (its response format parsed
once, here), the worker and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from quixotic.server.auth import Caller
from quixotic.server.formats import Version
from quixotic.server.settings import ServerSettings
from quixotic.server.spec import Operation
from quixotic.server.store import Store
from quixotic.server.worker import Worker

if TYPE_CHECKING:
    from quixotic.server.compute.engine import Compute


@dataclass
class Upload:
    """A file part of a multipart request, already spooled to disk or memory."""

    filename: str
    content_type: str
    file: IO[bytes]


@dataclass
class Ctx:
    store: Store
    worker: Worker
    caller: Caller
    op: Operation
    headers: dict[str, str]
    host: str
    fmt: Version  # the response format the answer is lowered to (the server's own when none or a newer one is named)
    declared: Version | None = None  # the format ``X-Appwrite-Response-Format`` names, None when none parses
    uploads: dict[str, Upload] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    compute: Compute | None = None
    settings: ServerSettings = field(default_factory=ServerSettings)

    @property
    def project(self) -> str:
        return self.caller.project

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Record an Appwrite event (e.g. ``databases.db.tables.t.rows.r.create``) for after the commit."""
        self.events.append((event, payload))
