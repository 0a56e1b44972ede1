"""Storage: buckets, and files kept as plain bytes under the data dir, uploaded whole or in chunks.

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

Callers are always API keys here (guests hold no storage scope), so bucket and file permissions and
``enabled``/``fileSecurity`` are stored and returned but never restrict access, as for keys in Appwrite.
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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import quote

from quixotic.errors import ApiError
from quixotic.server import queries as q
from quixotic.server.context import Ctx, Upload
from quixotic.server.ids import custom_id
from quixotic.server.routes import Reply, handles
from quixotic.server.store import Doc, list_docs, meta_delete, meta_get, meta_insert, meta_save

CHUNK_SIZE: Final = 5 * 1024 * 1024  # APP_LIMIT_UPLOAD_CHUNK_SIZE
DEFAULT_STORAGE_LIMIT: Final = 30_000_000  # Appwrite's _APP_STORAGE_LIMIT default


def storage_limit() -> int:
    """The largest file a bucket may allow: ``_APP_STORAGE_LIMIT`` as on self-hosted Appwrite."""
    try:
        return int(os.environ.get("_APP_STORAGE_LIMIT", DEFAULT_STORAGE_LIMIT))
    except ValueError:
        return DEFAULT_STORAGE_LIMIT


READ_BUFFER: Final = 20_000_000  # APP_STORAGE_READ_BUFFER: larger files skip compression and encryption
MAX_RANGE_OUTPUT: Final = 10 * 1024 * 1024  # an open-ended Range gets at most this much, as in Appwrite
MAX_EXTENSIONS: Final = 100
MAX_EXTENSION_LENGTH: Final = 64
MAX_PERMISSIONS: Final = 100
MAX_BUCKET_NAME: Final = 128
MAX_FILE_NAME: Final = 255
MAX_SEARCH: Final = 256
_COPY_BLOCK: Final = 1024 * 1024
_SNIFF_BYTES: Final = 8192

_BUCKET_ACTIONS: Final = ("create", "read", "update", "delete")
_FILE_ACTIONS: Final = ("read", "update", "delete")

_BUCKET_FIELDS: Final = {
    "name": q.Field("string", fulltext=True),
    "enabled": q.Field("boolean"),
    "fileSecurity": q.Field("boolean"),
    "maximumFileSize": q.Field("integer"),
    "encryption": q.Field("boolean"),
    "antivirus": q.Field("boolean"),
    "transformations": q.Field("boolean"),
}
_FILE_FIELDS: Final = {
    "name": q.Field("string", fulltext=True),
    "signature": q.Field("string"),
    "mimeType": q.Field("string"),
    "sizeOriginal": q.Field("integer"),
    "chunksTotal": q.Field("integer"),
    "chunksUploaded": q.Field("integer"),
}
# Appwrite searches "<id> <name>" for both resources.
_SEARCH_EXPR: Final = "(_uid || ' ' || COALESCE(json_extract(data, '$.name'), ''))"
_BUCKET_MODEL_KEYS: Final = (
    "fileSecurity", "name", "enabled", "maximumFileSize", "allowedFileExtensions",
    "compression", "encryption", "antivirus", "transformations",
)  # fmt: skip
_FILE_MODEL_KEYS: Final = (
    "bucketId", "name", "signature", "mimeType", "sizeOriginal", "chunksTotal", "chunksUploaded",
    "encryption", "compression",
)  # fmt: skip

_ID: Final = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,35}"
_PERMISSION_RE: Final = re.compile(r'^(read|create|update|delete|write)\("([^"]*)"\)$')
_ROLE_RE: Final = re.compile(
    rf"^(any|guests|users(/(verified|unverified))?|user:{_ID}(/(verified|unverified))?"
    rf"|team:{_ID}(/[A-Za-z0-9._\-]{{1,81}})?|member:{_ID}|label:[A-Za-z0-9]{{1,36}})$"
)
_CONTENT_RANGE_RE: Final = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$", re.IGNORECASE)
_RANGE_RE: Final = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
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


# --- validation -----------------------------------------------------------------------------------


def _invalid(name: str, why: str) -> ApiError:
    return ApiError("general_argument_invalid", f"Invalid `{name}` param: {why}")


def _permissions(value: list[str] | None, actions: tuple[str, ...]) -> list[str] | None:
    """Check permission strings and expand ``write`` the way Appwrite stores it (``None``: not given)."""
    if value is None:
        return None
    allowed = (*actions, "write")
    if len(value) > MAX_PERMISSIONS:
        raise _invalid("permissions", f"Value must a valid array no longer than {MAX_PERMISSIONS} items")
    out: list[str] = []
    for text in value:
        m = _PERMISSION_RE.match(text)
        if m is None:
            raise _invalid(
                "permissions",
                f'Permission "{text}" is invalid: expected ACTION("ROLE"), e.g. read("any"); '
                "use the SDK's Permission and Role helpers.",
            )
        action, role = m.groups()
        if action not in allowed:
            raise _invalid(
                "permissions", f'Permission "{action}" is not allowed. Must be one of: {", ".join(allowed)}.'
            )
        if not _ROLE_RE.match(role):
            raise _invalid("permissions", f'Role "{role}" is not valid in permission "{text}".')
        for granted in [a for a in actions if a != "read"] if action == "write" else [action]:
            perm = f'{granted}("{role}")'
            if perm not in out:
                out.append(perm)
    return out


def _extensions(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if len(value) > MAX_EXTENSIONS or any(len(ext) > MAX_EXTENSION_LENGTH for ext in value):
        raise _invalid(
            "allowedFileExtensions",
            f"Value must a valid array no longer than {MAX_EXTENSIONS} items and Value must be a valid "
            f"string and at most {MAX_EXTENSION_LENGTH} chars",
        )
    return list(value)


def _max_size(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= storage_limit():
        raise _invalid("maximumFileSize", f"Value must be a valid range between 1 and {storage_limit():,}")
    return value


def _text(value: str | None, name: str, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        raise _invalid(name, f"Value must be a valid string and at most {limit} chars")
    return value


def _search(value: str | None) -> str:
    return _text(value, "search", MAX_SEARCH) or ""


# --- models ---------------------------------------------------------------------------------------


def _bucket_model(conn: sqlite3.Connection, project: str, doc: Doc) -> dict[str, Any]:
    """The Appwrite bucket model; ``totalSize`` is the bytes of its complete files, counted now."""
    total = conn.execute(
        "SELECT COALESCE(SUM(json_extract(data, '$.sizeOriginal')), 0) FROM meta WHERE project=? AND "
        "kind='file' AND parent=? AND json_extract(data, '$.chunksUploaded') = json_extract(data, "
        "'$.chunksTotal')",
        (project, doc["$id"]),
    ).fetchone()[0]
    model: dict[str, Any] = {k: doc[k] for k in ("$id", "$createdAt", "$updatedAt", "$permissions")}
    model.update({k: doc.get(k) for k in _BUCKET_MODEL_KEYS})
    model["totalSize"] = int(total)
    return model


def _file_model(doc: Doc) -> dict[str, Any]:
    model: dict[str, Any] = {k: doc[k] for k in ("$id", "$createdAt", "$updatedAt", "$permissions")}
    model.update({k: doc.get(k) for k in _FILE_MODEL_KEYS})
    return model


def _selected(model: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return model
    return {k: v for k, v in model.items() if k.startswith("$") or k in select}


def _complete(doc: Doc) -> bool:
    return bool(doc.get("chunksUploaded") == doc.get("chunksTotal"))


# --- lookups --------------------------------------------------------------------------------------


def _bucket_not_found(bucket_id: str) -> ApiError:
    return ApiError(
        "storage_bucket_not_found", f"Storage bucket with the requested ID '{bucket_id}' could not be found."
    )


def _file_not_found(file_id: str) -> ApiError:
    return ApiError("storage_file_not_found", f"The requested file '{file_id}' could not be found.")


def _bucket(conn: sqlite3.Connection, ctx: Ctx, bucket_id: str) -> Doc:
    doc = meta_get(conn, ctx.project, "bucket", "", bucket_id)
    if doc is None:
        raise _bucket_not_found(bucket_id)
    return doc


def _files_bucket(conn: sqlite3.Connection, ctx: Ctx, bucket_id: str) -> Doc:
    """The bucket a file request works in; a disabled one is hidden except from API keys, as in Appwrite."""
    doc = _bucket(conn, ctx, bucket_id)
    if not doc.get("enabled", True) and ctx.caller.role != "applications":
        raise _bucket_not_found(bucket_id)
    return doc


def _file(conn: sqlite3.Connection, ctx: Ctx, bucket_id: str, file_id: str) -> Doc:
    doc = meta_get(conn, ctx.project, "file", bucket_id, file_id)
    if doc is None:
        raise _file_not_found(file_id)
    return doc


# --- paths ----------------------------------------------------------------------------------------


def _bucket_dir(ctx: Ctx, bucket_id: str) -> Path:
    return ctx.store.files_dir / ctx.project / bucket_id


def _file_path(ctx: Ctx, bucket_id: str, file_id: str) -> Path:
    return _bucket_dir(ctx, bucket_id) / file_id


def _parts_dir(ctx: Ctx, bucket_id: str, file_id: str) -> Path:
    return _bucket_dir(ctx, bucket_id) / ".parts" / file_id


def _tmp_file(ctx: Ctx, prefix: str) -> tuple[int, Path]:
    tmp_dir = ctx.store.files_dir / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix)
    return fd, Path(name)


def _remove_file_bytes(ctx: Ctx, bucket_id: str, file_id: str) -> None:
    _file_path(ctx, bucket_id, file_id).unlink(missing_ok=True)
    shutil.rmtree(_parts_dir(ctx, bucket_id, file_id), ignore_errors=True)


# --- buckets --------------------------------------------------------------------------------------


@handles("storageListBuckets")
def list_buckets(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        total, docs, select = list_docs(
            conn,
            "meta",
            "project=? AND kind='bucket' AND parent=''",
            [ctx.project],
            p["queries"],
            _BUCKET_FIELDS,
            search=_search(p["search"]),
            search_expr=_SEARCH_EXPR,
            total=p["total"] is not False,
        )
        buckets = [_selected(_bucket_model(conn, ctx.project, d), select) for d in docs]
    return {"total": total, "buckets": buckets}


@handles("storageCreateBucket")
def create_bucket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    bucket_id = custom_id(p["bucketId"], "bucketId")
    name = _text(p["name"], "name", MAX_BUCKET_NAME)
    permissions = _permissions(p["permissions"], _BUCKET_ACTIONS) or []
    max_size = _max_size(p["maximumFileSize"])
    extensions = _extensions(p["allowedFileExtensions"])
    data = {
        "name": name,
        "enabled": True if p["enabled"] is None else p["enabled"],
        "fileSecurity": bool(p["fileSecurity"]),
        "maximumFileSize": storage_limit() if max_size is None else max_size,
        "allowedFileExtensions": extensions or [],
        "compression": p["compression"] or "none",
        "encryption": True if p["encryption"] is None else p["encryption"],
        "antivirus": True if p["antivirus"] is None else p["antivirus"],
        "transformations": True if p["transformations"] is None else p["transformations"],
    }
    conflict = ApiError(
        "storage_bucket_already_exists",
        f"A storage bucket with the requested ID '{bucket_id}' already exists. Try again with a different ID "
        "or use ID.unique() to generate a unique ID.",
    )
    with ctx.store.tx() as conn:
        doc = meta_insert(conn, ctx.project, "bucket", "", bucket_id, data, permissions, conflict=conflict)
        model = _bucket_model(conn, ctx.project, doc)
    ctx.emit(f"buckets.{bucket_id}.create", model)
    return model


@handles("storageGetBucket")
def get_bucket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return _bucket_model(conn, ctx.project, _bucket(conn, ctx, p["bucketId"]))


@handles("storageUpdateBucket")
def update_bucket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """PUT with Appwrite's semantics for the SDK: an omitted optional field keeps its value."""
    name = _text(p["name"], "name", MAX_BUCKET_NAME)
    permissions = _permissions(p["permissions"], _BUCKET_ACTIONS)
    changes: dict[str, Any] = {
        "name": name,
        "maximumFileSize": _max_size(p["maximumFileSize"]),
        "allowedFileExtensions": _extensions(p["allowedFileExtensions"]),
    }
    for key in ("enabled", "fileSecurity", "compression", "encryption", "antivirus", "transformations"):
        changes[key] = p[key]
    with ctx.store.tx() as conn:
        doc = _bucket(conn, ctx, p["bucketId"])
        doc.update({k: v for k, v in changes.items() if v is not None})
        if permissions is not None:
            doc["$permissions"] = permissions
        meta_save(conn, ctx.project, "bucket", "", doc)
        model = _bucket_model(conn, ctx.project, doc)
    ctx.emit(f"buckets.{doc['$id']}.update", model)
    return model


