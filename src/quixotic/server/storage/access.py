"""Who may do what with files: bucket permissions combined with ``fileSecurity``, as Appwrite decides.

From Appwrite's ``Storage/Http/Buckets/Files/{Create,Get,XList,Update,Delete,Download/Get}.php``: create
needs the bucket's ``create``; read, update and delete need the bucket's permission or, with file security
on, the file's own. Without file security a missing bucket permission is ``user_unauthorized``; with it,
a file the caller may not read is not found. API keys pass every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import auth
from quixotic.server.auth import Caller
from quixotic.server.storage import files
from quixotic.server.store import Doc
from quixotic.server.validation import ITEM_ACTIONS


def _bucket_may(caller: Caller, bucket: Mapping[str, Any], action: str) -> bool:
    return caller.may(bucket.get("$permissions") or [], action)


def _refused(caller: Caller, bucket: Mapping[str, Any], action: str) -> ApiError:
    return auth.unauthorized(f"files of bucket '{bucket['$id']}'", action, caller)


def require_bucket(caller: Caller, bucket: Mapping[str, Any], action: str) -> None:
    """The check made before the file is looked up: without file security, the bucket must grant ``action``."""
    if not _bucket_may(caller, bucket, action) and (action == "create" or not bucket.get("fileSecurity")):
        raise _refused(caller, bucket, action)


def require(caller: Caller, bucket: Mapping[str, Any], doc: Doc, action: str) -> None:
    """Raise unless the caller may ``action`` the file: not found for reads, unauthorized for writes."""
    require_bucket(caller, bucket, action)
    if _bucket_may(caller, bucket, action) or caller.may(doc.get("$permissions") or [], action):
        return
    if action == "read":
        raise files.not_found(str(doc["$id"]))
    raise auth.unauthorized(f"file '{doc['$id']}'", action, caller)


def checker(caller: Caller, action: str) -> files.Check:
    """:func:`require` for ``action``, for the model functions that look the file up themselves."""
    return lambda bucket, doc: require(caller, bucket, doc, action)


def list_filter(caller: Caller, bucket: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The SQL condition of the files a list shows the caller (all of them with the bucket's read)."""
    require_bucket(caller, bucket, "read")
    if _bucket_may(caller, bucket, "read"):
        return "1", []
    where, params = auth.readable_sql(caller)
    return where, list(params)


def new_permissions(caller: Caller, given: list[str] | None) -> list[str]:
    """A new file's permissions: the given ones (only roles the caller holds), else the uploader's own."""
    perms = caller.own_permissions(ITEM_ACTIONS) if given is None else given
    caller.check_grants(perms)
    return perms
