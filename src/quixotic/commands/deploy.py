"""Deploy verbs: plan, deploy, vars diff/sync, releases, rollback. Each returns a value or raises; no printing.

Every change goes through :func:`quixotic.deploy.engine.apply_under_lock`: read live state -> plan ->
(show, confirm) -> apply -> record a release, under a lock in the target project so two runs never
interleave. A deploy that is killed part-way leaves the project partly changed; running it again plans
from what is live and finishes the job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Unpack

from quixotic.config.freeze_file import FeatureFreeze
from quixotic.deploy.desired import Desired, target_desired
from quixotic.deploy.engine import SCHEMA_KINDS, Choices, Confirm, Progress, apply_under_lock, read_live
from quixotic.deploy.rollback import RollbackPlan, choose, rollback_plan
from quixotic.errors import PlanError
from quixotic.plan.freeze import Refused, check_freeze, freeze_record, frozen_changes, given_reason
from quixotic.plan.plan import Plan, make_plan
from quixotic.plan.release import Release
from quixotic.plan.state import ProjectState
from quixotic.target import Target
from quixotic.target import freeze as target_freeze
from quixotic.target.provenance import git_branch

__all__ = ["SCHEMA_KINDS", "Confirm", "Progress", "deploy", "plan", "releases", "rollback", "vars_plan", "vars_sync"]
VARIABLES = frozenset({"variable"})


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    live: ProjectState
    desired: Desired
    frozen: tuple[Refused, ...] = ()  # what the environment's feature freeze, in force today, would refuse


def _planner(
    target: Target, desired: Desired, prune: bool, only: frozenset[str] | None
) -> Callable[[ProjectState], Plan]:
    def planner(live: ProjectState) -> Plan:
        full = make_plan(target.env.name, live, desired.state, prune_variables=prune)
        return full if only is None else restrict(full, only)

    return planner


def plan(target: Target, *, prune_variables: bool = False) -> PlanResult:
    """Compare the live project with the configuration. Writes nothing (a pull request plans with read-only
    keys): on a target with no fingerprint key yet, secrets are planned with no fingerprint, "will be set"."""
    desired = target_desired(target, make_key=False)
    live = read_live(target)
    result = _planner(target, desired, prune_variables, None)(live)
    frozen = frozen_changes(result) if target_freeze.in_force(target, dt.date.today()) else ()
    return PlanResult(result, live, desired, frozen)


def restrict(full: Plan, kinds: frozenset[str]) -> Plan:
    return replace(full, changes=tuple(c for c in full.changes if c.kind in kinds))


@dataclass
class DeployResult:
    plan: Plan
    release_id: str | None
    applied: int
    seconds: float
    schema_changed: bool = False
    deployments: dict[str, str] = field(default_factory=dict)


def deploy(
    target: Target,
    *,
    plan_file: Plan | None = None,
    prune_variables: bool = False,
    only: frozenset[str] | None = None,
    hotfix: str | None = None,
    override_freeze: str | None = None,
    desired: Desired | None = None,
    **choices: Unpack[Choices],
) -> DeployResult:
    """Apply the environment's configuration to its project and record a release.

    ``only`` limits the plan to some kinds of change (``vars sync`` applies only variables). The desired
    state (the functions' packages) is computed once; nothing to do is decided before the lock, so a no-op
    deploy makes no write call at all. A feature freeze in force refuses a plan with prohibited changes
    (:mod:`quixotic.plan.freeze`) unless ``override_freeze`` gives a reason; ``hotfix`` (a reason) marks the
    release as a hotfix with its branch. Both are recorded on the release. ``desired``: the target's
    ``target_desired``, when the caller made it already (``up`` validates with the same packages). It is planned
    as :func:`plan` plans (no fingerprint key made first), so a reviewed plan file has the digest this run
    computes; the key is made when the first secret is applied. ``choices`` (``yes``, ``allow_destructive``,
    ``confirm``, ``progress``, ``lock_wait``) go to :func:`~quixotic.deploy.engine.apply_under_lock` as given.
    """
    hotfix, override_freeze = given_reason(hotfix, "--hotfix"), given_reason(override_freeze, "--override-freeze")
    desired = desired if desired is not None else target_desired(target, make_key=False)
    planner, today = _planner(target, desired, prune_variables, only), dt.date.today()
    freezes: list[FeatureFreeze | None] = []  # read with the live state (under the lock), then recorded

    def checked(live: ProjectState) -> Plan:
        planned = planner(live)
        freezes.append(target_freeze.in_force(target, today))
        check_freeze(planned, freezes[-1], today, override=override_freeze)
        return planned

    def record(planned: Plan, _live: ProjectState) -> dict[str, object]:
        freeze = freezes[-1] if freezes else target_freeze.in_force(target, today)
        fields = freeze_record(freeze, today, planned, override=override_freeze, hotfix=hotfix)
        if "hotfix" in fields:
            fields["hotfix"]["branch"] = git_branch(target.root)
        return fields

    done = apply_under_lock(
        target,
        kind="deploy" if only is None else "vars",
        planner=checked,
        desired=desired,
        saved=plan_file,
        record=record,
        **choices,
    )
    applier = done.applier
    return DeployResult(
        done.plan,
        done.release_id,
        applier.applied if applier is not None else 0,
        done.seconds,
        any(c.kind in SCHEMA_KINDS for c in done.plan.changes) if done.release is not None else False,
        dict(applier.deployments) if applier is not None else {},
    )


def vars_plan(target: Target, *, prune: bool = False) -> Plan:
    """The variables part of the plan: what `vars sync` would change (secrets as hashes only)."""
    return restrict(plan(target, prune_variables=prune).plan, VARIABLES)


def vars_sync(
    target: Target,
    *,
    yes: bool = False,
    prune: bool = False,
    confirm: Confirm | None = None,
    progress: Progress | None = None,
) -> DeployResult:
    """Apply only the variable changes; running it twice changes nothing the second time."""
    return deploy(
        target, yes=yes, prune_variables=prune, allow_destructive=prune, confirm=confirm, progress=progress,
        only=VARIABLES,
    )  # fmt: skip


def releases(target: Target, limit: int = 50) -> list[Release]:
    return target.system.releases(limit)


@dataclass
class RollbackResult:
    release_id: str
    restored_from: str
    actions: list[str]
    warnings: list[str]
    seconds: float


def rollback(
    target: Target,
    *,
    to: str | None = None,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    progress: Progress | None = None,
    note: Mapping[str, Any] | None = None,
) -> RollbackResult:
    """Re-activate the deployments, variables and settings recorded in a release (no rebuild). ``note`` is
    recorded with the release (an automatic rollback says who decided it, why, and on what evidence)."""
    chosen = choose(target.system.releases(200), to)  # refuses at once when there is nothing to return to
    planned: list[RollbackPlan] = []

    def planner(live: ProjectState) -> Plan:
        nonlocal chosen
        chosen = choose(target.system.releases(200), to)  # again under the lock: a deploy may have landed
        planned.append(rollback_plan(target.env.name, live, chosen, target.env.managed_variables))
        return planned[-1].plan

    done = apply_under_lock(
        target,
        kind="rollback",
        planner=planner,
        desired=None,
        preview=False,
        skip_empty=False,
        allow_destructive=True,  # a rollback only removes what the release it returns to did not have
        yes=yes,
        confirm=None if confirm is None else (lambda _plan: confirm(chosen.release_id)),
        refused=lambda: PlanError(f"environment '{target.env.name}' needs confirmation: pass --yes to roll back"),
        with_code=False,
        record=lambda _plan, _live: {
            "rollbackOf": chosen.release_id,
            "actions": planned[-1].actions,
            "warnings": planned[-1].warnings,
            **(note or {}),
        },
        progress=progress,
    )
    last = planned[-1]
    return RollbackResult(done.release_id or "", chosen.release_id, last.actions, last.warnings, done.seconds)