@handles("storageDeleteBucket")
def delete_bucket(ctx: Ctx, p: dict[str, Any]) -> None:
    """Delete the bucket, its files' rows and their bytes.

    The bucket folder is renamed away while the store lock is held, so an upload to a bucket of the
    same ID created right after never lands in a folder that is being removed.
    """
    bucket_id = p["bucketId"]
    trash: Path | None = None
    with ctx.store.lock:
        with ctx.store.tx() as conn:
            doc = _bucket(conn, ctx, bucket_id)
            model = _bucket_model(conn, ctx.project, doc)
            conn.execute("DELETE FROM meta WHERE project=? AND kind='file' AND parent=?", (ctx.project, bucket_id))
            meta_delete(conn, ctx.project, "bucket", "", bucket_id)
        folder = _bucket_dir(ctx, bucket_id)
        if folder.exists():
            trash_root = ctx.store.files_dir / ".trash"
            trash_root.mkdir(parents=True, exist_ok=True)
            trash = Path(tempfile.mkdtemp(dir=trash_root)) / bucket_id
            os.replace(folder, trash)
    if trash is not None:
        shutil.rmtree(trash.parent, ignore_errors=True)
    ctx.emit(f"buckets.{bucket_id}.delete", model)


# --- file uploads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
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


def _content_range(header: str) -> _Chunk:
    m = _CONTENT_RANGE_RE.match(header)
    if m is None:
        raise _bad_range(header, "it is not of the form `bytes START-END/TOTAL`")
    chunk = _Chunk(int(m.group(1)), int(m.group(2)), int(m.group(3)))
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


