"""The one path by which anything changes a target: deploy, ``vars sync``, rollback and restore all take it.

Desired state once (the caller's ``planner`` closes over it) -> optional preview without the lock (so an
operation with nothing to do writes nothing, not even a lock) -> lock -> re-read live -> plan ->
compare with a saved plan -> safety -> confirm -> record a release -> apply -> record the outcome.
Planning again under the lock means what is applied was computed from what is live *now*, not from what
was live before another run got in first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypedDict

from quixotic.deploy.applier import Applier
from quixotic.deploy.desired import Desired
from quixotic.deploy.snapshot import snapshot
from quixotic.errors import LockHeld, PlanError, QuixoticError
from quixotic.plan.plan import Plan, check_fresh, check_safety
from quixotic.plan.release import Release
from quixotic.plan.state import ProjectState
from quixotic.target import Target
from quixotic.target.provenance import git_commit, who

Progress = Callable[[str], None]
Confirm = Callable[[Plan], bool]
SCHEMA_KINDS = frozenset({"database", "table", "column", "index"})
CODE_KINDS = frozenset({"function", "variable", "deployment"})


class Choices(TypedDict, total=False):
    """What the operator decides about one change of a target (defaults: :func:`apply_under_lock`'s); a verb
    takes them as keywords and hands them on as they are, so each means the same in every verb."""

    allow_destructive: bool
    yes: bool
    confirm: Confirm | None
    lock_wait: float
    progress: Progress | None


def read_live(target: Target, *, with_code: bool = True) -> ProjectState:
    """The live project, secrets as the fingerprints quixotic recorded."""
    return target.backend.read_state(with_code=with_code, secret_hashes=target.system.secret_hashes())


@dataclass
class Applied:
    """What :func:`apply_under_lock` did: the plan applied (maybe empty), its release, the applier."""

    plan: Plan
    live: ProjectState
    release: Release | None = None
    applier: Applier | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def release_id(self) -> str | None:
        return self.release.id if self.release is not None else None


def _applies(applier: Applier, plan: Plan, live: ProjectState) -> None:
    """The plan's changes, then the builds. A plan that builds code (and re-activates none) applies its
    functions, their variables and the uploads first, so the builds run while the rest (the schema) is
    written; each build that is ready waits to be activated until everything else is in place, so no new
    code goes live before the schema the plan gives it. Otherwise, the plan's order."""
    code = [c for c in plan.changes if c.kind == "deployment" and c.action != "delete"]
    if code and not any((c.after or {}).get("deploymentId") for c in code):
        applier.activate_built = False
        applier.apply_all(CODE_KINDS)
        applier.apply_all({c.kind for c in plan.changes} - CODE_KINDS)
    else:
        applier.apply_all()
    applier.finish()


def apply_under_lock(
    target: Target,
    *,
    kind: str,
    planner: Callable[[ProjectState], Plan],
    desired: Desired | Callable[[], Desired] | None,
    saved: Plan | None = None,
    preview: bool = True,
    skip_empty: bool = True,
    allow_destructive: bool = False,
    yes: bool = False,
    confirm: Confirm | None = None,
    refused: Callable[[], QuixoticError] | None = None,
    locks: Sequence[str] = ("deploy",),
    lock_wait: float = 0.0,
    with_code: bool = True,
    record: Callable[[Plan, ProjectState], dict[str, Any]] | None = None,
    before_release: Callable[[Plan, ProjectState], None] | None = None,
    apply: Callable[[Applier, Plan, ProjectState], None] = _applies,
    finishing: Callable[[dict[str, Any]], None] | None = None,
    redact: Callable[[str], str] | None = None,
    progress: Progress | None = None,
) -> Applied:
    """Plan and apply one operation under the target's locks, recording a release of ``kind``.

    ``planner`` turns the live state into the plan; it runs again under the lock. ``saved`` is a plan file
    the operator reviewed: it must still match the live project and a fresh plan. ``record`` adds the
    operation's own fields to the release; ``before_release`` runs under the lock just before the release
    is recorded; ``apply`` does the writing (default: the plan's changes, then the builds); ``finishing``
    adds to the record once it is done, failed or not. ``desired`` may be a callable, for a desired state
    the planner rebuilds from live (a restore's). Errors are recorded ``redact``-ed (and always with the
    environment's secrets hidden).
    """
    started = time.monotonic()
    say = progress or (lambda _m: None)
    env = target.env
    if preview and saved is None:
        live = read_live(target, with_code=with_code)
        first = planner(live)
        if skip_empty and first.is_empty:
            return Applied(first, live, seconds=time.monotonic() - started)
    with ExitStack() as stack:
        held = [stack.enter_context(target.system.lock(name, wait=lock_wait)) for name in locks]

        def guard() -> None:
            """Stop before the next write once a lock was taken over (its heartbeat could not renew it)."""
            lost = [lock.name for lock in held if lock.lost.is_set()]
            if lost:
                raise LockHeld(
                    f"lost the {', '.join(lost)} lock while applying (its heartbeat could not renew it, and another "
                    f"run may hold it now); nothing more was written: run `quixotic deploy {env.name}` again"
                )

        live = read_live(target, with_code=with_code)
        current = planner(live)
        if saved is not None:
            check_fresh(saved, live)
            if saved.digest() != current.digest():
                raise PlanError(
                    "the configuration changed since the plan file was made (its changes differ from a fresh plan): "
                    "run `quixotic plan` again"
                )
        if skip_empty and current.is_empty:
            return Applied(current, live, seconds=time.monotonic() - started)
        # Destructive changes need --allow-destructive where the environment's policy refuses them.
        check_safety(current, allow_destructive=allow_destructive or not env.protection.refuse_destructive)
        if env.protection.require_confirmation and not yes and (confirm is None or not confirm(current)):
            raise (refused or _needs_confirmation(env.name))()
        if before_release is not None:
            before_release(current, live)
        fields: dict[str, Any] = {
            "createdBy": who(),
            "gitCommit": git_commit(target.root),
            "planDigest": current.digest(),
            "counts": current.counts(),
            "changes": [f"{c.address} {c.action}" for c in current.changes],
            "schemaChanged": any(c.kind in SCHEMA_KINDS for c in current.changes),
            "before": snapshot(live),
            **(record(current, live) if record is not None else {}),
        }
        resolved = desired() if callable(desired) else desired
        applier = Applier(target.backend, target.system, env, resolved, current, say, guard)
        hide = redact or (lambda text: text)
        with target.system.release(env.name, kind, fields, redact=lambda text: env.redact(hide(text))) as release:
            try:
                apply(applier, current, live)
                guard()  # a run that lost its lock did not succeed, whatever it wrote
                release.record["seconds"] = round(time.monotonic() - started, 3)
            finally:
                release.record["applied"] = applier.applied
                release.record["after"] = _after(target)
                if finishing is not None:
                    finishing(release.record)
        return Applied(current, live, release, applier, time.monotonic() - started)


def _after(target: Target) -> dict[str, Any]:
    """The state after, for the release; an error reading it (the server went away) must not hide the
    operation's own error, so it is recorded instead."""
    try:
        return snapshot(target.backend.read_state(with_code=False))
    except QuixoticError as exc:
        return {"unreadable": target.env.redact(str(exc))}


def _needs_confirmation(env_name: str) -> Callable[[], QuixoticError]:
    return lambda: PlanError(f"environment '{env_name}' needs confirmation: review the plan and pass --yes to apply it")
