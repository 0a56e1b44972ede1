"""`quixotic monitor ENV`: watch a release window by window, judge each against the previous release, and
(with ``auto_rollback``) roll back at most once when the rules say so.

The facts come from the SDK: each function's executions (status, ``responseStatusCode``, ``duration``),
paged by ``$createdAt`` ranges (a list's ``total`` stops at 5,000), and a health check per window. The
judgement is :mod:`quixotic.evidence.decide`'s. Missing data is never a pass and never a rollback: a window
without enough executions, or one the server did not answer for, is INCONCLUSIVE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from quixotic.commands.deploy import RollbackResult, rollback
from quixotic.commands.records import record
from quixotic.config.jsonfile import camel_json
from quixotic.errors import ApiError, UsageError
from quixotic.evidence.decide import (
    Rules,
    RunVerdict,
    Sample,
    WindowVerdict,
    error_limit,
    error_rate,
    judge_window,
    percentile,
    rollback_reason,
    run_verdict,
)
from quixotic.plan.release import Release
from quixotic.sdk.boundary import call
from quixotic.sdk.values import Query
from quixotic.target import Target
from quixotic.timestamps import parse_iso

EXIT: Final = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}
FINAL: Final = frozenset({"completed", "failed"})


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def _epoch(text: str) -> float:
    return parse_iso(text).timestamp()


def executions(target: Target, start: float, end: float, functions: list[str]) -> list[Sample]:
    """The finished executions of ``functions`` created in ``[start, end)``, oldest first."""
    out: list[Sample] = []
    window = [Query.greater_than_equal("$createdAt", _iso(start)), Query.less_than("$createdAt", _iso(end))]
    for function_id in functions:

        def fetch(queries: list[str], f: str = function_id) -> dict[str, Any]:
            return dict(target.backend.functions.list_executions(f, [*window, *queries]))

        for e in target.backend.pages(f"reading the executions of {function_id}", fetch, "executions"):
            if e.get("status") not in FINAL:
                continue
            code = int(e.get("responseStatusCode") or 0)
            ok = e.get("status") == "completed" and code < 500
            out.append(Sample(_epoch(str(e["$createdAt"])), ok, float(e.get("duration") or 0.0), code))
    return sorted(out, key=lambda s: s.at)


def activity(target: Target, start: float, end: float) -> dict[str, int]:
    """Users and rows created in ``[start, end)``: the app's own activity beside its executions (counted by the
    server; Appwrite's ``total`` stops at 5,000, plenty for one window)."""
    window = [Query.greater_than_equal("$createdAt", _iso(start)), Query.less_than("$createdAt", _iso(end)),
              Query.limit(1)]  # fmt: skip
    users = int(call("counting new users", target.backend.users.list, window).get("total") or 0)
    rows = 0
    for table in target.env.project.tables:
        found = call(f"counting new rows of {table.id}", target.backend.db.list_rows, table.database_id, table.id,
                     window)  # fmt: skip
        rows += int(found.get("total") or 0)
    return {"users": users, "rows": rows}


def _healthy(target: Target) -> bool:
    return bool(target.backend.server_version())


# The report's values that its JSON shows as they are (camelCase keys).
_PLAIN: Final = "environment release baseline baseline_p95 baseline_error_rate error_limit latency_factor"


@dataclass
class MonitorReport:
    environment: str
    release: str | None
    baseline: int  # executions in the baseline
    baseline_p95: float | None = None  # s, of the baseline's successful executions
    baseline_error_rate: float = 0.0
    error_limit: float | None = None  # the error rate above which a window may fail (decide.error_limit)
    latency_factor: float = Rules.latency_factor  # a window's p95 may fail above this x the baseline's
    windows: list[WindowVerdict] = field(default_factory=list)
    health: list[bool] = field(default_factory=list)
    activity: list[dict[str, int]] = field(default_factory=list)  # per window: new users, new rows (not judged)
    blind: list[str] = field(default_factory=list)  # functions with logging off: Appwrite keeps no executions
    rollback_reason: str | None = None
    rollback: RollbackResult | None = None
    verdict: RunVerdict | None = None

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict.outcome] if self.verdict is not None else 3

    def to_json(self) -> dict[str, Any]:
        return {
            **camel_json(self, _PLAIN),
            "windows": [w.to_json() for w in self.windows],
            **camel_json(self, "health activity blind rollback_reason"),
            "rolledBackTo": self.rollback.restored_from if self.rollback else None,
            "verdict": self.verdict.outcome if self.verdict else None,
            "reasons": self.verdict.reasons if self.verdict else [],
        }


