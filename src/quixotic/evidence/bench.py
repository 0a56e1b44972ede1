"""The pure parts of a load test (k6's and vegeta's ideas): the open-loop schedule, percentiles, thresholds
that decide the exit code, and the comparison of two environments measured in the same run.

Open loop: request ``k`` is due at ``k / rate`` s whatever the server answers, and its latency counts from
that due time, so a server that slows down cannot slow the sender and hide its own latency (no coordinated
omission). With two environments the slots alternate A B B A (so neither always goes first) at twice the
rate, each environment getting ``rate`` requests per second.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from quixotic.errors import UsageError
from quixotic.evidence.decide import percentile

Verdict = Literal["PASS", "FAIL"]
QUANTILES: Final = (50, 90, 95, 99)
LATENCY_METRICS: Final = ("p50", "p90", "p95", "p99", "max", "mean")
THRESHOLD_GRAMMAR: Final = (
    "METRIC OP VALUE: METRIC is p50, p90, p95, p99, max or mean (client latency; server.p95 etc. for Appwrite's "
    "own execution duration) with a unit ms or s, errors with a unit % , or rps (a plain number); OP is <, <=, > "
    "or >=; e.g. 'p95<800ms', 'p99<2s', 'server.p95<=300ms', 'errors<1%', 'rps>40'"
)
_THRESHOLD: Final = re.compile(r"(?P<metric>(?:server\.)?[a-z0-9]+)\s*(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)"
                               r"\s*(?P<unit>ms|s|%)?")  # fmt: skip
_UNIT_MS: Final = {"ms": 1.0, "s": 1000.0}


# --- the schedule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One request of the schedule: its number, when it is due (s from the start), which environment (0 or 1)
    and whether it falls in the warm-up (sent, not counted)."""

    index: int
    at: float
    side: int
    warmup: bool


def side_of(index: int, sides: int) -> int:
    """A B B A A B B A ...: each environment goes first as often as the other."""
    return 0 if sides == 1 else (index + index // 2) % 2


def schedule(rate: float, duration: float, warmup: float = 0.0, sides: int = 1) -> list[Slot]:
    """Every request of a run: ``rate`` per second to each of ``sides`` environments for ``warmup + duration`` s."""
    if not (rate > 0 and math.isfinite(rate)):
        raise UsageError(f"the rate must be a positive number of requests per second (got {rate})")
    if not duration > 0 or warmup < 0:
        raise UsageError(f"the duration must be positive and the warm-up not negative (got {duration}, {warmup})")
    if sides not in (1, 2):
        raise UsageError("a run measures one environment, or two interleaved")
    step = 1.0 / (rate * sides)
    count = round((warmup + duration) * rate * sides)
    if round(duration * rate) < 1:
        raise UsageError(f"{rate:g} requests/s for {duration:g} s is not one measured request: raise either")
    return [Slot(k, k * step, side_of(k, sides), k * step < warmup - 1e-9) for k in range(count)]


# --- what one side measured ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One request: latency from its due time (ms), Appwrite's execution duration (ms), success, when it was due
    (s from the start) and whether it was a warm-up one. (How late it was sent is in the run's lags.)"""

    latency_ms: float
    server_ms: float
    ok: bool
    at: float = 0.0
    warmup: bool = False


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99 (nearest rank), max and mean; None without values."""
    out: dict[str, float | None] = {f"p{q}": percentile(values, q) for q in QUANTILES}
    out["max"] = max(values) if values else None
    out["mean"] = sum(values) / len(values) if values else None
    return out


def cold_starts(outcomes: Sequence[Outcome], *, first_seconds: float, factor: float = 3.0) -> int:
    """Requests due in the first ``first_seconds`` of the run (warm-up included) whose latency is above ``factor``
    x the median of the rest: what a fresh worker's first executions look like from outside. An estimate, named
    as one: Appwrite does not say which executions started a runtime."""
    later = [o.latency_ms for o in outcomes if o.at >= first_seconds and o.ok]
    median = percentile(later, 50)
    if median is None:
        return 0
    return sum(1 for o in outcomes if o.at < first_seconds and o.latency_ms > factor * median)


@dataclass(frozen=True)
class SideStats:
    """One environment's measured requests, summarised."""

    environment: str
    requests: int
    errors: int
    seconds: float  # from the first measured due time to the last answer
    latency: dict[str, float | None]  # client, ms, successful requests only
    server: dict[str, float | None]  # Appwrite's own duration, ms
    cold_starts: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "requests": self.requests, "errors": self.errors,
                "errorRate": self.error_rate, "rps": self.rps, "seconds": self.seconds, "latencyMs": self.latency,
                "serverMs": self.server, "coldStarts": self.cold_starts}  # fmt: skip


def summarize(environment: str, outcomes: Sequence[Outcome], seconds: float, cold: int = 0) -> SideStats:
    ok = [o for o in outcomes if o.ok]
    return SideStats(environment, len(outcomes), len(outcomes) - len(ok), seconds,
                     percentiles([o.latency_ms for o in ok]), percentiles([o.server_ms for o in ok]), cold)  # fmt: skip


# --- thresholds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """``metric op value``: latency metrics in ms, ``errors`` as a fraction, ``rps`` per second."""

    text: str
    metric: str
    op: str
    value: float

    def holds(self, actual: float) -> bool:
        return {"<": actual < self.value, "<=": actual <= self.value, ">": actual > self.value,
                ">=": actual >= self.value}[self.op]  # fmt: skip


def parse_threshold(text: str) -> Threshold:
    """``p95<800ms``, ``server.p99<=2s``, ``errors<1%``, ``rps>40``; anything else is a UsageError naming the
    grammar."""
    found = _THRESHOLD.fullmatch(text.strip().lower())
    if found is None:
        raise UsageError(f"threshold {text!r} is malformed: {THRESHOLD_GRAMMAR}")
    metric, op, unit = found["metric"], found["op"], found["unit"]
    value = float(found["value"])
    base = metric.removeprefix("server.")
    if base in LATENCY_METRICS:
        if unit not in _UNIT_MS:
            raise UsageError(f"threshold {text!r}: {metric} needs a unit, ms or s ({THRESHOLD_GRAMMAR})")
        return Threshold(text, metric, op, value * _UNIT_MS[unit])
    if metric == "errors":
        if unit != "%":
            raise UsageError(f"threshold {text!r}: errors is a percentage, e.g. 'errors<1%' ({THRESHOLD_GRAMMAR})")
        return Threshold(text, metric, op, value / 100)
    if metric == "rps":
        if unit is not None:
            raise UsageError(f"threshold {text!r}: rps is a plain number, e.g. 'rps>40' ({THRESHOLD_GRAMMAR})")
        return Threshold(text, metric, op, value)
    raise UsageError(f"threshold {text!r}: unknown metric {metric!r} ({THRESHOLD_GRAMMAR})")


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    actual: float | None
    passed: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold.text, "actual": self.actual, "passed": self.passed, "why": self.why}


