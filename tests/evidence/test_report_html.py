"""The HTML report, pure: sections for each report, everything user-controlled escaped, the JSON it was made
from embedded and parseable, plotly's JS inlined (nothing fetched from the network)."""

from __future__ import annotations

import json
import re
from typing import Any

from quixotic.evidence.decide import Rules
from quixotic.evidence.report import render

T0 = 1_700_000_000.0


def validation() -> dict[str, Any]:
    return {
        "environment": "prod", "against": "dev", "verdict": "FAIL",
        "findings": [
            {"check": "reach", "status": "PASS", "summary": "answers", "evidence": []},
            {"check": "backup", "status": "WARN", "summary": "no backup", "evidence": []},
            {"check": "smoke", "status": "FAIL", "summary": "hello failed",
             "evidence": ["hello: <script>alert(1)</script>"]},
        ],
        "drift": [{"path": "column:app/notes/words", "here": "absent", "there": "present", "declared": False}],
    }  # fmt: skip


def monitor() -> dict[str, Any]:
    windows = [{"start": T0 + 60 * i, "end": T0 + 60 * (i + 1), "count": 40, "errors": e, "errorRate": e / 40,
                "p95": p, "outcome": o, "reasons": r}
               for i, (e, p, o, r) in enumerate([(0, 0.12, "PASS", []), (1, 0.13, "PASS", []),
                                                 (12, 0.31, "FAIL", ["error rate 30.0% above 5.0%"])])]  # fmt: skip
    return {"environment": "prod", "release": "r1", "baseline": 120, "baselineP95": 0.11, "baselineErrorRate": 0.01,
            "errorLimit": 0.05, "windows": windows, "health": [True] * 3, "rollbackReason": "3 windows failed",
            "rolledBackTo": "r0", "verdict": "FAIL", "reasons": ["rolled back"]}  # fmt: skip


def bench() -> dict[str, Any]:
    def side(env: str, scale: float) -> dict[str, Any]:
        latency = {m: v * scale for m, v in {"p50": 10.0, "p90": 14.0, "p95": 16.0, "p99": 22.0, "max": 30.0}.items()}
        return {"environment": env, "requests": 300, "errors": 0, "errorRate": 0.0, "rps": 10.0, "seconds": 30.0,
                "latencyMs": latency, "serverMs": {"p50": 5.0, "p95": 8.0, "p99": 9.0}, "coldStarts": 1}  # fmt: skip

    return {"environment": "dev", "compare": "prod", "function": "hello", "request": {"method": "GET", "path": "/"},
            "rate": 10.0, "duration": 30.0, "warmup": 5.0, "sides": [side("dev", 1.1), side("prod", 1.0)],
            "thresholds": [{"threshold": "p95<800ms", "actual": 17.6, "passed": True, "why": "p95<800ms: met"}],
            "comparison": {"environment": "dev", "reference": "prod", "deltasMs": {"p50": 1.0, "p90": 1.4, "p95": 1.6,
                           "p99": 2.2, "max": 3.0}, "ratios": {"p50": 1.1, "p90": 1.1, "p95": 1.1, "p99": 1.1,
                           "max": 1.1}, "pValue": 0.2, "pSlower": 0.1, "effectSize": 0.1, "regressed": False,
                           "why": "median 1.10x the reference's"},
            "generator": {"p50Ms": 0.1, "p99Ms": 0.5, "maxMs": 1.0, "late": 0, "lateMs": 10.0},
            "verdict": "PASS"}  # fmt: skip


def reports() -> dict[str, Any]:
    preflight = {"environment": "prod", "from": "dev", "withinHours": 24.0, "verdict": "NO-GO", "missing": ["bench"],
                 "items": [{"item": "bench", "status": "NO-GO", "summary": "none recorded", "evidence": []}],
                 "confirmed": {}}  # fmt: skip
    parity = {"old": "prod", "new": "dev", "requests": 4, "same": False, "noise": {"body.id": 4},
              "differences": [{"request": "hello GET /", "path": "body.greeting", "count": 4,
                               "examples": [{"old": "hi", "new": "<b>yo</b>"}]}]}  # fmt: skip
    return {"validate": validation(), "preflight": preflight, "parity": parity, "bench": bench(), "monitor": monitor()}


RELEASES = [
    {"id": "r1", "kind": "deploy", "status": "succeeded", "startedAt": "2023-11-14T22:13:30+00:00"},
    {"id": "r2<script>", "kind": "rollback", "status": "succeeded", "startedAt": "2023-11-14T22:16:10+00:00"},
]


def embedded(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="quixotic-data">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_the_page_holds_every_section_and_inlines_plotly() -> None:
    html = render("quixotic report: prod", reports(), releases=RELEASES)
    for heading in (
        "Validation of prod against dev",
        "Drift from dev",
        "Preflight of prod from dev",
        "Parity: dev against prod",
        "Bench of hello on dev against prod",
        "Monitor of prod",
        "Releases",
    ):
        assert heading in html, heading  # fmt: skip
    assert "chart-latency-0" in html and "chart-errors-0" in html and "chart-bench-0" in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly's JS is in the page
    assert 'src="http' not in html and "<script src" not in html and "<link" not in html


def test_user_controlled_text_is_escaped() -> None:
    html = render("<t>", reports(), releases=RELEASES)
    assert "<script>alert(1)</script>" not in html
    assert "hello: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;yo&lt;/b&gt;" in html and "<title>&lt;t&gt;</title>" in html
    assert "r2<script>" not in html


def test_the_json_it_was_made_from_is_embedded() -> None:
    data = reports()
    html = render("r", data, releases=RELEASES, history=[{"kind": "bench", "environment": "dev",
                                                          "startedAt": "x", "verdict": "PASS"}])  # fmt: skip
    back = embedded(html)
    assert back["reports"] == data and back["releases"] == RELEASES and back["history"][0]["kind"] == "bench"


def test_a_page_without_reports_says_so() -> None:
    html = render("empty", {"monitor": None})
    assert "nothing was recorded yet" in html and embedded(html)["reports"] == {}


def band(html: str) -> tuple[str, list[float]]:
    """The latency chart's band: its trace name and its height (ms)."""
    found = re.search(r'"name":"([^"]*x baseline)","x":\[[^\]]*\],"y":\[([^\]]*)\]', html)
    assert found is not None, "no latency band drawn"
    return found.group(1), [float(v) for v in found.group(2).split(",")]


def test_the_latency_band_is_the_factor_the_monitor_recorded() -> None:
    recorded = {**monitor(), "latencyFactor": 1.5}  # baseline p95 110 ms
    html = render("r", {"monitor": recorded})
    assert band(html) == ("1.5 x baseline", [165.0, 165.0])
    assert "p95 fails above 1.5 x the baseline" in html


def test_an_older_monitor_record_without_its_factor_draws_the_default_and_says_so() -> None:
    older = monitor()
    assert "latencyFactor" not in older
    html = render("r", {"monitor": older})
    assert band(html) == (f"{Rules.latency_factor:g} x baseline", [110 * Rules.latency_factor] * 2)
    assert "latency factor not recorded (an older run)" in html
