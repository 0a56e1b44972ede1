"""Putting an archive into a project: checked first, then schema, data, functions, variables, history.

- The whole archive is read back and checked before anything is written; a damaged one is refused.
- The schema, functions and variables go through the deploy engine (``make_plan`` + ``Applier``) against
  a desired state built from the archive (:mod:`quixotic.backup.archive_state`).
- Then the data (:mod:`quixotic.backup.restorer`): rows as bulk upserts keeping ``$id`` and
  ``$permissions`` (and ``$createdAt``/``$updatedAt``, which Appwrite 1.8 honours for API keys), files
  under their ids, users from their password hashes.
- Everything is idempotent, so a restore that was killed (or failed, say its server went away for good)
  converges when run again: the rerun finds its own unfinished record (same archive) and goes on with
  the same mode without asking again. A finished one is run again like any restore into a non-empty
  project (``--merge`` writes the same values again: nothing changes).
- ``replace`` makes the project exactly the archive (what it lacks is deleted); ``merge`` writes the
  archive over what is there and deletes nothing. Into an empty project neither is needed.
- It holds the deploy and migrations locks throughout and records itself as a release of kind
  ``restore`` (after the archive's history, so it is the newest).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from quixotic.backup.archive import ArchiveReader, check_archive
from quixotic.backup.archive_state import ArchiveDesired, archive_desired
from quixotic.backup.dump import PARTS
from quixotic.backup.progress import Progress, Step, silent, verify_bar
from quixotic.backup.restorer import PLAN_KINDS, Restorer, RestoreReport
from quixotic.backup.scopes import READ_SCOPES, WRITE_SCOPES, need, require_scopes
from quixotic.backup.secrets import Sealer
from quixotic.deploy.engine import apply_under_lock
from quixotic.errors import BackupError, UsageError
from quixotic.plan.plan import Plan, make_plan
from quixotic.plan.release import Release
from quixotic.plan.state import PROJECT_SCOPE, ProjectState
from quixotic.sdk.boundary import call
from quixotic.sdk.values import Query
from quixotic.target import Target

__all__ = ["Confirm", "Mode", "RestorePreview", "RestoreReport", "restore_archive"]

Mode = Literal["replace", "merge"]
MODES: Final = ("replace", "merge")


@dataclass(frozen=True)
class RestorePreview:
    """What a restore is about to do, for the confirmation of a protected environment."""

    environment: str
    project_id: str
    archive: Path
    source: dict[str, Any]
    mode: str
    parts: tuple[str, ...]
    plan: Plan
    counts: dict[str, int]


Confirm = Callable[[RestorePreview], bool]


def select_parts(available: list[str], only: frozenset[str] | None) -> tuple[str, ...]:
    if only is not None:
        unknown = sorted(only - set(PARTS))
        if unknown:
            raise UsageError(f"unknown part(s) {', '.join(unknown)}: choose among {', '.join(PARTS)}")
    return tuple(p for p in PARTS if p in available and (only is None or p in only))


def archive_parts(reader: ArchiveReader) -> list[str]:
    """Which parts an archive holds."""
    options = reader.manifest.get("options") or {}
    listed = options.get("parts")
    return [p for p in PARTS if p in listed] if isinstance(listed, list) else list(PARTS)


def restore_archive(
    path: Path,
    target: Target,
    *,
    only: frozenset[str] | None = None,
    mode: Mode | None = None,
    yes: bool = False,
    passphrase: str | None = None,
    confirm: Confirm | None = None,
    progress: Progress = silent,
) -> RestoreReport:
    """Restore ``path`` into ``target``'s project (see the module docstring)."""
    started = time.monotonic()
    if mode is not None and mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}")
    checked = check_archive(path, verify_bar(progress), parse=False)
    if checked.problems:
        raise BackupError(f"refusing to restore {path}, nothing was written:\n{checked.describe()}")
    with ArchiveReader(path) as reader:
        report = RestoreReport(parts=select_parts(archive_parts(reader), only))
        if only is not None and set(only) - set(report.parts):
            missing = ", ".join(sorted(set(only) - set(report.parts)))
            raise UsageError(f"the archive does not hold {missing}; it holds {', '.join(archive_parts(reader))}")
        sealer = _sealer(reader, passphrase, report)
        backend = target.backend
        scopes = need(READ_SCOPES, PARTS) | need(WRITE_SCOPES, report.parts) | need(WRITE_SCOPES, ["history"])
        if "variables" in report.parts and any(
            r.get("scope") == PROJECT_SCOPE for r in _list(reader, "variables.json")
        ):
            scopes |= {"projects.read", "projects.write"}
        require_scopes(backend, scopes, f"restoring into {target.env.name}")
        live = backend.read_state(secret_hashes=target.system.secret_hashes())
        digest = str(reader.manifest["digest"])
        previous = _previous_restore(target, digest)
        if previous is not None and mode is None:
            report.mode, report.resumed = str(previous.record.get("mode") or "merge"), True
        else:
            contents = _contents(target, live)
            if contents and mode is None:
                raise BackupError(
                    f"environment {target.env.name} (project {backend.project_id}) is not empty: it has "
                    f"{', '.join(contents)}. Pass --replace to make it exactly the archive (what the archive lacks "
                    "is deleted), or --merge to write the archive over what is there (nothing is deleted)."
                )
            report.mode = mode or "merge"
        built = archive_desired(reader, target.env, live, sealer, fingerprint=target.system.preview_fingerprint)
        report.warnings.extend(built.warnings)
        preview = RestorePreview(
            target.env.name, backend.project_id, path, dict(reader.manifest.get("source") or {}), report.mode,
            report.parts, _restore_plan(target, live, built, report), dict(reader.manifest.get("counts") or {}),
        )  # fmt: skip
        protected = target.env.protection.require_confirmation and not yes
        if protected and (confirm is None or not confirm(preview)):
            raise _refused(target.env.name)
        confirmed = [preview.plan]
        restorer: list[Restorer] = []

        def confirm_again(plan: Plan) -> bool:
            """Under the locks: what will be applied is what was confirmed, or it is shown and confirmed anew."""
            if _same_changes(plan, confirmed[-1]):
                return True
            confirmed.append(plan)
            return confirm is not None and confirm(replace(preview, plan=plan))

        def planner(now: ProjectState) -> Plan:
            """Under the locks, from what is live now (a deploy may have landed since the preview)."""
            nonlocal built
            built = archive_desired(reader, target.env, now, sealer, fingerprint=target.system.fingerprint)
            return _restore_plan(target, now, built, report)

        def before_release(plan: Plan, now: ProjectState) -> None:
            if previous is not None and previous.status == "running":
                target.system.finish_release(previous, "interrupted")
            restorer.append(Restorer(reader, target, built, now, report, progress))
            if "history" in report.parts:
                restorer[0].history()  # first, so that this restore's own record is the newest release

        def record(plan: Plan, now: ProjectState) -> dict[str, Any]:
            return {"archive": digest, "archiveFile": path.name, "source": preview.source, "mode": report.mode,
                    "parts": list(report.parts)}  # fmt: skip

        # Neither a deploy nor a migration may run meanwhile; a killed restore's locks are taken over at once.
        def finishing(fields: dict[str, Any]) -> None:
            report.seconds = time.monotonic() - started
            fields["report"] = report.to_json()

        done = apply_under_lock(
            target, kind="restore", planner=planner, desired=lambda: built.desired, preview=False, skip_empty=False,
            allow_destructive=True, yes=not protected, confirm=confirm_again, refused=lambda: _refused(target.env.name),
            locks=("deploy", "migrations"), record=record,
            before_release=before_release, apply=lambda applier, _plan, _live: restorer[0].run(applier),
            finishing=finishing, redact=lambda text: restorer[0].redact(text) if restorer else text,
            progress=lambda message: progress(Step("schema", message, 0, None)),
        )  # fmt: skip
        report.release_id = done.release_id
    return report


