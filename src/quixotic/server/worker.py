"""Threads of the server besides the threadpool: the background worker and the writer lane.

``Worker`` runs Appwrite's asynchronous jobs (column and index builds, deletes) one at a time, in order, on
one daemon thread, as Appwrite's database worker does; callers see the resource in ``processing`` until its
job has run. ``drain`` waits for the queue to empty.

``Lane`` runs calls that the event loop hands it, in order, on one thread of its own, and hands each result
back to the loop: the request pipeline's hop for writes that only touch SQLite (``app``). Writes are
serialised on the one writer connection anyway, so one thread loses nothing, and its hop (a queue and one
``call_soon_threadsafe``) costs a fraction of the threadpool's.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("quixotic.server")


class _Served:
    """A named daemon thread that serves ``items`` in order (``_serve``) until :meth:`stop` puts ``None`` there."""

    def __init__(self, name: str, items: queue.Queue[Any] | queue.SimpleQueue[Any]) -> None:
        self._items = items
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._items.put(None)
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        raise NotImplementedError


class Worker(_Served):
    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        super().__init__("quixotic-worker", self._jobs)

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def drain(self) -> None:
        self._jobs.join()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            except Exception:  # a failed job must not stop the worker
                log.exception("background job failed")
            finally:
                self._jobs.task_done()


_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class Lane(_Served):
    """One thread that runs the calls handed to :meth:`run`, in order (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        super().__init__(name, self._calls)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the lane's thread; its result or its exception here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, fn, args))
        return await future

    def _serve(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            loop, future, fn, args = call
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the awaiting request, which maps it to an answer
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop has closed: nobody waits for this answer any more
                log.debug("lane call finished after its event loop closed")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (its client went away) while the call ran
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
