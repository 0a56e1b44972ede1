"""Recording a go/no-go run's verdict in the tool state of every environment it measured, so ``preflight``
finds the evidence in whichever one it gates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quixotic.target import Target


def record(targets: Sequence[Target], kind: str, environment: str, verdict: str, data: dict[str, Any]) -> None:
    """Keep ``kind``'s verdict about ``environment`` in each distinct target's system database."""
    seen: set[tuple[str, str]] = set()
    for target in targets:
        where = (target.backend.endpoint, target.backend.project_id)
        if where in seen:
            continue
        seen.add(where)
        target.system.record_evidence(kind, environment, verdict, data)