def _refused(environment: str) -> BackupError:
    return BackupError(f"environment '{environment}' is protected: review what the restore does and pass --yes")


def _same_changes(a: Plan, b: Plan) -> bool:
    return [c.to_json() for c in a.changes] == [c.to_json() for c in b.changes]


def _list(reader: ArchiveReader, part: str) -> list[dict[str, Any]]:
    if not reader.has(part):
        return []
    data = reader.read_json(part)
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("id", "environment", "kind", "status", "startedAt")}


def _sealer(reader: ArchiveReader, passphrase: str | None, report: RestoreReport) -> Sealer | None:
    settings = reader.manifest.get("encryption")
    if not isinstance(settings, dict):
        return None
    if not passphrase:
        report.warnings.append(
            "the archive holds sealed secret values but no passphrase was given: secrets come from the target "
            "environment's configuration instead"
        )
        return None
    return Sealer.from_settings(settings, passphrase)


def _previous_restore(target: Target, digest: str) -> Release | None:
    """This archive's latest restore into this project if it did not finish (killed, failed): a rerun goes
    on with its mode. After one that succeeded the project may have moved on, so the rerun asks again."""
    for release in target.system.releases(200):
        if release.kind == "restore" and release.record.get("archive") == digest:
            return None if release.status == "succeeded" else release
    return None


def _contents(target: Target, live: ProjectState) -> list[str]:
    """What the project already holds (the tool's own database aside): empty means nothing to lose."""
    what = []
    for noun, items in (("database", live.databases), ("bucket", live.buckets), ("function", live.functions)):
        if items:
            what.append(f"{len(items)} {noun}{'s' if len(items) != 1 else ''}")
    project_vars = [v for v in live.variables if v.scope == PROJECT_SCOPE]
    if project_vars:
        what.append(f"{len(project_vars)} project variable{'s' if len(project_vars) != 1 else ''}")
    users = call("counting users", target.backend.users.list, [Query.limit(1)])
    if int(users.get("total") or 0):
        what.append(f"{users['total']} user{'s' if users['total'] != 1 else ''}")
    return what


def _restore_plan(target: Target, live: ProjectState, built: ArchiveDesired, report: RestoreReport) -> Plan:
    """The deploy plan from the live project to the archive, limited to the parts being restored."""
    full = make_plan(target.env.name, live, built.desired.state, prune_variables=report.mode == "replace")
    kinds = frozenset(k for part in report.parts for k in PLAN_KINDS.get(part, ()))
    changes = [c for c in full.changes if c.kind in kinds and c.address not in built.keep_variables]
    if report.mode == "merge":
        changes = [c for c in changes if c.action != "delete"]
        conflicts = [c for c in changes if c.destructive]
        if conflicts:
            lines = "\n".join(f"  - {c.action} {c.address}: {c.reason}" for c in conflicts)
            raise BackupError(
                "the archive's schema conflicts with the project's, so --merge cannot apply it without losing data:"
                f"\n{lines}\nUse --replace to make the project exactly the archive."
            )
    return replace(full, changes=tuple(changes))
