"""CLI of the backup verbs: backup (create, verify, list), restore, env clone, diff-data. Parses, calls, prints.

Progress bars go to stderr (rich); results go to stdout. Passphrases come from the process environment
(``QUIXOTIC_BACKUP_PASSPHRASE`` unless ``--passphrase-env`` names another variable) or a hidden prompt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars

from quixotic.backup.archive import ArchiveReader
from quixotic.backup.dump import PARTS
from quixotic.backup.progress import MB, Progress, Step
from quixotic.backup.restore import Mode, RestorePreview, RestoreReport
from quixotic.cli.options import ROOT, YES, err, out
from quixotic.commands import backup as cmd
from quixotic.errors import BackupError, UsageError
from quixotic.target import Target, connect

PASSPHRASE_ENV = typer.Option(
    "QUIXOTIC_BACKUP_PASSPHRASE", "--passphrase-env", help="Process variable holding the secrets' passphrase."
)


class _DefaultCreate(typer.core.TyperGroup):
    """``quixotic backup ENV`` means ``quixotic backup create ENV``; ``verify`` and ``list`` stay subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors its own click Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["create", *args]
        return super().parse_args(ctx, args)


backup_app = typer.Typer(
    cls=_DefaultCreate, no_args_is_help=True, help="Back up an environment: `quixotic backup ENV`, verify, list."
)


@contextmanager
def bars() -> Iterator[Progress]:
    """A rich progress bar per task key, on stderr."""
    display = Bars(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[amount]}"), TimeElapsedColumn(),
        console=err, transient=False,
    )  # fmt: skip
    tasks: dict[str, TaskID] = {}

    def on_step(step: Step) -> None:
        amount = _amount(step)
        if step.key not in tasks:
            tasks[step.key] = display.add_task(escape(step.label), total=step.total, amount=amount)
        display.update(
            tasks[step.key], description=escape(step.label), completed=step.done, total=step.total, amount=amount
        )

    with display:
        yield on_step


def _amount(step: Step) -> str:
    if step.unit == "MB":
        return f"{step.done:,.1f}" + (f"/{step.total:,.1f}" if step.total is not None else "") + " MB"
    if not step.unit:
        return ""
    return f"{int(step.done):,}" + (f"/{int(step.total):,}" if step.total is not None else "") + f" {step.unit}"


def _passphrase(variable: str, *, ask: bool, confirm: bool) -> str | None:
    value = os.environ.get(variable)
    if value:
        return value
    if ask and sys.stdin.isatty():
        return str(typer.prompt("Passphrase for secret values", hide_input=True, confirmation_prompt=confirm, err=True))
    return None


def _parts(only: str | None) -> frozenset[str] | None:
    if only is None:
        return None
    parts = frozenset(p.strip() for p in only.split(",") if p.strip())
    unknown = sorted(parts - set(PARTS))
    if unknown:
        raise UsageError(f"--only: unknown part(s) {', '.join(unknown)}; choose among {', '.join(PARTS)}")
    return parts


def _mode(replace: bool, merge: bool) -> Mode | None:
    if replace and merge:
        raise UsageError("choose one of --replace and --merge")
    return "replace" if replace else "merge" if merge else None


def _side(name: str, root: Path) -> Target | Path:
    """An environment name, or an archive path (a .zip that exists)."""
    path = Path(name)
    if name.endswith(".zip") and path.is_file():
        return path
    return connect(root, name)


def _counts(counts: dict[str, Any]) -> str:
    shown = [f"{counts.get(k, 0):,} {k}" for k in ("tables", "rows", "buckets", "files", "users", "functions")]
    shown.append(f"{int(counts.get('fileBytes') or 0) / MB:,.1f} MB of files")
    return ", ".join(shown)


def _warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


# --- backup -----------------------------------------------------------------------------------------


