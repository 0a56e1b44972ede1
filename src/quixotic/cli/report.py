"""CLI of `quixotic report ENV --out FILE.html`, and the ``--report PATH`` option the go/no-go commands share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from quixotic.cli.options import ENV, ROOT, err
from quixotic.commands import report as pages
from quixotic.target import connect

REPORT = typer.Option(None, "--report", help="Also write the report as one self-contained HTML file here.")


def write_one(path: Path | None, kind: str, data: Mapping[str, Any], title: str,
              releases: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
    """Write ``kind``'s report to ``path`` when one was asked for (checked before the run by ``check_out``)."""
    if path is not None:
        pages.write(path, pages.one(kind, data, title=title, releases=releases))
        err.print(f"report: {escape(str(path))}")


def checks_table(
    title: str,
    head: str,
    rows: Iterable[tuple[str, str, str, Sequence[str]]],
    style: Mapping[str, str],
    limit: int,
) -> Table:
    """The go/no-go commands' table: a row per check (``name, status, summary, evidence``), the status in its
    colour, the summary over the first ``limit`` lines of evidence (and how many more there are)."""
    table = Table(title=title, show_lines=True)
    for column in (head, "status", "evidence"):
        table.add_column(column)
    for name, status, summary, evidence in rows:
        lines = "\n".join(escape(e) for e in evidence[:limit])
        more = f"\n... {len(evidence) - limit} more" if len(evidence) > limit else ""
        shown = escape(summary) + (f"\n{lines}{more}" if lines else "")
        table.add_row(escape(name), f"[{style[status]}]{status}[/]", shown)
    return table


def report_command(
    env: str = ENV,
    out_path: Path = typer.Option(..., "--out", help="The HTML file to write (its folder must exist)."),
    root: Path = ROOT,
) -> None:
    """One HTML page of ENV's recorded evidence (latest validate, preflight, parity, bench, monitor) and releases."""
    path = pages.check_out(out_path, "--out")
    assert path is not None
    pages.write(path, pages.environment_report(connect(root, env)))
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
