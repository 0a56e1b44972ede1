"""Parity of two systems' answers, with the noise learned from the old system itself (Twitter's Diffy).

Each request goes to OLD twice and to NEW once. A JSON path counts as different only where NEW differs
from OLD and OLD agreed with itself: a field that changes between two answers of the same system (a
random id, a clock) is noise, not a regression. Ids and timestamps are ignored by name by default, and
more paths can be ignored (shell-style patterns, ``segments[*].words`` for any index).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from quixotic.plan.views import show_value

STATUS: Final = "$status"  # the HTTP status, compared like a field
_IDS_AND_TIMES: Final = re.compile(r"^(\$.*|id|.*Id|.*ID|.*At|timestamp|time|date|.*_id|.*_at)$")
_MISSING: Final = object()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a JSON value by its path: ``a.b``, ``items[0].id``; an empty object or list is a leaf."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "$": value}


def ignored(path: str, patterns: Iterable[str] = ()) -> bool:
    """Ids and timestamps by their last key, and any path matching one of ``patterns``."""
    last = re.split(r"[.\[]", path)[-1].rstrip("]")
    if _IDS_AND_TIMES.match(last):
        return True
    # "[" is literal in our paths: ``items[*].id`` means any index, not a character class
    return any(fnmatch.fnmatchcase(path, p.replace("[", "[[]")) for p in patterns)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


@dataclass
class PathDiff:
    """One JSON path of one request that NEW answers differently, how often, and examples."""

    request: str
    path: str
    count: int = 0
    examples: list[tuple[Any, Any]] = field(default_factory=list)  # (old, new)

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request, "path": self.path, "count": self.count,
                "examples": [{"old": o, "new": n} for o, n in self.examples]}  # fmt: skip

    def describe(self) -> str:
        old, new = self.examples[0]
        return f"{self.request} {self.path}: {show_value(old)} -> {show_value(new)} ({self.count}x)"


def _leaves(answer: Answer) -> dict[str, Any]:
    return {STATUS: answer.status, **flatten(answer.body)}


def differences(old: Answer, again: Answer, new: Answer, ignore: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(paths that differ, paths that are noise) for one request's three answers."""
    return _compare(_leaves(old), _leaves(again), _leaves(new), ignore)


Leaves = dict[str, Any]


def _compare(a: Leaves, b: Leaves, c: Leaves, ignore: Sequence[str]) -> tuple[list[str], list[str]]:
    differ, noise = [], []
    for path in sorted(set(a) | set(b) | set(c)):
        if ignored(path, ignore) and path != STATUS:
            continue
        first, second, third = a.get(path, _MISSING), b.get(path, _MISSING), c.get(path, _MISSING)
        if first != second:
            noise.append(path)
        elif third != first:
            differ.append(path)
    return differ, noise


@dataclass
class ParityReport:
    old: str
    new: str
    requests: int = 0
    diffs: dict[tuple[str, str], PathDiff] = field(default_factory=dict)
    noise: dict[str, int] = field(default_factory=dict)  # path -> how often OLD disagreed with itself

    @property
    def same(self) -> bool:
        return not self.diffs

    def add(self, label: str, old: Answer, again: Answer, new: Answer, ignore: Sequence[str] = ()) -> None:
        self.requests += 1
        a, c = _leaves(old), _leaves(new)  # flattened once, for the comparison and the examples
        differ, noise = _compare(a, _leaves(again), c, ignore)
        for path in differ:
            entry = self.diffs.setdefault((label, path), PathDiff(label, path))
            entry.count += 1
            if len(entry.examples) < 3:
                entry.examples.append((_shown(a.get(path, _MISSING)), _shown(c.get(path, _MISSING))))
        for path in noise:
            self.noise[path] = self.noise.get(path, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "requests": self.requests, "same": self.same,
                "differences": [d.to_json() for d in self.diffs.values()], "noise": dict(self.noise)}  # fmt: skip


def _shown(value: Any) -> Any:
    return "(absent)" if value is _MISSING else value
