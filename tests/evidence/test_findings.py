"""The judges of `validate`, with literal changes: findings per check, drift marked declared or not, verdicts."""

from __future__ import annotations

from quixotic.evidence.findings import Drift, Finding, Validation, drift_between, drift_finding, plan_findings
from quixotic.plan.changes import Change

COLUMN_GONE = Change("create", "column", "column:app/notes/words", None, {"key": "words"}, "additive", "new column")
GREETING = Change(
    "update", "variable", "variable:hello/GREETING", {"value": "bonjour"}, {"value": "hello"}, "compatible",
    "value changed", ("value",),
)  # fmt: skip
BUCKET = Change(
    "update", "bucket", "bucket:audio", {"maximum_file_size": 25}, {"maximum_file_size": 10}, "compatible", "",
    ("maximum_file_size",),
)  # fmt: skip


def test_a_check_fails_with_the_plan_as_its_evidence_and_passes_without_changes_of_its_kinds() -> None:
    schema, buckets, variables = plan_findings([COLUMN_GONE, GREETING], ["schema", "buckets", "variables"])
    assert (schema.status, buckets.status, variables.status) == ("FAIL", "PASS", "FAIL")
    assert schema.evidence == ("create column:app/notes/words: new column",)
    assert variables.evidence == ("update variable:hello/GREETING (value): value changed",)


def test_drift_is_per_field_and_declared_only_where_the_configurations_differ() -> None:
    # live: ref -> here differs in a column (nobody declared it) and a variable and a bucket size (declared)
    drift = drift_between([COLUMN_GONE, GREETING, BUCKET], declared_changes=[GREETING, BUCKET])
    assert drift == [
        Drift("column:app/notes/words", "present", "absent", False),
        Drift("variable:hello/GREETING.value", "hello", "bonjour", True),
        Drift("bucket:audio.maximum_file_size", 10, 25, True),
    ]
    finding = drift_finding("dev", drift)
    assert finding.status == "FAIL" and "1 difference(s) from dev that no override declares" in finding.summary
    assert "column:app/notes/words: present here, absent there (NOT declared)" in finding.evidence
    assert drift_finding("dev", drift[1:]).status == "PASS"
    assert drift_finding("dev", []).summary == "identical to dev"


def test_a_field_declared_elsewhere_in_the_same_resource_is_not_an_excuse() -> None:
    other_field = Change("update", "bucket", "bucket:audio", {}, {}, "compatible", "", ("antivirus",))
    (drift,) = drift_between([BUCKET], declared_changes=[other_field])
    assert not drift.declared


def test_verdict_and_exit_code() -> None:
    report = Validation("dev", [Finding("a", "PASS", ""), Finding("b", "WARN", "")])
    assert (report.verdict, report.exit_code) == ("WARN", 0)
    report.findings.append(Finding("c", "FAIL", ""))
    assert (report.verdict, report.exit_code) == ("FAIL", 1)
    unreachable = Validation("dev", [Finding("reach", "FAIL", "")], ran=False)
    assert (unreachable.verdict, unreachable.exit_code) == ("COULD NOT RUN", 2)
    assert Validation("dev").verdict == "PASS"
    assert unreachable.to_json()["verdict"] == "COULD NOT RUN"
