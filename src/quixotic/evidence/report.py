"""The HTML report, pure: the JSON of the go/no-go reports in, one self-contained HTML page out.

One file people can open anywhere and mail around: no network (plotly's JS is inlined once, every chart is
drawn from data in the page), every value that came from a project or a user escaped, and the JSON the page
was made from embedded in ``<script type="application/json" id="quixotic-data">`` so a tool can read it back.
The reports carry no secrets (secret values are compared by fingerprint) and nothing else is added here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any, Final

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from quixotic.evidence.decide import Rules
from quixotic.timestamps import parse_iso

__all__ = ["KINDS", "render"]

KINDS: Final = ("validate", "preflight", "parity", "bench", "monitor")
COLOUR: Final = {"PASS": "#1a7f37", "GO": "#1a7f37", "SAME": "#1a7f37", "WARN": "#9a6700", "INFO": "#0969da",
                 "INCONCLUSIVE": "#bc4c00", "FAIL": "#cf222e", "NO-GO": "#cf222e", "DIFFERENT": "#cf222e",
                 "COULD NOT RUN": "#cf222e"}  # fmt: skip
_STYLE: Final = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#1f2328}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.35rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{font-weight:600;color:#fff;border-radius:4px;padding:.1rem .45rem;white-space:nowrap}
ul.evidence{margin:.3rem 0 0 1rem;padding:0;font-family:ui-monospace,monospace;font-size:.8rem}
.meta{color:#57606a} code{font-family:ui-monospace,monospace;font-size:.85rem}
.chart{height:380px}
"""


def _text(value: Any) -> str:
    """Any value as escaped text (JSON for structures, so examples show as their values)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return escape(value)
    return escape(json.dumps(value, sort_keys=True, default=str))


def _status(status: Any) -> str:
    label = str(status) if status is not None else "?"
    return f'<span class="status" style="background:{COLOUR.get(label, "#57606a")}">{escape(label)}</span>'


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table of cells that are already HTML (escape before)."""
    top = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>" for row in rows
    )  # fmt: skip
    return f"<table><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


def _evidence(summary: Any, lines: Sequence[Any], limit: int = 50) -> str:
    shown = "".join(f"<li>{_text(e)}</li>" for e in list(lines)[:limit])
    more = f"<li>... {len(lines) - limit} more</li>" if len(lines) > limit else ""
    return _text(summary) + (f'<ul class="evidence">{shown}{more}</ul>' if shown else "")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _epoch(text: str) -> float | None:
    try:
        return parse_iso(text).timestamp()
    except ValueError:
        return None


def _chart(figure: go.Figure, div_id: str) -> str:
    figure.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50}, height=380)
    html: str = figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                               config={"displaylogo": False, "responsive": True})  # fmt: skip
    return f'<div class="chart">{html}</div>'


# --- sections -------------------------------------------------------------------------------------------


def validation_section(data: Mapping[str, Any]) -> str:
    against = f" against {_text(data['against'])}" if data.get("against") else ""
    rows = [[_text(f.get("check")), _status(f.get("status")), _evidence(f.get("summary"), f.get("evidence") or [])]
            for f in data.get("findings") or []]  # fmt: skip
    out = [f"<h2>Validation of {_text(data.get('environment'))}{against} {_status(data.get('verdict'))}</h2>",
           _table(["check", "status", "evidence"], rows)]  # fmt: skip
    drift = data.get("drift") or []
    if drift:
        out.append(f"<h3>Drift from {_text(data.get('against'))}</h3>")
        out.append(_table(["path", "here", "there", "declared override"],
                          [[f"<code>{_text(d.get('path'))}</code>", _text(d.get("here")), _text(d.get("there")),
                            "yes" if d.get("declared") else "<strong>NO</strong>"] for d in drift]))  # fmt: skip
    return "".join(out)


def preflight_section(data: Mapping[str, Any]) -> str:
    rows = [[_text(i.get("item")), _status(i.get("status")), _evidence(i.get("summary"), i.get("evidence") or [])]
            for i in data.get("items") or []]  # fmt: skip
    confirmed = data.get("confirmed") or {}
    people = "".join(f"<li>{_text(k)}: by {_text(v.get('by'))} at {_text(v.get('at'))}</li>"
                     for k, v in sorted(confirmed.items()))  # fmt: skip
    return "".join([
        f"<h2>Preflight of {_text(data.get('environment'))} from {_text(data.get('from'))} "
        f"{_status(data.get('verdict'))}</h2>",
        f'<p class="meta">evidence within {_text(data.get("withinHours"))} h; missing: '
        f"{_text(', '.join(data.get('missing') or []) or 'nothing')}</p>",
        _table(["item", "status", "evidence"], rows),
        f"<p>Confirmed by people:</p><ul>{people}</ul>" if people else "",
    ])  # fmt: skip


