"""Progress of long backup work as plain events, so the library never prints and the CLI draws bars."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

MB: Final = 1_000_000  # the megabyte of every size and rate the backup reports (decimal)


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


def verify_bar(progress: Progress) -> Callable[[int, int], None]:
    """An archive check's ``(bytes done, bytes total)`` as the ``verify`` bar, in MB."""

    def step(done: int, total: int) -> None:
        progress(Step("verify", "verify", done / MB, total / MB, "MB"))

    return step


class FilesBar:
    """The bar of one bucket's files, in MB of their original sizes; shown at 0 when made."""

    def __init__(self, progress: Progress, bucket_id: str, metas: Sequence[Mapping[str, Any]]) -> None:
        self.progress = progress
        self.key = f"files {bucket_id}"
        self.total = sum(_size(m) for m in metas) / MB
        self.done = 0.0
        progress(Step(self.key, self.key, 0, self.total, "MB"))

    def advance(self, meta: Mapping[str, Any]) -> None:
        """One more file (``meta``, as the files list gives it) done."""
        self.done += _size(meta) / MB
        self.progress(Step(self.key, self.key, self.done, self.total, "MB"))


def _size(meta: Mapping[str, Any]) -> int:
    return int(meta.get("sizeOriginal") or 0)