def _release(target: Target, release_id: str | None) -> Release | None:
    history = target.system.releases(200)
    if release_id is not None:
        found = next((r for r in history if r.id == release_id), None)
        if found is None:
            raise UsageError(f"no release {release_id} in {target.env.name}: `quixotic releases {target.env.name}`")
        return found
    return next((r for r in history if r.kind == "deploy" and r.status == "succeeded"), None)


def monitor(
    target: Target,
    *,
    duration: float,
    window: float,
    release: str | None = None,
    baseline_seconds: float | None = None,
    auto_rollback: bool = False,
    rules: Rules = Rules(),
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_window: Callable[[MonitorReport], None] | None = None,
    keep: bool = True,
) -> MonitorReport:
    """Watch ``target`` for ``duration`` s in windows of ``window`` s, judging each against the executions of
    the ``baseline_seconds`` before ``release`` (default: the latest successful deploy) was made. The report is
    recorded in the target's tool state (evidence for ``quixotic report``) unless ``keep`` is False."""
    if window <= 0 or duration < window:
        raise UsageError("the window must be positive and no longer than the whole run (--for >= --window)")
    configured = [f.id for f in target.env.project.functions]
    live = {str(f["$id"]): f for f in target.backend.pages("listing functions", target.backend.functions.list,
                                                           "functions")}  # fmt: skip
    blind = [f for f in configured if f in live and not live[f].get("logging", True)]
    functions = [f for f in configured if f not in blind]
    watched = _release(target, release)
    report = MonitorReport(target.env.name, watched.id if watched else None, 0)
    report.blind = blind
    baseline: list[Sample] = []
    if watched is not None:
        made = _epoch(watched.started_at)
        baseline = executions(target, made - (baseline_seconds or duration), made, functions)
    report.baseline = len(baseline)
    report.baseline_p95 = percentile([s.duration for s in baseline if s.ok], 95)
    report.baseline_error_rate = error_rate(baseline)
    report.error_limit = error_limit(report.baseline_error_rate, rules)
    report.latency_factor = rules.latency_factor
    started = clock()
    grace = min(2.0, window / 4)  # executions still running at a window's end land in it a little later
    since: list[Sample] = []  # every sample since the start (or since the rollback), for the at-once rules
    count = int(duration // window)
    index = 0
    confirming = False
    while index < count:
        start, end = started + index * window, started + (index + 1) * window
        sleep(max(0.0, end + grace - clock()))
        try:
            samples = executions(target, start, end, functions)
            report.activity.append(activity(target, start, end))
            healthy = _healthy(target)
        except ApiError as exc:
            samples, healthy = [], False
            report.activity.append({"users": 0, "rows": 0})
            report.windows.append(WindowVerdict(start, end, 0, 0, None, "INCONCLUSIVE", (exc.message,)))
        else:
            report.windows.append(judge_window(samples, baseline, start, end, rules))
        report.health.append(healthy)
        since.extend(samples)
        index += 1
        if on_window is not None:
            on_window(report)
        if confirming:
            break  # one window after the rollback, to see that it recovered
        failed = sum(1 for w in report.windows if w.outcome == "FAIL")
        reason = rollback_reason(since, report.health, rules)
        if reason is None and failed > rules.max_failed_windows:
            reason = f"{failed} windows failed (at most {rules.max_failed_windows})"
        if reason is not None and report.rollback_reason is None:
            report.rollback_reason = reason
            if auto_rollback:
                evidence = [r for w in report.windows for r in w.reasons]
                note = {"automatic": True, "by": "monitor", "reason": reason, "evidence": evidence}
                report.rollback = rollback(target, yes=True, note=note)
                since, confirming = [], True
    report.verdict = run_verdict(report.windows, report.rollback_reason, rules)
    if blind:
        report.verdict.reasons.append(
            f"not watched: {', '.join(blind)} (logging is off, so Appwrite keeps no executions of them): turn "
            "`logging` on in appwrite.json and deploy"
        )
    if keep:
        record([target], "monitor", target.env.name, report.verdict.outcome, report.to_json())
    return report
