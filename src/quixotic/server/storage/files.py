"""The file model: files kept as plain bytes under the data dir, uploaded whole or in chunks.

Layout under ``store.files_dir``:

- ``<project>/<bucketId>/<fileId>``: the bytes of a complete file (the only thing downloads read);
- ``<project>/<bucketId>/.parts/<fileId>/<n>``: chunk ``n`` (0-based) of an upload in progress;
- ``.tmp/``: request bodies being copied in; ``.trash/``: deleted buckets being removed.

IDs cannot start with ``.``, so these folder names never clash with a bucket or file. Every byte is
written to ``.tmp`` first and only renamed into place inside the store transaction that records it,
so an error leaves neither metadata nor bytes behind, and a file's bytes appear atomically, complete.

Chunked uploads follow Appwrite's protocol (``Content-Range: bytes START-END/TOTAL``, 5 MiB chunks,
``X-Appwrite-Id`` on later chunks) but accept chunks in any order and concurrently: each chunk is
recorded by index, and the request that brings the last missing chunk assembles the file.

Other services store files through :func:`create` too (Functions keeps deployment archives in a
hidden bucket), so chunking is written once.
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from quixotic.errors import ApiError
from quixotic.server import queries as q
from quixotic.server import validation
from quixotic.server.context import Upload
from quixotic.server.ids import custom_id
from quixotic.server.storage import buckets
from quixotic.server.store import Doc, Store, meta_delete, meta_get, meta_insert, meta_save
from quixotic.server.validation import ID_PATTERN

CHUNK_SIZE: Final = 5 * 1024 * 1024  # APP_LIMIT_UPLOAD_CHUNK_SIZE
READ_BUFFER: Final = 20_000_000  # APP_STORAGE_READ_BUFFER: larger files skip compression and encryption
MAX_NAME: Final = 255
_COPY_BLOCK: Final = 1024 * 1024
_SNIFF_BYTES: Final = 8192
Check = Callable[[Doc, Doc], None]  # refuses a caller, given the bucket and the file (``storage.access``)

FIELDS: Final = {
    "name": q.Field("string", fulltext=True),
    "signature": q.Field("string"),
    "mimeType": q.Field("string"),
    "sizeOriginal": q.Field("integer"),
    "chunksTotal": q.Field("integer"),
    "chunksUploaded": q.Field("integer"),
}
_MODEL_KEYS: Final = (
    "bucketId", "name", "signature", "mimeType", "sizeOriginal", "chunksTotal", "chunksUploaded",
    "encryption", "compression",
)  # fmt: skip
# Numbers of at most 15 digits (over 900 TB): a longer one is refused as malformed, never parsed.
_CONTENT_RANGE_RE: Final = re.compile(r"\s*bytes\s+(\d{1,15})-(\d{1,15})/(\d{1,15})\s*", re.IGNORECASE)
# Deterministic: Python's built-in table only, not whatever /etc/mime.types the machine has.
_MIME: Final = mimetypes.MimeTypes()
_ENCODING_TYPES: Final = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BM", "image/bmp"),
)


# --- model and lookups ----------------------------------------------------------------------------


def model(doc: Doc) -> dict[str, Any]:
    out: dict[str, Any] = {k: doc[k] for k in ("$id", "$createdAt", "$updatedAt", "$permissions")}
    out.update({k: doc.get(k) for k in _MODEL_KEYS})
    # Required by SDK 22+ (1.9) and 24+ (2.x): bytes stored (no compression or encryption here), and
    # the virtual folder (the bucket's root) and path.
    out["sizeActual"] = out["sizeOriginal"] or 0
    out["folder"] = ""
    out["key"] = out["name"] or ""
    return out


def complete(doc: Doc) -> bool:
    return bool(doc.get("chunksUploaded") == doc.get("chunksTotal"))


def not_found(file_id: str) -> ApiError:
    return ApiError("storage_file_not_found", f"The requested file '{file_id}' could not be found.")


def get(conn: sqlite3.Connection, project: str, bucket_id: str, file_id: str) -> Doc:
    doc = meta_get(conn, project, "file", bucket_id, file_id)
    if doc is None:
        raise not_found(file_id)
    return doc


def _already_exists(file_id: str) -> ApiError:
    return ApiError("storage_file_already_exists", f"A storage file with the requested ID '{file_id}' already exists.")


# --- disk layout ----------------------------------------------------------------------------------


def file_path(store: Store, project: str, bucket_id: str, file_id: str) -> Path:
    """Where a complete file's bytes live."""
    return buckets.folder(store, project, bucket_id) / file_id


