"""CLI of the migration verbs (`quixotic migrate ...`). Parses, calls quixotic.commands.migrate, prints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from quixotic.cli.options import AS_JSON, ENV, ROOT, YES, err, out, say
from quixotic.commands import migrate as cmd
from quixotic.migrations.graph import Migration
from quixotic.target import connect

migrate_app = typer.Typer(
    no_args_is_help=True, help="Versioned schema and data migrations (files in migrations/, history in the target)."
)
NO_BACKUP = typer.Option(False, "--no-backup", help="Skip the backup the environment's policy asks for.")
DRY_RUN = typer.Option(False, "--dry-run", help="Show what would happen; write nothing.")
WAIT = typer.Option(0.0, "--wait", help="Seconds to wait for another migration run of this environment.")
OVERRIDE_FREEZE = typer.Option(
    None, "--override-freeze", help="Run schema changes the feature freeze prohibits; the reason is recorded."
)
STYLE = {"applied": "green", "pending": "cyan", "failed": "red", "running": "yellow"}


def _confirm(direction: str, chosen: Sequence[Migration]) -> bool:
    for m in chosen:
        err.print(f"  {direction} {escape(m.name)}: {escape(m.description)}")
    return typer.confirm(f"Run these {len(chosen)} migration(s) ({direction})?", default=False, err=True)


def _print_run(env: str, result: cmd.RunResult) -> None:
    if result.interrupted:
        err.print(f"[yellow]note:[/] marked interrupted attempts of {', '.join(result.interrupted)} (runner gone)")
    if not result.outcomes:
        out.print(f"{env}: nothing to {'apply' if result.direction == 'up' else 'roll back'}")
        return
    for o in result.outcomes:
        head = f"{o.name}: {o.status}" + (" (resumed)" if o.resumed else "")
        wrote = f", {o.rows} rows {'to write' if result.dry_run else 'written'}" if o.rows else ""
        out.print(f"{escape(head)} in {o.seconds:.2f} s{wrote}")
        for action in o.actions if result.dry_run else []:
            out.print(f"    {escape(action)}")
    if result.backup:
        out.print(f"backup: {escape(result.backup)}")
    word = "checked (dry run, nothing written)" if result.dry_run else "done"
    out.print(f"{env}: {len(result.outcomes)} migration(s) {word} in {result.seconds:.1f} s")


@migrate_app.command("status")
def status_command(env: str = ENV, as_json: bool = AS_JSON, root: Path = ROOT) -> None:
    """Files and the target's history side by side: applied, pending, failed, edited-after-apply, missing-file."""
    report = cmd.status(connect(root, env))
    if as_json:
        rows = [
            {"id": s.id, "name": s.name, "state": s.state, "detail": s.detail}
            | {"last": asdict(s.last) if s.last else None}
            for s in report.statuses
        ]
        lock = None if report.lock is None else report.lock.describe()
        typer.echo(json.dumps({"migrations": rows, "problems": report.problems, "lock": lock}, indent=2))
        return
    table = Table(title=f"migrations of {env}")
    for column in ("id", "migration", "state", "when", "by", "detail"):
        table.add_column(column)
    for s in report.statuses:
        style = STYLE.get(s.state, "red")
        when = (s.last.finished_at or s.last.started_at)[:19].replace("T", " ") if s.last else ""
        table.add_row(
            s.id, escape(s.slug), f"[{style}]{s.state}[/]", when, escape(s.last.by if s.last else ""), escape(s.detail)
        )
    out.print(table)
    if report.lock is not None:
        out.print(f"lock: held by {escape(report.lock.describe())}")
    for problem in report.problems:
        err.print(f"[red]problem:[/] {escape(problem)}")


@migrate_app.command("up")
def up_command(
    env: str = ENV,
    to: str = typer.Option(None, "--to", help="Stop after this migration (id, e.g. 0002)."),
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
    no_backup: bool = NO_BACKUP,
    wait: float = WAIT,
    override_freeze: str = OVERRIDE_FREEZE,
    root: Path = ROOT,
) -> None:
    """Apply pending migrations in order (a failed or killed one resumes from its saved batches)."""
    result = cmd.up(
        connect(root, env), to=to, dry_run=dry_run, yes=yes, no_backup=no_backup, confirm=_confirm,
        progress=say, lock_wait=wait, override_freeze=override_freeze,
    )  # fmt: skip
    _print_run(env, result)


@migrate_app.command("down")
def down_command(
    env: str = ENV,
    to: str = typer.Option(None, "--to", help="Undo every migration after this one (0: all)."),
    steps: int = typer.Option(None, "--steps", help="Undo this many, newest first (default 1)."),
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
    no_backup: bool = NO_BACKUP,
    wait: float = WAIT,
    override_freeze: str = OVERRIDE_FREEZE,
    root: Path = ROOT,
) -> None:
    """Roll back applied migrations, newest first (refused past an irreversible one)."""
    result = cmd.down(
        connect(root, env), to=to, steps=steps, dry_run=dry_run, yes=yes, no_backup=no_backup, confirm=_confirm,
        progress=say, lock_wait=wait, override_freeze=override_freeze,
    )  # fmt: skip
    _print_run(env, result)


@migrate_app.command("new")
def new_command(
    slug: str = typer.Argument(..., help="What it does, e.g. add_word_count."),
    description: str = typer.Option("", "--description", "-m", help="One line saying why (the docstring)."),
    root: Path = ROOT,
) -> None:
    """Write the next numbered migration file from a template."""
    out.print(f"created {cmd.new(root, slug, description)}")


@migrate_app.command("verify")
def verify_command(env: str = ENV, root: Path = ROOT) -> None:
    """Exit 1 if an applied file was edited, a file is missing or bad, or a migration is unfinished (for CI)."""
    report = cmd.verify(connect(root, env))
    for problem in report.problems:
        err.print(f"[red]problem:[/] {escape(problem)}")
    if report.problems:
        raise typer.Exit(1)
    applied = sum(1 for s in report.statuses if s.state == "applied")
    out.print(f"{env}: ok ({applied} applied, {len(report.pending)} pending, checksums match)")


@migrate_app.command("baseline")
def baseline_command(
    env: str = ENV,
    to: str = typer.Option(..., "--to", help="Mark every migration up to this one as applied, without running it."),
    yes: bool = YES,
    root: Path = ROOT,
) -> None:
    """Adopt a project that already has these changes (e.g. made by hand or by deploy)."""
    outcomes = cmd.baseline(connect(root, env), to, yes=yes, confirm=_confirm)
    for o in outcomes:
        out.print(f"{escape(o.name)}: baselined")
    if not outcomes:
        out.print(f"{env}: nothing to baseline")


@migrate_app.command("unlock")
def unlock_command(
    env: str = ENV,
    force: bool = typer.Option(False, "--force", help="Break the lock even though its holder looks alive."),
    root: Path = ROOT,
) -> None:
    """Show who holds the migrations lock, then break it if the holder is gone (or with --force)."""
    target = connect(root, env)
    lock = cmd.holder(target)
    if lock is None:
        out.print(f"{env}: the migrations lock is free")
        return
    out.print(f"held by {escape(lock.describe())}")
    result = cmd.unlock(target, force=force)
    state = "stale" if result.stale else "live, forced"
    out.print(f"{env}: lock broken ({state})")


def register(app: typer.Typer) -> None:
    app.add_typer(migrate_app, name="migrate")
