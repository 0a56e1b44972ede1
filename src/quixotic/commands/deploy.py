"""Deploy verbs: plan, deploy, releases, rollback, up. Each returns a value or raises; no printing.

The flow is read live state -> plan -> (show, confirm) -> apply -> record a release, under a lock in
the target project so two deploys never interleave. A deploy that is killed part-way leaves the
project partly changed; running it again plans from what is live and finishes the job.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from quixotic.applier import Applier
from quixotic.backends.appwrite import AppwriteBackend
from quixotic.config import Environment, load_environment
from quixotic.config.layout import secret_var
from quixotic.desired import Desired, desired_state
from quixotic.errors import PlanError
from quixotic.plan.plan import Plan, check_fresh, check_safety, make_plan
from quixotic.plan.state import PROJECT_SCOPE, ProjectState
from quixotic.toolstate import ToolState, who

Progress = Callable[[str], None]
Confirm = Callable[[Plan], bool]
SCHEMA_KINDS = frozenset({"database", "table", "column", "index"})


@dataclass
class Target:
    """An environment and the live project it names."""

    root: Path
    env: Environment
    backend: AppwriteBackend
    tool: ToolState


def connect(root: Path, env_name: str, environ: Mapping[str, str] | None = None) -> Target:
    """Load ``env_name`` and open its project; ``QUIXOTIC_<ENV>_ENDPOINT`` overrides the file's endpoint."""
    environ = os.environ if environ is None else environ
    env = load_environment(root, env_name, environ=environ)
    endpoint = environ.get(secret_var(env_name, "ENDPOINT")) or env.endpoint
    backend = AppwriteBackend(endpoint, env.project_id, env.require_api_key())
    return Target(root, env, backend, ToolState(backend))


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    live: ProjectState
    desired: Desired


def plan(target: Target, *, prune_variables: bool = False) -> PlanResult:
    """Compare the live project with the configuration."""
    desired = desired_state(target.env, target.root)
    live = target.backend.read_state(secret_hashes=target.tool.secret_hashes())
    return PlanResult(make_plan(target.env.name, live, desired.state, prune_variables=prune_variables), live, desired)


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def snapshot(state: ProjectState) -> dict[str, Any]:
    """What a release records of one side: active deployments, variables (secrets as hashes), settings."""
    return {
        "functions": {
            f.spec.id: {"deploymentId": f.deployment_id, "settings": _settings(asdict(f.spec))} for f in state.functions
        },
        "variables": [
            {"scope": v.scope, "key": v.key, "secret": v.secret, "value": v.value, "hash": v.value_hash}
            for v in state.variables
        ],
        "buckets": {b.id: asdict(b) for b in state.buckets},
    }


