"""The pull-request plan comment: one per pull request, found again by a hidden marker, holding each
environment's rendered plan and its digest in a form the deploy job reads back.

The digest line is an HTML comment (``<!-- quixotic:digest ENV SHA256 -->``), invisible on GitHub and
parsed by :func:`reviewed_digest`; the visible text says the same for people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from quixotic.errors import PlanError
from quixotic.plan.plan import Plan
from quixotic.plan.render import render_text

MARKER: Final = "<!-- quixotic:plan -->"
LIMIT: Final = 60_000  # GitHub refuses comments over 65,536 characters; the plan text is cut before that
_DIGEST: Final = re.compile(r"<!-- quixotic:digest ([a-z][a-z0-9-]*) ([0-9a-f]{64}) -->")


def digest_line(env: str, digest: str) -> str:
    return f"<!-- quixotic:digest {env} {digest} -->"


def render_comment(plans: Mapping[str, Plan], notes: Mapping[str, Sequence[str]] | None = None) -> str:
    """The comment's Markdown for ``{env: plan}``; ``notes`` adds lines per environment (what a feature
    freeze would refuse)."""
    notes = notes or {}
    budget = max(1_000, LIMIT // max(1, len(plans)))
    parts = [MARKER, "## quixotic plan", ""]
    for env, plan in plans.items():
        if plan.environment != env:
            raise PlanError(f"the plan given for {env!r} is a plan of {plan.environment!r}: pass env=FILE pairs")
        changes = "no changes" if plan.is_empty else f"{len(plan.changes)} change(s)"
        text = render_text(plan)
        if len(text) > budget:
            text = text[:budget] + "\n... (cut: run `quixotic plan " + env + "` for the whole plan)\n"
        fence = "`" * max(3, _longest_backticks(text) + 1)
        parts += [
            f"### {env}: {changes}",
            digest_line(env, plan.digest()),
            f"Digest `{plan.digest()}`: the deploy after the merge applies exactly this plan or refuses.",
            "",
        ]
        parts += [f"> {line}" for line in notes.get(env, ())]
        if notes.get(env):
            parts.append("")
        parts += [f"{fence}text", text.rstrip("\n"), fence, ""]
    return "\n".join(parts)


def reviewed_digest(comment: str, env: str) -> str:
    """The digest the comment shows for ``env`` (the last one, if the text holds several comments)."""
    if MARKER not in comment:
        raise PlanError(
            "no quixotic plan comment was found on the pull request (it has no plan marker): "
            "let the plan workflow run on the pull request, review it, then merge"
        )
    found: list[str] = [digest for name, digest in _DIGEST.findall(comment) if name == env]
    if not found:
        raise PlanError(f"the plan comment shows no plan for {env!r}: let the plan workflow plan {env!r} too")
    return found[-1]


def check_reviewed(plan: Plan, reviewed: str) -> None:
    """Refuse ``plan`` unless its digest is the one reviewed."""
    if plan.digest() != reviewed.strip().lower():
        raise PlanError(
            f"the plan for {plan.environment!r} is not the one reviewed: its digest is {plan.digest()}, the "
            f"reviewed one {reviewed.strip()}. The configuration or the live project changed since the review: "
            "run the plan workflow again (push to the pull request), review the new plan, then deploy"
        )


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
