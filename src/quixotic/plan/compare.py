"""Comparing settings: a resource is reduced to its *facets* (the settings that mean something for it, in a
normal form such as sets for unordered lists), and two resources differ in the facets that are not the same.

Normal forms keep a re-run from planning changes that are not changes (permissions read back in
another order, an unset bound that Appwrite reports as the largest integer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from quixotic.plan.views import show_value


def same(a: Any, b: Any) -> bool:
    """Equal as settings: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """The facets that differ, in ``after``'s order, then those only ``before`` has."""
    names = [*after, *(k for k in before if k not in after)]
    return tuple(k for k in names if not same(before.get(k), after.get(k)))


def changed_settings(before: Any, after: Any, *, leave_out: Iterable[str] = ("id",)) -> tuple[str, ...]:
    """``changed`` for resources whose every field is a setting (frozen dataclasses), but ``leave_out``;
    tuples compare as sets, since Appwrite keeps permissions, extensions, events and scopes in no order."""
    skip = set(leave_out)

    def facets(resource: Any) -> dict[str, Any]:
        values = ((f.name, getattr(resource, f.name)) for f in fields(resource) if f.name not in skip)
        return {name: frozenset(value) if isinstance(value, tuple) else value for name, value in values}

    return changed(facets(before), facets(after))


def describe(name: str, old: Any, new: Any) -> str:
    """``name old -> new`` for a reason line (values short, JSON-like)."""
    return f"{name} {show_value(old)} -> {show_value(new)}"
