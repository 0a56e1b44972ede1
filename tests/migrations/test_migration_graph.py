"""The pure migration graph, with literals: names, status from files + history, and what each command runs."""

from __future__ import annotations

import pytest

from quixotic.errors import MigrationError
from quixotic.migrations.graph import (
    APPLIED,
    EDITED,
    FAILED,
    MISSING,
    PENDING,
    RUNNING,
    Attempt,
    Migration,
    check_names,
    history_problems,
    parse_name,
    resolve,
    resume_cursors,
    select_baseline,
    select_down,
    select_up,
    statuses,
)

A = Migration("0001", "initial", "c1", has_down=False, irreversible_reason="drops everything")
B = Migration("0002", "add_x", "c2")
C = Migration("0003", "backfill_x", "c3")
FILES = [A, B, C]


def applied(m: Migration, checksum: str | None = None, n: int = 0) -> Attempt:
    return Attempt(f"a{m.id}{n}", m.id, "up", "applied", checksum or m.checksum, m.slug)


def test_names() -> None:
    assert parse_name("0002_add_x.py") == ("0002", "add_x")
    for bad in ("2_add_x.py", "0002-add-x.py", "0002_Add.py", "0002_.py", "00002_x.py", "0002_x.txt", "0002_a__b.py"):
        assert parse_name(bad) is None, bad
    assert check_names(["0001_a.py", "0002_b.py", "_helpers.py", "README.md"]) == []


def test_bad_file_sets_are_reported_together() -> None:
    problems = check_names(["0001_a.py", "0002_b.py", "0002_c.py", "0005_d.py", "7_e.py", "0000_z.py"])
    text = "\n".join(problems)
    assert "0002 is used by 2 files (0002_b.py, 0002_c.py)" in text
    assert "a gap: 0003 to 0004 missing before 0005_d.py" in text
    assert "7_e.py: not a migration name" in text
    assert "0000_z.py: numbering starts at 0001" in text
    assert len(problems) == 4
    assert "a gap: 0001 missing before 0002_b.py" in check_names(["0002_b.py"])[0]


def test_status_of_each_kind() -> None:
    history = [
        applied(A),
        applied(B, checksum="other"),  # edited after apply
        Attempt("x", "0003", "up", "failed", "c3", "backfill_x", error="boom", cursors={"t": "40"}),
        applied(Migration("0004", "gone", "c4")),  # the file was deleted
    ]
    states = {s.id: s for s in statuses(FILES, history)}
    assert [states[i].state for i in ("0001", "0002", "0003", "0004")] == [APPLIED, EDITED, FAILED, MISSING]
    assert "checksum" in states["0002"].detail
    assert states["0003"].detail == "up failed: boom"
    problems = "\n".join(history_problems(list(states.values())))
    assert "0002_add_x was edited after it was applied" in problems
    assert "0004_gone is applied in the target's history but its file is gone" in problems


def test_latest_attempt_wins_and_a_rolled_back_file_may_go() -> None:
    history = [
        applied(A),
        applied(B),
        Attempt("d", "0002", "down", "rolled_back", "c2", "add_x"),
        applied(Migration("0009", "abandoned", "c9")),
        Attempt("d9", "0009", "down", "rolled_back", "c9", "abandoned"),
    ]
    states = statuses(FILES, history)
    assert [s.state for s in states] == [APPLIED, PENDING, PENDING]
    assert history_problems(states) == []


def test_renamed_file_counts_as_edited() -> None:
    history = [applied(A), Attempt("b", "0002", "up", "applied", "c2", "old_name")]
    states = statuses(FILES, history)
    assert states[1].state == EDITED and "applied as 0002_old_name" in states[1].detail


def test_out_of_order_file() -> None:
    history = [applied(A), applied(C)]
    problems = history_problems(statuses(FILES, history))
    assert (
        len(problems) == 1 and "0002_add_x is pending but 0003_backfill_x, after it, is already applied" in problems[0]
    )


def test_up_selection() -> None:
    fresh = statuses(FILES, [])
    assert select_up(fresh) == FILES
    assert select_up(fresh, "0002") == [A, B]
    half = statuses(FILES, [applied(A), Attempt("f", "0002", "up", "failed", "c2", "add_x")])
    assert select_up(half) == [B, C]  # the failed one is retried first
    done = statuses(FILES, [applied(A), applied(B), applied(C)])
    assert select_up(done) == []
    with pytest.raises(MigrationError, match=r"0003_backfill_x is applied, which is past 0001.*down ENV --to 0001"):
        select_up(done, "0001")


def test_down_selection() -> None:
    done = statuses(FILES, [applied(A), applied(B), applied(C)])
    assert select_down(done) == [C]
    assert select_down(done, steps=2) == [C, B]
    assert select_down(done, to="0001") == [C, B]
    assert select_down(done, to="0003") == []
    with pytest.raises(MigrationError, match=r"0001_initial is irreversible \(it has no down\) \(drops everything\)"):
        select_down(done, to="0000")
    with pytest.raises(MigrationError, match="0001_initial is irreversible"):
        select_down(done, steps=3)
    with pytest.raises(MigrationError, match="only 3 migration"):
        select_down(done, steps=4)
    with pytest.raises(MigrationError, match="either --to or --steps"):
        select_down(done, to="0001", steps=1)
    with pytest.raises(MigrationError, match="--steps must be 1 or more"):
        select_down(done, steps=0)
    partial = statuses(FILES, [applied(A), applied(B)])
    with pytest.raises(MigrationError, match="0003 is not applied"):
        select_down(partial, to="0003")
    running = statuses(FILES, [applied(A), Attempt("r", "0002", "up", "running", "c2", "add_x")])
    assert [s.state for s in running] == [APPLIED, RUNNING, PENDING]
    assert select_down(running) == [B]  # a half-applied migration can be undone


def test_resolve_targets() -> None:
    assert resolve("2", FILES) == resolve("0002", FILES) == resolve("0002_add_x", FILES) == "0002"
    assert resolve("0", FILES, allow_zero=True) == "0000"
    for bad in ("0", "9", "0002_wrong", "latest", ""):
        with pytest.raises(MigrationError, match="unknown migration"):
            resolve(bad, FILES)


def test_baseline_selection() -> None:
    assert select_baseline(statuses(FILES, []), "0002") == [A, B]
    assert select_baseline(statuses(FILES, [applied(A)]), "0002") == [B]
    failed = statuses(FILES, [Attempt("f", "0001", "up", "failed", "c1", "initial")])
    with pytest.raises(MigrationError, match="unfinished"):
        select_baseline(failed, "0002")
    with pytest.raises(MigrationError, match="0003_backfill_x after it is already applied"):
        select_baseline(statuses(FILES, [applied(A), applied(B), applied(C)]), "0001")


def test_resume_only_the_same_file_in_the_same_direction() -> None:
    last = Attempt("f", "0003", "up", "failed", "c3", "backfill_x", cursors={"t": "4000"})
    assert resume_cursors(last, C, "up") == {"t": "4000"}
    assert resume_cursors(last, C, "down") == {}
    assert resume_cursors(last, Migration("0003", "backfill_x", "edited"), "up") == {}
    assert resume_cursors(applied(C), C, "up") == {}
    assert resume_cursors(None, C, "up") == {}


def test_attempt_from_record() -> None:
    record = {"attempt": "m1", "migrationId": "0003", "direction": "up", "status": "interrupted", "cursors": {"t": 5}}
    attempt = Attempt.from_record(record)
    assert attempt.cursors == {"t": "5"} and attempt.status == "interrupted"
    assert statuses(FILES, [applied(A), applied(B), attempt])[2].state == FAILED
