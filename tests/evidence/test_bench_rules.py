"""The pure parts of `quixotic bench` with literal values: the open-loop schedule, percentiles, thresholds
(malformed ones named with the grammar), cold starts, the effect size and the comparison's verdict."""

from __future__ import annotations

from typing import Any

import pytest

from quixotic.errors import UsageError
from quixotic.evidence.bench import (
    BenchReport,
    Outcome,
    SideStats,
    cold_starts,
    compare,
    evaluate,
    lag_of,
    parse_threshold,
    percentiles,
    rank_biserial,
    schedule,
    summarize,
)


def test_schedule_is_a_constant_arrival_rate_with_the_warmup_marked() -> None:
    slots = schedule(10, 1, warmup=0.5)
    assert len(slots) == 15
    assert [round(s.at, 3) for s in slots[:3]] == [0.0, 0.1, 0.2]
    assert [s.warmup for s in slots].count(True) == 5 and not slots[5].warmup
    assert {s.side for s in slots} == {0}


def test_two_sides_interleave_abba_each_at_the_full_rate() -> None:
    slots = schedule(4, 1, sides=2)
    assert len(slots) == 8 and [round(s.at, 3) for s in slots[:2]] == [0.0, 0.125]
    assert [s.side for s in slots] == [0, 1, 1, 0, 0, 1, 1, 0]


@pytest.mark.parametrize(("rate", "duration", "warmup"), [(0, 1, 0), (-1, 1, 0), (10, 0, 0), (10, 1, -1), (1, 0.1, 0)])
def test_schedule_refuses_what_cannot_run(rate: float, duration: float, warmup: float) -> None:
    with pytest.raises(UsageError):
        schedule(rate, duration, warmup)


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "max": 100.0, "mean": 50.5}
    assert percentiles([7.0]) == {"p50": 7.0, "p90": 7.0, "p95": 7.0, "p99": 7.0, "max": 7.0, "mean": 7.0}
    assert set(percentiles([]).values()) == {None}


def side(latencies: list[float], errors: int = 0, seconds: float = 10.0, env: str = "dev") -> SideStats:
    outcomes = [Outcome(ms, ms / 2, True) for ms in latencies] + [Outcome(5.0, 0.0, False)] * errors
    return summarize(env, outcomes, seconds)


def test_thresholds_parse_with_units_and_decide() -> None:
    stats = side([float(v) for v in range(1, 101)], errors=0, seconds=2.0)  # 100 ok in 2 s
    assert parse_threshold("p95<800ms").value == 800.0 and parse_threshold("p99<2s").value == 2000.0
    assert parse_threshold(" errors < 1% ").value == 0.01 and parse_threshold("rps>40").value == 40.0
    assert parse_threshold("server.p95<=30ms").metric == "server.p95"
    assert [evaluate(parse_threshold(t), stats).passed for t in
            ("p95<96ms", "p95<95ms", "p95<=95ms", "max<0.1s", "errors<1%", "rps>40", "rps>50", "server.p95<48ms")] == [
        True, False, True, False, True, True, False, True,
    ]  # fmt: skip
    result = evaluate(parse_threshold("p99<2s"), stats)
    assert result.actual == 99.0 and result.why == "p99<2s: 99.0 ms met"


def test_errors_count_against_the_rate_and_no_data_is_never_a_pass() -> None:
    stats = side([10.0] * 98, errors=2)
    assert stats.error_rate == 0.02 and not evaluate(parse_threshold("errors<1%"), stats).passed
    empty = side([], errors=3)
    failed = evaluate(parse_threshold("p95<10s"), empty)
    assert not failed.passed and failed.actual is None and "no successful request" in failed.why


@pytest.mark.parametrize(
    "text",
    ["p95", "p95<800", "p95<800%", "errors<1", "errors<1ms", "rps>40/s", "p97<1s", "latency<1s", "p95=800ms",
     "p95<<800ms", "", "p95<-1ms"],
)  # fmt: skip
def test_malformed_thresholds_name_the_grammar(text: str) -> None:
    with pytest.raises(UsageError, match="METRIC OP VALUE"):
        parse_threshold(text)


