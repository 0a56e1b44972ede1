"""Storage's HTTP handlers: buckets and files. They check parameters, call the model
(``buckets``, ``files``, ``ranges``) and emit events; the bytes and records are the model's business.
Callers without a key are checked against bucket and file permissions (``access``)."""

from __future__ import annotations

from typing import Any

from quixotic.server import validation
from quixotic.server.context import Ctx
from quixotic.server.ids import custom_id
from quixotic.server.registry import Reply, handles
from quixotic.server.storage import access, buckets, files, ranges
from quixotic.server.store import list_docs


def _search(value: str | None) -> str:
    return validation.text(value, "search", buckets.MAX_SEARCH) or ""


def _selected(model: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return model
    return {k: v for k, v in model.items() if k.startswith("$") or k in select}


def _is_key(ctx: Ctx) -> bool:
    return ctx.caller.role == "applications"


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
            buckets.FIELDS,
            search=_search(p["search"]),
            search_expr=buckets.SEARCH_EXPR,
            total=p["total"] is not False,
        )
        found = [_selected(buckets.model(conn, ctx.project, d), select) for d in docs]
    return {"total": total, "buckets": found}


@handles("storageCreateBucket")
def create_bucket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    limit = ctx.settings.storage_limit
    bucket_id = custom_id(p["bucketId"], "bucketId")
    settings = dict(p)
    settings["name"] = validation.text(p["name"], "name", buckets.MAX_NAME)
    permissions = validation.permissions(p["permissions"], validation.CONTAINER_ACTIONS) or []
    settings["maximumFileSize"] = buckets.check_max_size(p["maximumFileSize"], limit)
    settings["allowedFileExtensions"] = buckets.check_extensions(p["allowedFileExtensions"])
    with ctx.store.tx() as conn:
        doc = buckets.create(conn, ctx.project, bucket_id, settings, permissions, limit)
        model = buckets.model(conn, ctx.project, doc)
    ctx.emit(f"buckets.{bucket_id}.create", model)
    return model


@handles("storageGetBucket")
def get_bucket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return buckets.model(conn, ctx.project, buckets.get(conn, ctx.project, p["bucketId"]))


