"""The order changes are applied in: every delete first, children before parents; then creates, updates and
replaces, parents before children, so each change finds what it needs and leaves nothing dangling.

1. deletes: variable, deployment, index, column, table, database, bucket, function
   (an index goes before the column it covers, a function's variables before the function);
2. the rest: database, table, column, index, bucket, function, variable, deployment
   (a replace sits where its create would; a deployment is built after its function's variables are set).

Within a stage changes sort by address (then action), so the same changes always give the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from quixotic.plan.changes import ACTIONS, Change, Kind

DELETE_ORDER: Final[tuple[Kind, ...]] = (
    "variable",
    "deployment",
    "index",
    "column",
    "table",
    "database",
    "bucket",
    "function",
)
APPLY_ORDER: Final[tuple[Kind, ...]] = (
    "database",
    "table",
    "column",
    "index",
    "bucket",
    "function",
    "variable",
    "deployment",
)


def stage(change: Change) -> int:
    """The change's place among the stages above (0 first)."""
    if change.action == "delete":
        return DELETE_ORDER.index(change.kind)
    return len(DELETE_ORDER) + APPLY_ORDER.index(change.kind)


def order_changes(changes: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(sorted(changes, key=lambda c: (stage(c), c.address, ACTIONS.index(c.action))))
