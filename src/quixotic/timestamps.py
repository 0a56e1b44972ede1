"""Reading Appwrite's timestamps (ISO 8601; ``Z`` or an offset; a date or datetime without one is UTC).

A leaf module, so the server and the operations side read them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime as an aware datetime; ``ValueError`` on anything else."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a datetime")
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
