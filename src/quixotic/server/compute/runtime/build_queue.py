"""The build threads: the builds of a deploy at once, and the one expected to take longest first.

Why: a deploy uploads all its functions together, and one build can take many times as long as the others
(``transcribe`` downloads ~200 MB of wheels on a first build, the others a few). With two threads taken in
arrival order it waited behind the two small builds. Here up to ``threads`` builds run at once, so the builds of
a deploy run side by side (two that need the same new layer: one makes it, the other waits on its lock and takes
it); when more wait than threads are free, the longest expected goes first, the longest-processing-time rule,
which keeps a deploy's total close to its longest build instead of the sum of those queued before it.
The caller gives the expected duration (the engine: the function's last build time, else the archive size).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("quixotic.server")


class BuildQueue:
    """Threads started on demand, up to ``threads``; tasks taken by the largest ``cost`` first, then in order."""

    def __init__(self, threads: int, name: str = "quixotic-build") -> None:
        self._limit = max(1, threads)
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, task: Callable[[], None], cost: float = 0.0) -> None:
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, (-cost, next(self._order), task))
            if self._idle == 0 and len(self._threads) < self._limit:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._heap and not self._closed:
                    self._cond.wait()
                self._idle -= 1
                if self._closed:
                    return
                _, _, task = heapq.heappop(self._heap)
            try:
                task()
            except Exception:  # a task's own failure; the thread goes on with the next
                log.exception("build task failed")

    def close(self) -> None:
        """Drop what waits; builds in progress finish on their own (their threads are daemons)."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
