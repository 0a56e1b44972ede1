"""Migration verbs: status, up, down, new, verify, baseline, unlock. Each returns a value or raises; no printing.

``up`` and ``down`` check everything they can before changing anything (files, history, target, policy),
then, under the ``migrations`` lock in the target project (short TTL kept alive by a heartbeat, so a
dead runner's lock soon expires), confirm on protected environments, back up where the policy says
so, and run. ``--dry-run`` reads the live project and records what would happen, writing nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from quixotic.commands.backup import backup
from quixotic.errors import MigrationError
from quixotic.migrations import files
from quixotic.migrations.context import BATCH
from quixotic.migrations.graph import (
    RUNNING,
    Migration,
    Status,
    history_problems,
    latest_attempts,
    resolve,
    select_baseline,
    select_down,
    select_up,
    statuses,
)
from quixotic.migrations.history import History
from quixotic.migrations.runner import Outcome, Runner
from quixotic.plan.freeze import check_migrations_freeze, given_reason
from quixotic.target import Target
from quixotic.target import freeze as target_freeze
from quixotic.target.locks import Lock
from quixotic.target.provenance import git_commit, who

LOCK = "migrations"
Progress = Callable[[str], None]
Confirm = Callable[[str, Sequence[Migration]], bool]


def migrations_dir(root: Path) -> Path:
    return root / "migrations"


@dataclass
class StatusReport:
    statuses: list[Status]
    problems: list[str]  # files and history that disagree: `up` and `down` refuse until they are fixed
    lock: Lock | None

    @property
    def pending(self) -> list[Status]:
        return [s for s in self.statuses if s.state == "pending"]


@dataclass
class RunResult:
    direction: str
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    backup: str | None = None
    seconds: float = 0.0
    interrupted: list[str] = field(default_factory=list)  # stale attempts found running and marked


def _database(target: Target) -> str | None:
    databases = target.env.project.databases
    return databases[0].id if len(databases) == 1 else None


def _read(target: Target, migrations: list[Migration]) -> tuple[list[Status], list[str], History]:
    history = History(target.system)
    states = statuses(migrations, history.attempts())
    return states, history_problems(states), history


def status(target: Target) -> StatusReport:
    """Files and live history side by side; never raises for bad files (they are listed as problems)."""
    migrations, problems = files.discover(migrations_dir(target.root))
    states, more, _ = _read(target, migrations)
    lock = target.system.current_lock(LOCK)
    if lock is None or lock.expired() or lock.holder_gone():
        states = [_interrupted(s) if s.state == RUNNING else s for s in states]
    return StatusReport(states, problems + more, lock)


def _interrupted(s: Status) -> Status:
    return Status(s.id, s.slug, "failed", s.migration, s.last, "interrupted: its runner is gone; `up` resumes it")


def verify(target: Target) -> StatusReport:
    """Like status, but failed and interrupted migrations count as problems too (for CI: non-empty = fail)."""
    report = status(target)
    for s in report.statuses:
        if s.state == "failed":
            report.problems.append(f"{s.name} is unfinished ({s.detail}): run `migrate up` or `migrate down`")
    return report


class RunOptions(TypedDict, total=False):
    """What ``up`` and ``down`` both take besides which migrations to run (defaults: see ``_migrate``)."""

    dry_run: bool
    yes: bool
    no_backup: bool
    confirm: Confirm | None
    progress: Progress | None
    lock_wait: float
    batch_size: int
    override_freeze: str | None


def up(target: Target, *, to: str | None = None, **options: Unpack[RunOptions]) -> RunResult:
    """Apply pending (and resume failed) migrations in order, up to ``to``."""

    def choose(states: list[Status], migrations: list[Migration]) -> list[Migration]:
        return select_up(states, None if to is None else resolve(to, migrations))

    return _migrate(target, "up", choose, **options)


def down(
    target: Target, *, to: str | None = None, steps: int | None = None, **options: Unpack[RunOptions]
) -> RunResult:
    """Undo applied migrations newest first: ``steps`` of them (default 1), or all after ``to`` (``0``: all)."""

    def choose(states: list[Status], migrations: list[Migration]) -> list[Migration]:
        return select_down(states, None if to is None else resolve(to, migrations, allow_zero=True), steps)

    return _migrate(target, "down", choose, **options)


def _migrate(
    target: Target,
    direction: str,
    choose: Callable[[list[Status], list[Migration]], list[Migration]],
    *,
    dry_run: bool = False,
    yes: bool = False,
    no_backup: bool = False,
    confirm: Confirm | None = None,
    progress: Progress | None = None,
    lock_wait: float = 0.0,
    batch_size: int = BATCH,
    override_freeze: str | None = None,
) -> RunResult:
    started = time.monotonic()
    say = progress or (lambda _m: None)
    migrations = files.require(migrations_dir(target.root))
    protection = target.env.protection
    wants_backup = protection.backup_before_migrations and not no_backup and not dry_run
    # Everything that can be checked is checked before the lock is taken or anything is written ...
    states, problems, history = _read(target, migrations)
    _refuse(problems)
    chosen = choose(states, migrations)
    if not chosen:
        return RunResult(direction, dry_run, seconds=time.monotonic() - started)
    override_freeze = given_reason(override_freeze, "--override-freeze")
    freeze = None if dry_run else target_freeze.in_force(target, dt.date.today())
    if freeze is not None:  # a freeze refuses schema changes
        preview = _runner(target, history, lambda _m: None, batch_size, lambda: None, {}).run(
            chosen, direction, {}, dry_run=True
        )
        actions = [(o.name, action) for o in preview for action in o.actions]
        check_migrations_freeze(target.env.name, freeze, dt.date.today(), actions, override=override_freeze)
    if dry_run:
        runner = _runner(target, history, say, batch_size, lambda: None, {})
        outcomes = runner.run(chosen, direction, {}, dry_run=True)
        return RunResult(direction, True, outcomes, seconds=time.monotonic() - started)
    with target.system.lock(LOCK, wait=lock_wait) as held:
        # ... and again under the lock: another runner may have moved the history on while we waited.
        states, problems, history = _read(target, migrations)
        _refuse(problems)
        chosen = choose(states, migrations)
        if not chosen:
            return RunResult(direction, False, seconds=time.monotonic() - started)
        interrupted = history.mark_interrupted()
        if protection.require_confirmation and not yes and (confirm is None or not confirm(direction, chosen)):
            raise MigrationError(
                f"environment '{target.env.name}' needs confirmation: review `quixotic migrate {direction} "
                f"{target.env.name} --dry-run` and pass --yes"
            )
        backup: str | None = None
        if wants_backup:
            say("backing up the environment before migrating")
            backup = _take_backup(target)
        elif protection.backup_before_migrations and not dry_run:
            backup = "skipped (--no-backup)"
        meta = {"environment": target.env.name, "backup": backup} if backup else {"environment": target.env.name}
        if override_freeze:
            meta["freezeOverride"] = override_freeze

        def guard() -> None:
            if held.lost.is_set():
                raise MigrationError(
                    "lost the migrations lock (it expired or was broken): stopped after the last saved batch; "
                    "run the command again"
                )

        runner = _runner(target, history, say, batch_size, guard, meta)
        latest = latest_attempts(history.attempts())
        outcomes = runner.run(chosen, direction, latest)
        return RunResult(direction, False, outcomes, backup, time.monotonic() - started, interrupted)


def _runner(
    target: Target,
    history: History,
    say: Progress,
    batch_size: int,
    guard: Callable[[], None],
    meta: dict[str, Any],
) -> Runner:
    base = {"by": who(), "gitCommit": git_commit(target.root), "host": socket.gethostname(), "pid": os.getpid()}
    return Runner(
        target.backend,
        history,
        database=_database(target),
        meta={**base, **meta},
        progress=say,
        guard=guard,
        redact=target.env.redact,
        batch_size=batch_size,
    )


def _refuse(problems: list[str]) -> None:
    if problems:
        raise MigrationError("nothing was changed: the target's history and the migration files disagree:", problems)


def _take_backup(target: Target) -> str:
    """A backup of the whole environment before migrating (it draws no progress here: the run says it backs up)."""
    return str(backup(target))


def new(root: Path, slug: str, description: str = "") -> Path:
    """Write the next numbered migration file from the template."""
    return files.new_file(migrations_dir(root), slug, description)


def baseline(target: Target, to: str, *, yes: bool = False, confirm: Confirm | None = None) -> list[Outcome]:
    """Mark migrations up to ``to`` as applied without running them: adopting a project that already has them."""
    migrations = files.require(migrations_dir(target.root))
    to_id = resolve(to, migrations)
    with target.system.lock(LOCK):
        states, problems, history = _read(target, migrations)
        _refuse(problems)
        chosen = select_baseline(states, to_id)
        if not chosen:
            return []
        if (
            target.env.protection.require_confirmation
            and not yes
            and (confirm is None or not confirm("baseline", chosen))
        ):
            raise MigrationError(f"environment '{target.env.name}' needs confirmation: pass --yes to baseline it")
        return _runner(
            target, history, lambda _m: None, BATCH, lambda: None, {"environment": target.env.name}
        ).baseline(chosen)


@dataclass
class UnlockResult:
    lock: Lock | None  # who held it (None: nobody)
    broken: bool
    stale: bool  # expired, or its holder's process is gone


def holder(target: Target) -> Lock | None:
    """Who holds the migrations lock now, to show before breaking it."""
    return target.system.current_lock(LOCK)


def unlock(target: Target, *, force: bool = False) -> UnlockResult:
    """Break the migrations lock if its holder is gone (expired or dead); a live one only with ``force``."""
    lock = holder(target)
    if lock is None:
        return UnlockResult(None, False, False)
    stale = lock.expired() or lock.holder_gone()
    if not stale and not force:
        raise MigrationError(
            f"the migrations lock is held by {lock.describe()} and looks alive (its heartbeat is current). If that "
            "run is really gone (e.g. its machine died), pass --force; its lock would also expire on its own"
        )
    target.system.break_lock(LOCK)
    return UnlockResult(lock, True, stale)
