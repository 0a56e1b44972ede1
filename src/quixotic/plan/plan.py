"""The plan as a value: ordered changes for one environment, plus the fingerprint of the live state they
were computed from, so a saved plan can be reviewed, hashed, checked for safety and refused when stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from quixotic.config.jsonfile import camel_json
from quixotic.errors import PlanError
from quixotic.plan.changes import ACTIONS, Change
from quixotic.plan.diff import SYSTEM_DATABASES, diff
from quixotic.plan.order import order_changes
from quixotic.plan.state import ProjectState

PLAN_FORMAT: Final = 1


def canonical_json(data: Any) -> str:
    """One text per value: sorted keys, no spaces, ASCII; NaN refused."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


@dataclass(frozen=True)
class Plan:
    """What deploy will do to ``environment``'s project, in order."""

    environment: str
    project_id: str
    live_fingerprint: str
    changes: tuple[Change, ...]
    format: int = PLAN_FORMAT

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def destructive(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.destructive)

    def counts(self) -> dict[str, int]:
        """How many changes of each action (every action present, 0 when none)."""
        return {action: sum(1 for c in self.changes if c.action == action) for action in ACTIONS}

    def _body(self) -> dict[str, Any]:
        return {
            **camel_json(self, "format environment project_id live_fingerprint"),
            "changes": [c.to_json() for c in self.changes],
        }

    def digest(self) -> str:
        """SHA-256 of the canonical JSON: the same plan hashes the same on every run and machine."""
        return hashlib.sha256(canonical_json(self._body()).encode()).hexdigest()

    def to_json(self) -> str:
        return canonical_json({**self._body(), "digest": self.digest()})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """The plan a file holds; :class:`PlanError` when it is malformed, of another format, or edited."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PlanError(f"the plan file is not JSON ({exc}); make the plan again") from exc
        if not isinstance(data, dict):
            raise PlanError("the plan file does not hold a plan (expected a JSON object); make the plan again")
        if data.get("format") != PLAN_FORMAT:
            raise PlanError(
                f"the plan file has format {data.get('format')!r}, this quixotic reads format {PLAN_FORMAT}; "
                "make the plan again with this version"
            )
        expected = {"format", "environment", "projectId", "liveFingerprint", "changes", "digest"}
        if set(data) != expected:
            missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
            raise PlanError(f"the plan file's keys are wrong (missing {missing}, unexpected {extra}); make it again")
        for name in ("environment", "projectId", "liveFingerprint", "digest"):
            if not isinstance(data[name], str):
                raise PlanError(f"the plan file's {name} must be a string; make the plan again")
        if not isinstance(data["changes"], list):
            raise PlanError("the plan file's changes must be a list; make the plan again")
        plan = cls(
            environment=data["environment"],
            project_id=data["projectId"],
            live_fingerprint=data["liveFingerprint"],
            changes=tuple(Change.from_json(c, f"change {i + 1}") for i, c in enumerate(data["changes"])),
            format=PLAN_FORMAT,
        )
        if plan.digest() != data["digest"]:
            raise PlanError(
                "the plan file was changed after it was made (its digest does not match); "
                "make the plan again and apply that one"
            )
        return plan


def make_plan(
    environment: str,
    live: ProjectState,
    desired: ProjectState,
    *,
    prune_variables: bool = False,
    ignore_databases: frozenset[str] = SYSTEM_DATABASES,
) -> Plan:
    """The ordered plan that turns ``live`` into ``desired`` (both of the same project)."""
    if live.project_id != desired.project_id:
        raise PlanError(
            f"the live state is of project {live.project_id!r} but the configuration is of {desired.project_id!r}; "
            f"check the projectId of environment {environment!r}"
        )
    changes = diff(live, desired, prune_variables=prune_variables, ignore_databases=ignore_databases)
    return Plan(environment, live.project_id, live.fingerprint(), order_changes(changes))


def check_safety(plan: Plan, *, allow_destructive: bool) -> None:
    """Refuse a plan with destructive changes unless they were allowed: list every one of them."""
    risky = plan.destructive()
    if not risky or allow_destructive:
        return
    lines = "\n".join(f"  - {c.action} {c.address}: {c.reason}" for c in risky)
    raise PlanError(
        f"the plan for {plan.environment!r} has {len(risky)} destructive change{'s' if len(risky) != 1 else ''}:\n"
        f"{lines}\nReview them (back up first if data matters), then pass --allow-destructive to apply them."
    )


def check_fresh(plan: Plan, live: ProjectState) -> None:
    """Refuse a saved plan when the live project is no longer the one it was computed from."""
    if live.project_id != plan.project_id:
        raise PlanError(
            f"the plan is for project {plan.project_id!r}, not {live.project_id!r}; make a plan for this project"
        )
    if live.fingerprint() != plan.live_fingerprint:
        raise PlanError(
            f"the live project {plan.project_id!r} changed since this plan was made; "
            f"make a new plan (quixotic plan {plan.environment}) and review it"
        )
