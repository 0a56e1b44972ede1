"""Migration attempts as rows of the tool's system database (table ``migrations`` of ``quixotic``).

One row per attempt, never rewritten into another attempt: the history shows every try, failure and
rollback. The latest attempt of a migration decides its state (see ``graph.statuses``).
"""

from __future__ import annotations

from typing import Any

from quixotic.migrations.graph import Attempt
from quixotic.target.system import SystemDatabase

COLUMNS = ("attempt", "migrationId", "direction", "status", "startedAt")


class History:
    def __init__(self, system: SystemDatabase) -> None:
        self.system = system

    def records(self) -> list[dict[str, Any]]:
        """Every attempt, oldest first, as a flat dict (queryable columns and JSON data together)."""
        return self.system.migration_rows()

    def attempts(self) -> list[Attempt]:
        return [Attempt.from_record(r) for r in self.records()]

    def start(self, migration_id: str, direction: str, status: str, record: dict[str, Any]) -> str:
        return self.system.start_migration(migration_id, direction, status, _data(record))

    def update(self, attempt: str, status: str, record: dict[str, Any]) -> None:
        self.system.update_migration(attempt, status, _data(record))

    def mark_interrupted(self) -> list[str]:
        """Attempts still marked running are dead once we hold the lock: say so (returns their ids)."""
        marked = []
        for record in self.records():
            if record.get("status") == "running":
                record["error"] = "interrupted: the runner stopped before finishing (killed, or lost its connection)"
                self.update(str(record["attempt"]), "interrupted", record)
                marked.append(str(record["migrationId"]))
        return marked


def _data(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in COLUMNS}
