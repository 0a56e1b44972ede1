"""Row paging by ``$sequence`` with the next page asked for early: every row once, in order, whatever the gaps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from appwrite.query import Query
from backup_site import Source

from quixotic.backup.live import row_pages
from quixotic.commands import backup as cmd
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.raw import ListPage
from quixotic.target import Target


class Counted:
    """Counts a backend's row page calls and how many were in flight at once (the real calls still run). Each
    call holds on for a few milliseconds first, so two calls the reader makes side by side are seen overlapping
    however quickly the server answers (the server's speed is not what this counts)."""

    def __init__(self, backend: AppwriteBackend) -> None:
        self.calls = 0
        self.most = 0
        self._now = 0
        self._lock = threading.Lock()
        self._send: Callable[..., ListPage] = backend.row_page
        backend.row_page = self  # type: ignore[method-assign]

    def __call__(self, *args: Any) -> ListPage:
        with self._lock:
            self.calls += 1
            self._now += 1
            self.most = max(self.most, self._now)
        try:
            time.sleep(0.005)
            return self._send(*args)
        finally:
            with self._lock:
                self._now -= 1


def restored(source: Source) -> tuple[Target, list[str]]:
    """A fresh project holding the source's rows (written in bulk, so their sequences follow each other), and
    their ids in ``$sequence`` order, read in one page."""
    dst = source.fresh()
    cmd.restore(source.archive, source.site.target(dst), only=frozenset({"schema", "rows"}))
    target = source.site.target(dst)
    return target, in_order(target)


def in_order(target: Target) -> list[str]:
    page = target.backend.row_page("reading", "app", "notes", [Query.order_asc("$sequence"), Query.limit(5000)])
    return [str(r["$id"]) for r in page.items]


def ids(target: Target, **kwargs: Any) -> tuple[list[str], Counted]:
    counted = Counted(target.backend)
    pages = list(row_pages(target.backend, "app", "notes", page=100, **kwargs))
    assert all(p.lines is not None and p.lines.count(b"\n") == len(p.items) for p in pages)
    return [str(r["$id"]) for p in pages for r in p.items], counted


def delete(target: Target, row_ids: list[str]) -> None:
    for start in range(0, len(row_ids), 100):
        target.backend.db.delete_rows("app", "notes", [Query.equal("$id", row_ids[start : start + 100])])


def test_consecutive_sequences_keep_two_pages_in_flight_and_every_row_once(source: Source) -> None:
    target, everything = restored(source)
    assert len(everything) == source.seeded.rows["notes"] == 1500
    got, counted = ids(target)
    assert got == everything
    # 15 full pages and the empty one that ends them, asked for one by one, and at most one asked for early in
    # vain (after the last page); two in flight at once.
    assert 16 <= counted.calls <= 17 and counted.most == 2
    sampled, counted = ids(target, limit=250)
    assert sampled == everything[:250] and counted.calls <= 4


def test_gaps_in_the_sequences_lose_nothing_and_sparse_pages_go_one_by_one(source: Source) -> None:
    target, everything = restored(source)
    gone = set(everything[430:470]) | set(everything[901::97])  # a hole inside a page, then scattered ones
    delete(target, sorted(gone))
    kept = [i for i in everything if i not in gone]
    assert in_order(target) == kept
    got, _ = ids(target)
    assert got == kept
    assert ids(target, limit=555)[0] == kept[:555]
    # Every other row gone: no page holds consecutive sequences, so none is asked for early.
    delete(target, kept[1::2])
    got, counted = ids(target)
    assert got == kept[::2] and counted.most == 1 and counted.calls == len(got) // 100 + 1
