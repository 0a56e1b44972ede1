"""The SDK's answers (JSON dicts of response format 1.8.0) as the configuration's values.

Pure: no SDK import. Used to read live state (deploy, migrations) and archives (backup).
"""

from __future__ import annotations

import hashlib
from typing import Any

from quixotic.config.resources import Bucket, Column, Function, Index, Table
from quixotic.plan.state import VariableState


def column_from_model(c: dict[str, Any]) -> Column:
    kind = c.get("type", "string")
    fmt = c.get("format") or ""
    if kind == "datetime":
        fmt = ""
    return Column(
        key=c["key"],
        type=kind,
        required=bool(c.get("required")),
        array=bool(c.get("array")),
        size=c.get("size") if kind in ("string", "varchar") and fmt in ("",) else None,
        default=c.get("default"),
        min=c.get("min") if kind in ("integer", "double") else None,
        max=c.get("max") if kind in ("integer", "double") else None,
        format=fmt if kind == "string" else "",
        elements=tuple(c.get("elements") or ()) if fmt == "enum" else (),
        encrypt=bool(c.get("encrypt")),
    )


def index_from_model(i: dict[str, Any]) -> Index:
    return Index(
        key=i["key"],
        type=i["type"],
        columns=tuple(i.get("columns") or i.get("attributes") or ()),
        orders=tuple(o.upper() for o in i.get("orders") or ()),
    )


def table_from_model(database_id: str, t: dict[str, Any]) -> Table:
    return Table(
        id=t["$id"],
        database_id=database_id,
        name=t["name"],
        enabled=bool(t.get("enabled", True)),
        row_security=bool(t.get("rowSecurity", t.get("documentSecurity", False))),
        permissions=tuple(t.get("$permissions") or ()),
        columns=tuple(column_from_model(c) for c in t.get("columns") or t.get("attributes") or ()),
        indexes=tuple(index_from_model(i) for i in t.get("indexes") or ()),
    )


def bucket_from_model(b: dict[str, Any]) -> Bucket:
    return Bucket(
        id=b["$id"],
        name=b["name"],
        permissions=tuple(b.get("$permissions") or ()),
        file_security=bool(b.get("fileSecurity")),
        enabled=bool(b.get("enabled", True)),
        maximum_file_size=int(b.get("maximumFileSize") or 0),
        allowed_file_extensions=tuple(b.get("allowedFileExtensions") or ()),
        compression=str(b.get("compression") or "none"),
        encryption=bool(b.get("encryption")),
        antivirus=bool(b.get("antivirus")),
    )


def function_from_model(f: dict[str, Any]) -> Function:
    return Function(
        id=f["$id"],
        name=f["name"],
        runtime=f["runtime"],
        path="",
        entrypoint=f.get("entrypoint") or "",
        commands=f.get("commands") or "",
        execute=tuple(f.get("execute") or ()),
        events=tuple(f.get("events") or ()),
        schedule=f.get("schedule") or "",
        timeout=int(f.get("timeout") or 15),
        enabled=bool(f.get("enabled", True)),
        logging=bool(f.get("logging", True)),
        scopes=tuple(f.get("scopes") or ()),
        specification=f.get("specification") or f.get("buildSpecification") or None,  # 1.9.0 split it in two
    )


def variable_from_model(scope: str, v: dict[str, Any], hashes: dict[tuple[str, str], str]) -> VariableState:
    secret = bool(v.get("secret"))
    if secret:
        return VariableState(scope, v["key"], None, True, hashes.get((scope, v["key"]), ""), v["$id"])
    value = str(v.get("value") or "")
    return VariableState(scope, v["key"], value, False, hashlib.sha256(value.encode()).hexdigest(), v["$id"])
