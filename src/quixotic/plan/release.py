"""A release as the system database records it: a plain value, so rollback plans from it without any I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Release:
    """One deploy, vars sync, rollback or restore as recorded in ``quixotic.releases``.

    ``record`` is what the operation wrote (who, git commit, plan digest, before/after snapshots, error);
    it grows while the release runs and is saved when it finishes.
    """

    id: str
    environment: str
    kind: str
    status: str
    started_at: str
    record: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Flat, as ``quixotic releases --json`` prints it."""
        top = {"id": self.id, "environment": self.environment, "kind": self.kind, "status": self.status,
               "startedAt": self.started_at}  # fmt: skip
        return {**self.record, **top}
