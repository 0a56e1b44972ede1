"""`quixotic preflight ENV --from DEV`: the pre-migration checklist, gathered and judged, and recorded.

Each item's facts come from where they live: ``validate`` of both environments, the plan for ENV, the
evidence records of ``parity`` and ``bench`` in ENV's tool state, DEV's releases (a rollback exercised),
ENV's backups (found in ``backups/`` and verified here), ENV's migrations, and the operator's
confirmations. Each fact is read once: ``validate ENV --against DEV`` reuses DEV's live project as read
by ``validate DEV``, and the backup and migration items reuse the listing and the migration status that
``validate ENV`` read (:class:`~quixotic.commands.validate.Validated`). A step that cannot run is that
item's NO-GO, with the error, never a skipped item. The judging is
:mod:`quixotic.evidence.preflight`'s; the verdict is recorded in ENV's tool state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from quixotic.commands import migrate
from quixotic.commands.backup import BACKUPS_DIR, BackupInfo, list_backups, verify
from quixotic.commands.records import record
from quixotic.commands.validate import Validated, validate
from quixotic.errors import QuixoticError, UsageError
from quixotic.evidence.preflight import (
    HUMAN,
    Item,
    Preflight,
    backup_item,
    drift_item,
    human_items,
    migrations_item,
    plan_item,
    recent_item,
    rollback_item,
    validation_item,
)
from quixotic.target import Target
from quixotic.target.provenance import who


def _guarded(name: str, step: Callable[[], Item | list[Item]]) -> list[Item]:
    try:
        made = step()
    except QuixoticError as exc:
        return [Item(name, "NO-GO", f"could not be checked: {exc.message.splitlines()[0]}", (exc.message,))]
    return made if isinstance(made, list) else [made]


def _latest_backup(target: Target, listing: list[BackupInfo]) -> tuple[str, str, str] | None:
    """The newest backup of ``target`` in ``listing``, verified (every part of the archive checked)."""
    found = [b for b in listing if b.environment == target.env.name]
    if not found:
        return None
    latest = found[0]
    problem = latest.problem
    if not problem:
        try:
            verify(latest.path)
        except QuixoticError as exc:
            problem = exc.message
    return latest.path.name, latest.created_at, problem


def preflight(
    target: Target,
    source: Target,
    *,
    within_hours: float = 24.0,
    confirm: Sequence[str] = (),
    backups: Path | None = None,
    keep: bool = True,
    now: datetime | None = None,
) -> Preflight:
    """Every item of the checklist for migrating ``target`` from what ``source`` runs, each with its evidence."""
    if within_hours <= 0:
        raise UsageError("--within must be a positive duration (e.g. 24h)")
    unknown = [c for c in confirm if c not in HUMAN]
    if unknown:
        raise UsageError(f"cannot confirm {', '.join(unknown)}: the human items are {', '.join(HUMAN)}")
    moment = now or datetime.now(UTC)
    env, dev = target.env.name, source.env.name
    pair = (env, dev)
    report = Preflight(env, dev, within_hours)
    at = moment.isoformat(timespec="seconds")
    report.confirmed = {c: {"by": who(), "at": at} for c in confirm}
    folder = backups or target.root / BACKUPS_DIR
    items = report.items
    name = f"validate {dev}"
    sourced: list[Validated] = []  # DEV as `validate DEV` read it: the reference of `ENV against DEV`
    checked: list[Validated] = []  # one read of ENV serves the drift, plan, backup and migrations items

    def of_source() -> Item:
        sourced.append(validate(source, backups=folder, keep=keep))
        return validation_item(name, sourced[0])

    def drift() -> Item:
        lent = sourced[0] if sourced and sourced[0].live is not None else None
        checked.append(validate(target, against=source, reference=lent, backups=folder, keep=keep))
        plan = checked[0].plan
        return drift_item(f"{env} against {dev}", checked[0], plan.changes if plan is not None else ())

    def pending_plan() -> Item:
        plan = checked[0].plan if checked else None
        if plan is None:
            raise UsageError(f"no plan for {env}: it could not be read (see `{env} against {dev}`)")
        return plan_item(f"plan {env}", env, plan.changes)

    items += _guarded(name, of_source)
    items += _guarded(f"{env} against {dev}", drift)
    items += _guarded(f"plan {env}", pending_plan)
    evidence = target.system.evidence(limit=200)
    items.append(recent_item("parity", evidence, "parity", pair, moment, within_hours, f"quixotic parity {env} {dev}"))
    items.append(recent_item("bench", evidence, "bench", pair, moment, within_hours,
                             f"quixotic bench {env} --function F --compare {dev}"))  # fmt: skip
    exercised, backed = f"rollback on {dev}", f"backup of {env}"
    items += _guarded(exercised, lambda: rollback_item(exercised, dev, source.system.releases(200)))
    read = checked[0] if checked else None

    def latest() -> Item:
        listing = read.backups if read is not None and read.backups is not None else list_backups(folder)
        return backup_item(backed, env, _latest_backup(target, listing), moment, within_hours)

    items += _guarded(backed, latest)

    def migrations() -> Item:
        status = read.migrations if read is not None and read.migrations is not None else migrate.status(target)
        failed = [f"{s.name}: {s.state}" for s in status.statuses if s.state not in ("applied", "pending")]
        return migrations_item(f"migrations of {env}", [s.name for s in status.pending], [*status.problems, *failed])

    items += _guarded(f"migrations of {env}", migrations)
    items += human_items(report.confirmed)
    if keep:
        record([target], "preflight", env, report.verdict, report.to_json())
    return report
