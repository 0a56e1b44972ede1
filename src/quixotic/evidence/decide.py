"""The decision rules of a monitored window, as pure functions of samples (Kayenta's and Flagger's ideas).

A window is judged against a baseline (the executions before the release): too few samples is
INCONCLUSIVE, never a pass and never a reason to roll back. A window FAILs on errors when its error rate
is above both the floor and ``factor x baseline + margin`` with a one-sided exact binomial test, or on
latency when its p95 is above ``latency_factor x`` the baseline's and a one-sided Mann-Whitney U test
agrees. Some things warrant a rollback at once, whatever the windows say: a run of consecutive failed
executions, a burst of errors, failed health checks in a row. The run fails when more than
``max_failed_windows`` windows fail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class Sample:
    """One execution: when (epoch s), whether it succeeded, its duration (s) and HTTP status."""

    at: float
    ok: bool
    duration: float
    status_code: int = 0


@dataclass(frozen=True)
class Rules:
    """Every threshold, with the defaults the go/no-go plan names."""

    min_samples: int = 20
    error_floor: float = 0.05
    error_factor: float = 2.0
    error_margin: float = 0.01
    error_alpha: float = 0.05
    latency_factor: float = 1.25
    latency_alpha: float = 0.02
    consecutive_failures: int = 5
    burst_ratio: float = 0.5
    burst_min: int = 10
    health_failures: int = 2
    max_failed_windows: int = 2


@dataclass(frozen=True)
class WindowVerdict:
    start: float
    end: float
    count: int
    errors: int
    p95: float | None
    outcome: Outcome
    reasons: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "count": self.count, "errors": self.errors,
                "errorRate": self.error_rate, "p95": self.p95, "outcome": self.outcome,
                "reasons": list(self.reasons)}  # fmt: skip


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..100) percentile by the nearest-rank method; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def error_rate(samples: Sequence[Sample]) -> float:
    """The share of failed samples (0 without samples)."""
    return sum(1 for s in samples if not s.ok) / len(samples) if samples else 0.0


def error_limit(base_rate: float, rules: Rules = Rules()) -> float:
    """The error rate a window must exceed to fail: above both the floor and factor x baseline + margin."""
    return min(1.0, max(rules.error_floor, rules.error_factor * base_rate + rules.error_margin))


def judge_window(samples: Sequence[Sample], baseline: Sequence[Sample], start: float, end: float,
                 rules: Rules = Rules()) -> WindowVerdict:  # fmt: skip
    """The window's outcome against the baseline, with the reasons (the numbers that decided)."""
    from scipy import stats  # about 1 s to import: only when a test is run, not at every CLI start

    count = len(samples)
    errors = sum(1 for s in samples if not s.ok)
    durations = [s.duration for s in samples if s.ok]
    p95 = percentile(durations, 95)
    if count < rules.min_samples:
        return WindowVerdict(start, end, count, errors, p95, "INCONCLUSIVE",
                             (f"{count} execution(s), fewer than {rules.min_samples}: no verdict",))  # fmt: skip
    reasons: list[str] = []
    base_rate = error_rate(baseline)
    limit = error_limit(base_rate, rules)
    rate = errors / count
    if rate > limit:
        p = float(stats.binomtest(errors, count, limit, alternative="greater").pvalue)
        if p < rules.error_alpha:
            reasons.append(f"error rate {rate:.1%} above {limit:.1%} (baseline {base_rate:.1%}; exact test p={p:.3g})")
    base_durations = [s.duration for s in baseline if s.ok]
    base_p95 = percentile(base_durations, 95)
    comparable = p95 is not None and base_p95 and len(base_durations) >= rules.min_samples and len(durations) >= 2
    if comparable and p95 is not None and base_p95 is not None and p95 > rules.latency_factor * base_p95:
        p = float(stats.mannwhitneyu(durations, base_durations, alternative="greater").pvalue)
        if p < rules.latency_alpha:
            reasons.append(f"p95 {p95 * 1000:.0f} ms above {rules.latency_factor:g} x baseline "
                           f"{base_p95 * 1000:.0f} ms (Mann-Whitney p={p:.3g})")  # fmt: skip
    return WindowVerdict(start, end, count, errors, p95, "FAIL" if reasons else "PASS", tuple(reasons))


def rollback_reason(samples: Sequence[Sample], health: Sequence[bool], rules: Rules = Rules()) -> str | None:
    """Why to roll back at once (samples in time order since the release, health checks in order), or None."""
    run = longest = 0
    for sample in samples:
        run = 0 if sample.ok else run + 1
        longest = max(longest, run)
    if longest >= rules.consecutive_failures:
        return f"{longest} consecutive failed executions"
    errors = sum(1 for s in samples if not s.ok)
    if len(samples) >= rules.burst_min and errors / len(samples) >= rules.burst_ratio:
        return f"{errors} of {len(samples)} executions failed"
    tail = 0
    for ok in reversed(health):
        if ok:
            break
        tail += 1
    if tail >= rules.health_failures:
        return f"{tail} failed health checks in a row"
    return None


@dataclass
class RunVerdict:
    outcome: Outcome
    failed_windows: int
    reasons: list[str] = field(default_factory=list)


def run_verdict(windows: Sequence[WindowVerdict], rollback: str | None, rules: Rules = Rules()) -> RunVerdict:
    """FAIL when rolled back or more than ``max_failed_windows`` windows failed; INCONCLUSIVE when no window
    had enough samples; PASS otherwise."""
    failed = [w for w in windows if w.outcome == "FAIL"]
    reasons = [r for w in failed for r in w.reasons]
    if rollback is not None:
        return RunVerdict("FAIL", len(failed), [f"rolled back: {rollback}", *reasons])
    if len(failed) > rules.max_failed_windows:
        return RunVerdict("FAIL", len(failed), [f"{len(failed)} windows failed (at most {rules.max_failed_windows})",
                                                *reasons])  # fmt: skip
    if windows and all(w.outcome == "INCONCLUSIVE" for w in windows):
        return RunVerdict("INCONCLUSIVE", 0, ["no window had enough executions to judge"])
    if not windows:
        return RunVerdict("INCONCLUSIVE", 0, ["no window was observed"])
    return RunVerdict("PASS", len(failed), reasons)
