"""`quixotic validate ENV [--against REF]`: is the environment what its configuration says, and what else differs.

Gathers the facts (live project, plan, deployments, migrations, backups) and hands them to the pure
judges in :mod:`quixotic.evidence.findings`. Never raises for what it finds: a target it cannot reach or
read is a run that could not be made (exit 2), anything else is a finding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from quixotic.backup.scopes import READ_SCOPES, WRITE_SCOPES, missing_scopes
from quixotic.commands import migrate
from quixotic.commands.backup import BACKUPS_DIR, BackupInfo, list_backups
from quixotic.commands.execute import execute
from quixotic.commands.records import record
from quixotic.config.checks_file import Checks, load_checks
from quixotic.deploy.desired import Desired, target_desired
from quixotic.deploy.engine import read_live
from quixotic.errors import ApiError, QuixoticError, UsageError
from quixotic.evidence.findings import Finding, Validation, drift_between, drift_finding, plan_findings
from quixotic.evidence.preflight import age_hours
from quixotic.plan.diff import diff
from quixotic.plan.plan import make_plan
from quixotic.plan.state import ProjectState
from quixotic.sdk.boundary import call
from quixotic.target import Target

# Every scope some verb of the toolkit needs (deploy, migrate, backup, restore).
TOOLKIT_SCOPES: Final = frozenset(s for scopes in (*READ_SCOPES.values(), *WRITE_SCOPES.values()) for s in scopes)
PLAN_CHECKS: Final = ("schema", "buckets", "functions", "variables", "deployments")


@dataclass
class Validated(Validation):
    """A validation and what it read, for a caller that needs the same facts again in the same run
    (``preflight``): reading them twice costs requests and may see two different moments. Not in to_json;
    a fact left None was not read (the target could not be)."""

    live: ProjectState | None = None
    migrations: migrate.StatusReport | None = None
    backups: list[BackupInfo] | None = None  # every archive of ``backups_folder``, of any environment
    backups_folder: Path | None = None


def validate(
    target: Target,
    *,
    against: Target | None = None,
    reference: Validated | None = None,
    backups: Path | None = None,
    backup_max_age_hours: float | None = None,
    desired: Desired | None = None,
    keep: bool = True,
) -> Validated:
    """Every check of ``target`` (and its drift from ``against``'s live project, when given). ``reference``, a
    validation of ``against`` made in this run, lends its live snapshot (and its backups listing, for the
    same folder) instead of reading them again; ``desired``, the target's desired state when the caller
    made it already (``up``: the deploy's, its functions packaged once). A run that could read the target
    is recorded in its tool state (evidence for ``quixotic report``) unless ``keep`` is False."""
    if reference is not None and (against is None or reference.environment != against.env.name):
        raise UsageError(f"the reference validation is of {reference.environment}, not of the environment "
                         f"compared with ({against.env.name if against is not None else 'none given'})")  # fmt: skip
    report = Validated(target.env.name, against=against.env.name if against is not None else None)
    try:
        live = report.live = _reach(target, report)
    except ApiError as exc:
        report.ran = False
        report.findings.append(Finding("reach", "FAIL", f"{target.env.name} could not be read", (exc.message,)))
        return report
    desired = desired if desired is not None else target_desired(target, make_key=False)
    plan = report.plan = make_plan(target.env.name, live, desired.state)
    report.findings.extend(plan_findings(plan.changes, PLAN_CHECKS))
    report.findings.append(_logging(live))
    report.findings.append(_deployments(target, live))
    smoke = _smoke(target, load_checks(target.root, target.env.project))
    if smoke is not None:
        report.findings.append(smoke)
    report.migrations = migrate.status(target)
    report.findings.append(_migrations(report.migrations))
    max_age = target.env.protection.backup_max_age_hours if backup_max_age_hours is None else backup_max_age_hours
    report.findings.append(_backup(target, backups or target.root / BACKUPS_DIR, max_age, report, reference))
    if against is not None:
        there = reference.live if reference is not None else None
        report.findings.append(_drift(live, desired, target, against, report, there))
    if keep:
        try:
            record([target], "validate", target.env.name, report.verdict, report.to_json())
        except ApiError as exc:  # validate must work with a read-only key: not keeping the evidence is a warning
            why = "this run is not kept for `quixotic report` and `preflight` (the key may not write the tool state)"
            report.findings.append(Finding("recorded", "WARN", why, (exc.message,)))
    return report


def _reach(target: Target, report: Validation) -> ProjectState:
    started = time.monotonic()
    version = target.backend.server_version()
    live = read_live(target)
    seconds = time.monotonic() - started
    report.findings.append(Finding("reach", "PASS", f"{target.backend.endpoint} answers (Appwrite {version or '?'}); "
                                   f"project {target.backend.project_id} read in {seconds:.2f} s"))  # fmt: skip
    missing = missing_scopes(target.backend, TOOLKIT_SCOPES)
    if missing:
        report.findings.append(Finding("scopes", "FAIL", f"the API key lacks {len(missing)} scope(s) the toolkit needs",
                                       tuple(missing)))  # fmt: skip
    else:
        report.findings.append(Finding("scopes", "PASS", f"the API key has all {len(TOOLKIT_SCOPES)} scopes"))
    return live


def _logging(live: ProjectState) -> Finding:
    off = [f.spec.id for f in live.functions if not f.spec.logging]
    if off:
        return Finding("logging", "FAIL", "Appwrite keeps no executions of a function with logging off, so nothing "
                       "can be monitored: turn `logging` on", tuple(off))  # fmt: skip
    return Finding("logging", "PASS", f"on for all {len(live.functions)} function(s)")


def _deployments(target: Target, live: ProjectState) -> Finding:
    problems = []
    for function in live.functions:
        if not function.deployment_id:
            problems.append(f"{function.spec.id}: no active deployment")
            continue
        deployment = call(f"reading the deployment of {function.spec.id}", target.backend.functions.get_deployment,
                          function.spec.id, function.deployment_id)  # fmt: skip
        if deployment.get("status") != "ready":
            problems.append(
                f"{function.spec.id}: active deployment {function.deployment_id} is {deployment.get('status')}"
            )
    if problems:
        return Finding("builds", "FAIL", f"{len(problems)} function(s) without a ready deployment", tuple(problems))
    return Finding("builds", "PASS", f"every function's active deployment is ready ({len(live.functions)})")


def _smoke(target: Target, checks: Checks) -> Finding | None:
    """One execution per function that declares a smoke request: its status, JSON keys and latency."""
    declared = [(f.id, checks.of(f.id).smoke) for f in target.env.project.functions if checks.of(f.id).smoke]
    if not declared:
        return None
    problems, passed = [], []
    for function_id, smoke in declared:
        assert smoke is not None
        result = execute(target, function_id, smoke.request)
        body = result.json if isinstance(result.json, dict) else {}
        missing = [k for k in smoke.keys if k not in body]
        if result.status != smoke.status:
            problems.append(f"{function_id}: answered {result.status}, expected {smoke.status} ({result.error})")
        elif missing:
            problems.append(f"{function_id}: the answer lacks {', '.join(missing)}")
        elif result.ms > smoke.budget_ms:
            problems.append(f"{function_id}: {result.ms:.0f} ms, over its budget of {smoke.budget_ms} ms")
        else:
            passed.append(f"{function_id}: {result.status} in {result.ms:.0f} ms")
    if problems:
        return Finding("smoke", "FAIL", f"{len(problems)} of {len(declared)} smoke request(s) failed",
                       (*problems, *passed))  # fmt: skip
    return Finding("smoke", "PASS", f"{len(declared)} smoke request(s) answered as declared", tuple(passed))


def _migrations(status: migrate.StatusReport) -> Finding:
    evidence = [*status.problems]
    evidence += [f"{s.name}: {s.state}{f' ({s.detail})' if s.detail else ''}" for s in status.statuses
                 if s.state != "applied"]  # fmt: skip
    if evidence:
        return Finding("migrations", "FAIL", "migrations pending, failed or edited: `quixotic migrate status`",
                       tuple(evidence))  # fmt: skip
    lock = status.lock
    if lock is not None and not (lock.expired() or lock.holder_gone()):
        return Finding("migrations", "WARN", "all applied, but a migration run holds the lock", (lock.describe(),))
    return Finding("migrations", "PASS", f"all {len(status.statuses)} applied; lock free")


def _backup(target: Target, folder: Path, max_age_hours: float, report: Validated,
            reference: Validated | None) -> Finding:  # fmt: skip
    if reference is not None and reference.backups is not None and reference.backups_folder == folder:
        listing = reference.backups
    else:
        try:
            listing = list_backups(folder)
        except QuixoticError as exc:
            return Finding("backup", "WARN", f"the backups in {folder} could not be listed", (exc.message,))
    report.backups, report.backups_folder = listing, folder
    found = [b for b in listing if b.environment == target.env.name]
    if not found:
        return Finding("backup", "WARN", f"no backup of {target.env.name} in {folder}: `quixotic backup "
                       f"{target.env.name}`")  # fmt: skip
    latest = found[0]
    if latest.problem:
        return Finding("backup", "WARN", f"the latest backup's manifest cannot be read: {latest.path.name}",
                       (latest.problem,))  # fmt: skip
    age = age_hours(latest.created_at, datetime.now(UTC))
    if age is None:
        return Finding("backup", "WARN", f"the latest backup has no readable date: {latest.path.name}")
    # Only the manifest was read (listing every archive must stay cheap); `preflight` verifies every part.
    summary = (f"latest {latest.path.name}, {age:.1f} h old, manifest read (not verified: "
               f"`quixotic backup verify {latest.path}`)")  # fmt: skip
    return Finding("backup", "WARN" if age > max_age_hours else "PASS",
                   summary + (f" (older than {max_age_hours:g} h)" if age > max_age_hours else ""))  # fmt: skip


def _drift(live: ProjectState, here: Desired, target: Target, against: Target, report: Validation,
           read: ProjectState | None) -> Finding:  # fmt: skip
    """``read``: ``against``'s live project when this run already read it."""
    name = against.env.name
    try:
        reference = read if read is not None else read_live(against)
    except ApiError as exc:
        return Finding(f"drift from {name}", "FAIL", f"{name} could not be read", (exc.message,))
    # Both sides as if of one project: the diff compares resources, not project ids.
    reference = replace(reference, project_id=live.project_id)
    made = {target.root / f.path: here.packages[f.id] for f in target.env.project.functions}
    there = replace(target_desired(against, made, make_key=False).state, project_id=here.state.project_id)
    report.drift = drift_between(diff(reference, live, prune_variables=True),
                                 diff(there, here.state, prune_variables=True))  # fmt: skip
    return drift_finding(name, report.drift)
