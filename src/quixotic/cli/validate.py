"""CLI of `quixotic validate`: parses, calls, prints. Exit 0 PASS (warnings allowed), 1 FAIL, 2 could not run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from quixotic.cli.options import AS_JSON, ENV, ROOT, out
from quixotic.cli.report import REPORT, checks_table, write_one
from quixotic.commands.report import check_out
from quixotic.commands.validate import validate
from quixotic.target import connect

STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "red"}


def validate_command(
    env: str = ENV,
    against: str = typer.Option(None, "--against", help="Also report drift from this environment's live project."),
    as_json: bool = AS_JSON,
    report_path: Path = REPORT,
    backups: Path = typer.Option(None, "--backups", help="Folder of backup archives (default: backups/)."),
    backup_max_age: float = typer.Option(
        None, "--backup-max-age", help="Hours before a WARN (default: the environment's protection.backupMaxAgeHours)."
    ),
    root: Path = ROOT,
) -> None:
    """Check that ENV's live project is what its configuration says (and, with --against, what else differs)."""
    html = check_out(report_path)
    reference = connect(root, against) if against else None
    report = validate(connect(root, env), against=reference, backups=backups, backup_max_age_hours=backup_max_age)
    title = f"quixotic validate {env}" + (f" against {against}" if against else "")
    write_one(html, "validate", report.to_json(), title)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, sort_keys=True, default=str))
        raise typer.Exit(report.exit_code)
    rows = ((f.check, f.status, f.summary, f.evidence) for f in report.findings)
    out.print(checks_table(f"validate {env}" + (f" against {against}" if against else ""), "check", rows, STYLE, 20))
    out.print(f"{env}: [bold]{report.verdict}[/]")
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
