"""Which feature freeze holds for a target: the one started on it, else the one its environment file declares.

``quixotic freeze start`` records a freeze in the target's system database (``SystemDatabase.set_freeze``), so
it holds from that moment for every laptop and CI run that deploys or migrates the environment, without a
commit. An environment file may still declare one (``"freeze"`` in ``environments/<env>.json``: a freeze
planned ahead and reviewed like code); the freeze in force is the target's if it is in force, else the file's.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from quixotic.config.fields import Loc
from quixotic.config.freeze_file import FeatureFreeze, parse_freeze
from quixotic.config.problems import Problems
from quixotic.errors import UsageError
from quixotic.plan.freeze import active

if TYPE_CHECKING:
    from quixotic.target import Target


def recorded(target: Target) -> FeatureFreeze | None:
    """The freeze recorded in the target (None: none). A record that does not read is an error, not "no freeze"."""
    record = target.system.freeze_record(target.env.name)
    if record is None:
        return None
    problems = Problems()
    freeze = parse_freeze(record, Loc("the target's freezes table", target.env.name), problems, record=True)
    if freeze is None or problems:
        raise UsageError(
            f"the feature freeze recorded for {target.env.name!r} in the target cannot be read "
            f"({'; '.join(problems.items) or 'empty'}): end it with `quixotic freeze end {target.env.name}` and "
            "start it again"
        )
    return freeze


def in_force(target: Target, today: dt.date) -> FeatureFreeze | None:
    """The freeze that holds for ``target`` on ``today``: the target's, else the environment file's, else None."""
    return active(recorded(target), today) or active(target.env.freeze, today)


def start(target: Target, reason: str, *, start: str | None, until: str | None, by: str, at: str) -> FeatureFreeze:
    """Record a freeze of the target's environment in the target (replacing one recorded before)."""
    declared: dict[str, object] = {"reason": reason.strip(), "by": by, "at": at}
    declared.update({"from": start} if start else {})
    declared.update({"until": until} if until else {})
    problems = Problems()
    freeze = parse_freeze(declared, Loc("freeze", ""), problems, record=True)
    if freeze is None or problems:
        fixes = "; ".join(problems.items).replace("freeze: ", "--").replace("freeze.", "--")
        raise UsageError(f"cannot start the freeze: {fixes or 'give --reason'}")
    target.system.set_freeze(target.env.name, freeze.to_json())
    return freeze


def end(target: Target) -> FeatureFreeze | None:
    """Remove the freeze recorded in the target; the one that was there (None: none was)."""
    try:
        before = recorded(target)
    except UsageError:
        before = None  # unreadable: ending it is the way out
    target.system.clear_freeze(target.env.name)
    return before
