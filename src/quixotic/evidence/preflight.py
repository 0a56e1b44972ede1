"""The pre-migration checklist as a gate: each item GO or NO-GO with its evidence, from values alone.

Evidence must be fresh (within N hours), must name both environments, and must have passed; the newest
record decides (a parity run that failed after one that passed is a NO-GO). The human items (team trained,
communication sent) are never inferred: only an operator's ``--confirm`` makes them GO. Some items only
inform (the plan, pending migrations): they are listed, never a reason to stop by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Literal, Protocol

from quixotic.errors import UsageError
from quixotic.evidence.findings import Drift, Judged, Validation
from quixotic.plan.changes import Change
from quixotic.plan.release import Release
from quixotic.timestamps import parse_iso

Status = Literal["GO", "NO-GO", "INFO"]
HUMAN: Final[Mapping[str, str]] = {
    "trained": "the team is trained on the new system",
    "communicated": "the migration was communicated to the people it affects",
}


class Recorded(Protocol):
    """An evidence record as the tool state keeps it (``quixotic.target.system.EvidenceRecord``)."""

    @property
    def kind(self) -> str: ...
    @property
    def started_at(self) -> str: ...
    @property
    def verdict(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Item(Judged[Status]):
    """One checklist item."""

    LABEL: ClassVar[str] = "item"


@dataclass
class Preflight:
    environment: str
    source: str
    within_hours: float
    items: list[Item] = field(default_factory=list)
    confirmed: dict[str, dict[str, str]] = field(default_factory=dict)  # item -> {by, at}

    @property
    def verdict(self) -> Literal["GO", "NO-GO"]:
        return "NO-GO" if any(i.status == "NO-GO" for i in self.items) else "GO"

    @property
    def missing(self) -> list[str]:
        return [i.name for i in self.items if i.status == "NO-GO"]

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "GO" else 1

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "from": self.source, "withinHours": self.within_hours,
                "verdict": self.verdict, "missing": self.missing, "items": [i.to_json() for i in self.items],
                "confirmed": self.confirmed}  # fmt: skip


def parse_confirm(text: str | None) -> list[str]:
    """``trained,communicated``: only the human items the checklist knows."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in HUMAN]
    if unknown:
        raise UsageError(f"--confirm {', '.join(unknown)}: the human items are {', '.join(HUMAN)}")
    return names


def age_hours(moment: str, now: datetime) -> float | None:
    """Hours from ``moment`` (ISO 8601) to ``now``; None when unreadable."""
    try:
        return (now - parse_iso(moment)).total_seconds() / 3600
    except ValueError:
        return None


def validation_item(name: str, report: Validation) -> Item:
    """GO when the validation ran and nothing FAILed (warnings are listed)."""
    bad = [f for f in report.findings if f.status != "PASS"]
    lines = tuple(f"{f.status} {f.check}: {f.summary}" + (f" ({'; '.join(f.evidence[:3])})" if f.evidence else "")
                  for f in bad)  # fmt: skip
    if report.exit_code != 0:
        return Item(name, "NO-GO", f"validate {report.environment}: {report.verdict}", lines)
    return Item(name, "GO", f"validate {report.environment}: {report.verdict}", lines)


def _covered(changes: Iterable[Change]) -> set[str]:
    out: set[str] = set()
    for change in changes:
        out.add(change.address)
        out.update(f"{change.address}.{f}" for f in change.fields)
    return out


def drift_item(name: str, report: Validation, changes: Sequence[Change]) -> Item:
    """GO when every difference from the reference is a declared override or something the pending plan for
    this environment will change; anything else is drift nobody asked for."""
    if not report.ran:
        return Item(name, "NO-GO", f"{report.environment} could not be read",
                    tuple(e for f in report.findings for e in f.evidence))  # fmt: skip
    covered = _covered(changes)

    def why(d: Drift) -> str:
        return "declared override" if d.declared else "the pending plan changes it" if d.path in covered else "NOT"

    unexplained = [d for d in report.drift if why(d) == "NOT"]
    lines = tuple(f"{d.describe()}: {why(d)}" if why(d) != "NOT" else f"{d.describe()}: neither declared nor planned"
                  for d in report.drift)  # fmt: skip
    if unexplained:
        return Item(name, "NO-GO", f"{len(unexplained)} difference(s) from {report.against} neither declared nor "
                    "planned", lines)  # fmt: skip
    declared = sum(1 for d in report.drift if d.declared)
    return Item(name, "GO", f"{declared} declared override(s), {len(report.drift) - declared} planned change(s)", lines)