def _settings(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items() if k not in ("path", "specification")}


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
    yes: bool = False,
    allow_destructive: bool = False,
    prune_variables: bool = False,
    confirm: Confirm | None = None,
    progress: Progress | None = None,
    lock_wait: float = 0.0,
    only: frozenset[str] | None = None,
) -> DeployResult:
    """Apply the environment's configuration to its project and record a release.

    ``only`` limits the plan to some kinds of change (``vars sync`` applies only variables).
    """
    started = time.monotonic()
    say = progress or (lambda _m: None)
    if plan_file is None:
        # Nothing to do is decided before the lock: a no-op deploy makes no write call at all.
        preview = plan(target, prune_variables=prune_variables).plan
        preview = preview if only is None else restrict(preview, only)
        if preview.is_empty:
            return DeployResult(preview, None, 0, time.monotonic() - started)
    with target.tool.lock("deploy", wait=lock_wait):
        result = plan(target, prune_variables=prune_variables)
        current = result.plan if only is None else restrict(result.plan, only)
        if plan_file is not None:
            check_fresh(plan_file, result.live)
            if plan_file.digest() != current.digest():
                raise PlanError(
                    "the configuration changed since the plan file was made (its changes differ from a fresh plan): "
                    "run `quixotic plan` again"
                )
        if current.is_empty:
            return DeployResult(current, None, 0, time.monotonic() - started)
        # Destructive changes need --allow-destructive where the environment's policy refuses them.
        check_safety(current, allow_destructive=allow_destructive or not target.env.protection.refuse_destructive)
        if target.env.protection.require_confirmation and not yes and (confirm is None or not confirm(current)):
            raise PlanError(
                f"environment '{target.env.name}' needs confirmation: review the plan and pass --yes to apply it"
            )
        record: dict[str, Any] = {
            "createdBy": who(),
            "gitCommit": git_commit(target.root),
            "planDigest": current.digest(),
            "counts": current.counts(),
            "changes": [c.address + " " + c.action for c in current.changes],
            "before": snapshot(result.live),
        }
        kind = "deploy" if only is None else "vars"
        release_id = target.tool.start_release(target.env.name, kind, record)
        applier = Applier(target.backend, target.tool, target.env, result.desired, result.live, say)
        applied = 0
        schema_changed = any(c.kind in SCHEMA_KINDS for c in current.changes)
        record["schemaChanged"] = schema_changed
        try:
            for change in current.changes:
                applier.apply(change)
                applied += 1
            applier.finish()
        except BaseException as exc:
            record["error"] = target.env.redact(str(exc))
            record["applied"] = applied
            record["after"] = snapshot(target.backend.read_state(with_code=False))
            target.tool.finish_release(release_id, "failed", record)
            raise
        record["applied"] = applied
        record["after"] = snapshot(target.backend.read_state(with_code=False))
        record["seconds"] = round(time.monotonic() - started, 3)
        target.tool.finish_release(release_id, "succeeded", record)
        return DeployResult(
            current, release_id, applied, time.monotonic() - started, schema_changed, applier.deployments
        )


def restrict(full: Plan, kinds: frozenset[str]) -> Plan:
    return replace(full, changes=tuple(c for c in full.changes if c.kind in kinds))


def vars_plan(target: Target, *, prune: bool = False) -> Plan:
    """The variables part of the plan: what `vars sync` would change (secrets as hashes only)."""
    return restrict(plan(target, prune_variables=prune).plan, frozenset({"variable"}))


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
        only=frozenset({"variable"}),
    )  # fmt: skip


def releases(target: Target, limit: int = 50) -> list[dict[str, Any]]:
    return target.tool.releases(limit)


@dataclass
class RollbackResult:
    release_id: str
    restored_from: str
    actions: list[str]
    warnings: list[str]
    seconds: float


def _pick_snapshot(history: list[dict[str, Any]], to: str | None) -> tuple[str, dict[str, Any], bool]:
    """(release id, snapshot to restore, whether the schema changed since) for ``rollback``."""
    deploys = [r for r in history if r.get("kind") == "deploy" and r.get("status") in ("succeeded", "failed")]
    if to is None:
        if not deploys:
            raise PlanError("there is no release to roll back: `quixotic releases ENV` lists them")
        latest = deploys[0]
        return latest["id"], latest.get("before") or {}, bool(latest.get("schemaChanged"))
    for index, record in enumerate(history):
        if record["id"] == to:
            if record.get("kind") != "deploy" or not record.get("after"):
                raise PlanError(f"release {to} has no recorded state to return to")
            later = [r for r in history[:index] if r.get("kind") == "deploy"]
            return to, record["after"], any(r.get("schemaChanged") for r in later)
    raise PlanError(f"no release {to} in this environment: `quixotic releases ENV` lists them")


