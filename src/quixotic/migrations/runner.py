"""Runs chosen migrations one by one, recording each attempt before, during (cursors) and after.

The caller holds the migrations lock and has validated files and history; the runner only executes.
A migration that raises is recorded as failed with its error and stops the run: nothing after it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quixotic.errors import MigrationError, QuixoticError
from quixotic.migrations.context import BATCH, Context, Progress
from quixotic.migrations.graph import Attempt, Migration, resume_cursors
from quixotic.migrations.history import History
from quixotic.sdk.backend import AppwriteBackend


@dataclass
class Outcome:
    """What happened to one migration in a run (in a dry run: what would)."""

    name: str
    direction: str
    status: str  # applied | rolled_back | baselined | dry-run
    seconds: float = 0.0
    rows: int = 0
    actions: list[str] = field(default_factory=list)
    resumed: bool = False
    attempt: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Runner:
    def __init__(
        self,
        backend: AppwriteBackend,
        history: History,
        *,
        database: str | None,
        meta: Mapping[str, Any],
        progress: Progress | None = None,
        guard: Callable[[], None] | None = None,
        redact: Callable[[str], str] = lambda text: text,
        batch_size: int = BATCH,
    ) -> None:
        self.backend = backend
        self.history = history
        self.database = database
        self.meta = dict(meta)  # who, git commit, host, pid, environment, backup: copied into every attempt
        self.say = progress or (lambda _m: None)
        self.guard = guard or (lambda: None)
        self.redact = redact
        self.batch_size = batch_size

    def run(
        self, chosen: Sequence[Migration], direction: str, latest: Mapping[str, Attempt], *, dry_run: bool = False
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        self._planned: set[tuple[str, str]] = set()
        for migration in chosen:
            outcomes.append(self._one(migration, direction, latest.get(migration.id), dry_run, outcomes))
        return outcomes

    def baseline(self, chosen: Sequence[Migration]) -> list[Outcome]:
        """Record migrations as applied without running them (a project that already has their changes)."""
        outcomes = []
        for m in chosen:
            record = {**self.meta, "slug": m.slug, "checksum": m.checksum, "finishedAt": _now(), "seconds": 0}
            attempt = self.history.start(m.id, "up", "baselined", record)
            outcomes.append(Outcome(m.name, "up", "baselined", attempt=attempt))
        return outcomes

    def _one(self, m: Migration, direction: str, last: Attempt | None, dry_run: bool, before: list[Outcome]) -> Outcome:
        step = m.up if direction == "up" else m.down
        if step is None:
            raise MigrationError(f"{m.name} has no {direction}() to run")
        cursors = {} if dry_run else resume_cursors(last, m, direction)
        record: dict[str, Any] = {**self.meta, "slug": m.slug, "checksum": m.checksum, "cursors": cursors, "rows": 0}
        if last is not None and last.status in ("failed", "interrupted", "running"):
            record["retryOf"] = last.attempt
        attempt = "" if dry_run else self.history.start(m.id, direction, "running", record)
        started = time.monotonic()

        def save(current: Mapping[str, str], rows: int) -> None:
            record["cursors"] = dict(current)
            record["rows"] = rows
            self.history.update(attempt, "running", record)

        ctx = Context(
            self.backend,
            database=self.database,
            dry_run=dry_run,
            cursors=cursors,
            save_cursors=save,
            progress=self.say,
            guard=self.guard,
            batch_size=self.batch_size,
            planned=self._planned,
        )
        verb = "checking" if dry_run else ("applying" if direction == "up" else "rolling back")
        self.say(f"{verb} {m.name}" + (" (resuming from its saved cursors)" if cursors else ""))
        try:
            step(ctx)
        except BaseException as exc:
            if dry_run:
                raise MigrationError(f"{m.name} {direction} failed in the dry run: {_reason(exc)}") from exc
            interrupted = not isinstance(exc, Exception)
            record.update(
                error=self.redact(_reason(exc)),
                finishedAt=_now(),
                seconds=round(time.monotonic() - started, 3),
                rows=ctx.rows_written,
                actions=ctx.actions,
                cursors=ctx.cursors,
            )
            self.history.update(attempt, "interrupted" if interrupted else "failed", record)
            if interrupted:
                raise
            raise MigrationError(self.redact(_failure(m, direction, exc, ctx, before))) from exc
        seconds = time.monotonic() - started
        status = "dry-run" if dry_run else ("applied" if direction == "up" else "rolled_back")
        if not dry_run:
            record.update(
                finishedAt=_now(), seconds=round(seconds, 3), rows=ctx.rows_written, actions=ctx.actions,
                cursors=ctx.cursors,
            )  # fmt: skip
            record.pop("error", None)
            self.history.update(attempt, status, record)
        return Outcome(m.name, direction, status, seconds, ctx.rows_written, ctx.actions, bool(cursors), attempt)


def _reason(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, QuixoticError) else str(exc)
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, QuixoticError) else text


def _failure(m: Migration, direction: str, exc: BaseException, ctx: Context, before: list[Outcome]) -> str:
    done = f" ({', '.join(o.name for o in before)} {'applied' if direction == 'up' else 'rolled back'} before it)"
    where = ""
    if ctx.cursors:
        where = " Its data batches are saved up to " + ", ".join(f"{k} #{v}" for k, v in ctx.cursors.items()) + "."
    again = "up ENV" if direction == "up" else "down ENV --steps 1"
    undo = " or `quixotic migrate down ENV --steps 1` to undo what it did" if direction == "up" and m.has_down else ""
    return (
        f"{m.name} {direction} failed: {_reason(exc)}\n"
        f"It is recorded as failed and nothing after it ran{done if before else ''}.{where}\n"
        f"Fix the cause, then run `quixotic migrate {again}` to retry it (it resumes from the saved batches "
        f"unless you edit the file){undo}."
    )