@backup_app.command("create")
def create_command(
    env: str = typer.Argument(..., help="Environment to back up."),
    out_path: Path = typer.Option(None, "--out", help="Archive file (.zip) or folder (default: backups/)."),
    include_secrets: bool = typer.Option(
        False, "--include-secrets", help="Seal known secret values with a passphrase."
    ),
    passphrase_env: str = PASSPHRASE_ENV,
    only: str = typer.Option(None, "--only", help=f"Comma-separated parts: {','.join(PARTS)}."),
    root: Path = ROOT,
) -> None:
    """Write one verified archive of ENV: schema, rows, files, users, functions, variables, history."""
    target = connect(root, env)
    passphrase = _passphrase(passphrase_env, ask=include_secrets, confirm=True) if include_secrets else None
    with bars() as progress:
        path = cmd.backup(
            target, out_path, include_secrets, progress, passphrase=passphrase, only=_parts(only)
        )  # fmt: skip
    with ArchiveReader(path) as reader:
        manifest = reader.manifest
    out.print(f"{env}: backup written and verified: {escape(str(path))} ({path.stat().st_size / MB:,.1f} MB)")
    out.print(f"  {_counts(dict(manifest.get('counts') or {}))}")
    _warnings(list(manifest.get("warnings") or []))


@backup_app.command("verify")
def verify_command(
    path: Path = typer.Argument(..., help="Archive to check."),
    deep: str = typer.Option(None, "--deep", help="Also compare its data with this environment's live project."),
    root: Path = ROOT,
) -> None:
    """Check every part's SHA-256, size and JSON; with --deep, compare counts and content with the live project."""
    deep_target = connect(root, deep) if deep else None
    with bars() as progress:
        report = cmd.verify(path, deep_target, progress)
    m = report.manifest
    source = m.get("source") or {}
    out.print(
        f"{escape(str(path))}: OK: {report.check.parts} parts, {report.check.bytes / MB:,.1f} MB checked; "
        f"format {m.get('formatVersion')}, {source.get('environment')} ({source.get('projectId')}) "
        f"at {m.get('createdAt')}"
    )
    out.print(f"  {_counts(dict(m.get('counts') or {}))}")
    if report.deep is not None:
        for item in report.deep:
            out.print(f"  {'same' if item.same else 'DIFF'}  {escape(item.describe())}")
        if report.deep_differences:
            raise BackupError(
                f"the live project of {deep} differs from the archive in {len(report.deep_differences)} item(s)"
            )


@backup_app.command("list")
def list_command(
    folder: Path = typer.Option(None, "--dir", help="Folder of archives (default: backups/ under --root)."),
    env: str = typer.Option(None, "--env", help="Only the backups of this environment."),
    paths: bool = typer.Option(False, "--paths", help="Print only the paths (for scripts)."),
    root: Path = ROOT,
) -> None:
    """List the archives in a folder, newest first (unfinished backups are not listed)."""
    directory = folder or root / cmd.BACKUPS_DIR
    found = [b for b in cmd.list_backups(directory) if env is None or (b.environment == env and not b.problem)]
    if paths:
        for b in found:
            typer.echo(str(b.path))
        return
    if not found:
        out.print(f"no backups in {escape(str(directory))}" + (f" of {env}" if env else ""))
        return
    for b in found:
        if b.problem:
            out.print(f"{escape(str(b.path))}  [red]unusable[/]: {escape(b.problem)}")
            continue
        sealed = ", secrets sealed" if b.encrypted else ""
        out.print(
            f"{escape(str(b.path))}  {b.created_at}  {b.environment} ({b.project_id})  "
            f"{b.bytes / MB:,.1f} MB  {b.counts.get('rows', 0):,} rows, {b.counts.get('files', 0):,} files{sealed}"
        )


# --- restore, clone, diff-data ----------------------------------------------------------------------


def _ask(preview: RestorePreview) -> bool:
    source = preview.source
    err.print(
        f"Restore {escape(str(preview.archive))} (from {source.get('environment')}/{source.get('projectId')}) into "
        f"{preview.environment} ({preview.project_id}), mode {preview.mode}, parts {', '.join(preview.parts)}."
    )
    for change in preview.plan.changes:
        err.print(f"  {change.action} {escape(change.address)}")
    return bool(typer.confirm("Go on?", default=False, err=True))


