"""Named checks with a status and the evidence behind it, and the verdict of a set of them.

A check never answers with a bare boolean: a FAIL says what differs (address, field, value here and
there), a WARN what to look at. A run that could not reach its target is its own outcome (exit 2), never
a PASS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, Literal, TypeVar

from quixotic.plan.changes import Change
from quixotic.plan.plan import Plan
from quixotic.plan.views import show_value

Status = Literal["PASS", "WARN", "FAIL"]
ORDER: Final[dict[str, int]] = {"PASS": 0, "WARN": 1, "FAIL": 2}
# A plan change's kind -> the check that owns it (schema, storage, functions, variables, code).
CHECK_OF_KIND: Final[dict[str, str]] = {
    "database": "schema",
    "table": "schema",
    "column": "schema",
    "index": "schema",
    "bucket": "buckets",
    "function": "functions",
    "deployment": "deployments",
    "variable": "variables",
}


S = TypeVar("S", bound=str)


@dataclass(frozen=True)
class Judged(Generic[S]):
    """A named judgement (a check, a checklist item): its status in ``S``, a summary, the evidence behind it."""

    name: str
    status: S
    summary: str
    evidence: tuple[str, ...] = ()
    LABEL: ClassVar[str] = "name"  # the name's key in JSON

    def to_json(self) -> dict[str, Any]:
        return {self.LABEL: self.name, "status": self.status, "summary": self.summary, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class Finding(Judged[Status]):
    """One named check's outcome."""

    LABEL: ClassVar[str] = "check"

    @property
    def check(self) -> str:
        return self.name


@dataclass(frozen=True)
class Drift:
    """One difference between two live projects: ``path`` (address, and field for an update), the value in
    the environment validated (``here``) and in the reference (``there``), and whether the configuration
    declares it (a per-environment override) or not."""

    path: str
    here: Any
    there: Any
    declared: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "here": self.here, "there": self.there, "declared": self.declared}

    def describe(self) -> str:
        kind = "declared override" if self.declared else "NOT declared"
        return f"{self.path}: {show_value(self.here)} here, {show_value(self.there)} there ({kind})"


@dataclass
class Validation:
    """Every finding of one ``validate`` run, and the drift against a reference when one was given."""

    environment: str
    findings: list[Finding] = field(default_factory=list)
    against: str | None = None
    drift: list[Drift] = field(default_factory=list)
    ran: bool = True  # False: the target could not be reached or read (exit 2)
    plan: Plan | None = None  # the deploy plan the checks were judged from (preflight shows it; not in to_json)

    @property
    def verdict(self) -> str:
        if not self.ran:
            return "COULD NOT RUN"
        worst = max((ORDER[f.status] for f in self.findings), default=0)
        return next(s for s, n in ORDER.items() if n == worst)

    @property
    def exit_code(self) -> int:
        """0 PASS (warnings allowed), 1 any FAIL, 2 could not run."""
        if not self.ran:
            return 2
        return 1 if self.verdict == "FAIL" else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "against": self.against,
            "verdict": self.verdict,
            "findings": [f.to_json() for f in self.findings],
            "drift": [d.to_json() for d in self.drift],
        }


def _line(change: Change) -> str:
    fields = f" ({', '.join(change.fields)})" if change.fields else ""
    return f"{change.action} {change.address}{fields}: {change.reason}"


def plan_findings(changes: Sequence[Change], checks: Iterable[str]) -> list[Finding]:
    """One finding per check: PASS when the live project needs no change of its kinds, else FAIL listing what
    a deploy would change (so the evidence is the plan itself)."""
    out = []
    for check in checks:
        mine = [c for c in changes if CHECK_OF_KIND.get(c.kind) == check]
        if mine:
            summary = f"{len(mine)} difference(s) from the configuration: `quixotic plan` shows, `deploy` applies"
            out.append(Finding(check, "FAIL", summary, tuple(_line(c) for c in mine)))
        else:
            out.append(Finding(check, "PASS", "as configured"))
    return out


def drift_between(live_changes: Sequence[Change], declared_changes: Sequence[Change]) -> list[Drift]:
    """The drift from a reference's live project to this one's (``live_changes``: the diff from the
    reference's live state to this one's), each marked declared when the configurations differ at the same
    place (``declared_changes``: the diff from the reference's desired state to this one's)."""
    declared: set[tuple[str, str]] = set()
    for change in declared_changes:
        declared.add((change.address, ""))
        declared.update((change.address, f) for f in change.fields)
    out: list[Drift] = []
    for change in live_changes:
        there, here = change.before or {}, change.after or {}
        if change.action == "update" and change.fields:
            for name in change.fields:
                out.append(Drift(f"{change.address}.{name}", here.get(name), there.get(name),
                                 (change.address, name) in declared))  # fmt: skip
        else:
            out.append(Drift(change.address, "present" if change.after is not None else "absent",
                             "present" if change.before is not None else "absent",
                             (change.address, "") in declared))  # fmt: skip
    return out


def drift_finding(reference: str, drift: Sequence[Drift]) -> Finding:
    undeclared = [d for d in drift if not d.declared]
    lines = tuple(d.describe() for d in drift)
    if undeclared:
        summary = f"{len(undeclared)} difference(s) from {reference} that no override declares"
        return Finding(f"drift from {reference}", "FAIL", summary, lines)
    if drift:
        return Finding(f"drift from {reference}", "PASS", f"only the {len(drift)} declared override(s)", lines)
    return Finding(f"drift from {reference}", "PASS", f"identical to {reference}")
