"""Parity's judgement with literal answers: differences only where OLD agreed with itself; ids, times and
declared paths ignored; status compared like a field."""

from __future__ import annotations

from quixotic.evidence.parity import Answer, ParityReport, differences, flatten, ignored


def test_flatten_names_every_leaf_by_its_path() -> None:
    assert flatten({"a": {"b": 1}, "items": [{"id": 2}, 3], "empty": {}}) == {
        "a.b": 1, "items[0].id": 2, "items[1]": 3, "empty": {},
    }  # fmt: skip
    assert flatten(7) == {"$": 7}


def test_ids_and_timestamps_are_ignored_by_name_and_more_by_pattern() -> None:
    assert ignored("$id") and ignored("row.userId") and ignored("items[0].$createdAt") and ignored("startedAt")
    assert not ignored("text") and not ignored("identity")
    assert ignored("segments[3].words", ["segments[*].words"])


def test_a_field_that_old_itself_changes_is_noise_not_a_difference() -> None:
    old = Answer(200, {"text": "hello", "nonce": "a1", "score": 1})
    again = Answer(200, {"text": "hello", "nonce": "b2", "score": 1})
    new = Answer(200, {"text": "hello", "nonce": "c3", "score": 2})
    differ, noise = differences(old, again, new)
    assert differ == ["score"] and noise == ["nonce"]


def test_status_and_missing_fields_count() -> None:
    old = Answer(200, {"ok": True, "model": "tiny"})
    differ, _ = differences(old, old, Answer(500, {"ok": True}))
    assert differ == ["$status", "model"]


def test_the_report_counts_and_keeps_examples() -> None:
    report = ParityReport("prod", "dev")
    for n in range(5):
        report.add(
            "hello GET /", Answer(200, {"v": 1, "n": n}), Answer(200, {"v": 1, "n": n}), Answer(200, {"v": 2, "n": n})
        )
    (diff,) = report.diffs.values()
    assert (diff.path, diff.count, diff.examples[0]) == ("v", 5, (1, 2)) and len(diff.examples) == 3
    assert not report.same and report.requests == 5
    assert diff.describe() == "hello GET / v: 1 -> 2 (5x)"
    assert report.to_json()["differences"][0]["examples"][0] == {"old": 1, "new": 2}