def _print_restore(env: str, report: RestoreReport) -> None:
    resumed = " (resumed)" if report.resumed else ""
    out.print(
        f"{env}: restored in {report.seconds:.1f} s{resumed}, mode {report.mode}; release {report.release_id}\n"
        f"  {report.changes} schema/function/variable change(s); {report.rows:,} rows written, "
        f"{report.rows_deleted:,} deleted; {report.files_uploaded:,} files uploaded "
        f"({report.bytes_uploaded / MB:,.1f} MB), {report.files_kept:,} already there, {report.files_deleted:,} "
        f"deleted; users {report.users or {}}; {report.history:,} history records"
    )
    _warnings(report.warnings)


def restore_command(
    path: Path = typer.Argument(..., help="Archive to restore."),
    env: str = typer.Argument(..., help="Environment to restore into."),
    yes: bool = YES,
    only: str = typer.Option(None, "--only", help=f"Comma-separated parts: {','.join(PARTS)}."),
    replace: bool = typer.Option(False, "--replace", help="Make the project exactly the archive (deletes the rest)."),
    merge: bool = typer.Option(False, "--merge", help="Write the archive over what is there; delete nothing."),
    passphrase_env: str = PASSPHRASE_ENV,
    root: Path = ROOT,
) -> None:
    """Restore an archive into ENV: schema via plan/apply, then rows, files, users, functions, variables."""
    target = connect(root, env)
    with ArchiveReader(path) as reader:
        sealed = bool(reader.manifest.get("encryption"))
    passphrase = _passphrase(passphrase_env, ask=sealed, confirm=False)
    with bars() as progress:
        report = cmd.restore(
            path, target, only=_parts(only), mode=_mode(replace, merge), yes=yes, passphrase=passphrase, confirm=_ask,
            progress=progress,
        )  # fmt: skip
    _print_restore(env, report)


def clone_command(
    source: str = typer.Argument(..., help="Environment to copy (e.g. prod)."),
    target: str = typer.Argument(..., help="Environment to make from it (e.g. dev)."),
    schema_only: bool = typer.Option(False, "--schema-only", help="Schema and functions, no rows, files or users."),
    sample: int = typer.Option(None, "--sample", help="At most N rows per table and N files per bucket."),
    anonymize: bool = typer.Option(False, "--anonymize", help="Replace user emails and names deterministically."),
    replace: bool = typer.Option(False, "--replace", help="TARGET is not empty: make it exactly the copy."),
    merge: bool = typer.Option(False, "--merge", help="TARGET is not empty: write the copy over it."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation (protected TARGET)."),
    root: Path = ROOT,
) -> None:
    """Copy SOURCE's schema, functions and data into TARGET (its variables stay its own)."""
    src, dst = connect(root, source), connect(root, target)
    salt = os.environ.get("QUIXOTIC_ANONYMIZE_SALT", "")
    with bars() as progress:
        report = cmd.clone(
            src, dst, schema_only, sample, anonymize, mode=_mode(replace, merge), yes=yes, anonymize_salt=salt,
            confirm=_ask, progress=progress,
        )  # fmt: skip
    out.print(f"{target}: cloned from {source}: {_counts(report.counts)}")
    _print_restore(target, report.restore)


def diff_data_command(
    env_a: str = typer.Argument(..., help="Environment (or archive .zip)."),
    env_b: str = typer.Argument(..., help="Environment (or archive .zip)."),
    root: Path = ROOT,
) -> None:
    """Counts and content hashes per table, bucket and the users. Exit 0: same data; 1: differences."""
    with bars() as progress:
        result = cmd.diff_data(_side(env_a, root), _side(env_b, root), progress)
    out.print(f"A = {escape(result.a)}\nB = {escape(result.b)}")
    for item in result.items:
        out.print(f"  {'same' if item.same else 'DIFF'}  {escape(item.describe())}")
    if not result.same:
        raise BackupError(f"{env_a} and {env_b} hold different data in {sum(not i.same for i in result.items)} item(s)")
    out.print("same data")


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore_command)
    app.command("diff-data")(diff_data_command)