def _parts_dir(store: Store, project: str, bucket_id: str, file_id: str) -> Path:
    return buckets.folder(store, project, bucket_id) / ".parts" / file_id


def _tmp_file(store: Store, prefix: str) -> tuple[int, Path]:
    tmp_dir = store.files_dir / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix)
    return fd, Path(name)


def _remove_bytes(store: Store, project: str, bucket_id: str, file_id: str) -> None:
    file_path(store, project, bucket_id, file_id).unlink(missing_ok=True)
    shutil.rmtree(_parts_dir(store, project, bucket_id, file_id), ignore_errors=True)


# --- upload checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One chunk of a chunked upload, from its ``Content-Range`` header."""

    start: int
    end: int  # inclusive
    total: int

    @property
    def index(self) -> int:
        return self.start // CHUNK_SIZE

    @property
    def count(self) -> int:
        return -(-self.total // CHUNK_SIZE)

    @property
    def size(self) -> int:
        return self.end - self.start + 1


def _bad_range(header: str, why: str) -> ApiError:
    return ApiError(
        "storage_invalid_content_range",
        f"The content range is invalid: {why} (got '{header}'). Send `bytes START-END/TOTAL` with END "
        f"inclusive, START a multiple of {CHUNK_SIZE} (5 MiB) and every chunk but the last exactly 5 MiB.",
    )


def content_range(header: str) -> Chunk:
    m = _CONTENT_RANGE_RE.fullmatch(header)
    if m is None:
        raise _bad_range(header, "it is not of the form `bytes START-END/TOTAL`")
    chunk = Chunk(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if chunk.start > chunk.end or chunk.end >= chunk.total:
        raise _bad_range(header, "START must not exceed END, and END must be below TOTAL")
    if chunk.start % CHUNK_SIZE:
        raise _bad_range(header, "START is not on a chunk boundary")
    last = chunk.end == chunk.total - 1
    if chunk.size > CHUNK_SIZE or (not last and chunk.size != CHUNK_SIZE):
        raise _bad_range(header, f"a chunk other than the last must hold exactly {CHUNK_SIZE} bytes")
    return chunk


def _extension(name: str) -> str:
    """Like PHP's ``pathinfo(..., PATHINFO_EXTENSION)``, which Appwrite uses: text after the last dot."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def _check_extension(bucket: Doc, name: str) -> None:
    allowed = {ext.lower().lstrip(".") for ext in bucket.get("allowedFileExtensions") or []}
    if allowed and _extension(name) not in allowed:
        raise ApiError(
            "storage_file_type_unsupported",
            f"The given file extension is not supported: '{name}' is not one of the bucket's allowed "
            f"extensions ({', '.join(sorted(allowed))}).",
        )


def _check_size(bucket: Doc, size: int, limit: int) -> None:
    allowed = int(bucket.get("maximumFileSize") or limit)
    if size > allowed:
        raise ApiError(
            "storage_invalid_file_size",
            f"The file size is either not valid or exceeds the maximum allowed size: {size} bytes is more "
            f"than the bucket's maximumFileSize of {allowed} bytes.",
        )


def _guess_mime(name: str, head: bytes) -> str:
    """From the name first (deterministic, as the client sees it), else from the first bytes."""
    mime, encoding = _MIME.guess_type(name, strict=False)
    if encoding:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    if mime:
        return mime
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in head:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            pass
        else:
            return "text/plain"
    return "application/octet-stream"


def _stored_as(bucket: Doc, size: int) -> tuple[bool, str]:
    """What Appwrite reports for ``encryption``/``compression``: the bucket's settings, skipped above
    20 MB. (Bytes are kept plain here; the fields only mirror what Appwrite would answer.)"""
    if size > READ_BUFFER:
        return False, "none"
    return bool(bucket.get("encryption", True)), str(bucket.get("compression") or "none")


def _upload_size(upload: Upload) -> int:
    upload.file.seek(0, os.SEEK_END)
    size = upload.file.tell()
    upload.file.seek(0)
    return size


def _copy_in(store: Store, src: IO[bytes]) -> tuple[Path, str, bytes]:
    """Copy a request part into a new temp file; returns its path, MD5 and first bytes."""
    fd, path = _tmp_file(store, "upload-")
    digest = hashlib.md5(usedforsecurity=False)
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            src.seek(0)
            while block := src.read(_COPY_BLOCK):
                digest.update(block)
                out.write(block)
                if len(head) < _SNIFF_BYTES:
                    head += block[: _SNIFF_BYTES - len(head)]
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), head


# --- writes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where an upload goes and who sends it: the bucket's project, its current record, the caller's role."""

    store: Store
    project: str
    bucket: Doc
    is_key: bool
    limit: int  # the server's storage limit, for buckets without their own maximumFileSize

    @property
    def bucket_id(self) -> str:
        return str(self.bucket["$id"])


def create(
    t: Target,
    file_id: str,
    upload: Upload | None,
    content_range_header: str,
    header_id: str | None,
    permissions: list[str],
) -> Doc:
    """Store an upload (whole, or one chunk of it); returns the file's record.

    Everything that needs no writing is checked first, so a rejected request leaves nothing behind.
    ``file_id`` is the ``fileId`` parameter (``unique()`` allowed); a later chunk names its file by
    ``header_id`` (``X-Appwrite-Id``) instead.
    """
    if upload is None:
        raise ApiError("storage_file_empty", "Empty file passed to the endpoint: send the file as the `file` part.")
    validation.check_text(upload.filename, "file", MAX_NAME)  # the part's filename becomes the file's name
    size = _upload_size(upload)
    header = content_range_header.strip()
    chunk: Chunk | None = None
    if header:
        chunk = content_range(header)
        if header_id is None:
            file_id = custom_id(file_id, "fileId")
        elif re.fullmatch(ID_PATTERN, header_id):
            file_id = header_id
        else:
            raise ApiError(
                "storage_invalid_appwrite_id",
                f"The value for x-appwrite-id header is invalid: '{header_id}'. Send the `$id` the first "
                "chunk's response returned (a valid ID, not unique()).",
            )
        _check_size(t.bucket, chunk.total, t.limit)
    else:
        file_id = custom_id(file_id, "fileId")
        _check_size(t.bucket, size, t.limit)
    _check_extension(t.bucket, upload.filename)
    if size == 0:
        raise ApiError("storage_file_empty", "Empty file passed to the endpoint.")
    if chunk is not None and size != chunk.size:
        raise _bad_range(header, f"the range covers {chunk.size} bytes but the file part holds {size}")
    with t.store.read() as conn:
        existing = meta_get(conn, t.project, "file", t.bucket_id, file_id)
    if existing is not None and (chunk is None or complete(existing)):
        raise _already_exists(file_id)
    if chunk is None:
        return _store_whole(t, file_id, upload, size, permissions)
    return _store_chunk(t, file_id, upload, chunk, permissions)


def _store_whole(t: Target, file_id: str, upload: Upload, size: int, permissions: list[str]) -> Doc:
    tmp, signature, head = _copy_in(t.store, upload.file)
    final = file_path(t.store, t.project, t.bucket_id, file_id)
    placed = False
    try:
        with t.store.tx() as conn:
            bucket = buckets.for_files(conn, t.project, t.bucket_id, t.is_key)
            encryption, compression = _stored_as(bucket, size)
            data = {
                "bucketId": t.bucket_id,
                "name": upload.filename,
                "signature": signature,
                "mimeType": _guess_mime(upload.filename, head),
                "sizeOriginal": size,
                "chunksTotal": 1,
                "chunksUploaded": 1,
                "encryption": encryption,
                "compression": compression,
            }
            doc = meta_insert(
                conn, t.project, "file", t.bucket_id, file_id, data, permissions, conflict=_already_exists(file_id)
            )
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            placed = True
    except BaseException:
        if placed:
            final.unlink(missing_ok=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return doc


def _store_chunk(t: Target, file_id: str, upload: Upload, chunk: Chunk, permissions: list[str]) -> Doc:
    """Record one chunk; the request that completes the set assembles the file.

    The chunk is copied to a temp file without any lock (that is the slow part), then moved into the
    parts folder and counted in one transaction. Assembling (at most 30 MB) happens in that same
    transaction, so concurrent chunks never see a half-assembled file and a failure undoes it all.
    """
    tmp, _, _ = _copy_in(t.store, upload.file)
    parts = _parts_dir(t.store, t.project, t.bucket_id, file_id)
    part = parts / str(chunk.index)
    final = file_path(t.store, t.project, t.bucket_id, file_id)
    moved_new_part = assembled = False
    try:
        with t.store.lock:
            with t.store.tx() as conn:
                bucket = buckets.for_files(conn, t.project, t.bucket_id, t.is_key)
                doc = meta_get(conn, t.project, "file", t.bucket_id, file_id)
                if doc is None:
                    encryption, compression = _stored_as(bucket, chunk.total)
                    data = {
                        "bucketId": t.bucket_id,
                        "name": upload.filename,
                        "signature": "",
                        "mimeType": "",
                        "sizeOriginal": chunk.total,
                        "chunksTotal": chunk.count,
                        "chunksUploaded": 0,
                        "encryption": encryption,
                        "compression": compression,
                        "_chunks": [],
                    }
                    doc = meta_insert(conn, t.project, "file", t.bucket_id, file_id, data, permissions)
                elif complete(doc):
                    raise _already_exists(file_id)
                elif doc.get("sizeOriginal") != chunk.total:
                    raise _bad_range(
                        f"bytes {chunk.start}-{chunk.end}/{chunk.total}",
                        f"TOTAL differs from the {doc.get('sizeOriginal')} bytes this upload started with",
                    )
                done = set(doc.get("_chunks") or [])
                parts.mkdir(parents=True, exist_ok=True)
                moved_new_part = chunk.index not in done
                os.replace(tmp, part)
                done.add(chunk.index)
                doc["_chunks"] = sorted(done)
                doc["chunksUploaded"] = len(done)
                if len(done) == doc["chunksTotal"]:
                    signature, head = _assemble(t.store, parts, doc["chunksTotal"], final)
                    assembled = True
                    doc["signature"] = signature
                    doc["mimeType"] = _guess_mime(str(doc.get("name") or ""), head)
                    doc["_chunks"] = []
                meta_save(conn, t.project, "file", t.bucket_id, doc)
            if assembled:
                shutil.rmtree(parts, ignore_errors=True)
    except BaseException:
        if assembled:
            final.unlink(missing_ok=True)
        if moved_new_part:
            part.unlink(missing_ok=True)
        try:
            parts.rmdir()  # only if this request left it empty
        except OSError:
            pass
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return doc


def _assemble(store: Store, parts: Path, count: int, final: Path) -> tuple[str, bytes]:
    """Concatenate the parts into a temp file and rename it into place; returns MD5 and first bytes."""
    fd, tmp = _tmp_file(store, "assemble-")
    digest = hashlib.md5(usedforsecurity=False)
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            for index in range(count):
                with (parts / str(index)).open("rb") as src:
                    while block := src.read(_COPY_BLOCK):
                        digest.update(block)
                        out.write(block)
                        if len(head) < _SNIFF_BYTES:
                            head += block[: _SNIFF_BYTES - len(head)]
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), head


def update(
    conn: sqlite3.Connection,
    project: str,
    bucket_id: str,
    file_id: str,
    name: str | None,
    permissions: list[str] | None,
) -> Doc:
    """Rename and/or re-permission a file (None keeps the value)."""
    doc = get(conn, project, bucket_id, file_id)
    if name is not None:
        doc["name"] = name
    if permissions is not None:
        doc["$permissions"] = permissions
    meta_save(conn, project, "file", bucket_id, doc)
    return doc


def delete(store: Store, project: str, bucket_id: str, file_id: str, is_key: bool, check: Check | None = None) -> Doc:
    """Delete a file's record and bytes (or its parts); returns the record it had. ``check`` may refuse
    the caller, given the bucket and the file, before anything is deleted."""
    with store.lock:
        with store.tx() as conn:
            bucket = buckets.for_files(conn, project, bucket_id, is_key)
            doc = get(conn, project, bucket_id, file_id)
            if check is not None:
                check(bucket, doc)
            meta_delete(conn, project, "file", bucket_id, file_id)
        _remove_bytes(store, project, bucket_id, file_id)
    return doc


def forget(conn: sqlite3.Connection, project: str, bucket_id: str, file_id: str) -> None:
    """Drop a file's record only, for callers that remove the bytes themselves."""
    meta_delete(conn, project, "file", bucket_id, file_id)


def readable(
    store: Store, project: str, bucket_id: str, file_id: str, is_key: bool, check: Check | None = None
) -> tuple[Doc, Path, int]:
    """A complete file's record, the path of its bytes and their size, for serving them (``check`` may
    refuse the caller, given the bucket and the file)."""
    with store.read() as conn:
        bucket = buckets.for_files(conn, project, bucket_id, is_key)
        doc = get(conn, project, bucket_id, file_id)
        if check is not None:
            check(bucket, doc)
    if not complete(doc):
        raise ApiError(
            "storage_file_not_found",
            f"File '{file_id}' is not fully uploaded yet ({doc.get('chunksUploaded')} of "
            f"{doc.get('chunksTotal')} chunks): finish the upload before reading it.",
        )
    path = file_path(store, project, bucket_id, file_id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ApiError("storage_file_not_found", f"The bytes of file '{file_id}' are missing.") from None
    return doc, path, size
