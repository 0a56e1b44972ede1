"""A feature freeze: its reason and days, as ``quixotic freeze start`` records it in the target (the system
database's ``freezes`` table: every laptop and CI run sees it at once) or as an environment file declares it
(``"freeze": {"reason": ..., "from": ..., "until": ...}`` in ``environments/<env>.json``, reviewed like code).
Both are read the same way here; which holds is :mod:`quixotic.target.freeze`'s, what a freeze refuses
:mod:`quixotic.plan.freeze`'s.
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
    by: str = ""  # who started it (a freeze recorded in the target)
    at: str = ""  # when it was started (ISO 8601)

    def in_force(self, today: dt.date) -> bool:
        return (self.start is None or self.start <= today) and (self.until is None or today <= self.until)

    def describe(self) -> str:
        span = f"from {self.start or 'now'} until {self.until or 'it is lifted'}"
        return f"feature freeze ({self.reason}) {span}" + (f", started by {self.by}" if self.by else "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reason": self.reason,
            "from": None if self.start is None else self.start.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }
        if self.by or self.at:
            out.update(by=self.by, at=self.at)
        return out


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
# A record in the target also says who started it, and when.
RECORD_FIELDS: Final[Mapping[str, Field]] = {
    **FREEZE_FIELDS,
    "by": Field("by", text(), ""),
    "at": Field("at", text(), ""),
}


def parse_freeze(data: object, loc: Loc, problems: Problems, *, record: bool = False) -> FeatureFreeze | None:
    """The freeze ``data`` declares (None: no freeze, or a wrong one, which is reported); ``record``: a freeze
    recorded in the target, which may also say who started it and when."""
    if data is None:
        return None
    values = read_fields(data, loc, RECORD_FIELDS if record else FREEZE_FIELDS, problems)
    if values is None:
        return None
    freeze = FeatureFreeze(
        str(values["reason"]), values["start"], values["until"],  # type: ignore[arg-type]
        str(values.get("by") or ""), str(values.get("at") or ""),
    )  # fmt: skip
    if freeze.start is not None and freeze.until is not None and freeze.until < freeze.start:
        problems.add(str(loc.at("until")), f"{freeze.until} is before 'from' ({freeze.start}): swap them")
        return None
    return freeze