def _shown(metric: str, value: float) -> str:
    if metric == "errors":
        return f"{value:.2%}"
    if metric == "rps":
        return f"{value:.1f}/s"
    return f"{value:.1f} ms"


def evaluate(threshold: Threshold, side: SideStats) -> ThresholdResult:
    """Whether ``side`` meets ``threshold``; a latency threshold with no successful request fails (no data is
    never a pass)."""
    metric = threshold.metric
    actual: float | None
    if metric == "errors":
        actual = side.error_rate if side.requests else None
    elif metric == "rps":
        actual = side.rps
    else:
        source = side.server if metric.startswith("server.") else side.latency
        actual = source[metric.removeprefix("server.")]
    if actual is None:
        return ThresholdResult(threshold, None, False, f"{threshold.text}: no successful request to measure")
    passed = threshold.holds(actual)
    return ThresholdResult(threshold, actual, passed,
                           f"{threshold.text}: {_shown(metric, actual)} {'met' if passed else 'NOT met'}")  # fmt: skip


# --- two environments ---------------------------------------------------------------------------


def rank_biserial(u: float, n_a: int, n_b: int) -> float:
    """P(a > b) - P(a < b) over all pairs, from Mann-Whitney's U of ``a`` (the test's statistic, already
    computed: no second test): +1 every ``a`` slower, -1 every ``a`` faster, 0 no tendency."""
    if not n_a or not n_b:
        return 0.0
    return 2 * u / (n_a * n_b) - 1


