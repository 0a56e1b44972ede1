"""What a release records of a project: active deployments, function and bucket settings, variables.

Pure values from a :class:`~quixotic.plan.state.ProjectState`; rollback reads them back.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quixotic.plan.state import ProjectState


def snapshot(state: ProjectState) -> dict[str, Any]:
    """What a release records of one side: active deployments, variables (secrets as hashes), settings."""
    return {
        "functions": {
            f.spec.id: {"deploymentId": f.deployment_id, "settings": function_settings(asdict(f.spec))}
            for f in state.functions
        },
        "variables": [
            {"scope": v.scope, "key": v.key, "secret": v.secret, "value": v.value, "hash": v.value_hash}
            for v in state.variables
        ],
        "buckets": {b.id: asdict(b) for b in state.buckets},
    }


def function_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """A function's settings as a release records them (no code path, no specification)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items() if k not in ("path", "specification")}
