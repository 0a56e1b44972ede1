"""Cron expressions and intervals for function schedules: parsing and next-firing arithmetic, pure (no clock,
no I/O).

Five fields, ``minute hour day-of-month month day-of-week``, each a list of ``*``, ``n``, ``a-b``, ``*/n``,
``a/n`` or ``a-b/n``; months and weekdays also by name (``jan``, ``mon``); weekday 0 and 7 are Sunday;
``?`` means ``*`` in the two day fields; ``@hourly``, ``@daily``/``@midnight``, ``@weekly``, ``@monthly``,
``@yearly``/``@annually`` are shorthands. As in Vixie cron (and Appwrite's cron library), when both day
fields are restricted a day matches if EITHER matches; a field starting with ``*`` counts as unrestricted.
Times are UTC at minute precision; the caller injects "now", so schedules are testable without waiting.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_DUE = 100
_SEARCH_YEARS = 9  # a Feb 29 schedule may skip 8 years (2096 -> 2104)

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
_MAX_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


@dataclass(frozen=True)
class CronSpec:
    expr: str
    minutes: tuple[int, ...]  # sorted
    hours: tuple[int, ...]
    days: frozenset[int]  # 1-31
    months: frozenset[int]  # 1-12
    weekdays: frozenset[int]  # 0-6, Sunday = 0
    any_day: bool  # the day-of-month field starts with '*' (or '?')
    any_weekday: bool

    def day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def matches(self, moment: datetime) -> bool:
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and self.day_matches(moment)
        )


def _value(text: str, field: str, lo: int, hi: int, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"invalid {field} value {text!r}")
    number = int(text)
    if not lo <= number <= hi:
        raise ValueError(f"{field} value {number} is out of range {lo}-{hi}")
    return number


def _field(text: str, field: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"empty item in {field} field {text!r}")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"invalid step {step_text!r} in {field} field")
            step = int(step_text)
        if base in ("*", "?"):
            if base == "?" and field not in ("day of month", "day of week"):
                raise ValueError(f"'?' is only allowed in the day fields, not in {field}")
            start, end = lo, hi
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, field, lo, hi, names), _value(last, field, lo, hi, names)
            if start > end:
                raise ValueError(f"range {base!r} in {field} field runs backwards")
        else:
            start = _value(base, field, lo, hi, names)
            end = hi if slash else start
        values.update(range(start, end + 1, step))
    return values


def parse_cron(expr: str) -> CronSpec:
    """Parse a 5-field cron expression; ``ValueError`` says what is wrong."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("cron expression is empty")
    text = _MACROS.get(expr.strip().lower(), expr.strip())
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(f"cron expression must have 5 fields (minute hour day month weekday), got {len(parts)}")
    sets = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = {0 if d == 7 else d for d in sets[4]}
    any_day, any_weekday = parts[2].startswith(("*", "?")), parts[4].startswith(("*", "?"))
    spec = CronSpec(
        expr=expr,
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=frozenset(weekdays),
        any_day=any_day,
        any_weekday=any_weekday,
    )
    either = not any_day and not any_weekday  # the weekday alone can then make a day match
    if not either and not any(d <= _MAX_DAYS[m] for m in spec.months for d in spec.days):
        raise ValueError(f"cron expression {expr!r} never matches: no such day in the given months")
    return spec


@dataclass(frozen=True)
class Interval:
    """2.5.0's function ``interval``: a run every ``minutes`` minutes, counted from the last one (Appwrite picks
    the moment within each interval; here it is the interval's end)."""

    minutes: int

    def __post_init__(self) -> None:
        if self.minutes < 1:
            raise ValueError(f"an interval is a whole number of minutes, at least 1, not {self.minutes!r}")


Rule = CronSpec | Interval


def rule_of(expr: object, interval: object) -> Rule | None:
    """A function's rule: its cron ``schedule`` when it has one, else its ``interval`` when above 0, else None
    (``ValueError`` for a schedule that does not parse)."""
    if isinstance(expr, str) and expr.strip():
        return parse_cron(expr)
    if isinstance(interval, int | float) and not isinstance(interval, bool) and interval >= 1:
        return Interval(int(interval))
    return None


def next_after(spec: Rule, moment: datetime) -> datetime:
    """The next firing strictly after ``moment`` (UTC; a naive moment is taken as UTC and a naive one returned)."""
    if isinstance(spec, Interval):
        return moment + timedelta(minutes=spec.minutes)
    aware = moment.tzinfo is not None
    t = moment.astimezone(UTC).replace(tzinfo=None) if aware else moment
    t = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = t.replace(year=t.year + _SEARCH_YEARS, day=min(t.day, 28))
    while t < limit:
        if t.month not in spec.months:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            continue
        if not spec.day_matches(t):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        i = bisect_left(spec.hours, t.hour)
        if i == len(spec.hours):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        if spec.hours[i] != t.hour:
            t = t.replace(hour=spec.hours[i], minute=0)
        j = bisect_left(spec.minutes, t.minute)
        if j == len(spec.minutes):
            t = t.replace(minute=0) + timedelta(hours=1)
            continue
        t = t.replace(minute=spec.minutes[j])
        return t.replace(tzinfo=UTC) if aware else t
    raise ValueError(f"cron expression {spec.expr!r} does not fire within {_SEARCH_YEARS} years")


def due_between(spec: Rule, after: datetime, until: datetime) -> list[datetime]:
    """Firings in (after, until], the earliest first, at most 100 (call again from the last one for more; an
    interval's are the latest 100, so after a long stop it fires once and is caught up)."""
    if isinstance(spec, Interval):
        step = timedelta(minutes=spec.minutes)
        count = int((_utc(until) - _utc(after)) / step)
        return [after + i * step for i in range(max(1, count - MAX_DUE + 1), count + 1)]
    due: list[datetime] = []
    t = after
    while len(due) < MAX_DUE:
        t = next_after(spec, t)
        if _utc(t) > _utc(until):
            break
        due.append(t)
    return due


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
