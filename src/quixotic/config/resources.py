"""The project's resources as frozen values: databases, tables (columns, indexes), buckets, functions.

They are the desired state that ``appwrite.json`` describes, after an environment's overrides; the
plan/diff works on these values and :func:`project_to_cli_json` writes them back in the official
Appwrite CLI format (TablesDB form).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from quixotic.config.jsonfile import camel_json

Scalar = str | int | float | bool

# Column types of the Appwrite CLI file (TablesDB and legacy use the same names); ``double`` is a float.
SIZED_TYPES: Final = frozenset({"string", "varchar"})
TEXT_TYPES: Final = frozenset({"string", "varchar", "text", "mediumtext", "longtext"})
NUMERIC_TYPES: Final = frozenset({"integer", "double"})
COLUMN_TYPES: Final = (*sorted(TEXT_TYPES), "integer", "double", "boolean", "datetime")
STRING_FORMATS: Final = ("", "email", "enum", "url", "ip")
INDEX_TYPES: Final = ("key", "unique", "fulltext")
SYSTEM_COLUMNS: Final = ("$id", "$sequence", "$createdAt", "$updatedAt")


@dataclass(frozen=True)
class Database:
    id: str
    name: str
    enabled: bool = True


@dataclass(frozen=True)
class Column:
    """A column; ``format`` and ``elements`` only for ``string`` (email/enum/url/ip), ``size`` for sized types."""

    key: str
    type: str
    required: bool = False
    array: bool = False
    size: int | None = None
    default: Scalar | None = None
    min: int | float | None = None
    max: int | float | None = None
    format: str = ""
    elements: tuple[str, ...] = ()
    encrypt: bool = False


@dataclass(frozen=True)
class Index:
    key: str
    type: str
    columns: tuple[str, ...]
    orders: tuple[str, ...] = ()  # "ASC" / "DESC", at most one per column


@dataclass(frozen=True)
class Table:
    id: str
    database_id: str
    name: str
    enabled: bool = True
    row_security: bool = False
    permissions: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    indexes: tuple[Index, ...] = ()

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


@dataclass(frozen=True)
class Bucket:
    id: str
    name: str
    permissions: tuple[str, ...] = ()
    file_security: bool = False
    enabled: bool = True
    maximum_file_size: int = 30_000_000
    allowed_file_extensions: tuple[str, ...] = ()
    compression: str = "none"
    encryption: bool = True
    antivirus: bool = True


@dataclass(frozen=True)
class Function:
    id: str
    name: str
    runtime: str
    path: str
    entrypoint: str
    commands: str = ""
    execute: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    schedule: str = ""
    timeout: int = 15
    enabled: bool = True
    logging: bool = True
    scopes: tuple[str, ...] = ()
    specification: str | None = None


@dataclass(frozen=True)
class ProjectSpec:
    """Everything ``appwrite.json`` defines, for one project id.

    ``passthrough`` keeps the sections quixotic does not model (``settings``, ``teams``, ``topics``,
    ``sites``) as canonical JSON text, so a rendered file still carries them.
    """

    project_id: str
    project_name: str
    databases: tuple[Database, ...] = ()
    tables: tuple[Table, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    functions: tuple[Function, ...] = ()
    passthrough: str = "{}"
    endpoint: str | None = None

    def function(self, function_id: str) -> Function | None:
        return next((f for f in self.functions if f.id == function_id), None)

    def bucket(self, bucket_id: str) -> Bucket | None:
        return next((b for b in self.buckets if b.id == bucket_id), None)

    def table(self, table_id: str) -> Table | None:
        return next((t for t in self.tables if t.id == table_id), None)


# --- the official CLI's JSON -----------------------------------------------------------------------


def column_to_cli_json(column: Column) -> dict[str, Any]:
    out: dict[str, Any] = {"key": column.key, "type": column.type, "required": column.required, "array": column.array}
    if column.type in SIZED_TYPES and column.size is not None:
        out["size"] = column.size
    if column.type in NUMERIC_TYPES:
        if column.min is not None:
            out["min"] = column.min
        if column.max is not None:
            out["max"] = column.max
    if column.type == "string" and column.format:
        out["format"] = column.format
    if column.format == "enum":
        out["elements"] = list(column.elements)
    if column.encrypt:
        out["encrypt"] = True
    out["default"] = column.default
    return out


def table_to_cli_json(table: Table) -> dict[str, Any]:
    return {
        "$id": table.id,
        "$permissions": list(table.permissions),
        **camel_json(table, "database_id name enabled row_security"),
        "columns": [column_to_cli_json(c) for c in table.columns],
        "indexes": [
            {"key": i.key, "type": i.type, "columns": list(i.columns), "orders": list(i.orders)} for i in table.indexes
        ],
    }


def bucket_to_cli_json(bucket: Bucket) -> dict[str, Any]:
    return {
        "$id": bucket.id,
        "$permissions": list(bucket.permissions),
        **camel_json(bucket, "file_security name enabled maximum_file_size"),
        "allowedFileExtensions": list(bucket.allowed_file_extensions),
        **camel_json(bucket, "compression encryption antivirus"),
    }


def function_to_cli_json(function: Function) -> dict[str, Any]:
    out: dict[str, Any] = {
        "$id": function.id,
        **camel_json(function, "name runtime"),
        "execute": list(function.execute),
        "events": list(function.events),
        **camel_json(function, "schedule timeout enabled logging entrypoint commands"),
        "scopes": list(function.scopes),
        "path": function.path,
    }
    if function.specification is not None:
        out["specification"] = function.specification
    return out


def project_to_cli_json(project: ProjectSpec) -> dict[str, Any]:
    """The whole project as an official Appwrite CLI ``appwrite.json`` (TablesDB form)."""
    out: dict[str, Any] = {"projectId": project.project_id, "projectName": project.project_name}
    if project.endpoint is not None:
        out["endpoint"] = project.endpoint
    out.update(json.loads(project.passthrough))
    out["tablesDB"] = [{"$id": d.id, "name": d.name, "enabled": d.enabled} for d in project.databases]
    out["tables"] = [table_to_cli_json(t) for t in project.tables]
    out["buckets"] = [bucket_to_cli_json(b) for b in project.buckets]
    out["functions"] = [function_to_cli_json(f) for f in project.functions]
    return out