def parity_section(data: Mapping[str, Any]) -> str:
    verdict = "SAME" if data.get("same") else "DIFFERENT"
    rows = []
    for d in data.get("differences") or []:
        examples = "".join(f"<li>{_text(e.get('old'))} &rarr; {_text(e.get('new'))}</li>"
                           for e in (d.get("examples") or [])[:5])  # fmt: skip
        rows.append([_text(d.get("request")), f"<code>{_text(d.get('path'))}</code>", _text(d.get("count")),
                     f'<ul class="evidence">{examples}</ul>'])  # fmt: skip
    noise = data.get("noise") or {}
    out = [
        f"<h2>Parity: {_text(data.get('new'))} against {_text(data.get('old'))} {_status(verdict)}</h2>",
        f'<p class="meta">{_text(data.get("requests"))} request(s); noise learned from {_text(data.get("old"))} '
        f"(ignored): {_text(', '.join(f'{k} ({v}x)' for k, v in sorted(noise.items())) or 'none')}</p>",
    ]
    out.append(_table(["request", "path", "count", "examples (old → new)"], rows, numeric=[2]) if rows
               else "<p>No differences.</p>")  # fmt: skip
    return "".join(out)


def bench_section(data: Mapping[str, Any], index: int = 0) -> str:
    sides = data.get("sides") or []
    request = data.get("request") or {}
    comparison = data.get("comparison")
    metrics = list((sides[0].get("latencyMs") or {}).keys()) if sides else []
    head = ["metric", *[str(s.get("environment")) for s in sides]] + (["delta ms", "ratio"] if comparison else [])
    rows = []
    for metric in metrics:
        row = [f"{escape(metric)} ms", *[_ms((s.get("latencyMs") or {}).get(metric)) for s in sides]]
        if comparison:
            delta, ratio = (comparison.get("deltasMs") or {}).get(metric), (comparison.get("ratios") or {}).get(metric)
            row += ["-" if delta is None else f"{delta:+.1f}", "-" if ratio is None else f"{ratio:.2f}x"]
        rows.append(row)
    extra = [""] * (2 if comparison else 0)
    for metric in ("p50", "p95", "p99"):
        rows.append([f"server {metric} ms", *[_ms((s.get("serverMs") or {}).get(metric)) for s in sides], *extra])
    for name, key, shown in (("requests", "requests", str), ("errors", "errorRate", lambda v: f"{v:.1%}"),
                             ("throughput /s", "rps", lambda v: f"{v:.1f}"),
                             ("slow first executions", "coldStarts", str)):  # fmt: skip
        rows.append([name, *[escape(shown(s[key])) if s.get(key) is not None else "-" for s in sides], *extra])
    out = [f"<h2>Bench of {_text(data.get('function'))} on {_text(data.get('environment'))}"
           + (f" against {_text(data.get('compare'))}" if data.get("compare") else "")
           + f" {_status(data.get('verdict'))}</h2>",
           f'<p class="meta">{_text(request.get("method"))} {_text(request.get("path"))} at {_text(data.get("rate"))}'
           f"/s for {_text(data.get('duration'))} s (warm-up {_text(data.get('warmup'))} s)</p>",
           _table(head, rows, numeric=list(range(1, len(head))))]  # fmt: skip
    if comparison:
        out.append(f"<p>{_status('FAIL' if comparison.get('regressed') else 'PASS')} {_text(comparison.get('why'))}"
                   f"; two-sided p={_text(comparison.get('pValue'))}</p>")  # fmt: skip
    thresholds = data.get("thresholds") or []
    if thresholds:
        out.append(_table(["threshold", "status", "why"],
                          [[_text(t.get("threshold")), _status("PASS" if t.get("passed") else "FAIL"),
                            _text(t.get("why"))] for t in thresholds]))  # fmt: skip
    generator = data.get("generator")
    if generator:
        out.append(f'<p class="meta">generator: sent {_ms(generator.get("p50Ms"))} ms (p50) / '
                   f'{_ms(generator.get("p99Ms"))} ms (p99) after the due time; {_text(generator.get("late"))} '
                   f"request(s) later than {_text(generator.get('lateMs'))} ms</p>")  # fmt: skip
    if sides and metrics:
        figure = go.Figure([go.Bar(name=str(s.get("environment")), x=metrics,
                                   y=[(s.get("latencyMs") or {}).get(m) for m in metrics]) for s in sides])  # fmt: skip
        figure.update_layout(title="client latency percentiles (ms)", barmode="group", yaxis_title="ms")
        out.append(_chart(figure, f"chart-bench-{index}"))
    return "".join(out)


