"""CLI of `quixotic parity`: parses, calls, prints. Exit 0: the same; 1: NEW answers differently."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from quixotic.cli.options import AS_JSON, ROOT, out
from quixotic.cli.report import REPORT, write_one
from quixotic.commands.parity import parity, read_requests
from quixotic.commands.report import check_out
from quixotic.target import connect


def parity_command(
    old: str = typer.Argument(..., help="The environment that is right (e.g. prod)."),
    new: str = typer.Argument(..., help="The environment to compare with it (e.g. dev)."),
    requests: Path = typer.Option(None, "--requests", help="JSON lines: function, method, path, headers, body."),
    as_json: bool = AS_JSON,
    report_path: Path = REPORT,
    root: Path = ROOT,
) -> None:
    """Send the same requests to OLD (twice) and NEW (once); report the JSON paths where NEW differs."""
    html = check_out(report_path)
    chosen = read_requests(requests) if requests is not None else None
    report = parity(connect(root, old), connect(root, new), requests=chosen)
    write_one(html, "parity", report.to_json(), f"quixotic parity {old} {new}")
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, sort_keys=True, default=str))
    else:
        for diff in report.diffs.values():
            out.print(f"[red]differs[/] {escape(diff.describe())}")
        noisy = ", ".join(sorted(report.noise)) or "none"
        out.print(f"{report.requests} request(s); noise learned from {old} (ignored): {escape(noisy)}")
        out.print(f"{new} vs {old}: [bold]{'SAME' if report.same else 'DIFFERENT'}[/]")
    raise typer.Exit(0 if report.same else 1)


def register(app: typer.Typer) -> None:
    app.command("parity")(parity_command)