def rollback(
    target: Target,
    *,
    to: str | None = None,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    progress: Progress | None = None,
) -> RollbackResult:
    """Re-activate the deployments, variables and settings recorded in a release (no rebuild)."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    backend = target.backend
    with target.tool.lock("deploy"):
        source, snap, schema_changed = _pick_snapshot(target.tool.releases(200), to)
        if target.env.protection.require_confirmation and not yes and (confirm is None or not confirm(source)):
            raise PlanError(f"environment '{target.env.name}' needs confirmation: pass --yes to roll back")
        live = backend.read_state(with_code=False, secret_hashes=target.tool.secret_hashes())
        record: dict[str, Any] = {"createdBy": who(), "gitCommit": git_commit(target.root), "rollbackOf": source}
        record["before"] = snapshot(live)
        release_id = target.tool.start_release(target.env.name, "rollback", record)
        actions: list[str] = []
        warnings: list[str] = []
        try:
            live_functions = {f.spec.id: f for f in live.functions}
            for function_id, want in (snap.get("functions") or {}).items():
                have = live_functions.get(function_id)
                if have is None:
                    warnings.append(f"function {function_id} no longer exists; deploy to recreate it")
                    continue
                settings = dict(want.get("settings") or {})
                current = _settings(asdict(have.spec))
                if settings and settings != current:
                    settings.pop("id", None)
                    backend.functions.update(function_id, **settings)
                    actions.append(f"function {function_id}: settings restored")
                deployment = want.get("deploymentId")
                if deployment and deployment != have.deployment_id:
                    say(f"{function_id}: re-activating {deployment}")
                    backend.functions.update_function_deployment(function_id, deployment)
                    actions.append(f"function {function_id}: deployment {have.deployment_id} -> {deployment}")
            live_buckets = {b.id: asdict(b) for b in live.buckets}
            for bucket_id, want in (snap.get("buckets") or {}).items():
                have_bucket = live_buckets.get(bucket_id)
                if have_bucket is not None and have_bucket != want:
                    args = {
                        "permissions": list(want["permissions"]),
                        "file_security": want["file_security"],
                        "enabled": want["enabled"],
                        "maximum_file_size": want["maximum_file_size"],
                        "allowed_file_extensions": list(want["allowed_file_extensions"]),
                        "compression": want["compression"],
                        "encryption": want["encryption"],
                        "antivirus": want["antivirus"],
                    }
                    backend.storage.update_bucket(bucket_id, want["name"], **args)
                    actions.append(f"bucket {bucket_id}: settings restored")
            actions.extend(_restore_variables(target, live, snap.get("variables") or [], warnings))
            if schema_changed:
                warnings.append(
                    "the schema changed in the releases rolled back; schema changes are rolled back by migrations "
                    "(`quixotic migrate down`), not by rollback"
                )
        except BaseException as exc:
            record["error"] = target.env.redact(str(exc))
            target.tool.finish_release(release_id, "failed", record)
            raise
        record.update({"actions": actions, "warnings": warnings})
        record["after"] = snapshot(backend.read_state(with_code=False))
        record["seconds"] = round(time.monotonic() - started, 3)
        target.tool.finish_release(release_id, "succeeded", record)
    return RollbackResult(release_id, source, actions, warnings, time.monotonic() - started)


def _restore_variables(
    target: Target, live: ProjectState, wanted: list[dict[str, Any]], warnings: list[str]
) -> list[str]:
    """Put non-secret values back; secrets can only be checked (quixotic keeps their hashes, not values)."""
    actions: list[str] = []
    live_vars = {(v.scope, v.key): v for v in live.variables}
    want_keys = {(w["scope"], w["key"]) for w in wanted}
    backend = target.backend
    for w in wanted:
        have = live_vars.get((w["scope"], w["key"]))
        if w["secret"]:
            if have is None or have.value_hash != w["hash"]:
                warnings.append(
                    f"secret {w['scope']}/{w['key']} differs from the release; set the old value in the environment "
                    "and run `quixotic vars sync`"
                )
            continue
        if have is not None and have.value == w["value"] and not have.secret:
            continue
        if have is None or not have.id:
            backend.create_variable(w["scope"], w["key"], w["value"] or "", False)
        elif have.secret:
            backend.delete_variable(w["scope"], have.id)
            backend.create_variable(w["scope"], w["key"], w["value"] or "", False)
        else:
            backend.update_variable(w["scope"], have.id, w["key"], w["value"] or "", False)
        actions.append(f"variable {w['scope']}/{w['key']} restored")
    for (scope, key), have in live_vars.items():
        managed = target.env.managed_variables(None if scope == PROJECT_SCOPE else scope)
        if (scope, key) not in want_keys and key in managed and have.id and not have.secret:
            backend.delete_variable(scope, have.id)
            actions.append(f"variable {scope}/{key} removed (it did not exist then)")
    return actions
