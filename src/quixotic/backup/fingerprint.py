"""Counts and content hashes per table, bucket and the users: to prove two sides hold the same data.

A side is a live project or an archive; both are summarized the same way, so ``diff-data`` compares two
environments and ``backup verify --deep`` compares an archive with its project. Each item's hash is the
SHA-256 over its entries sorted by id, each entry the SHA-256 of its canonical JSON:

- a row: ``$id``, ``$permissions`` (as a set) and every column; ``$sequence`` and the table/database ids
  are where it lives, not what it holds;
- a file: ``$id``, name, size, MD5 signature, MIME type, ``$permissions``;
- a user: see :func:`quixotic.backup.users.user_view`.

``$createdAt``/``$updatedAt`` are hashed apart (``times``): a restore through the API cannot always set
them (see the restore module), and "same data, other timestamps" is worth saying as exactly that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from quixotic.backup.archive import ArchiveReader, canonical
from quixotic.backup.live import files_of, prefetch, row_pages, users_of
from quixotic.backup.users import user_view
from quixotic.plan.state import ProjectState
from quixotic.sdk.backend import AppwriteBackend

_ROW_PLACE: Final = frozenset({"$sequence", "$createdAt", "$updatedAt", "$tableId", "$databaseId", "$collectionId"})
_FILE_FIELDS: Final = ("$id", "name", "sizeOriginal", "signature", "mimeType")

Tick = Callable[[str, int], None]


def row_view(row: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if k not in _ROW_PLACE}
    view["$permissions"] = sorted(row.get("$permissions") or [])
    return view


def file_view(meta: dict[str, Any]) -> dict[str, Any]:
    view = {k: meta.get(k) for k in _FILE_FIELDS}
    view["$permissions"] = sorted(meta.get("$permissions") or [])
    return view


@dataclass(frozen=True)
class Fingerprint:
    count: int
    content: str
    times: str


@dataclass
class Tally:
    """Accumulates (id, hash) pairs of one item; order-independent."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    times: list[tuple[str, str]] = field(default_factory=list)

    def add(self, entry_id: str, view: dict[str, Any], created: object = None, updated: object = None) -> None:
        self.entries.append((entry_id, hashlib.sha256(canonical(view)).hexdigest()))
        self.times.append((entry_id, f"{created}|{updated}"))

    def result(self) -> Fingerprint:
        return Fingerprint(len(self.entries), _combine(self.entries), _combine(self.times))


def _combine(pairs: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for entry_id, value in sorted(pairs):
        digest.update(f"{entry_id}:{value}\n".encode())
    return digest.hexdigest()


def table_item(database_id: str, table_id: str) -> str:
    return f"table {database_id}/{table_id}"


def bucket_item(bucket_id: str) -> str:
    return f"bucket {bucket_id}"


USERS_ITEM: Final = "users"


def _rows_tally(rows: Iterable[dict[str, Any]], tick: Tick | None, item: str) -> Fingerprint:
    tally = Tally()
    for n, row in enumerate(rows, 1):
        tally.add(str(row["$id"]), row_view(row), row.get("$createdAt"), row.get("$updatedAt"))
        if tick and n % 1000 == 0:
            tick(item, n)
    return tally.result()


def _files_tally(metas: Iterable[dict[str, Any]]) -> Fingerprint:
    tally = Tally()
    for meta in metas:
        tally.add(str(meta["$id"]), file_view(meta), meta.get("$createdAt"), meta.get("$updatedAt"))
    return tally.result()


def _users_tally(users: Iterable[dict[str, Any]]) -> Fingerprint:
    tally = Tally()
    for user in users:
        tally.add(str(user["$id"]), user_view(user), user.get("$createdAt"), user.get("$updatedAt"))
    return tally.result()


def summarize_live(
    backend: AppwriteBackend, state: ProjectState | None = None, tick: Tick | None = None
) -> dict[str, Fingerprint]:
    """Fingerprints of every table, bucket and the users of a live project."""
    state = state or backend.read_state(with_code=False)
    out: dict[str, Fingerprint] = {}
    for table in state.tables:
        item = table_item(table.database_id, table.id)
        pages = prefetch(row_pages(backend, table.database_id, table.id))
        out[item] = _rows_tally((row for page in pages for row in page.items), tick, item)
    for bucket in state.buckets:
        metas = [m for m in files_of(backend, bucket.id) if m.get("chunksUploaded") == m.get("chunksTotal")]
        out[bucket_item(bucket.id)] = _files_tally(metas)
    out[USERS_ITEM] = _users_tally(users_of(backend))
    return out


def summarize_archive(reader: ArchiveReader, tick: Tick | None = None) -> dict[str, Fingerprint]:
    """The same fingerprints, from an archive (only the parts it holds)."""
    out: dict[str, Fingerprint] = {}
    for name in reader.names("rows/"):
        database_id, table_file = name[len("rows/") :].split("/", 1)
        item = table_item(database_id, table_file.removesuffix(".ndjson"))
        out[item] = _rows_tally(reader.iter_ndjson(name), tick, item)
    for name in reader.names("files/"):
        if name.endswith(".ndjson") and name.count("/") == 1:
            out[bucket_item(name[len("files/") : -len(".ndjson")])] = _files_tally(reader.iter_ndjson(name))
    if reader.has("users.ndjson"):
        out[USERS_ITEM] = _users_tally(reader.iter_ndjson("users.ndjson"))
    return out


@dataclass(frozen=True)
class ItemDiff:
    item: str
    a: Fingerprint | None
    b: Fingerprint | None

    @property
    def same(self) -> bool:
        a, b = self.a, self.b
        return a is not None and b is not None and a.count == b.count and a.content == b.content

    @property
    def same_times(self) -> bool:
        return self.same and self.a is not None and self.b is not None and self.a.times == self.b.times

    def describe(self) -> str:
        if self.a is None or self.b is None:
            return f"{self.item}: only on side {'B' if self.a is None else 'A'}"
        if self.a.count != self.b.count:
            return f"{self.item}: {self.a.count} vs {self.b.count}"
        if self.a.content != self.b.content:
            return f"{self.item}: {self.a.count} each, contents differ"
        return f"{self.item}: {self.a.count} each, same" + ("" if self.same_times else " (timestamps differ)")


def compare(a: dict[str, Fingerprint], b: dict[str, Fingerprint]) -> list[ItemDiff]:
    return [ItemDiff(item, a.get(item), b.get(item)) for item in sorted(a.keys() | b.keys())]
