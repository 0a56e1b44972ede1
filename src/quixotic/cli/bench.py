"""CLI of `quixotic bench`: parses, calls, shows progress and the figures. Exit 0 every threshold met, 1 not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quixotic.cli.monitor import seconds
from quixotic.cli.options import AS_JSON, ENV, ROOT, err, out
from quixotic.cli.report import REPORT, write_one
from quixotic.commands import bench
from quixotic.commands.report import check_out
from quixotic.evidence.bench import LATENCY_METRICS, BenchReport
from quixotic.target import connect


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(report: BenchReport) -> Table:
    table = Table(title=f"bench {report.function} {report.request['method']} {report.request['path']} at "
                  f"{report.rate:g}/s for {report.duration:g} s (warm-up {report.warmup:g} s)")  # fmt: skip
    table.add_column("metric")
    for side in report.sides:
        table.add_column(escape(side.environment), justify="right")
    if report.comparison is not None:
        table.add_column("delta", justify="right")
    for metric in LATENCY_METRICS:
        row = [f"{metric} ms"] + [_ms(s.latency[metric]) for s in report.sides]
        if report.comparison is not None:
            delta = report.comparison.deltas_ms[metric]
            row.append("-" if delta is None else f"{delta:+.1f}")
        table.add_row(*row)
    for metric in ("p50", "p95", "p99"):
        extra = [""] if report.comparison is not None else []
        table.add_row(f"server {metric} ms", *[_ms(s.server[metric]) for s in report.sides], *extra)
    rows = [
        ("requests", [str(s.requests) for s in report.sides]),
        ("errors", [f"{s.errors} ({s.error_rate:.1%})" for s in report.sides]),
        ("throughput /s", [f"{s.rps:.1f}" for s in report.sides]),
        ("slow first executions", [str(s.cold_starts) for s in report.sides]),
    ]
    for name, values in rows:
        table.add_row(name, *values, *([""] if report.comparison is not None else []))
    return table


def bench_command(
    env: str = ENV,
    function: str = typer.Option(..., "--function", help="The function to load."),
    rate: float = typer.Option(10.0, "--rate", help="Requests per second (to each environment)."),
    duration: str = typer.Option("30s", "--duration", help="How long to measure (e.g. 30s, 2m)."),
    warmup: str = typer.Option("5s", "--warmup", help="Sent first and not counted (e.g. 5s; 0 for none)."),
    compare: str = typer.Option(None, "--compare", help="Measure this environment too, interleaved, and compare."),
    threshold: list[str] = typer.Option([], "--threshold", help="e.g. 'p95<800ms', 'errors<1%', 'rps>40'."),
    path: str = typer.Option(None, "--path", help="Request path (default: the declared smoke/parity request)."),
    method: str = typer.Option(None, "--method", help="Request method (with --path)."),
    workers: int = typer.Option(bench.WORKERS, "--workers", help="Sender threads."),
    max_slowdown: float = typer.Option(1.25, "--max-slowdown", help="With --compare: median ratio that fails."),
    as_json: bool = AS_JSON,
    report_path: Path = REPORT,
    root: Path = ROOT,
) -> None:
    """Open-loop load at a constant arrival rate: latency percentiles, errors, throughput; thresholds decide."""
    html = check_out(report_path)
    target = connect(root, env)
    against = connect(root, compare) if compare else None
    measured, warm = seconds(duration, "--duration"), seconds(warmup, "--warmup")

    def run(show: Callable[[bench.Progress], None] | None = None) -> BenchReport:
        return bench.bench(target, function, rate=rate, duration=measured, warmup=warm, against=against,
                           method=method, path=path, thresholds=threshold, workers=workers, max_slowdown=max_slowdown,
                           on_progress=show)  # fmt: skip

    title = f"quixotic bench {env} --function {function}" + (f" --compare {compare}" if compare else "")
    if as_json:
        report = run()
        write_one(html, "bench", report.to_json(), title)
        typer.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
        raise typer.Exit(report.exit_code)
    columns = (TextColumn("[bold]bench[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[errors]} errors"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("bench", total=None, errors=0)

        def show(p: bench.Progress) -> None:
            bar.update(task, completed=p.done, total=p.total, errors=p.errors)

        report = run(show)
    write_one(html, "bench", report.to_json(), title)
    out.print(_table(report))
    if report.lag is not None:
        lag = report.lag
        out.print(f"generator: sent {_ms(lag.p50)} ms (p50) / {_ms(lag.p99)} ms (p99) after the due time; "
                  f"{lag.late} request(s) later than {lag.late_ms:g} ms" +
                  (" [yellow](raise --workers: the latency includes the wait)[/]" if lag.late else ""))  # fmt: skip
    if report.comparison is not None:
        c = report.comparison
        style = "red" if c.regressed else "green"
        p = "-" if c.p_value is None else f"{c.p_value:.3g}"
        out.print(f"[{style}]{escape(c.a)} vs {escape(c.b)}[/]: {escape(c.why)}; two-sided p={p}")
    for result in report.thresholds:
        out.print(f"[{'green' if result.passed else 'red'}]{'met' if result.passed else 'FAILED'}[/] "
                  f"{escape(result.why)}")  # fmt: skip
    out.print(f"{env}: [bold]{report.verdict}[/]")
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
