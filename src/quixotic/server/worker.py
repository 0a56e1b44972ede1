"""A background worker for Appwrite's asynchronous jobs (column and index builds, deletes).

Jobs run one at a time, in order, on one daemon thread, as Appwrite's database worker does; callers
see the resource in ``processing`` until its job has run. ``drain`` waits for the queue to empty.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("quixotic.server")


class Worker:
    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="quixotic-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def drain(self) -> None:
        self._jobs.join()

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
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
