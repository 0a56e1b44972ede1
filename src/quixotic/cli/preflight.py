"""CLI of `quixotic preflight`: parses, calls, prints the checklist item by item. Exit 0 GO, 1 NO-GO."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from quixotic.cli.monitor import seconds
from quixotic.cli.options import AS_JSON, ENV, ROOT, out
from quixotic.cli.report import REPORT, checks_table, write_one
from quixotic.commands.preflight import preflight
from quixotic.commands.report import check_out
from quixotic.evidence.preflight import parse_confirm
from quixotic.target import connect

STYLE = {"GO": "green", "NO-GO": "red", "INFO": "cyan"}


def preflight_command(
    env: str = ENV,
    source: str = typer.Option(..., "--from", help="The environment that runs what ENV will run (e.g. dev)."),
    within: str = typer.Option("24h", "--within", help="How fresh the evidence must be (e.g. 24h, 90m)."),
    confirm: str = typer.Option(None, "--confirm", help="Human items a person vouches for: trained,communicated."),
    backups: Path = typer.Option(None, "--backups", help="Folder of backup archives (default: backups/)."),
    as_json: bool = AS_JSON,
    report_path: Path = REPORT,
    root: Path = ROOT,
) -> None:
    """The pre-migration checklist as a gate: GO or NO-GO, item by item with its evidence; recorded in ENV."""
    html = check_out(report_path)
    confirmed = parse_confirm(confirm)
    hours = seconds(within, "--within") / 3600
    report = preflight(connect(root, env), connect(root, source), within_hours=hours, confirm=confirmed,
                       backups=backups)  # fmt: skip
    write_one(html, "preflight", report.to_json(), f"quixotic preflight {env} from {source}")
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, sort_keys=True, default=str))
        raise typer.Exit(report.exit_code)
    rows = ((i.name, i.status, i.summary, i.evidence) for i in report.items)
    out.print(checks_table(f"preflight {env} from {source} (evidence within {hours:g} h)", "item", rows, STYLE, 15))
    missing = f" (missing: {', '.join(report.missing)})" if report.missing else ""
    out.print(f"{env}: [bold]{report.verdict}[/]{escape(missing)}")
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight_command)
