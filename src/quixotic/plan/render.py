"""A plan as plain text for people: grouped by kind of resource, one line per change, destructive ones
flagged, secrets always ``********``. Kept apart from the plan so other renderers (JSON, colour) can exist.
"""

from __future__ import annotations

from typing import Any, Final

from quixotic.plan.changes import Change, Kind
from quixotic.plan.order import APPLY_ORDER
from quixotic.plan.plan import Plan
from quixotic.plan.views import SECRET_SHOWN, show_value

MARKERS: Final = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
TITLES: Final[dict[Kind, str]] = {
    "database": "Databases",
    "table": "Tables",
    "column": "Columns",
    "index": "Indexes",
    "bucket": "Buckets",
    "function": "Functions",
    "variable": "Variables",
    "deployment": "Deployments",
}
NO_CHANGES: Final = "No changes. The live project matches the configuration."


def render_text(plan: Plan) -> str:
    lines = [f"Plan for environment {plan.environment!r} (project {plan.project_id}):", ""]
    if plan.is_empty:
        return "\n".join([*lines, NO_CHANGES]) + "\n"
    for kind in APPLY_ORDER:
        group = [c for c in plan.changes if c.kind == kind]
        if group:
            lines.append(TITLES[kind])
            lines += [render_change(c) for c in group]
    counts = plan.counts()
    lines += [
        "",
        f"{counts['create']} to create, {counts['update']} to update, {counts['replace']} to replace, "
        f"{counts['delete']} to delete ({len(plan.destructive())} destructive)",
    ]
    if plan.destructive():
        lines.append("! marks a destructive change (data may be lost): review it before applying.")
    return "\n".join(lines) + "\n"


UNFINGERPRINTED: Final = (
    "(secret planned without a fingerprint: the target has no key yet, so the value set is the one"
    " configured when applied)"
)


def render_change(change: Change) -> str:
    flag = "!" if change.destructive else " "
    line = f"  {flag} {MARKERS[change.action]:<3} {change.address}  {_detail(change)}"
    after = change.after
    if after is not None and after.get("secret") is True and not after.get("valueHash"):
        line = f"{line.rstrip()}  {UNFINGERPRINTED}"
    return line


def _detail(change: Change) -> str:
    if change.action != "update" or not change.fields:
        return change.reason
    diffs = ", ".join(f"{f}: {_shown(change.before, f)} -> {_shown(change.after, f)}" for f in change.fields)
    return f"{diffs}  ({change.reason})" if change.destructive else diffs


def _shown(view: dict[str, Any] | None, field: str) -> str:
    """A view's field for people; a secret variable's value is never shown, only whether it is known."""
    if view is None:
        return "(none)"
    if view.get("secret") is True and field in ("value", "valueHash"):
        return "(unknown)" if not view.get("valueHash") else SECRET_SHOWN
    return show_value(view.get(field))
