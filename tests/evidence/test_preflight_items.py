"""Preflight's judges with literal values: fresh, passed evidence naming both environments; the newest record
decides; a rollback must follow the latest deploy; a backup must verify and be recent; people confirm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from quixotic.errors import UsageError
from quixotic.evidence.preflight import (
    Preflight,
    age_hours,
    backup_item,
    human_items,
    migrations_item,
    parse_confirm,
    recent_item,
    rollback_item,
)
from quixotic.plan.release import Release

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rec:
    kind: str
    started_at: str
    verdict: str
    data: dict[str, Any] = field(default_factory=lambda: {"old": "prod", "new": "dev"})


def test_recent_evidence_must_be_fresh_passed_and_about_both() -> None:
    def status(*records: Rec) -> str:
        return recent_item("parity", records, "parity", ("prod", "dev"), NOW, 24, "quixotic parity prod dev").status

    assert status(Rec("parity", "2025-06-01T10:00:00+00:00", "PASS")) == "GO"
    assert status(Rec("parity", "2025-05-30T10:00:00+00:00", "PASS")) == "NO-GO"  # too old
    assert status(Rec("parity", "2025-06-01T10:00:00+00:00", "PASS", {"old": "prod", "new": "qa"})) == "NO-GO"
    assert status(Rec("bench", "2025-06-01T10:00:00+00:00", "PASS")) == "NO-GO"  # another kind
    newest_failed = (Rec("parity", "2025-06-01T11:00:00+00:00", "FAIL"), Rec("parity", "2025-06-01T10:00:00+00:00",
                                                                             "PASS"))  # fmt: skip
    assert status(*newest_failed) == "NO-GO"
    missing = recent_item("bench", [], "bench", ("prod", "dev"), NOW, 24, "quixotic bench prod --compare dev")
    assert missing.summary == "no bench run of prod and dev within 24 h: `quixotic bench prod --compare dev`"


def release(kind: str, at: str, status: str = "succeeded") -> Release:
    return Release(f"r-{kind}-{at}", "dev", kind, status, at)


def test_a_rollback_must_follow_the_latest_deploy() -> None:
    deployed, rolled = release("deploy", "2025-06-01T09:00:00"), release("rollback", "2025-06-01T10:00:00")
    assert rollback_item("r", "dev", [rolled, deployed]).status == "GO"
    redeployed = release("deploy", "2025-06-01T11:00:00")
    assert rollback_item("r", "dev", [redeployed, rolled, deployed]).status == "NO-GO"
    assert rollback_item("r", "dev", [release("rollback", "2025-06-01T10:00:00", "failed"), deployed]).status == "NO-GO"
    assert rollback_item("r", "dev", []).summary == "dev has no successful deploy to roll back from"


def test_a_backup_must_exist_verify_and_be_recent() -> None:
    assert backup_item("b", "prod", None, NOW, 24).status == "NO-GO"
    assert backup_item("b", "prod", ("p.zip", "2025-06-01T06:00:00+00:00", ""), NOW, 24).status == "GO"
    assert backup_item("b", "prod", ("p.zip", "2025-06-01T06:00:00+00:00", "rows: checksum"), NOW, 24).evidence == (
        "rows: checksum",
    )
    assert "30.0 h old" in backup_item("b", "prod", ("p.zip", "2025-05-31T06:00:00+00:00", ""), NOW, 24).summary


def test_people_confirm_the_human_items_and_nothing_else() -> None:
    assert parse_confirm("trained, communicated") == ["trained", "communicated"] and parse_confirm(None) == []
    with pytest.raises(UsageError, match="the human items are trained, communicated"):
        parse_confirm("trained,tested")
    items = human_items({"trained": {"by": "ana@ops", "at": "2025-06-01T12:00:00+00:00"}})
    assert [(i.name, i.status) for i in items] == [("trained", "GO"), ("communicated", "NO-GO")]
    gate = Preflight("prod", "dev", 24, [*items, migrations_item("m", ["0002_x"], [])])
    assert gate.verdict == "NO-GO" and gate.missing == ["communicated"] and gate.exit_code == 1
    assert migrations_item("m", [], ["0001: failed"]).status == "NO-GO"


def test_age_hours_reads_every_timestamp_form_and_says_none_for_nonsense() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert age_hours("2026-12-03T10:00:00Z", now) == 2.0
    assert age_hours("2026-12-03T10:00:00.000+00:00", now) == 2.0
    assert age_hours("2026-12-03T10:00:00", now) == 2.0  # no offset: UTC (it raised TypeError before)
    assert age_hours("yesterday", now) is None
