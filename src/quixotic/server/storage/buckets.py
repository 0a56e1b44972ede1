"""The bucket model: its settings and their checks, lookups, and create/update/delete in the store.

Bucket routes are for API keys (clients hold no bucket scope). A bucket's permissions and ``fileSecurity``
restrict what clients do with its files (``access``), and a disabled bucket is hidden from them; keys
pass, as in Appwrite.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import queries as q
from quixotic.server import validation
from quixotic.server.store import Doc, Store, meta_delete, meta_get, meta_insert, meta_save
from quixotic.server.validation import invalid

MAX_EXTENSIONS: Final = 100
MAX_EXTENSION_LENGTH: Final = 64
MAX_NAME: Final = validation.TEXT_LIMITS["name"]
MAX_SEARCH: Final = validation.TEXT_LIMITS["search"]

FIELDS: Final = {
    "name": q.Field("string", fulltext=True),
    "enabled": q.Field("boolean"),
    "fileSecurity": q.Field("boolean"),
    "maximumFileSize": q.Field("integer"),
    "encryption": q.Field("boolean"),
    "antivirus": q.Field("boolean"),
    "transformations": q.Field("boolean"),
}
# Appwrite searches "<id> <name>" for buckets and files alike.
SEARCH_EXPR: Final = "(_uid || ' ' || COALESCE(json_extract(data, '$.name'), ''))"
_MODEL_KEYS: Final = (
    "fileSecurity", "name", "enabled", "maximumFileSize", "allowedFileExtensions",
    "compression", "encryption", "antivirus", "transformations",
)  # fmt: skip


# --- checks ---------------------------------------------------------------------------------------


def check_extensions(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if len(value) > MAX_EXTENSIONS or any(len(ext) > MAX_EXTENSION_LENGTH for ext in value):
        raise invalid(
            "allowedFileExtensions",
            f"Value must a valid array no longer than {MAX_EXTENSIONS} items and Value must be a valid "
            f"string and at most {MAX_EXTENSION_LENGTH} chars",
        )
    return list(value)


def check_max_size(value: int | None, limit: int) -> int | None:
    """``maximumFileSize`` must lie within the server's storage limit (``_APP_STORAGE_LIMIT``)."""
    if value is not None and not 1 <= value <= limit:
        raise invalid("maximumFileSize", f"Value must be a valid range between 1 and {limit:,}")
    return value


# --- model and lookups ----------------------------------------------------------------------------


def model(conn: sqlite3.Connection, project: str, doc: Doc) -> dict[str, Any]:
    """The Appwrite bucket model; ``totalSize`` is the bytes of its complete files, counted now."""
    total = conn.execute(
        "SELECT COALESCE(SUM(json_extract(data, '$.sizeOriginal')), 0) FROM meta WHERE project=? AND "
        "kind='file' AND parent=? AND json_extract(data, '$.chunksUploaded') = json_extract(data, "
        "'$.chunksTotal')",
        (project, doc["$id"]),
    ).fetchone()[0]
    out: dict[str, Any] = {k: doc[k] for k in ("$id", "$createdAt", "$updatedAt", "$permissions")}
    out.update({k: doc.get(k) for k in _MODEL_KEYS})
    out["totalSize"] = int(total)
    # 2.5.0 (formats drops both below); buckets made before have neither
    out["description"] = doc.get("description") or ""
    out["stripMetadata"] = bool(doc.get("stripMetadata"))
    return out


def not_found(bucket_id: str) -> ApiError:
    return ApiError(
        "storage_bucket_not_found", f"Storage bucket with the requested ID '{bucket_id}' could not be found."
    )


def get(conn: sqlite3.Connection, project: str, bucket_id: str) -> Doc:
    doc = meta_get(conn, project, "bucket", "", bucket_id)
    if doc is None:
        raise not_found(bucket_id)
    return doc