@handles("storageUpdateBucket")
def update_bucket(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """PUT with Appwrite's semantics for the SDK: an omitted optional field keeps its value."""
    name = validation.text(p["name"], "name", buckets.MAX_NAME)
    permissions = validation.permissions(p["permissions"], validation.CONTAINER_ACTIONS)
    changes: dict[str, Any] = {
        "name": name,
        "maximumFileSize": buckets.check_max_size(p["maximumFileSize"], ctx.settings.storage_limit),
        "allowedFileExtensions": buckets.check_extensions(p["allowedFileExtensions"]),
    }
    for key in (
        "enabled", "fileSecurity", "compression", "encryption", "antivirus", "transformations", "description",
        "stripMetadata",
    ):  # fmt: skip
        changes[key] = p[key]
    with ctx.store.tx() as conn:
        doc = buckets.update(conn, ctx.project, p["bucketId"], changes, permissions)
        model = buckets.model(conn, ctx.project, doc)
    ctx.emit(f"buckets.{doc['$id']}.update", model)
    return model


@handles("storageDeleteBucket")
def delete_bucket(ctx: Ctx, p: dict[str, Any]) -> None:
    bucket_id = p["bucketId"]
    model = buckets.delete(ctx.store, ctx.project, bucket_id)
    ctx.emit(f"buckets.{bucket_id}.delete", model)


# --- files ----------------------------------------------------------------------------------------


@handles("storageCreateFile")
def create_file(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    bucket_id = p["bucketId"]
    with ctx.store.read() as conn:
        bucket = buckets.for_files(conn, ctx.project, bucket_id, _is_key(ctx))
    sent = validation.permissions(p["permissions"], validation.ITEM_ACTIONS)  # a bad one is 400 before any check
    access.require_bucket(ctx.caller, bucket, "create")
    permissions = access.new_permissions(ctx.caller, sent)
    target = files.Target(ctx.store, ctx.project, bucket, _is_key(ctx), ctx.settings.storage_limit)
    doc = files.create(
        target,
        p["fileId"],
        ctx.uploads.get("file"),
        ctx.headers.get("content-range", ""),
        _chunk_id(ctx),
        permissions,
    )
    model = files.model(doc)
    if files.complete(doc):
        ctx.emit(f"buckets.{bucket_id}.files.{doc['$id']}.create", model)
    return model


def _chunk_id(ctx: Ctx) -> str | None:
    """The ``X-Appwrite-Id`` of a chunk. SDKs of Appwrite 2.x (Python 27) send ``unique()`` with the first chunk
    of a ``unique()`` upload, which those servers take as "no file yet"; Appwrite 1.9 refuses it, and so does
    this server for a request in an older response format."""
    header = ctx.headers.get("x-appwrite-id")
    declared = ctx.declared  # the format the request names, parsed once (not capped at the server's own)
    if header is not None and header.strip() == "unique()" and declared is not None and declared >= (2, 0, 0):
        return None
    return header


@handles("storageListFiles")
def list_files(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.read() as conn:
        bucket = buckets.for_files(conn, ctx.project, p["bucketId"], _is_key(ctx))
        where, params = access.list_filter(ctx.caller, bucket)
        total, docs, select = list_docs(
            conn,
            "meta",
            f"project=? AND kind='file' AND parent=? AND {where}",
            [ctx.project, p["bucketId"], *params],
            p["queries"],
            files.FIELDS,
            search=_search(p["search"]),
            search_expr=buckets.SEARCH_EXPR,
            total=p["total"] is not False,
        )
    return {"total": total, "files": [_selected(files.model(d), select) for d in docs]}


@handles("storageGetFile")
def get_file(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Also answers for uploads in progress: the SDK resumes from ``chunksUploaded``."""
    with ctx.store.read() as conn:
        bucket = buckets.for_files(conn, ctx.project, p["bucketId"], _is_key(ctx))
        access.require_bucket(ctx.caller, bucket, "read")
        doc = files.get(conn, ctx.project, p["bucketId"], p["fileId"])
        access.require(ctx.caller, bucket, doc, "read")
        return files.model(doc)


@handles("storageUpdateFile")
def update_file(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    name = validation.text(p["name"], "name", files.MAX_NAME)
    permissions = validation.permissions(p["permissions"], validation.ITEM_ACTIONS)
    with ctx.store.tx() as conn:
        bucket = buckets.for_files(conn, ctx.project, p["bucketId"], _is_key(ctx))
        access.require_bucket(ctx.caller, bucket, "update")
        access.require(ctx.caller, bucket, files.get(conn, ctx.project, p["bucketId"], p["fileId"]), "update")
        ctx.caller.check_grants(permissions)
        doc = files.update(conn, ctx.project, p["bucketId"], p["fileId"], name, permissions)
    model = files.model(doc)
    if files.complete(doc):
        ctx.emit(f"buckets.{p['bucketId']}.files.{doc['$id']}.update", model)
    return model


@handles("storageDeleteFile")
def delete_file(ctx: Ctx, p: dict[str, Any]) -> None:
    bucket_id, file_id = p["bucketId"], p["fileId"]
    doc = files.delete(ctx.store, ctx.project, bucket_id, file_id, _is_key(ctx), access.checker(ctx.caller, "delete"))
    if files.complete(doc):
        ctx.emit(f"buckets.{bucket_id}.files.{file_id}.delete", files.model(doc))


def _serve(ctx: Ctx, p: dict[str, Any], kind: str, with_ranges: bool) -> Reply:
    bucket_id, file_id = p["bucketId"], p["fileId"]
    check = access.checker(ctx.caller, "read")
    doc, path, size = files.readable(ctx.store, ctx.project, bucket_id, file_id, _is_key(ctx), check)
    mime = str(doc.get("mimeType") or "application/octet-stream")
    headers = {"Content-Disposition": ranges.disposition(kind, str(doc.get("name") or file_id))}
    header = ctx.headers.get("range")
    if not (with_ranges and header):
        if with_ranges:
            headers["Accept-Ranges"] = "bytes"
            return Reply(path=str(path), headers=headers, media_type=mime)
        return Reply(body=path.read_bytes(), headers=headers, media_type=mime)
    start, end = ranges.byte_range(header, size)
    body = ranges.read_range(path, start, end)
    headers.update({"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"})
    return Reply(body=body, status=206, headers=headers, media_type=mime)


@handles("storageGetFileDownload")
def download(ctx: Ctx, p: dict[str, Any]) -> Reply:
    return _serve(ctx, p, "attachment", with_ranges=True)


@handles("storageGetFileView")
def view(ctx: Ctx, p: dict[str, Any]) -> Reply:
    return _serve(ctx, p, "inline", with_ranges=True)


@handles("storageGetFilePreview")
def preview(ctx: Ctx, p: dict[str, Any]) -> Reply:
    """No image transformations yet: the original bytes, whatever the width, height or output asked."""
    return _serve(ctx, p, "inline", with_ranges=False)
