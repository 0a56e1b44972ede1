"""Progress of long backup work as plain events, so the library never prints and the CLI draws bars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """``done`` of ``total`` (None: unknown) ``unit`` for the task ``key`` (one bar per key)."""

    key: str
    label: str
    done: float
    total: float | None
    unit: str = ""


Progress = Callable[[Step], None]


def silent(_step: Step) -> None:
    """The progress of a caller that does not watch."""