def for_files(conn: sqlite3.Connection, project: str, bucket_id: str, is_key: bool) -> Doc:
    """The bucket a file request works in; a disabled one is hidden except from API keys, as in Appwrite."""
    doc = get(conn, project, bucket_id)
    if not doc.get("enabled", True) and not is_key:
        raise not_found(bucket_id)
    return doc


def folder(store: Store, project: str, bucket_id: str) -> Path:
    return store.files_dir / project / bucket_id


# --- writes ---------------------------------------------------------------------------------------


def _given(settings: Mapping[str, Any], key: str, default: Any) -> Any:
    value = settings.get(key)
    return default if value is None else value


def create(
    conn: sqlite3.Connection,
    project: str,
    bucket_id: str,
    settings: Mapping[str, Any],
    permissions: list[str],
    limit: int,
) -> Doc:
    """Insert a bucket; ``settings`` are checked create parameters, absent or None ones get Appwrite's defaults."""
    max_size = settings.get("maximumFileSize")
    data = {
        "name": settings.get("name"),
        "enabled": _given(settings, "enabled", True),
        "fileSecurity": bool(settings.get("fileSecurity")),
        "maximumFileSize": limit if max_size is None else max_size,
        "allowedFileExtensions": settings.get("allowedFileExtensions") or [],
        "compression": settings.get("compression") or "none",
        "encryption": _given(settings, "encryption", True),
        "antivirus": _given(settings, "antivirus", True),
        "transformations": _given(settings, "transformations", True),
        "description": settings.get("description") or "",
        "stripMetadata": bool(settings.get("stripMetadata")),  # kept and answered; uploads are stored as sent
    }
    conflict = ApiError(
        "storage_bucket_already_exists",
        f"A storage bucket with the requested ID '{bucket_id}' already exists. Try again with a different ID "
        "or use ID.unique() to generate a unique ID.",
    )
    return meta_insert(conn, project, "bucket", "", bucket_id, data, permissions, conflict=conflict)


def ensure(store: Store, project: str, bucket_id: str, name: str, max_size: int, limit: int) -> None:
    """Create the bucket unless it exists (for buckets the server keeps for itself, e.g. deployment archives)."""
    with store.read() as conn:
        if meta_get(conn, project, "bucket", "", bucket_id) is not None:
            return
    settings = {"name": name, "maximumFileSize": check_max_size(max_size, limit)}
    try:
        with store.tx() as conn:
            create(conn, project, bucket_id, settings, [], limit)
    except ApiError as exc:
        if exc.type != "storage_bucket_already_exists":
            raise


def update(
    conn: sqlite3.Connection, project: str, bucket_id: str, changes: Mapping[str, Any], permissions: list[str] | None
) -> Doc:
    """PUT with Appwrite's semantics for the SDK: a None change (omitted optional field) keeps its value."""
    doc = get(conn, project, bucket_id)
    doc.update({k: v for k, v in changes.items() if v is not None})
    if permissions is not None:
        doc["$permissions"] = permissions
    meta_save(conn, project, "bucket", "", doc)
    return doc


def delete(store: Store, project: str, bucket_id: str) -> dict[str, Any]:
    """Delete the bucket, its files' rows and their bytes; returns the bucket's last model.

    The bucket folder is renamed away while the store lock is held, so an upload to a bucket of the
    same ID created right after never lands in a folder that is being removed.
    """
    trash: Path | None = None
    with store.lock:
        with store.tx() as conn:
            doc = get(conn, project, bucket_id)
            last = model(conn, project, doc)
            conn.execute("DELETE FROM meta WHERE project=? AND kind='file' AND parent=?", (project, bucket_id))
            meta_delete(conn, project, "bucket", "", bucket_id)
        where = folder(store, project, bucket_id)
        if where.exists():
            trash_root = store.files_dir / ".trash"
            trash_root.mkdir(parents=True, exist_ok=True)
            trash = Path(tempfile.mkdtemp(dir=trash_root)) / bucket_id
            os.replace(where, trash)
    if trash is not None:
        shutil.rmtree(trash.parent, ignore_errors=True)
    return last