@dataclass(frozen=True)
class Comparison:
    """ENV (``a``) against the reference (``b``), measured interleaved: deltas, Mann-Whitney p-values and the
    rank-biserial effect size, and whether ``a`` is slower beyond the allowed factor with confidence."""

    a: str
    b: str
    deltas_ms: dict[str, float | None]  # a - b, per latency metric
    ratios: dict[str, float | None]  # a / b
    p_value: float | None  # two-sided: do the two latency distributions differ at all
    p_slower: float | None  # one-sided: is a slower
    effect: float  # rank-biserial, +1: a always slower
    regressed: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.a, "reference": self.b, "deltasMs": self.deltas_ms, "ratios": self.ratios,
                "pValue": self.p_value, "pSlower": self.p_slower, "effectSize": self.effect,
                "regressed": self.regressed, "why": self.why}  # fmt: skip


def compare(a: SideStats, b: SideStats, a_ms: Sequence[float], b_ms: Sequence[float], *,
            max_slowdown: float = 1.25, alpha: float = 0.01) -> Comparison:  # fmt: skip
    """``a`` regressed when its median is above ``max_slowdown`` x the reference's and a one-sided Mann-Whitney
    test says it is slower (p < ``alpha``): a difference must be both large and unlikely to be noise."""
    from scipy import stats  # about 1 s to import: only when a test is run, not at every CLI start

    deltas: dict[str, float | None] = {}
    ratios: dict[str, float | None] = {}
    for metric in LATENCY_METRICS:
        x, y = a.latency[metric], b.latency[metric]
        deltas[metric] = x - y if x is not None and y is not None else None
        ratios[metric] = x / y if x is not None and y else None
    if len(a_ms) < 2 or len(b_ms) < 2:
        why = "too few successful requests on one side to compare: no verdict is a failed comparison"
        return Comparison(a.environment, b.environment, deltas, ratios, None, None, 0.0, True, why)
    both = stats.mannwhitneyu(a_ms, b_ms, alternative="two-sided")  # its statistic is a's U, whatever the side
    p = float(both.pvalue)
    p_slower = float(stats.mannwhitneyu(a_ms, b_ms, alternative="greater").pvalue)
    effect = rank_biserial(float(both.statistic), len(a_ms), len(b_ms))
    ratio = ratios["p50"]
    regressed = ratio is not None and ratio > max_slowdown and p_slower < alpha
    why = (f"median {ratio:.2f}x the reference's" if ratio is not None else "median not comparable") + (
        f" (Mann-Whitney one-sided p={p_slower:.3g}, effect {effect:+.2f})"
    )
    if regressed:
        why = f"slower: {why}, beyond {max_slowdown:g}x with p < {alpha:g}"
    return Comparison(a.environment, b.environment, deltas, ratios, p, p_slower, effect, regressed, why)


# --- the run's verdict --------------------------------------------------------------------------


@dataclass
class Lag:
    """The generator's own lateness: how long after its due time each request was actually sent (ms)."""

    p50: float | None
    p99: float | None
    max: float | None
    late: int  # sent more than ``late_ms`` after its due time
    late_ms: float

    def to_json(self) -> dict[str, Any]:
        return {"p50Ms": self.p50, "p99Ms": self.p99, "maxMs": self.max, "late": self.late, "lateMs": self.late_ms}


def lag_of(lags_ms: Sequence[float], late_ms: float = 10.0) -> Lag:
    return Lag(percentile(lags_ms, 50), percentile(lags_ms, 99), max(lags_ms) if lags_ms else None,
               sum(1 for x in lags_ms if x > late_ms), late_ms)  # fmt: skip


@dataclass
class BenchReport:
    function: str
    request: Mapping[str, Any]
    rate: float
    duration: float
    warmup: float
    sides: list[SideStats]
    thresholds: list[ThresholdResult] = field(default_factory=list)
    comparison: Comparison | None = None
    lag: Lag | None = None

    @property
    def environment(self) -> str:
        return self.sides[0].environment

    @property
    def verdict(self) -> Verdict:
        regressed = self.comparison is not None and self.comparison.regressed
        return "FAIL" if regressed or any(not t.passed for t in self.thresholds) else "PASS"

    @property
    def exit_code(self) -> int:
        """0 every threshold met (and no regression), 1 otherwise: k6's rule."""
        return 0 if self.verdict == "PASS" else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "compare": self.sides[1].environment if len(self.sides) > 1 else None,
            "function": self.function,
            "request": dict(self.request),
            "rate": self.rate,
            "duration": self.duration,
            "warmup": self.warmup,
            "sides": [s.to_json() for s in self.sides],
            "thresholds": [t.to_json() for t in self.thresholds],
            "comparison": self.comparison.to_json() if self.comparison else None,
            "generator": self.lag.to_json() if self.lag else None,
            "verdict": self.verdict,
        }