def plan_item(name: str, environment: str, changes: Sequence[Change]) -> Item:
    destructive = [c for c in changes if c.destructive]
    lines = tuple(f"{c.action} {c.address} ({c.safety}): {c.reason}" for c in changes)
    summary = (f"{len(changes)} change(s) pending for {environment}, {len(destructive)} destructive"
               if changes else f"nothing to change in {environment}")  # fmt: skip
    return Item(name, "INFO", summary, lines)


def _environments(record: Recorded) -> set[str]:
    keys = ("old", "new", "environment", "compare")
    return {str(record.data[k]) for k in keys if record.data.get(k)}


def recent_item(name: str, records: Iterable[Recorded], kind: str, pair: tuple[str, str], now: datetime,
                within_hours: float, hint: str) -> Item:  # fmt: skip
    """GO when the newest ``kind`` record naming both environments of ``pair`` is within ``within_hours`` and
    passed; ``hint`` says how to make the evidence."""
    mine = [r for r in records if r.kind == kind and set(pair) <= _environments(r)]
    fresh = [(r, age) for r in mine if (age := age_hours(r.started_at, now)) is not None and age <= within_hours]
    if not fresh:
        older = f" (the newest is from {mine[0].started_at})" if mine else ""
        return Item(name, "NO-GO", f"no {kind} run of {pair[0]} and {pair[1]} within {within_hours:g} h{older}: "
                    f"`{hint}`")  # fmt: skip
    newest, age = max(fresh, key=lambda f: f[0].started_at)
    summary = f"{kind} {newest.verdict} {age:.1f} h ago ({newest.started_at})"
    return Item(name, "GO" if newest.verdict == "PASS" else "NO-GO", summary, _details(newest))


def _details(record: Recorded) -> tuple[str, ...]:
    data = record.data
    lines = [f"{t['threshold']}: {'met' if t['passed'] else 'NOT met'}" for t in data.get("thresholds") or []]
    if data.get("comparison"):
        lines.append(str(data["comparison"].get("why")))
    if "requests" in data and "same" in data:
        lines.append(f"{data['requests']} request(s), {len(data.get('differences') or [])} difference(s)")
    return tuple(lines)


def rollback_item(name: str, environment: str, releases: Sequence[Release]) -> Item:
    """GO when a rollback of ``environment`` succeeded after its latest successful deploy (newest first)."""
    deploy = next((r for r in releases if r.kind == "deploy" and r.status == "succeeded"), None)
    if deploy is None:
        return Item(name, "NO-GO", f"{environment} has no successful deploy to roll back from")
    since = deploy.started_at
    after = [r for r in releases if r.kind == "rollback" and r.status == "succeeded" and r.started_at > since]
    if not after:
        return Item(name, "NO-GO", f"no rollback of {environment} since its latest deploy {deploy.id} "
                    f"({deploy.started_at}): `quixotic rollback {environment}`, then check it")  # fmt: skip
    return Item(name, "GO", f"rollback {after[0].id} at {after[0].started_at}, after deploy {deploy.id}")


def backup_item(name: str, environment: str, latest: tuple[str, str, str] | None, now: datetime,
                within_hours: float) -> Item:  # fmt: skip
    """``latest``: the newest backup's (file, createdAt, problem found verifying it, empty when it verified)."""
    hint = f"`quixotic backup {environment}`"
    if latest is None:
        return Item(name, "NO-GO", f"no backup of {environment}: {hint}")
    file, created, problem = latest
    if problem:
        return Item(name, "NO-GO", f"the newest backup {file} does not verify: {hint}", (problem,))
    age = age_hours(created, now)
    if age is None or age > within_hours:
        shown = "of no readable date" if age is None else f"{age:.1f} h old"
        return Item(name, "NO-GO", f"the newest backup {file} is {shown}, not within {within_hours:g} h: {hint}")
    return Item(name, "GO", f"{file}, {age:.1f} h old, verified")


def migrations_item(name: str, pending: Sequence[str], problems: Sequence[str]) -> Item:
    """Pending migrations are listed (the migration applies them); failed or edited ones stop it."""
    if problems:
        return Item(name, "NO-GO", "migrations failed or edited: `quixotic migrate status`", tuple(problems))
    return Item(name, "INFO", f"{len(pending)} pending" if pending else "nothing pending", tuple(pending))


def human_items(confirmed: Mapping[str, Mapping[str, str]]) -> list[Item]:
    out = []
    for key, what in HUMAN.items():
        if key in confirmed:
            by = confirmed[key]
            out.append(Item(key, "GO", f"{what}: confirmed by {by['by']} at {by['at']}"))
        else:
            out.append(Item(key, "NO-GO", f"{what}: not confirmed (a person says so: --confirm {key})"))
    return out
