"""The feature freeze as a rule on plans: what a frozen environment refuses, and what goes through.

Allowed while frozen (hotfixes, bug fixes): new code for existing functions, their settings, new values
of existing variables, bucket settings. Refused: a new (or removed) function, any schema change
(databases, tables, columns, indexes, a bucket created, removed or recreated), a new (or removed)
variable. :func:`frozen_changes` names each refused change; :func:`check_freeze` refuses the plan unless
the freeze is overridden with a reason, which the release records.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from quixotic.config.freeze_file import FeatureFreeze
from quixotic.errors import PlanError, UsageError
from quixotic.plan.changes import Change
from quixotic.plan.plan import Plan

SCHEMA: Final = frozenset({"database", "table", "column", "index"})
# What a migration's dry run says it would do to the schema (quixotic.migrations.context words its actions so).
SCHEMA_ACTION: Final = re.compile(r"^would (create|update|delete) (database|table|column|index) ")


@dataclass(frozen=True)
class Refused:
    """A change the freeze prohibits, and which rule it breaks."""

    change: Change
    rule: str

    def __str__(self) -> str:
        return f"{self.change.action} {self.change.address}: {self.rule}"


def rule_broken(change: Change) -> str | None:
    """Why a freeze refuses ``change``, or None when it is allowed."""
    if change.kind in SCHEMA:
        return "schema changes are prohibited during the freeze"
    if change.kind == "bucket" and change.action != "update":
        return "schema changes are prohibited during the freeze (a bucket created, removed or recreated)"
    if change.kind == "function" and change.action != "update":
        return "new (or removed) functions are prohibited during the freeze; only their code and settings may change"
    if change.kind == "variable" and change.action != "update":
        return "new (or removed) variables are prohibited during the freeze; only existing values may change"
    return None


def frozen_changes(plan: Plan) -> tuple[Refused, ...]:
    """Every change of ``plan`` that a freeze refuses, in plan order."""
    found = ((change, rule_broken(change)) for change in plan.changes)
    return tuple(Refused(change, rule) for change, rule in found if rule is not None)


def active(freeze: FeatureFreeze | None, today: dt.date) -> FeatureFreeze | None:
    return freeze if freeze is not None and freeze.in_force(today) else None


def check_freeze(plan: Plan, freeze: FeatureFreeze | None, today: dt.date, *, override: str | None = None) -> None:
    """Refuse ``plan`` when a freeze in force prohibits any of its changes, naming each one; ``override``
    (a reason) lets it through, to be recorded on the release."""
    if active(freeze, today) is None or override:
        return
    assert freeze is not None
    refused = frozen_changes(plan)
    if not refused:
        return
    lines = "\n".join(f"  - {r}" for r in refused)
    raise PlanError(
        f"environment {plan.environment!r} is under a {freeze.describe()}; the plan has {len(refused)} "
        f"prohibited change{'s' if len(refused) != 1 else ''}:\n{lines}\n"
        "Allowed now: code of existing functions, their settings and existing variables' values (deploy them as "
        "a hotfix with --hotfix REASON). Wait for the freeze to end, or pass --override-freeze REASON "
        "(recorded on the release) if this change cannot wait."
    )


def freeze_record(
    freeze: FeatureFreeze | None, today: dt.date, plan: Plan, *, override: str | None, hotfix: str | None
) -> dict[str, Any]:
    """What a release records about the freeze and the hotfix flag (empty when neither applies)."""
    record: dict[str, Any] = {}
    if active(freeze, today) is not None:
        assert freeze is not None
        record["freeze"] = freeze.to_json()
        if override and frozen_changes(plan):
            record["freezeOverride"] = {"reason": override, "changes": [str(r) for r in frozen_changes(plan)]}
    if hotfix is not None:
        record["hotfix"] = {"reason": hotfix}
    return record


def given_reason(text: str | None, option: str) -> str | None:
    """``text`` stripped; an option given without a reason (empty) is refused."""
    if text is None:
        return None
    if not text.strip():
        raise UsageError(
            f'{option} needs a reason, e.g. {option} "fix the crash on upload" (it is recorded on the release)'
        )
    return text.strip()


def check_migrations_freeze(
    env: str, freeze: FeatureFreeze | None, today: dt.date, actions: Sequence[tuple[str, str]], *, override: str | None
) -> None:
    """Refuse migrations whose dry run (``(migration, action)`` pairs) changes the schema while a freeze is in
    force; data-only migrations go through. ``override`` (a reason) lets them through, to be recorded."""
    if active(freeze, today) is None or override:
        return
    assert freeze is not None
    refused = [f"{name}: {action.removeprefix('would ')}" for name, action in actions if SCHEMA_ACTION.match(action)]
    if refused:
        lines = "\n".join(f"  - {r}" for r in refused)
        raise PlanError(
            f"environment {env!r} is under a {freeze.describe()}; these migrations change the schema:\n{lines}\n"
            "Schema changes are prohibited during the freeze: wait for it to end, or pass --override-freeze REASON "
            "(recorded in the migration history) if this cannot wait."
        )
