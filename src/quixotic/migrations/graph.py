"""The migration graph, pure: file names, history, status, and what to run. No SDK, no I/O.

Migrations are numbered ``0001``, ``0002``, ... with no gaps, and run in that order. A strict line (not a
tree with merge points as in Alembic) keeps the order obvious: two branches that both add ``0003``
collide in review as duplicate numbers instead of interleaving silently in some environments.

Every check here collects all problems before anything changes; callers raise them together as one
:class:`~quixotic.errors.MigrationError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from quixotic.errors import MigrationError

NAME: Final = re.compile(r"^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.py$")
SLUG: Final = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")

# Per-migration states, as `migrate status` shows them.
PENDING: Final = "pending"
APPLIED: Final = "applied"
FAILED: Final = "failed"
RUNNING: Final = "running"
EDITED: Final = "edited-after-apply"
MISSING: Final = "missing-file"
# Attempt statuses, as stored in the history.
DONE_UP: Final = ("applied", "baselined")
UNFINISHED: Final = ("failed", "interrupted", "running")

Step = Callable[[Any], None]


@dataclass(frozen=True)
class Numbered:
    """What a migration's file and its status share: ``id`` (the four digits) and ``slug``, so the rule that
    makes its name of them is written once."""

    id: str
    slug: str

    @property
    def name(self) -> str:
        return f"{self.id}_{self.slug}"


@dataclass(frozen=True)
class Migration(Numbered):
    """One file: ``checksum`` is the SHA-256 of its bytes."""

    checksum: str
    description: str = ""
    has_down: bool = True
    irreversible_reason: str = ""
    path: Path | None = field(default=None, compare=False)
    up: Step | None = field(default=None, compare=False, repr=False)
    down: Step | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Attempt:
    """One history row: a run of one migration in one direction (or a baseline)."""

    attempt: str
    migration_id: str
    direction: str  # up | down
    status: str  # running | applied | baselined | rolled_back | failed | interrupted
    checksum: str = ""
    slug: str = ""
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    by: str = ""
    cursors: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def from_record(record: Mapping[str, Any]) -> Attempt:
        return Attempt(
            attempt=str(record.get("attempt", "")),
            migration_id=str(record["migrationId"]),
            direction=str(record.get("direction", "up")),
            status=str(record.get("status", "")),
            checksum=str(record.get("checksum", "")),
            slug=str(record.get("slug", "")),
            started_at=str(record.get("startedAt", "")),
            finished_at=str(record.get("finishedAt", "")),
            error=str(record.get("error", "")),
            by=str(record.get("by", "")),
            cursors={str(k): str(v) for k, v in (record.get("cursors") or {}).items()},
        )


@dataclass(frozen=True)
class Status(Numbered):
    """A migration as `migrate status` shows it: from its file (if any) and its latest attempt (if any)."""

    state: str
    migration: Migration | None = None
    last: Attempt | None = None
    detail: str = ""

    @property
    def applied(self) -> bool:
        """Counts as applied for ordering: its changes are (at least partly) in the target."""
        return self.state in (APPLIED, EDITED, FAILED, RUNNING, MISSING)


# --- files ------------------------------------------------------------------------------------


def parse_name(name: str) -> tuple[str, str] | None:
    """``("0002", "add_x")`` for ``0002_add_x.py``; None for anything else."""
    match = NAME.match(name)
    return (match.group(1), match.group(2)) if match else None


def is_candidate(name: str) -> bool:
    """Files the directory scan looks at: Python files not starting with ``_`` (helpers may)."""
    return name.endswith(".py") and not name.startswith("_")


def check_names(names: Iterable[str]) -> list[str]:
    """Problems with the set of file names: bad names, duplicate numbers, gaps, not starting at 0001."""
    problems: list[str] = []
    by_id: dict[str, list[str]] = {}
    for name in sorted(n for n in names if is_candidate(n)):
        parsed = parse_name(name)
        if parsed is None:
            problems.append(
                f"{name}: not a migration name; use NNNN_slug.py (four digits, then lowercase words joined by _), "
                "or start helper modules with _"
            )
            continue
        by_id.setdefault(parsed[0], []).append(name)
    for digits, files in sorted(by_id.items()):
        if len(files) > 1:
            problems.append(
                f"{digits} is used by {len(files)} files ({', '.join(files)}): renumber all but one to the next "
                "free numbers (migrations run in number order)"
            )
    expected = 1
    for number in sorted(int(n) for n in by_id):
        if number == 0:
            problems.append(f"{by_id['0000'][0]}: numbering starts at 0001")
            continue
        if number > expected:
            missing = f"{expected:04d}" if number == expected + 1 else f"{expected:04d} to {number - 1:04d}"
            after = by_id[f"{number:04d}"][0]
            problems.append(
                f"a gap: {missing} missing before {after}; renumber so the files run 0001, 0002, ... "
                "(or restore the deleted file)"
            )
        expected = number + 1
    return problems


# --- status -----------------------------------------------------------------------------------


def latest_attempts(attempts: Iterable[Attempt]) -> dict[str, Attempt]:
    """The newest attempt of each migration (``attempts`` oldest first, as stored)."""
    latest: dict[str, Attempt] = {}
    for attempt in attempts:
        latest[attempt.migration_id] = attempt
    return latest


def _state_of(last: Attempt | None) -> str:
    if last is None or last.status == "rolled_back":
        return PENDING
    if last.status in DONE_UP:
        return APPLIED
    if last.status == "running":
        return RUNNING
    return FAILED


def statuses(migrations: Sequence[Migration], attempts: Iterable[Attempt]) -> list[Status]:
    """Files and history side by side, ordered by id; history of a vanished file shows as missing-file."""
    latest = latest_attempts(attempts)
    out: list[Status] = []
    for m in migrations:
        last = latest.get(m.id)
        state, detail = _state_of(last), ""
        if last is not None and state == APPLIED and (last.checksum != m.checksum or last.slug not in ("", m.slug)):
            state = EDITED
            detail = (
                f"applied as {last.migration_id}_{last.slug}, the file is now {m.name}"
                if last.slug not in ("", m.slug)
                else f"checksum {last.checksum[:12]} when applied, {m.checksum[:12]} now"
            )
        elif last is not None and state == FAILED:
            detail = f"{last.direction} failed: {last.error}" if last.error else f"{last.direction} {last.status}"
        elif last is not None and last.status == "baselined":
            detail = "baselined (adopted, not run)"
        elif last is not None and last.status == "rolled_back":
            detail = "rolled back"
        out.append(Status(m.id, m.slug, state, m, last, detail))
    known = {m.id for m in migrations}
    for migration_id, last in latest.items():
        if migration_id not in known and _state_of(last) != PENDING:
            detail = f"history says {last.status} ({last.direction}) but the file is gone"
            out.append(Status(migration_id, last.slug, MISSING, None, last, detail))
    return sorted(out, key=lambda s: s.id)


def history_problems(states: Sequence[Status]) -> list[str]:
    """What makes history and files disagree: edited after apply, missing files, out-of-order files."""
    problems: list[str] = []
    for s in states:
        if s.state == EDITED:
            problems.append(
                f"{s.name} was edited after it was applied ({s.detail}): restore it (`git checkout` the applied "
                "version) and put the new change in a new migration"
            )
        elif s.state == MISSING:
            problems.append(
                f"{s.name} is {s.last.status if s.last else 'recorded'} in the target's history but its file is gone: "
                "restore the file (from git) before migrating"
            )
    applied = [s for s in states if s.applied and s.state != MISSING]
    newest = max((s.id for s in applied if s.state in (APPLIED, EDITED)), default="")
    for s in states:
        if s.state == PENDING and s.id < newest:
            later = next(a for a in applied if a.id == newest)
            problems.append(
                f"{s.name} is pending but {later.name}, after it, is already applied: migrations run in order; "
                "renumber it after the newest applied one"
            )
    return problems


# --- selection --------------------------------------------------------------------------------


def resolve(target: str, migrations: Sequence[Migration], *, allow_zero: bool = False) -> str:
    """The id that ``--to`` names: ``3``, ``0003`` or ``0003_slug``; ``0`` (everything) where allowed."""
    text = target.strip().removesuffix(".py")
    digits = text.split("_", 1)[0]
    if not digits.isdigit():
        raise MigrationError(f"unknown migration {target!r}: give its number, e.g. 0002 (see `migrate status`)")
    number = int(digits)
    if number == 0 and allow_zero:
        return "0000"
    found = next((m for m in migrations if int(m.id) == number), None)
    if found is None or ("_" in text and text != found.name):
        known = ", ".join(m.name for m in migrations) or "none"
        raise MigrationError(f"unknown migration {target!r}; the files are: {known}")
    return found.id


def select_up(states: Sequence[Status], to: str | None = None) -> list[Migration]:
    """What ``up`` runs, in order: every migration not fully applied, up to ``to`` (inclusive)."""
    if to is not None:
        past = [s for s in states if s.id > to and s.state in (APPLIED, EDITED)]
        if past:
            raise MigrationError(
                f"{past[-1].name} is applied, which is past {to}: to go back, run `quixotic migrate down ENV --to {to}`"
            )
    return [
        s.migration
        for s in states
        if s.migration is not None and s.state in (PENDING, FAILED, RUNNING) and (to is None or s.id <= to)
    ]


def select_down(states: Sequence[Status], to: str | None = None, steps: int | None = None) -> list[Migration]:
    """What ``down`` undoes, newest first: ``steps`` of them (default 1) or all above ``to``."""
    if to is not None and steps is not None:
        raise MigrationError("give either --to or --steps, not both")
    done = [s for s in reversed(states) if s.applied]
    if to is not None:
        if to != "0000" and not any(s.id == to and s.applied for s in states):
            raise MigrationError(f"{to} is not applied, so down cannot stop at it; `migrate status` shows what is")
        chosen = [s for s in done if s.id > to]
    else:
        count = 1 if steps is None else steps
        if count < 1:
            raise MigrationError("--steps must be 1 or more")
        if count > len(done):
            raise MigrationError(f"--steps {count}, but only {len(done)} migration(s) are applied")
        chosen = done[:count]
    blocked = [s for s in chosen if s.migration is not None and not s.migration.has_down]
    if blocked:
        first = blocked[-1]
        reason = first.migration.irreversible_reason if first.migration else ""
        why = f" ({reason})" if reason else ""
        raise MigrationError(
            f"{first.name} is irreversible (it has no down){why}; down can go back to it but not past it: "
            f"`quixotic migrate down ENV --to {first.id}`"
        )
    return [s.migration for s in chosen if s.migration is not None]


def select_baseline(states: Sequence[Status], to: str) -> list[Migration]:
    """The pending migrations up to ``to`` that a baseline marks as applied without running them."""
    unfinished = [s.name for s in states if s.state in (FAILED, RUNNING)]
    if unfinished:
        raise MigrationError(
            f"cannot baseline while {', '.join(unfinished)} is unfinished: finish it with `migrate up` or undo it "
            "with `migrate down` first"
        )
    past = [s.name for s in states if s.id > to and s.state in (APPLIED, EDITED)]
    if past:
        raise MigrationError(f"cannot baseline to {to}: {', '.join(past)} after it is already applied")
    return [s.migration for s in states if s.migration is not None and s.state == PENDING and s.id <= to]


def resume_cursors(last: Attempt | None, migration: Migration, direction: str) -> dict[str, str]:
    """Cursors to resume from: those of an unfinished attempt in the same direction of the same file."""
    if last is None or last.status not in UNFINISHED or last.direction != direction:
        return {}
    if last.checksum != migration.checksum:
        return {}  # the file changed since (a fix): start its batches over
    return dict(last.cursors)