def _release_marks(figure: go.Figure, releases: Sequence[Mapping[str, Any]], low: float, high: float) -> None:
    """A dashed vertical line and a label per release made between ``low`` and ``high`` (epoch s)."""
    for release in releases:
        at = _epoch(str(release.get("startedAt") or ""))
        if at is None or not low <= at <= high:
            continue
        colour = "#cf222e" if release.get("kind") == "rollback" else "#8250df"
        figure.add_shape(type="line", xref="x", yref="paper", x0=_iso(at), x1=_iso(at), y0=0, y1=1,
                         line={"color": colour, "dash": "dash", "width": 1.5})  # fmt: skip
        label = escape(f"{release.get('kind')} {release.get('id')}")
        figure.add_annotation(x=_iso(at), y=1, xref="x", yref="paper", text=label, showarrow=False,
                              yanchor="bottom", font={"color": colour, "size": 10})  # fmt: skip


def latency_factor(data: Mapping[str, Any]) -> float:
    """The factor the monitor judged p95 with, as it recorded it; a record made before it was recorded: the
    rules' default (:func:`monitor_section` says so)."""
    recorded = data.get("latencyFactor")
    return float(recorded) if recorded is not None else Rules.latency_factor


def monitor_section(data: Mapping[str, Any], releases: Sequence[Mapping[str, Any]] = (), index: int = 0) -> str:
    windows = data.get("windows") or []
    judged = (
        f", p95 fails above {latency_factor(data):g} x the baseline's"
        if data.get("latencyFactor") is not None
        else f", latency factor not recorded (an older run): the default {Rules.latency_factor:g} x is drawn"
    )
    out = [f"<h2>Monitor of {_text(data.get('environment'))} (release {_text(data.get('release'))}) "
           f"{_status(data.get('verdict'))}</h2>",
           f'<p class="meta">baseline: {_text(data.get("baseline"))} execution(s)'
           + (f", p95 {float(data['baselineP95']) * 1000:.0f} ms" if data.get("baselineP95") is not None else "")
           + (f", error rate {float(data['baselineErrorRate']):.1%}" if data.get("baselineErrorRate") is not None
              else "") + judged + "</p>"]  # fmt: skip
    reasons = data.get("reasons") or []
    if reasons:
        out.append("<ul>" + "".join(f"<li>{_text(r)}</li>" for r in reasons) + "</ul>")
    if data.get("rollbackReason"):
        done = f"rolled back to {_text(data.get('rolledBackTo'))}" if data.get("rolledBackTo") else "roll back advised"
        out.append(f"<p>{_status('FAIL')} {done}: {_text(data.get('rollbackReason'))}</p>")
    if windows:
        x = [_iso((float(w["start"]) + float(w["end"])) / 2) for w in windows]  # the middle of each window
        p95 = [None if w.get("p95") is None else float(w["p95"]) * 1000 for w in windows]
        outcomes = [str(w.get("outcome")) for w in windows]
        hover = [escape("; ".join(w.get("reasons") or []) or o) for w, o in zip(windows, outcomes, strict=True)]
        low, high = float(windows[0]["start"]), float(windows[-1]["end"])
        span = high - low
        latency = go.Figure()
        base = data.get("baselineP95")
        if base is not None:
            base_ms, factor = float(base) * 1000, latency_factor(data)
            latency.add_trace(go.Scatter(x=[x[0], x[-1]], y=[base_ms, base_ms], mode="lines", name="baseline p95",
                                         line={"color": "#57606a"}))  # fmt: skip
            latency.add_trace(go.Scatter(x=[x[0], x[-1]], y=[base_ms * factor, base_ms * factor], mode="lines",
                                         name=f"{factor:g} x baseline", fill="tonexty",
                                         fillcolor="rgba(87,96,106,0.15)",
                                         line={"color": "#bc4c00", "dash": "dot"}))  # fmt: skip
        latency.add_trace(go.Scatter(x=x, y=p95, mode="lines+markers", name="p95 per window", hovertext=hover,
                                     marker={"color": [COLOUR.get(o, "#57606a") for o in outcomes], "size": 9},
                                     line={"color": "#0969da"}))  # fmt: skip
        latency.update_layout(title="latency p95 per window (ms)", yaxis_title="ms", yaxis_rangemode="tozero")
        _release_marks(latency, releases, low - span, high)
        rates = [float(w.get("errorRate") or 0) * 100 for w in windows]
        errors = go.Figure(go.Bar(x=x, y=rates, name="error rate", hovertext=hover,
                                  marker={"color": [COLOUR.get(o, "#57606a") for o in outcomes]}))  # fmt: skip
        limit = data.get("errorLimit")
        if limit is not None:
            errors.add_trace(go.Scatter(x=[x[0], x[-1]], y=[float(limit) * 100] * 2, mode="lines",
                                        name="fails above", line={"color": "#cf222e", "dash": "dash"}))  # fmt: skip
        if data.get("baselineErrorRate") is not None:
            rate = float(data["baselineErrorRate"]) * 100
            errors.add_trace(go.Scatter(x=[x[0], x[-1]], y=[rate, rate], mode="lines", name="baseline",
                                        line={"color": "#57606a"}))  # fmt: skip
        errors.update_layout(title="error rate per window (%)", yaxis_title="%", yaxis_rangemode="tozero")
        _release_marks(errors, releases, low - span, high)
        out += [_chart(latency, f"chart-latency-{index}"), _chart(errors, f"chart-errors-{index}")]
        rows = [[str(i), _text(_iso(float(w["start"]))), _text(w.get("count")),
                 f"{_text(w.get('errors'))} ({float(w.get('errorRate') or 0):.0%})",
                 "-" if w.get("p95") is None else f"{float(w['p95']) * 1000:.0f} ms", _status(w.get("outcome")),
                 _text("; ".join(w.get("reasons") or []))] for i, w in enumerate(windows, 1)]  # fmt: skip
        out.append(_table(["window", "start (UTC)", "executions", "errors", "p95", "verdict", "why"], rows,
                          numeric=[0, 2, 3, 4]))  # fmt: skip
    else:
        out.append("<p>No window was watched.</p>")
    return "".join(out)


