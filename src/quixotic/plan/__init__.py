"""Deploy planning, pure: project states, their diff, and the plan as a value (ordered, renderable,
serialisable, hashable, checked for safety). No SDK and no SQLite are imported here.

- ``state``: :class:`ProjectState` and its parts, live or desired;
- ``changes``: :class:`Change` and resource addresses; ``views``: the JSON views changes carry, and back;
- ``compare`` / ``schema``: how settings, columns and indexes are compared and judged;
- ``diff``: :func:`diff`; ``order``: the order changes apply in;
- ``plan``: :class:`Plan`, :func:`make_plan`, :func:`check_safety`, :func:`check_fresh`;
- ``render``: :func:`render_text`.
"""

from quixotic.plan.changes import Action, Change, Kind, Safety
from quixotic.plan.diff import diff
from quixotic.plan.plan import Plan, check_fresh, check_safety, make_plan
from quixotic.plan.render import render_text
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState, value_hash

__all__ = [
    "PROJECT_SCOPE",
    "Action",
    "Change",
    "FunctionState",
    "Kind",
    "Plan",
    "ProjectState",
    "Safety",
    "VariableState",
    "check_fresh",
    "check_safety",
    "diff",
    "make_plan",
    "render_text",
    "value_hash",
]
