"""Monitor's decision rules with literal samples: low samples, sparse errors, error and latency regressions,
immediate rollback triggers and the run's verdict."""

from __future__ import annotations

from quixotic.evidence.decide import (
    Rules,
    Sample,
    WindowVerdict,
    judge_window,
    percentile,
    rollback_reason,
    run_verdict,
)


def samples(n: int, *, errors: int = 0, duration: float = 0.1, step: float = 0.01) -> list[Sample]:
    """``n`` samples, the first ``errors`` of them failed, durations ``duration`` plus a small spread."""
    return [Sample(i, i >= errors, duration + (i % 7) * step / 7) for i in range(n)]


BASELINE = samples(200, errors=2)  # 1 % errors, ~100 ms


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0


def test_too_few_samples_is_inconclusive_even_when_all_failed() -> None:
    verdict = judge_window(samples(5, errors=5), BASELINE, 0, 60)
    assert verdict.outcome == "INCONCLUSIVE" and "fewer than 20" in verdict.reasons[0]


def test_sparse_errors_within_the_floor_pass() -> None:
    assert judge_window(samples(100, errors=3), BASELINE, 0, 60).outcome == "PASS"  # 3 % < 5 %


def test_an_error_rate_above_floor_but_not_significant_passes() -> None:
    # 2 of 20 (10 %) is above the 5 % floor, yet not significant at 0.05 (binomial p ~ 0.26)
    assert judge_window(samples(20, errors=2), BASELINE, 0, 60).outcome == "PASS"


def test_a_clear_error_regression_fails_with_its_numbers() -> None:
    verdict = judge_window(samples(100, errors=30), BASELINE, 0, 60)
    assert verdict.outcome == "FAIL" and verdict.errors == 30
    assert verdict.reasons[0].startswith("error rate 30.0% above 5.0%")


def test_a_noisy_baseline_raises_the_bar() -> None:
    noisy = samples(200, errors=20)  # 10 %: the limit is 2 x 10 % + 1 point = 21 %
    assert judge_window(samples(100, errors=15), noisy, 0, 60).outcome == "PASS"
    assert judge_window(samples(100, errors=40), noisy, 0, 60).outcome == "FAIL"


def test_a_latency_regression_fails_and_a_small_shift_does_not() -> None:
    slow = judge_window(samples(60, duration=0.2), BASELINE, 0, 60)
    assert slow.outcome == "FAIL" and "p95" in slow.reasons[0]
    assert judge_window(samples(60, duration=0.105), BASELINE, 0, 60).outcome == "PASS"


def test_no_baseline_judges_errors_against_the_floor_and_skips_latency() -> None:
    assert judge_window(samples(60, duration=5.0), [], 0, 60).outcome == "PASS"
    assert judge_window(samples(60, errors=20), [], 0, 60).outcome == "FAIL"


def test_immediate_rollback_triggers() -> None:
    ok = [Sample(i, True, 0.1) for i in range(20)]
    assert rollback_reason(ok, [True, True]) is None
    five = [*ok[:3], *(Sample(3 + i, False, 0.1) for i in range(5)), *ok[:2]]
    assert rollback_reason(five, []) == "5 consecutive failed executions"
    burst = [Sample(i, i % 2 == 0, 0.1) for i in range(10)]  # 5 of 10 failed, never 5 in a row
    assert rollback_reason(burst, []) == "5 of 10 executions failed"
    assert rollback_reason(burst[:8], []) is None  # fewer than 10 executions: no burst verdict
    assert rollback_reason(ok, [True, False, False]) == "2 failed health checks in a row"
    assert rollback_reason(ok, [False, True, False]) is None


def test_the_run_fails_past_two_failed_windows_or_on_a_rollback() -> None:
    rules = Rules()

    def window(outcome: str) -> WindowVerdict:
        return WindowVerdict(0, 1, 30, 0, 0.1, outcome, ("why",) if outcome == "FAIL" else ())  # type: ignore[arg-type]

    assert run_verdict([window("PASS"), window("FAIL"), window("FAIL")], None, rules).outcome == "PASS"
    failed = run_verdict([window("FAIL")] * 3, None, rules)
    assert failed.outcome == "FAIL" and failed.failed_windows == 3
    assert run_verdict([window("PASS")], "5 consecutive failed executions", rules).outcome == "FAIL"
    assert run_verdict([window("INCONCLUSIVE")] * 4, None, rules).outcome == "INCONCLUSIVE"
    assert run_verdict([], None, rules).outcome == "INCONCLUSIVE"