def releases_section(releases: Sequence[Mapping[str, Any]]) -> str:
    rows = [[f"<code>{_text(r.get('id'))}</code>", _text(r.get("kind")), _text(r.get("status")),
             _text(r.get("startedAt"))] for r in releases]  # fmt: skip
    return "<h2>Releases</h2>" + _table(["release", "kind", "status", "started (UTC)"], rows)


def history_section(history: Sequence[Mapping[str, Any]]) -> str:
    rows = [[_text(h.get("kind")), _text(h.get("environment")), _text(h.get("startedAt")), _status(h.get("verdict"))]
            for h in history]  # fmt: skip
    return "<h2>Recorded evidence</h2>" + _table(["kind", "about", "when (UTC)", "verdict"], rows)


# --- the page -------------------------------------------------------------------------------------------


def _embedded(value: Any) -> str:
    """JSON safe inside a <script> element: no ``<``, ``>`` or ``&`` left raw (JSON's own escapes)."""
    text = json.dumps(value, sort_keys=True, default=str, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(
    title: str,
    reports: Mapping[str, Mapping[str, Any] | None],
    *,
    releases: Sequence[Mapping[str, Any]] = (),
    history: Sequence[Mapping[str, Any]] = (),
    generated: str | None = None,
) -> str:
    """One HTML page: a section per report in ``reports`` (keys of :data:`KINDS`, values their ``to_json()``;
    None or absent: left out), the releases (``id``, ``kind``, ``status``, ``startedAt``: markers on the
    monitor charts) and the recorded evidence ``history``."""
    sections = {"validate": validation_section, "preflight": preflight_section, "parity": parity_section}
    body: list[str] = []
    for kind in KINDS:
        data = reports.get(kind)
        if not data:
            continue
        if kind == "bench":
            body.append(bench_section(data))
        elif kind == "monitor":
            body.append(monitor_section(data, releases))
        else:
            body.append(sections[kind](data))
    if not body:
        body.append("<p>No report: nothing was recorded yet (run validate, monitor, bench, parity or preflight).</p>")
    if releases:
        body.append(releases_section(releases))
    if history:
        body.append(history_section(history))
    embedded = {"title": title, "generated": generated, "reports": {k: v for k, v in reports.items() if v},
                "releases": list(releases), "history": list(history)}  # fmt: skip
    when = f'<p class="meta">generated {escape(generated)} by quixotic</p>' if generated else ""
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(title)}</title><style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>',
        f"<h1>{escape(title)}</h1>{when}",
        *body,
        f'<script type="application/json" id="quixotic-data">{_embedded(embedded)}</script>',
        "</body></html>\n",
    ])  # fmt: skip
