"""Cron expressions of function schedules: literal cases of parsing and next-firing arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from quixotic.server.compute.schedule import due_between, next_after, parse_cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("expr", "moment", "expected"),
    [
        ("* * * * *", "2024-05-01T12:00:30", "2024-05-01T12:01:00"),
        ("* * * * *", "2024-05-01T12:00:00", "2024-05-01T12:01:00"),  # strictly after
        ("0 * * * *", "2024-05-01T12:00:00", "2024-05-01T13:00:00"),
        ("*/15 9-17 * * mon-fri", "2024-01-05T17:50:00", "2024-01-08T09:00:00"),  # Friday evening -> Monday
        ("*/15 9-17 * * MON-FRI", "2024-01-08T09:00:00", "2024-01-08T09:15:00"),
        ("0 0 1 jan *", "2024-01-01T00:00:00", "2025-01-01T00:00:00"),
        ("0 0 1 JAN-MAR *", "2024-01-01T00:00:00", "2024-02-01T00:00:00"),
        ("30 4 1,15 * 5", "2024-03-02T00:00:00", "2024-03-08T04:30:00"),  # both day fields: either matches
        ("30 4 1,15 * 5", "2024-03-09T00:00:00", "2024-03-15T04:30:00"),
        ("0 0 */2 * mon", "2024-01-01T00:00:00", "2024-01-15T00:00:00"),  # '*...' day field: both must match
        ("0 12 * * 7", "2024-01-01T00:00:00", "2024-01-07T12:00:00"),  # 7 is Sunday
        ("0 12 * * sun", "2024-01-01T00:00:00", "2024-01-07T12:00:00"),
        ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 0 31 * *", "2024-01-31T00:00:00", "2024-03-31T00:00:00"),
        ("59 23 31 12 *", "2024-12-31T23:59:00", "2025-12-31T23:59:00"),
        ("5-20/5 * * * *", "2024-01-01T10:20:00", "2024-01-01T11:05:00"),
        ("10/20 * * * *", "2024-01-01T10:30:00", "2024-01-01T10:50:00"),
        ("0 0 ? * 1", "2024-01-02T00:00:00", "2024-01-08T00:00:00"),
        ("@hourly", "2024-01-01T10:30:00", "2024-01-01T11:00:00"),
        ("@daily", "2024-01-01T10:30:00", "2024-01-02T00:00:00"),
        ("@weekly", "2024-01-01T10:30:00", "2024-01-07T00:00:00"),
        ("@monthly", "2024-01-15T10:30:00", "2024-02-01T00:00:00"),
        ("@yearly", "2024-01-15T10:30:00", "2025-01-01T00:00:00"),
    ],
)
def test_next_after(expr: str, moment: str, expected: str) -> None:
    assert next_after(parse_cron(expr), at(moment)) == at(expected)


def test_aware_moments_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    result = next_after(parse_cron("0 * * * *"), datetime(2024, 1, 1, 10, 30, tzinfo=plus_two))
    assert result == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_due_between_is_half_open_and_capped() -> None:
    spec = parse_cron("*/10 * * * *")
    due = due_between(spec, at("2024-01-01T12:00:00"), at("2024-01-01T13:00:00"))
    assert due == [at(f"2024-01-01T12:{m}:00") for m in ("10", "20", "30", "40", "50")] + [at("2024-01-01T13:00:00")]
    assert due_between(spec, at("2024-01-01T12:00:00"), at("2024-01-01T12:09:59")) == []
    many = due_between(parse_cron("* * * * *"), at("2024-01-01T00:00:00"), at("2024-01-02T00:00:00"))
    assert len(many) == 100
    assert many[0] == at("2024-01-01T00:01:00")
    assert many[-1] == at("2024-01-01T01:40:00")


def test_due_between_with_aware_bounds() -> None:
    due = due_between(
        parse_cron("0 0 * * *"),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    )
    assert due == [datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)]


def test_parsed_fields() -> None:
    spec = parse_cron("1,2,30-32 */6 1 1-12/3 0,7")
    assert spec.minutes == (1, 2, 30, 31, 32)
    assert spec.hours == (0, 6, 12, 18)
    assert spec.months == frozenset({1, 4, 7, 10})
    assert spec.weekdays == frozenset({0})


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty"),
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("60 * * * *", "minute value 60 is out of range 0-59"),
        ("* 24 * * *", "hour value 24"),
        ("* * 0 * *", "day of month value 0"),
        ("* * * 13 *", "month value 13"),
        ("* * * * 8", "day of week value 8"),
        ("*/0 * * * *", "invalid step"),
        ("5-1 * * * *", "runs backwards"),
        ("a * * * *", "invalid minute value 'a'"),
        ("1,,2 * * * *", "empty item"),
        ("? * * * *", "only allowed in the day fields"),
        ("* * * foo *", "invalid month value 'foo'"),
        ("0 0 30 2 *", "never matches"),
    ],
)
def test_invalid_expressions(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(expr)