def _check_size(bucket: Doc, size: int) -> None:
    limit = int(bucket.get("maximumFileSize") or storage_limit())
    if size > limit:
        raise ApiError(
            "storage_invalid_file_size",
            f"The file size is either not valid or exceeds the maximum allowed size: {size} bytes is more "
            f"than the bucket's maximumFileSize of {limit} bytes.",
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


def _copy_in(ctx: Ctx, src: IO[bytes]) -> tuple[Path, str, bytes]:
    """Copy a request part into a new temp file; returns its path, MD5 and first bytes."""
    fd, path = _tmp_file(ctx, "upload-")
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


def _already_exists(file_id: str) -> ApiError:
    return ApiError("storage_file_already_exists", f"A storage file with the requested ID '{file_id}' already exists.")


@handles("storageCreateFile")
def create_file(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Validate everything that needs no writing first, so a rejected request leaves nothing behind."""
    bucket_id = p["bucketId"]
    with ctx.store.read() as conn:
        bucket = _files_bucket(conn, ctx, bucket_id)
    permissions = _permissions(p["permissions"], _FILE_ACTIONS) or []
    upload = ctx.uploads.get("file")
    if upload is None:
        raise ApiError("storage_file_empty", "Empty file passed to the endpoint: send the file as the `file` part.")
    size = _upload_size(upload)
    header = ctx.headers.get("content-range", "").strip()
    chunk: _Chunk | None = None
    if header:
        chunk = _content_range(header)
        header_id = ctx.headers.get("x-appwrite-id")
        if header_id is None:
            file_id = custom_id(p["fileId"], "fileId")
        elif re.fullmatch(_ID, header_id):
            file_id = header_id
        else:
            raise ApiError(
                "storage_invalid_appwrite_id",
                f"The value for x-appwrite-id header is invalid: '{header_id}'. Send the `$id` the first "
                "chunk's response returned (a valid ID, not unique()).",
            )
        _check_size(bucket, chunk.total)
    else:
        file_id = custom_id(p["fileId"], "fileId")
        _check_size(bucket, size)
    _check_extension(bucket, upload.filename)
    if size == 0:
        raise ApiError("storage_file_empty", "Empty file passed to the endpoint.")
    if chunk is not None and size != chunk.size:
        raise _bad_range(header, f"the range covers {chunk.size} bytes but the file part holds {size}")
    with ctx.store.read() as conn:
        existing = meta_get(conn, ctx.project, "file", bucket_id, file_id)
    if existing is not None and (chunk is None or _complete(existing)):
        raise _already_exists(file_id)
    if chunk is None:
        doc = _store_whole(ctx, bucket_id, file_id, upload, size, permissions)
    else:
        doc = _store_chunk(ctx, bucket_id, file_id, upload, chunk, permissions)
    model = _file_model(doc)
    if _complete(doc):
        ctx.emit(f"buckets.{bucket_id}.files.{file_id}.create", model)
    return model


def _store_whole(ctx: Ctx, bucket_id: str, file_id: str, upload: Upload, size: int, permissions: list[str]) -> Doc:
    tmp, signature, head = _copy_in(ctx, upload.file)
    final = _file_path(ctx, bucket_id, file_id)
    placed = False
    try:
        with ctx.store.tx() as conn:
            bucket = _files_bucket(conn, ctx, bucket_id)
            encryption, compression = _stored_as(bucket, size)
            data = {
                "bucketId": bucket_id,
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
                conn, ctx.project, "file", bucket_id, file_id, data, permissions, conflict=_already_exists(file_id)
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


def _store_chunk(ctx: Ctx, bucket_id: str, file_id: str, upload: Upload, chunk: _Chunk, permissions: list[str]) -> Doc:
    """Record one chunk; the request that completes the set assembles the file.

    The chunk is copied to a temp file without any lock (that is the slow part), then moved into the
    parts folder and counted in one transaction. Assembling (at most 30 MB) happens in that same
    transaction, so concurrent chunks never see a half-assembled file and a failure undoes it all.
    """
    tmp, _, _ = _copy_in(ctx, upload.file)
    parts = _parts_dir(ctx, bucket_id, file_id)
    part = parts / str(chunk.index)
    final = _file_path(ctx, bucket_id, file_id)
    moved_new_part = assembled = False
    try:
        with ctx.store.lock:
            with ctx.store.tx() as conn:
                bucket = _files_bucket(conn, ctx, bucket_id)
                doc = meta_get(conn, ctx.project, "file", bucket_id, file_id)
                if doc is None:
                    encryption, compression = _stored_as(bucket, chunk.total)
                    data = {
                        "bucketId": bucket_id,
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
                    doc = meta_insert(conn, ctx.project, "file", bucket_id, file_id, data, permissions)
                elif _complete(doc):
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
                    signature, head = _assemble(ctx, parts, doc["chunksTotal"], final)
                    assembled = True
                    doc["signature"] = signature
                    doc["mimeType"] = _guess_mime(str(doc.get("name") or ""), head)
                    doc["_chunks"] = []
                meta_save(conn, ctx.project, "file", bucket_id, doc)
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


def _assemble(ctx: Ctx, parts: Path, count: int, final: Path) -> tuple[str, bytes]:
    """Concatenate the parts into a temp file and rename it into place; returns MD5 and first bytes."""
    fd, tmp = _tmp_file(ctx, "assemble-")
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


# --- files ----------------------------------------------------------------------------------------


@handles("storageListFiles")
def list_files(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        _files_bucket(conn, ctx, p["bucketId"])
        total, docs, select = list_docs(
            conn,
            "meta",
            "project=? AND kind='file' AND parent=?",
            [ctx.project, p["bucketId"]],
            p["queries"],
            _FILE_FIELDS,
            search=_search(p["search"]),
            search_expr=_SEARCH_EXPR,
            total=p["total"] is not False,
        )
    return {"total": total, "files": [_selected(_file_model(d), select) for d in docs]}


@handles("storageGetFile")
def get_file(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Also answers for uploads in progress: the SDK resumes from ``chunksUploaded``."""
    with ctx.store.read() as conn:
        _files_bucket(conn, ctx, p["bucketId"])
        return _file_model(_file(conn, ctx, p["bucketId"], p["fileId"]))


@handles("storageUpdateFile")
def update_file(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    name = _text(p["name"], "name", MAX_FILE_NAME)
    permissions = _permissions(p["permissions"], _FILE_ACTIONS)
    with ctx.store.tx() as conn:
        _files_bucket(conn, ctx, p["bucketId"])
        doc = _file(conn, ctx, p["bucketId"], p["fileId"])
        if name is not None:
            doc["name"] = name
        if permissions is not None:
            doc["$permissions"] = permissions
        meta_save(conn, ctx.project, "file", p["bucketId"], doc)
    model = _file_model(doc)
    if _complete(doc):
        ctx.emit(f"buckets.{p['bucketId']}.files.{doc['$id']}.update", model)
    return model


@handles("storageDeleteFile")
def delete_file(ctx: Ctx, p: dict[str, Any]) -> None:
    bucket_id, file_id = p["bucketId"], p["fileId"]
    with ctx.store.lock:
        with ctx.store.tx() as conn:
            _files_bucket(conn, ctx, bucket_id)
            doc = _file(conn, ctx, bucket_id, file_id)
            meta_delete(conn, ctx.project, "file", bucket_id, file_id)
        _remove_file_bytes(ctx, bucket_id, file_id)
    if _complete(doc):
        ctx.emit(f"buckets.{bucket_id}.files.{file_id}.delete", _file_model(doc))


def _disposition(kind: str, name: str) -> str:
    """A header-safe Content-Disposition; non-ASCII names go in ``filename*`` (RFC 6266)."""
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", name) or "file"
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """``Range: bytes=A-B`` (one range) as Appwrite serves it: END must be inside the file, an open end
    gets at most 10 MiB; a suffix ``bytes=-N`` is the last N bytes."""
    m = _RANGE_RE.match(header)
    if m is not None and (m.group(1) or m.group(2)):
        first, last = m.group(1), m.group(2)
        if not first:
            start, end = max(0, size - int(last)), size - 1
            valid = int(last) > 0
        else:
            start = int(first)
            end = int(last) if last else min(start + MAX_RANGE_OUTPUT - 1, size - 1)
            valid = True
        if valid and start <= end < size:
            return start, end
    raise ApiError(
        "storage_invalid_range",
        f"The requested range is not satisfiable: '{header}' for a file of {size} bytes. Send one range "
        "`bytes=START-END` with END below the file size.",
    )


def _serve(ctx: Ctx, p: dict[str, Any], kind: str, ranges: bool) -> Reply:
    bucket_id, file_id = p["bucketId"], p["fileId"]
    with ctx.store.read() as conn:
        _files_bucket(conn, ctx, bucket_id)
        doc = _file(conn, ctx, bucket_id, file_id)
    if not _complete(doc):
        raise ApiError(
            "storage_file_not_found",
            f"File '{file_id}' is not fully uploaded yet ({doc.get('chunksUploaded')} of "
            f"{doc.get('chunksTotal')} chunks): finish the upload before reading it.",
        )
    path = _file_path(ctx, bucket_id, file_id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ApiError("storage_file_not_found", f"The bytes of file '{file_id}' are missing.") from None
    mime = str(doc.get("mimeType") or "application/octet-stream")
    headers = {"Content-Disposition": _disposition(kind, str(doc.get("name") or file_id))}
    header = ctx.headers.get("range")
    if not (ranges and header):
        if ranges:
            headers["Accept-Ranges"] = "bytes"
            return Reply(path=str(path), headers=headers, media_type=mime)
        return Reply(body=path.read_bytes(), headers=headers, media_type=mime)
    start, end = _byte_range(header, size)
    with path.open("rb") as src:
        src.seek(start)
        body = src.read(end - start + 1)
    headers.update({"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"})
    return Reply(body=body, status=206, headers=headers, media_type=mime)


@handles("storageGetFileDownload")
def download(ctx: Ctx, p: dict[str, Any]) -> Reply:
    return _serve(ctx, p, "attachment", ranges=True)


@handles("storageGetFileView")
def view(ctx: Ctx, p: dict[str, Any]) -> Reply:
    return _serve(ctx, p, "inline", ranges=True)


@handles("storageGetFilePreview")
def preview(ctx: Ctx, p: dict[str, Any]) -> Reply:
    """No image transformations yet: the original bytes, whatever the width, height or output asked."""
    return _serve(ctx, p, "inline", ranges=False)
