"""Reading a live project's data through the SDK: rows, files, users and the tool's history.

Rows are paged by ``$sequence`` (``greaterThan`` the last one seen, ascending) rather than by a cursor
row id, so a row deleted while the backup runs cannot break the paging. Pages are fetched one ahead in
a background thread (:func:`prefetch`), so the network and the server work while the caller writes, and
in runs of consecutive sequences two pages are in flight, so the server does not wait on this side.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, TypeVar

from quixotic.errors import ApiError, BackupError, NotFound, Unreachable
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.raw import ListPage
from quixotic.sdk.values import Query

T = TypeVar("T")
ROW_PAGE: Final = 1000
LIST_PAGE: Final = 100
HISTORY_SKIPPED: Final = frozenset({"locks", "secrets"})  # a lock is never history; secrets are hashes of values


def row_pages(
    backend: AppwriteBackend,
    database_id: str,
    table_id: str,
    *,
    limit: int | None = None,
    page: int = ROW_PAGE,
    select: list[str] | None = None,
) -> Iterator[ListPage]:
    """Every row of a table (at most ``limit``), a page at a time, in ``$sequence`` order: each page's rows
    parsed (``items``) and as NDJSON lines of the server's own text (``lines``, what a backup writes).

    Each page is asked for after the last ``$sequence`` of the one before, so the server would idle while
    this side receives and cuts a page. Where the pages so far hold consecutive sequences (a table that was
    filled and not thinned out), the page after the one in flight is asked for at once, as if this one
    holds the next ``size`` sequences too; it is used only when this one indeed ends there (the very query
    asking one by one would send), else dropped and asked for again."""
    doing = f"reading rows of {database_id}/{table_id}"

    def fetch(after: int | None, size: int) -> ListPage:
        queries = [Query.order_asc("$sequence"), Query.limit(size)]
        if select:
            queries.append(Query.select(select))
        if after is not None:
            queries.append(Query.greater_than("$sequence", after))
        return backend.row_page(doing, database_id, table_id, queries)

    def size_after(fetched: int) -> int:
        return page if limit is None else min(page, limit - fetched)

    last: int | None = None
    fetched = 0
    dense = False
    ahead: tuple[int, int, Future[ListPage]] | None = None  # (after, size, the page asked for early)
    pool = ThreadPoolExecutor(1, thread_name_prefix="quixotic-rows-ahead")
    try:
        while True:
            size = size_after(fetched)
            if size <= 0:
                return
            early = ahead[2] if ahead is not None and ahead[:2] == (last, size) else None
            if ahead is not None and early is None:
                ahead[2].cancel()  # asked for after a sequence this page does not end at: never used
            ahead = None
            following = size_after(fetched + size)
            if dense and last is not None and following > 0:
                ahead = (last + size, following, pool.submit(fetch, last + size, following))
            found = early.result() if early is not None else fetch(last, size)
            rows = found.items
            if rows:
                yield found
            if len(rows) < size:
                return
            first, end = int(rows[0]["$sequence"]), int(rows[-1]["$sequence"])  # strings from 1.9.0 on
            dense = end - first + 1 == len(rows) and (last is None or first == last + 1)
            fetched += len(rows)
            last = end
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def row_count(backend: AppwriteBackend, database_id: str, table_id: str) -> int:
    """Rows in a table as the server counts them (Appwrite caps the count at 5000)."""
    result = call(
        f"counting rows of {database_id}/{table_id}",
        lambda: backend.db.list_rows(database_id, table_id, [Query.limit(1)]),
    )
    return int(result.get("total") or 0)


def files_of(backend: AppwriteBackend, bucket_id: str) -> Iterator[dict[str, Any]]:
    def fetch(queries: list[str]) -> dict[str, Any]:
        return dict(backend.storage.list_files(bucket_id, queries))

    return backend.pages(f"listing files of bucket {bucket_id}", fetch, "files")


def users_of(backend: AppwriteBackend) -> Iterator[dict[str, Any]]:
    return backend.pages("listing users", lambda q: dict(backend.users.list(q)), "users")


def history_tables(backend: AppwriteBackend) -> list[str]:
    """The system database's tables that hold history (every one but locks and secrets)."""
    system = backend.system_database
    try:
        call("reading the quixotic system database", backend.db.get, system)
    except NotFound:
        return []
    tables = backend.tables_of(system)
    return sorted(t["$id"] for t in tables if t["$id"] not in HISTORY_SKIPPED)


def download_file(
    backend: AppwriteBackend, bucket_id: str, meta: dict[str, Any], attempts: int = 3
) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and the metadata that matches them.

    The bytes are checked against the listing's size and MD5 signature. When they differ, the file was
    replaced after it was listed: its metadata is read again and the download repeated, so the archive
    never pairs new bytes with old metadata. A file deleted meanwhile raises :class:`FileGone`.
    """
    file_id = str(meta["$id"])
    for _ in range(attempts):
        try:
            data = call(
                f"downloading file {bucket_id}/{file_id}", backend.storage.get_file_download, bucket_id, file_id
            )
        except NotFound as exc:
            raise FileGone(bucket_id, file_id) from exc
        if not isinstance(data, bytes | bytearray):
            raise BackupError(f"file {bucket_id}/{file_id}: the server did not answer with the file's bytes")
        if _matches(data, meta):
            return bytes(data), meta
        try:
            fresh = dict(call(f"reading file {bucket_id}/{file_id}", backend.storage.get_file, bucket_id, file_id))
        except NotFound as exc:
            raise FileGone(bucket_id, file_id) from exc
        if _matches(data, fresh):
            return bytes(data), fresh
        if fresh.get("signature") == meta.get("signature") and fresh.get("sizeOriginal") == meta.get("sizeOriginal"):
            raise BackupError(
                f"file {bucket_id}/{file_id}: the downloaded bytes do not match the server's size and MD5 signature "
                "although the file did not change; the server's copy may be damaged"
            )
        meta = fresh
    raise BackupError(f"file {bucket_id}/{file_id} kept changing while it was downloaded ({attempts} tries)")


def _matches(data: bytes | bytearray, meta: dict[str, Any]) -> bool:
    if len(data) != int(meta.get("sizeOriginal") or 0):
        return False
    signature = str(meta.get("signature") or "")
    return not signature or hashlib.md5(data, usedforsecurity=False).hexdigest() == signature


class FileGone(Exception):
    """A listed file was deleted before its bytes were read: it is left out, with a warning."""

    def __init__(self, bucket_id: str, file_id: str) -> None:
        super().__init__(f"file {bucket_id}/{file_id} was deleted while the backup ran; it is not in the archive")


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` produced in a background thread, at most ``depth`` ahead; errors come out in order."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(("error", exc))

    worker = threading.Thread(target=produce, name="quixotic-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def retrying(doing: str, fn: Callable[[], T], *, seconds: float = 60.0) -> T:
    """``fn()`` again while the server is unreachable or answers 5xx (restarted mid-restore, say).

    Only for idempotent calls (upserts, reads, uploads of a file that is checked first); other errors
    are raised at once.
    """
    deadline = time.monotonic() + seconds
    delay = 0.2
    while True:
        try:
            return call(doing, fn)
        except ApiError as exc:
            transient = isinstance(exc, Unreachable) or exc.code >= 500 or exc.code == 429
            if not transient or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 3.0)
