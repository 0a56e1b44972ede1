"""Collecting configuration problems so that one run reports all of them, not one per run."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from quixotic.errors import ConfigError


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when ``word`` looks like a typo of a candidate, else ``''``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def listing(names: Iterable[str]) -> str:
    """``a, b, c`` (or ``none``): for "known: ..." hints."""
    items = list(names)
    return ", ".join(items) if items else "none"


class Problems:
    """An ordered, de-duplicated list of ``place: what is wrong and what to do`` lines."""

    def __init__(self) -> None:
        self._items: list[str] = []

    def add(self, where: str, message: str) -> None:
        line = f"{where}: {message}" if where else message
        if line not in self._items:
            self._items.append(line)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(self._items)

    def raise_if_any(self, subject: str) -> None:
        """Raise one :class:`ConfigError` listing every problem, if there is any."""
        if self._items:
            count = len(self._items)
            noun = "problem" if count == 1 else "problems"
            raise ConfigError(f"{subject}: {count} {noun} to fix", self._items)
