"""Old secret values out of a running server's files: a WAL checkpoint with TRUNCATE after a secret changes.

``secure_delete`` zeroes a replaced or deleted record, but only in the page's newest version: in WAL mode the
frames that held the old value stay in ``quixotic.db-wal``, and the database file keeps its older copy of the
page, until a checkpoint copies the newest page over it and the WAL is cut to nothing. So after a write that
replaces or deletes a secret variable the handler calls :func:`soon`; a thread of its own then checkpoints on a
connection of its own with a short busy timeout (a reader still in an older snapshot makes it give up at once
and try again a little later), never on the request's path and never holding the writer for long.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Final

from quixotic.server import store as st

log = logging.getLogger(__name__)
BUSY_TIMEOUT: Final = 0.05  # s: how long one try may hold the WAL's writer lock waiting for readers
RETRY_FIRST: Final = 0.05  # s: the first pause after a busy try, doubled after each up to RETRY_MOST
RETRY_MOST: Final = 2.0
TRIES: Final = 200  # about five minutes of busy tries before giving up (the next secret change starts again)


class _Scrubber:
    """One store's pending checkpoint: at most one thread at a time, which ends when nothing is pending."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.wanted = threading.Event()
        self.running = False

    def request(self) -> None:
        with self.lock:
            self.wanted.set()
            if self.running:
                return
            self.running = True
        threading.Thread(target=self._run, name="quixotic-wal-scrub", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                with self.lock:
                    if not self.wanted.is_set():
                        self.running = False
                        return
                    self.wanted.clear()
                self._checkpoint()
        except BaseException:
            with self.lock:
                self.running = False
            raise

    def _checkpoint(self) -> None:
        pause = RETRY_FIRST
        for _ in range(TRIES):
            try:
                if truncate_wal(self.path):
                    return
            except sqlite3.Error as exc:  # the data folder went away (a stopped server's): nothing left to do
                log.debug("WAL checkpoint after a secret change not possible: %s", exc)
                return
            if self.wanted.wait(pause):  # another change meanwhile: one more try covers both
                self.wanted.clear()
            pause = min(pause * 2, RETRY_MOST)
        log.warning("WAL checkpoint after a secret change kept finding readers; the old value goes at the next one")


def truncate_wal(path: Path) -> bool:
    """One ``wal_checkpoint(TRUNCATE)`` of the database at ``path`` on a connection of its own; False when a
    reader or writer kept it from completing (the WAL is then left as it was, to try again)."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    return not busy


_SCRUBBERS: weakref.WeakKeyDictionary[st.Store, _Scrubber] = weakref.WeakKeyDictionary()
_SCRUBBERS_LOCK = threading.Lock()


def _scrubber(store: st.Store) -> _Scrubber:
    with _SCRUBBERS_LOCK:
        found = _SCRUBBERS.get(store)
        if found is None:
            found = _SCRUBBERS[store] = _Scrubber(store.path)
        return found


def soon(store: st.Store) -> None:
    """Checkpoint ``store``'s WAL with TRUNCATE shortly, off the calling thread (call it after the commit)."""
    _scrubber(store).request()
