"""What every CLI module shares: the consoles, the common options and the plain progress line.

One place, so ``--root`` means the same folder and help text everywhere, stdout carries only results
(tables, JSON) and stderr carries progress and errors.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ROOT = typer.Option(Path("."), "--root", help="Project root (the folder with appwrite.json and migrations/).")
ENV = typer.Argument(..., help="Environment (local, dev, prod, ...).")
DATA = typer.Option(Path(".quixotic/local"), "--data", help="Data folder of the local server.")
YES = typer.Option(False, "--yes", help="Do not ask for confirmation on protected environments (CI).")
AS_JSON = typer.Option(False, "--json", help="Print as JSON.")


def say(message: str) -> None:
    """One progress line on stderr."""
    err.print(f"[dim]…[/] {escape(message)}")
