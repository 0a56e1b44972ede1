"""CLI of `quixotic monitor`: parses, calls, shows a live table of the windows. Exit 0 PASS, 1 FAIL, 3 INCONCLUSIVE."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from quixotic.cli.options import AS_JSON, ENV, ROOT, err, out
from quixotic.cli.report import REPORT, write_one
from quixotic.commands.monitor import MonitorReport, monitor
from quixotic.commands.report import check_out, releases_of
from quixotic.errors import UsageError
from quixotic.evidence.decide import Rules
from quixotic.target import connect

STYLE = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow"}
_UNITS = {"s": 1, "m": 60, "h": 3600}


def seconds(text: str, what: str) -> float:
    """``90s``, ``5m``, ``2h`` or a plain number of seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if found is None:
        raise UsageError(f"{what} {text!r} is not a duration: write e.g. 90s, 5m or 2h")
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


def _table(report: MonitorReport) -> Table:
    table = Table(title=f"monitor {report.environment} (release {report.release or '?'}, baseline "
                  f"{report.baseline} executions)")  # fmt: skip
    for column in ("window", "executions", "errors", "p95", "new users / rows", "verdict", "why"):
        table.add_column(column)
    for index, w in enumerate(report.windows, 1):
        p95 = f"{w.p95 * 1000:.0f} ms" if w.p95 is not None else "-"
        seen = report.activity[index - 1] if index <= len(report.activity) else {"users": 0, "rows": 0}
        table.add_row(str(index), str(w.count), f"{w.errors} ({w.error_rate:.0%})", p95,
                      f"{seen['users']} / {seen['rows']}", f"[{STYLE[w.outcome]}]{w.outcome}[/]",
                      escape("; ".join(w.reasons)))  # fmt: skip
    return table


def monitor_command(
    env: str = ENV,
    for_: str = typer.Option("2h", "--for", help="How long to watch (e.g. 2h, 30m)."),
    window: str = typer.Option("5m", "--window", help="Length of one window."),
    baseline: str = typer.Option(None, "--baseline", help="Release to watch (default: the latest deploy)."),
    auto_rollback: bool = typer.Option(False, "--auto-rollback", help="Roll back (once) when the rules say so."),
    min_samples: int = typer.Option(Rules.min_samples, "--min-samples", help="Executions a window needs."),
    as_json: bool = AS_JSON,
    report_path: Path = REPORT,
    root: Path = ROOT,
) -> None:
    """Watch ENV's executions window by window against the previous release; optionally roll back."""
    html = check_out(report_path)
    rules = Rules(min_samples=min_samples)
    target = connect(root, env)

    def keep(report: MonitorReport) -> None:
        if html is not None:
            write_one(html, "monitor", report.to_json(), f"quixotic monitor {env}", releases_of(target))

    if as_json:
        report = monitor(target, duration=seconds(for_, "--for"), window=seconds(window, "--window"),
                         release=baseline, auto_rollback=auto_rollback, rules=rules)  # fmt: skip
        keep(report)
        typer.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
        raise typer.Exit(report.exit_code)
    with Live(console=err, auto_refresh=False) as live:

        def show(report: MonitorReport) -> None:
            live.update(_table(report), refresh=True)

        report = monitor(target, duration=seconds(for_, "--for"), window=seconds(window, "--window"),
                         release=baseline, auto_rollback=auto_rollback, rules=rules, on_window=show)  # fmt: skip
    keep(report)
    out.print(_table(report))
    if report.rollback is not None:
        out.print(f"[red]rolled back[/] ({escape(report.rollback_reason or '')}): release {report.rollback.release_id}")
    elif report.rollback_reason:
        out.print(f"[red]roll back advised[/]: {escape(report.rollback_reason)} (`quixotic rollback {env}`)")
    assert report.verdict is not None
    out.print(f"{env}: [bold]{report.verdict.outcome}[/]" + "".join(f"\n  {escape(r)}" for r in report.verdict.reasons))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