def test_rank_biserial_effect_size_from_u() -> None:
    assert rank_biserial(0.0, 3, 3) == -1.0  # a = [1, 2, 3] against b = [4, 5, 6]: a wins no pair
    assert rank_biserial(9.0, 3, 3) == 1.0
    assert rank_biserial(2.0, 2, 2) == 0.0  # [1, 2] against [1, 2]: ties count half
    assert rank_biserial(1.0, 2, 1) == 0.0
    assert rank_biserial(0.0, 0, 1) == 0.0


def test_compare_runs_two_mann_whitney_tests_not_three(monkeypatch: pytest.MonkeyPatch) -> None:
    """The effect size comes from the two-sided test's U: a third test would only compute it again."""
    from scipy import stats

    real, calls = stats.mannwhitneyu, []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("alternative"))
        return real(*args, **kwargs)

    monkeypatch.setattr(stats, "mannwhitneyu", counted)
    slow, base = [200.0 + i % 7 for i in range(40)], [100.0 + i % 9 for i in range(40)]
    made = compare(side(slow, env="prod"), side(base), slow, base)
    assert calls == ["two-sided", "greater"]
    assert made.effect == 1.0
    mixed = [100.0 + i % 13 for i in range(40)]
    u = float(real(mixed, base, alternative="two-sided").statistic)
    assert compare(side(mixed, env="prod"), side(base), mixed, base).effect == pytest.approx(2 * u / 1600 - 1)


def test_compare_regresses_only_when_large_and_significant() -> None:
    base = [100.0 + i % 10 for i in range(60)]
    slow = [200.0 + i % 10 for i in range(60)]
    slightly = [105.0 + i % 10 for i in range(60)]
    regressed = compare(side(slow, env="prod"), side(base), slow, base)
    assert regressed.regressed and regressed.effect == 1.0 and regressed.p_slower is not None
    assert regressed.deltas_ms["p50"] == 100.0 and regressed.ratios["p50"] == pytest.approx(204 / 104)
    assert regressed.why.startswith("slower: median 1.96x")
    small = compare(side(slightly, env="prod"), side(base), slightly, base)  # significant, yet small: no regression
    assert not small.regressed and small.p_slower is not None and small.p_slower < 0.01
    faster = compare(side(base, env="prod"), side(slow), base, slow)
    assert not faster.regressed and faster.effect == -1.0
    few = compare(side([1.0], env="prod"), side(base), [1.0], base)
    assert few.regressed and "too few" in few.why


def test_cold_starts_are_slow_first_executions() -> None:
    outcomes = [Outcome(900.0, 800.0, True, at=0.0), Outcome(50.0, 5.0, True, at=0.5), Outcome(400.0, 0, True, at=1.0)]
    outcomes += [Outcome(100.0, 10.0, True, at=2.0 + i / 10) for i in range(20)]
    assert cold_starts(outcomes, first_seconds=2.0) == 2  # 900 and 400 ms are above 3 x the later median (100)
    assert cold_starts(outcomes[:3], first_seconds=2.0) == 0  # nothing later to compare with: none claimed


def test_the_report_fails_on_any_threshold_or_a_regression() -> None:
    stats = side([10.0] * 10)
    report = BenchReport("hello", {"method": "GET", "path": "/"}, 10, 1, 0, [stats],
                         [evaluate(parse_threshold("p95<20ms"), stats)], lag=lag_of([0.1, 0.2, 12.0]))  # fmt: skip
    assert report.verdict == "PASS" and report.exit_code == 0
    assert report.to_json()["generator"] == {"p50Ms": 0.2, "p99Ms": 12.0, "maxMs": 12.0, "late": 1, "lateMs": 10.0}
    report.thresholds.append(evaluate(parse_threshold("p95<5ms"), stats))
    assert report.verdict == "FAIL" and report.exit_code == 1
