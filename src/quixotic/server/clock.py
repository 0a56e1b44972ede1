"""Appwrite's datetime format: ISO 8601, milliseconds, explicit ``+00:00`` offset.

Stored timestamps use the same normalised text so that SQLite compares them correctly as strings.
"""

from __future__ import annotations

from datetime import UTC, datetime

from quixotic.timestamps import parse_iso


def to_iso(moment: datetime) -> str:
    """Render ``moment`` as ``2020-10-15T06:38:00.000+00:00`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def now_iso() -> str:
    """The current time in Appwrite's format."""
    return to_iso(datetime.now(UTC))


def normalize_iso(text: str) -> str:
    """Parse and re-render, so that equal instants have equal text."""
    return to_iso(parse_iso(text))
