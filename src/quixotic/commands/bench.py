"""`quixotic bench ENV --function F`: an open-loop constant-arrival-rate load test of one function.

A small pool of worker threads takes the slots of :func:`quixotic.evidence.bench.schedule` in order; each
waits for its slot's due time, sends, and records the latency from the due time (not from when it was
sent), so when every worker is busy the next request is late and that lateness counts against the server
that kept the workers busy. How late the generator itself was (due vs sent) is measured too, and reported.
With ``compare`` both environments are measured in the same run, their requests interleaved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from quixotic.commands.execute import Executed, execute
from quixotic.commands.records import record
from quixotic.config.checks_file import Request, load_checks
from quixotic.errors import UsageError
from quixotic.evidence.bench import (
    BenchReport,
    Outcome,
    Slot,
    cold_starts,
    compare,
    evaluate,
    lag_of,
    parse_threshold,
    schedule,
    summarize,
)
from quixotic.target import Target

WORKERS: Final = 16
DRAIN_SECONDS: Final = 60.0
COLD_SECONDS: Final = 5.0
# A sleep on a busy VM wakes up to a few ms late, so a worker sleeps until this long before its due time and
# yields (``time.sleep(0)``, which lets other threads have the GIL) for the rest. At 50 requests/s that is at
# most 2 ms of yielding per 20 ms slot; bench/bench_generator.py measures the lag and CPU with and without it.
SPIN_SECONDS: Final = 0.002

Send = Callable[[int, Request], Executed]  # (side, request) -> outcome


@dataclass(frozen=True)
class Progress:
    """Where a run stands: requests answered of the total, errors so far, seconds since the start."""

    done: int
    total: int
    errors: int
    elapsed: float


def request_of(target: Target, function_id: str, method: str | None = None, path: str | None = None) -> Request:
    """The request to send: ``method``/``path`` when given, else the function's smoke request, else its first
    parity request (both declared in templates/checks.json as safe to send)."""
    if function_id not in [f.id for f in target.env.project.functions]:
        raise UsageError(f"no function {function_id!r} in appwrite.json")
    if method or path:
        return Request((method or "GET").upper(), path or "/")
    checks = load_checks(target.root, target.env.project).of(function_id)
    if checks.smoke is not None:
        return checks.smoke.request
    if checks.parity.requests:
        return checks.parity.requests[0]
    raise UsageError(f"{function_id} declares no smoke or parity request in templates/checks.json to send: declare "
                     "one, or give --path (and --method)")  # fmt: skip


@dataclass
class _Run:
    slots: Sequence[Slot]
    send: Send
    request: Request
    start: float
    clock: Callable[[], float]
    spin: float = SPIN_SECONDS
    next: int = 0
    done: int = 0
    errors: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.results: list[tuple[Slot, float, float, Executed] | None] = [None] * len(self.slots)

    def worker(self) -> None:
        while True:
            with self.lock:
                if self.next >= len(self.slots):
                    return
                slot = self.slots[self.next]
                self.next += 1
            due = self.start + slot.at
            wait = due - self.spin - self.clock()
            if wait > 0:
                time.sleep(wait)
            while self.clock() < due:  # a yield per turn, never a bare spin: that would hold the GIL
                time.sleep(0)
            sent = self.clock()
            executed = self.send(slot.side, self.request)
            answered = self.clock()
            with self.lock:
                self.results[slot.index] = (slot, sent, answered, executed)
                self.done += 1
                self.errors += 0 if executed.ok else 1


def generate(
    slots: Sequence[Slot],
    send: Send,
    request: Request,
    *,
    workers: int = WORKERS,
    drain: float = DRAIN_SECONDS,
    clock: Callable[[], float] = time.perf_counter,
    on_progress: Callable[[Progress], None] | None = None,
    tick: float = 0.25,
    spin: float = SPIN_SECONDS,
) -> tuple[list[list[Outcome]], list[float]]:
    """Send every slot on schedule; per side every outcome (warm-up ones marked), and every send's lag (ms). A
    request still unanswered ``drain`` s after the last slot is an error. ``spin``: seconds before a due time
    that a worker stops sleeping and yields instead (0: sleep only)."""
    if workers < 1:
        raise UsageError("at least one worker is needed")
    run = _Run(slots, send, request, clock() + 0.05, clock, spin)
    threads = [threading.Thread(target=run.worker, daemon=True, name=f"bench-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    deadline = run.start + (slots[-1].at if slots else 0.0) + drain
    while clock() < deadline:
        alive = [t for t in threads if t.is_alive()]
        if not alive:
            break
        alive[0].join(tick)
        if on_progress is not None:
            on_progress(Progress(run.done, len(slots), run.errors, clock() - run.start))
    with run.lock:
        results = list(run.results)
    sides = max((s.side for s in slots), default=0) + 1
    outcomes: list[list[Outcome]] = [[] for _ in range(sides)]
    lags: list[float] = []
    for slot, result in zip(slots, results, strict=True):
        if result is None:  # never answered (or never sent) in time
            outcomes[slot.side].append(Outcome(drain * 1000, 0.0, False, slot.at, slot.warmup))
            continue
        _, sent, answered, executed = result
        due = run.start + slot.at
        lags.append((sent - due) * 1000)
        outcomes[slot.side].append(Outcome((answered - due) * 1000, executed.duration * 1000, executed.ok,
                                           slot.at, slot.warmup))  # fmt: skip
    return outcomes, lags


def bench(
    target: Target,
    function_id: str,
    *,
    rate: float = 10.0,
    duration: float = 30.0,
    warmup: float = 5.0,
    against: Target | None = None,
    method: str | None = None,
    path: str | None = None,
    thresholds: Sequence[str] = (),
    workers: int = WORKERS,
    max_slowdown: float = 1.25,
    keep: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
) -> BenchReport:
    """Load ``function_id`` of ``target`` (and of ``against``, interleaved) and judge the thresholds; the
    report is recorded in each environment's tool state unless ``keep`` is False."""
    parsed = [parse_threshold(t) for t in thresholds]  # malformed input fails before any request
    chosen = request_of(target, function_id, method, path)
    targets = [target] if against is None else [target, against]
    slots = schedule(rate, duration, warmup, len(targets))

    def send(side: int, req: Request) -> Executed:
        return execute(targets[side], function_id, req)

    outcomes, lags = generate(slots, send, chosen, workers=workers, on_progress=on_progress)
    sides, measured_of = [], []
    for side, every in zip(targets, outcomes, strict=True):
        measured = [o for o in every if not o.warmup]
        measured_of.append(measured)
        last = max((o.at + o.latency_ms / 1000 for o in measured), default=warmup + duration)
        cold = cold_starts(every, first_seconds=min(COLD_SECONDS, (warmup + duration) / 2))
        sides.append(summarize(side.env.name, measured, max(duration, last - warmup), cold))
    report = BenchReport(function_id, {"method": chosen.method, "path": chosen.path}, rate, duration, warmup, sides,
                         lag=lag_of(lags))  # fmt: skip
    if against is not None:
        a_ms = [o.latency_ms for o in measured_of[0] if o.ok]
        b_ms = [o.latency_ms for o in measured_of[1] if o.ok]
        report.comparison = compare(sides[0], sides[1], a_ms, b_ms, max_slowdown=max_slowdown)
    report.thresholds = [evaluate(t, sides[0]) for t in parsed]
    if keep:
        record(targets, "bench", target.env.name, report.verdict, report.to_json())
    return report
