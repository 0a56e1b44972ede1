"""The feature freeze as a pure rule, on literal plans and literal environment files: each prohibited kind
of change is named, allowed ones pass, the dates bound it, an override lets it through and is recorded.
`quixotic freeze start/status/end` (recorded in the target) are tested on the server in test_freeze_deploy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from quixotic.config.fields import Loc
from quixotic.config.freeze_file import FeatureFreeze, parse_freeze
from quixotic.config.problems import Problems
from quixotic.errors import PlanError, UsageError
from quixotic.plan.changes import Action, Change, Kind
from quixotic.plan.freeze import check_freeze, freeze_record, frozen_changes, given_reason
from quixotic.plan.plan import Plan

TODAY = dt.date(2026, 12, 10)
FREEZE = FeatureFreeze("launch week", dt.date(2026, 12, 1), dt.date(2026, 12, 24))


def change(action: Action, kind: Kind, address: str) -> Change:
    view: dict[str, Any] = {"id": address}
    return Change(action, kind, f"{kind}:{address}", None if action == "create" else view,
                  None if action == "delete" else view, "additive", "literal")  # fmt: skip


def plan(*changes: Change) -> Plan:
    return Plan("prod", "p-prod", "fingerprint", changes)


PROHIBITED = [
    change("create", "function", "summarize"),
    change("delete", "function", "legacy"),
    change("create", "database", "analytics"),
    change("create", "table", "app/notes"),
    change("update", "table", "app/notes"),
    change("create", "column", "app/notes/title"),
    change("replace", "column", "app/notes/words"),
    change("delete", "index", "app/notes/by_title"),
    change("create", "bucket", "images"),
    change("replace", "bucket", "audio"),
    change("create", "variable", "transcribe/NEW_FLAG"),
    change("delete", "variable", "project/OLD_FLAG"),
]
ALLOWED = [
    change("update", "function", "transcribe"),  # settings
    change("update", "deployment", "transcribe"),  # code
    change("create", "deployment", "transcribe"),
    change("update", "variable", "transcribe/MAX_FILE_SIZE_MB"),  # a value
    change("update", "bucket", "uploads"),  # bucket settings
]


@pytest.mark.parametrize("refused", PROHIBITED, ids=lambda c: f"{c.action}-{c.kind}")
def test_each_prohibited_kind_is_refused_and_named(refused: Change) -> None:
    with pytest.raises(PlanError) as err:
        check_freeze(plan(*ALLOWED, refused), FREEZE, TODAY)
    message = err.value.message
    assert f"{refused.action} {refused.address}" in message and "launch week" in message
    assert "1 prohibited change:" in message and "--override-freeze" in message and "--hotfix" in message
    assert not any(a.address in message for a in ALLOWED)


def test_code_settings_and_values_go_through_a_freeze() -> None:
    check_freeze(plan(*ALLOWED), FREEZE, TODAY)
    assert frozen_changes(plan(*ALLOWED)) == ()
    assert [str(r).split(":")[0] for r in frozen_changes(plan(*PROHIBITED))] == [
        f"{c.action} {c.kind}" for c in PROHIBITED
    ]


def test_the_freeze_holds_only_between_its_dates() -> None:
    everything = plan(*PROHIBITED)
    for day in (dt.date(2026, 11, 30), dt.date(2026, 12, 25)):
        check_freeze(everything, FREEZE, day)  # not in force: nothing refused
    for day in (dt.date(2026, 12, 1), dt.date(2026, 12, 24)):
        with pytest.raises(PlanError):
            check_freeze(everything, FREEZE, day)
    with pytest.raises(PlanError):
        check_freeze(everything, FeatureFreeze("open-ended"), dt.date(2099, 1, 1))
    check_freeze(everything, None, TODAY)


def test_an_override_lets_it_through_and_the_release_records_it() -> None:
    everything = plan(*PROHIBITED, *ALLOWED)
    check_freeze(everything, FREEZE, TODAY, override="security fix for the upload table")
    record = freeze_record(FREEZE, TODAY, everything, override="security fix", hotfix="crash on upload")
    assert record["freeze"] == {"reason": "launch week", "from": "2026-12-01", "until": "2026-12-24"}
    assert record["freezeOverride"]["reason"] == "security fix"
    assert len(record["freezeOverride"]["changes"]) == len(PROHIBITED)
    assert record["hotfix"] == {"reason": "crash on upload"}
    assert freeze_record(FREEZE, dt.date(2027, 1, 1), everything, override=None, hotfix=None) == {}
    assert "freezeOverride" not in freeze_record(FREEZE, TODAY, plan(*ALLOWED), override="x", hotfix=None)


def test_a_reason_is_required_when_the_option_is_given() -> None:
    assert given_reason(None, "--hotfix") is None
    assert given_reason("  fix  ", "--hotfix") == "fix"
    with pytest.raises(UsageError) as err:
        given_reason("  ", "--hotfix")
    assert "--hotfix needs a reason" in err.value.message


def parsed(data: object) -> tuple[FeatureFreeze | None, tuple[str, ...]]:
    problems = Problems()
    return parse_freeze(data, Loc("environments/prod.json", "freeze"), problems), problems.items


def test_the_environment_file_declares_the_freeze() -> None:
    assert parsed({"reason": "launch", "from": "2026-12-01", "until": "2026-12-24"}) == (
        FeatureFreeze("launch", dt.date(2026, 12, 1), dt.date(2026, 12, 24)),
        (),
    )
    assert parsed({"reason": "launch"}) == (FeatureFreeze("launch"), ())
    assert parsed(None) == (None, ())
    for data, words in (
        ({"from": "2026-12-01"}, "missing required key 'reason'"),
        ({"reason": ""}, "must not be empty"),
        ({"reason": "x", "until": "24.12.2026"}, "YYYY-MM-DD"),
        ({"reason": "x", "from": "2026-12-24", "until": "2026-12-01"}, "before 'from'"),
        ({"reason": "x", "untill": "2026-12-01"}, "did you mean 'until'"),
        ("frozen", "expected a JSON object"),
    ):
        _freeze, problems = parsed(data)  # any problem fails loading the environment
        assert any(words in p and "environments/prod.json" in p for p in problems), (data, problems)
