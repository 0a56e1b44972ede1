"""Rollback as a plan: from the live project back to the state a release recorded, applied by the applier.

A release records, of each side, the active deployments, function and bucket settings and variables
(secrets as hashes). Rolling back re-activates the recorded deployments (no rebuild) and puts settings
and plain variables back; secrets can only be checked (quixotic never keeps their values), though one the
rolled-back releases added is removed like any variable the recorded state lacked, and schema
changes are rolled back by migrations, which the warnings say. It only computes; the engine applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from quixotic.config.resources import Function
from quixotic.deploy.snapshot import function_settings
from quixotic.errors import PlanError
from quixotic.plan.changes import (
    Change,
    bucket_address,
    deployment_address,
    function_address,
    variable_address,
)
from quixotic.plan.plan import Plan
from quixotic.plan.release import Release
from quixotic.plan.state import PROJECT_SCOPE, ProjectState, VariableState
from quixotic.plan.views import bucket_from, bucket_view, function_from, function_view, jsonable, variable_view


@dataclass(frozen=True)
class Chosen:
    """The release to return to: its id, the recorded state and whether the schema changed since."""

    release_id: str
    state: dict[str, Any]
    schema_changed: bool


def choose(history: list[Release], to: str | None) -> Chosen:
    """Undo the latest deploy (``to`` None), or return to the state after release ``to``."""
    deploys = [r for r in history if r.kind == "deploy" and r.status in ("succeeded", "failed")]
    if to is None:
        if not deploys:
            raise PlanError("there is no release to roll back: `quixotic releases ENV` lists them")
        latest = deploys[0]
        return Chosen(latest.id, latest.record.get("before") or {}, bool(latest.record.get("schemaChanged")))
    for index, release in enumerate(history):
        if release.id == to:
            if release.kind != "deploy" or not release.record.get("after"):
                raise PlanError(f"release {to} has no recorded state to return to")
            later = [r for r in history[:index] if r.kind == "deploy"]
            return Chosen(to, release.record["after"], any(r.record.get("schemaChanged") for r in later))
    raise PlanError(f"no release {to} in this environment: `quixotic releases ENV` lists them")


@dataclass
class RollbackPlan:
    plan: Plan
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _restored_function(have: Function, settings: dict[str, Any]) -> Function:
    """The live function with the recorded settings (its id, code path and specification kept)."""
    view = function_view(have)
    return function_from({**view, **{k: v for k, v in settings.items() if k in view and k != "id"}})


def rollback_plan(
    environment: str, live: ProjectState, chosen: Chosen, managed: Callable[[str | None], frozenset[str]]
) -> RollbackPlan:
    """The changes that return ``live`` to ``chosen.state``; ``managed`` names the variables the configuration
    manages per scope (None: the project), the only ones a rollback may delete."""
    snap = chosen.state
    out = RollbackPlan(Plan(environment, live.project_id, live.fingerprint(), ()))
    changes: list[Change] = []
    reason = f"as recorded by release {chosen.release_id}"
    live_functions = {f.spec.id: f for f in live.functions}
    for function_id, want in (snap.get("functions") or {}).items():
        have = live_functions.get(function_id)
        if have is None:
            out.warnings.append(f"function {function_id} no longer exists; deploy to recreate it")
            continue
        settings = dict(want.get("settings") or {})
        if settings and settings != function_settings(asdict(have.spec)):
            restored = _restored_function(have.spec, settings)
            changes.append(Change("update", "function", function_address(function_id), function_view(have.spec),
                                  function_view(restored), "compatible", reason))  # fmt: skip
            out.actions.append(f"function {function_id}: settings restored")
        deployment = want.get("deploymentId")
        if deployment and deployment != have.deployment_id:
            before = {"functionId": function_id, "deploymentId": have.deployment_id}
            after = {"functionId": function_id, "deploymentId": deployment}
            changes.append(Change("update", "deployment", deployment_address(function_id), before, after,
                                  "compatible", f"re-activate {deployment} ({reason})"))  # fmt: skip
            out.actions.append(f"function {function_id}: deployment {have.deployment_id} -> {deployment}")
    live_buckets = {b.id: b for b in live.buckets}
    for bucket_id, want in (snap.get("buckets") or {}).items():
        have_bucket = live_buckets.get(bucket_id)
        if have_bucket is None:
            continue
        restored_bucket = bucket_from(jsonable(want))
        if bucket_view(restored_bucket) != bucket_view(have_bucket):
            changes.append(Change("update", "bucket", bucket_address(bucket_id), bucket_view(have_bucket),
                                  bucket_view(restored_bucket), "compatible", reason))  # fmt: skip
            out.actions.append(f"bucket {bucket_id}: settings restored")
    changes.extend(_variables(live, snap.get("variables"), managed, reason, out))
    if chosen.schema_changed:
        out.warnings.append(
            "the schema changed in the releases rolled back; schema changes are rolled back by migrations "
            "(`quixotic migrate down`), not by rollback"
        )
    out.plan = replace(out.plan, changes=tuple(changes))
    return out


def _variables(
    live: ProjectState,
    recorded: list[dict[str, Any]] | None,
    managed: Callable[[str | None], frozenset[str]],
    reason: str,
    out: RollbackPlan,
) -> list[Change]:
    """Plain values put back; secrets only checked (quixotic keeps their hashes, not values); managed variables,
    secret or not, that the recorded state did not have removed (none when it recorded no variables at all)."""
    changes: list[Change] = []
    wanted = recorded or []
    live_vars = {(v.scope, v.key): v for v in live.variables}
    want_keys = {(w["scope"], w["key"]) for w in wanted}
    for w in wanted:
        scope, key = str(w["scope"]), str(w["key"])
        have = live_vars.get((scope, key))
        if w["secret"]:
            if have is None or have.value_hash != w["hash"]:
                out.warnings.append(
                    f"secret {scope}/{key} differs from the release; set the old value in the environment "
                    "and run `quixotic vars sync`"
                )
            continue
        if have is not None and have.value == w["value"] and not have.secret:
            continue
        value = str(w["value"] or "")
        after = variable_view(VariableState(scope, key, value, False, str(w["hash"] or "")))
        address = variable_address(scope, key)
        if have is None or not have.id:
            changes.append(Change("create", "variable", address, None, after, "additive", reason))
        elif have.secret:
            before = variable_view(have)
            changes.append(Change("replace", "variable", address, before, after, "compatible", reason))
        else:
            changes.append(Change("update", "variable", address, variable_view(have), after, "compatible", reason))
        out.actions.append(f"variable {scope}/{key} restored")
    if recorded is None:
        out.warnings.append("the release recorded no variables: none is removed")
        return changes
    for (scope, key), have in live_vars.items():
        if (scope, key) not in want_keys and key in managed(None if scope == PROJECT_SCOPE else scope) and have.id:
            # A secret the rolled-back releases added is removed too: the state returned to had no value for it,
            # so keeping it would leave what the rollback undoes; the environment still holds it for a redeploy.
            changes.append(Change("delete", "variable", variable_address(scope, key), variable_view(have), None,
                                  "destructive", f"it did not exist {reason}"))  # fmt: skip
            what = "secret" if have.secret else "variable"
            again = "; a deploy sets it again from the environment" if have.secret else ""
            out.actions.append(f"{what} {scope}/{key} removed (it did not exist then{again})")
    return changes
