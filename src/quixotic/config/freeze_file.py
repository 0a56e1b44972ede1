"""The feature freeze an environment file declares (``"freeze": {"reason": ..., "from": ..., "until": ...}``).

Declared in ``environments/<env>.json``, so it is reviewed like any change and every laptop and CI run
sees the same freeze. What a freeze refuses is decided in :mod:`quixotic.plan.freeze`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from quixotic.config.fields import Field, Loc, optional, read_fields, text
from quixotic.config.problems import Problems


@dataclass(frozen=True)
class FeatureFreeze:
    """A freeze: in force from ``start`` to ``until`` (both days included; None: open-ended)."""

    reason: str
    start: dt.date | None = None
    until: dt.date | None = None

    def in_force(self, today: dt.date) -> bool:
        return (self.start is None or self.start <= today) and (self.until is None or today <= self.until)

    def describe(self) -> str:
        span = f"from {self.start or 'now'} until {self.until or 'it is lifted'}"
        return f"feature freeze ({self.reason}) {span}"

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "from": None if self.start is None else self.start.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }


def day(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"expected a date as text, like 2026-12-24, got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-12-24") from None


FREEZE_FIELDS: Final[Mapping[str, Field]] = {
    "reason": Field("reason", text(allow_empty=False)),
    "from": Field("start", optional(day), None),
    "until": Field("until", optional(day), None),
}


def parse_freeze(data: object, loc: Loc, problems: Problems) -> FeatureFreeze | None:
    """The freeze ``data`` declares (None: no freeze, or a wrong one, which is reported)."""
    if data is None:
        return None
    values = read_fields(data, loc, FREEZE_FIELDS, problems)
    if values is None:
        return None
    freeze = FeatureFreeze(str(values["reason"]), values["start"], values["until"])  # type: ignore[arg-type]
    if freeze.start is not None and freeze.until is not None and freeze.until < freeze.start:
        problems.add(str(loc.at("until")), f"{freeze.until} is before 'from' ({freeze.start}): swap them")
        return None
    return freeze
