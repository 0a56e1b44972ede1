"""Parsing ``appwrite.json`` (the official Appwrite CLI format) into a :class:`ProjectSpec`.

Reads the TablesDB form (``tablesDB``, ``tables`` with ``columns`` and ``rowSecurity``) and the legacy
form (``databases``, ``collections`` with ``attributes`` and ``documentSecurity``); both become tables.
Every problem is added to the caller's :class:`Problems`; nothing is raised here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, cast

from quixotic.config.fields import (
    Field,
    Loc,
    as_list,
    as_object,
    check_keys,
    choice,
    cron,
    flag,
    identifier,
    integer,
    is_number,
    number,
    optional,
    read_fields,
    read_object,
    show,
    text,
    texts,
)
from quixotic.config.problems import Problems, did_you_mean, listing
from quixotic.config.resources import (
    COLUMN_TYPES,
    INDEX_TYPES,
    NUMERIC_TYPES,
    SIZED_TYPES,
    STRING_FORMATS,
    SYSTEM_COLUMNS,
    TEXT_TYPES,
    Bucket,
    Column,
    Database,
    Function,
    Index,
    ProjectSpec,
    Scalar,
    Table,
)

# Key scopes of Appwrite 1.8 that a function may be given.
FUNCTION_SCOPES: Final = (
    "sessions.write", "users.read", "users.write", "teams.read", "teams.write", "databases.read",
    "databases.write", "collections.read", "collections.write", "tables.read", "tables.write",
    "attributes.read", "attributes.write", "columns.read", "columns.write", "indexes.read", "indexes.write",
    "documents.read", "documents.write", "rows.read", "rows.write", "files.read", "files.write",
    "buckets.read", "buckets.write", "functions.read", "functions.write", "sites.read", "sites.write",
    "execution.read", "execution.write", "locale.read", "avatars.read", "health.read", "providers.read",
    "providers.write", "messages.read", "messages.write", "topics.read", "topics.write", "subscribers.read",
    "subscribers.write", "targets.read", "targets.write", "rules.read", "rules.write", "migrations.read",
    "migrations.write", "vcs.read", "vcs.write", "assistant.read", "tokens.read", "tokens.write",
)  # fmt: skip
PASSTHROUGH_SECTIONS: Final = ("settings", "teams", "topics", "sites")
TOP_LEVEL_KEYS: Final = (
    "projectId", "projectName", "endpoint", "tablesDB", "tables", "databases", "collections", "buckets",
    "functions", *PASSTHROUGH_SECTIONS,
)  # fmt: skip
UNSUPPORTED_COLUMN_TYPES: Final = ("relationship", "point", "linestring", "polygon")
VARCHAR_MAX: Final = 16381
STRING_MAX: Final = 1_073_741_824

_ROLE = (
    r"(any|guests|users(/(verified|unverified))?|user:[A-Za-z0-9._-]+(/(verified|unverified))?"
    r"|team:[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?|member:[A-Za-z0-9._-]+|label:[A-Za-z0-9]+)"
)
ROLE_RE: Final = re.compile(f"^{_ROLE}$")
PERMISSION_RE: Final = re.compile(rf'^(read|create|update|delete|write)\("{_ROLE}"\)$')
EVENT_RE: Final = re.compile(r"^[a-z]+(\.[A-Za-z0-9_*-]+)+$")
RUNTIME_RE: Final = re.compile(r"^[a-z][a-z0-9]*(-[0-9][0-9.]*)?$")
SPECIFICATION_RE: Final = re.compile(r"^s-[0-9.]+vcpu-[0-9]+(mb|gb)$")
EXTENSION_RE: Final = re.compile(r"^[A-Za-z0-9]+$")
EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

role = text(ROLE_RE, "a role such as any, users, guests, user:ID, team:ID, label:NAME")
permission = text(PERMISSION_RE, 'a permission such as read("users") or create("user:ID")')
name = text(allow_empty=False)

DATABASE_FIELDS: Final[Mapping[str, Field]] = {
    "$id": Field("id", identifier),
    "name": Field("name", name),
    "enabled": Field("enabled", flag, True, "bool"),
}
BUCKET_FIELDS: Final[Mapping[str, Field]] = {
    "$id": Field("id", identifier),
    "$permissions": Field("permissions", texts(permission), (), "list"),
    "fileSecurity": Field("file_security", flag, False, "bool"),
    "name": Field("name", name),
    "enabled": Field("enabled", flag, True, "bool"),
    "maximumFileSize": Field("maximum_file_size", integer(1), 30_000_000, "int"),
    "allowedFileExtensions": Field(
        "allowed_file_extensions", texts(text(EXTENSION_RE, "letters and digits, without a dot")), (), "list"
    ),
    "compression": Field("compression", choice(("none", "gzip", "zstd")), "none"),
    "encryption": Field("encryption", flag, True, "bool"),
    "antivirus": Field("antivirus", flag, True, "bool"),
}
FUNCTION_FIELDS: Final[Mapping[str, Field]] = {
    "$id": Field("id", identifier),
    "name": Field("name", name),
    "runtime": Field("runtime", text(RUNTIME_RE, "a runtime such as python-3.11")),
    "path": Field("path", name),
    "entrypoint": Field("entrypoint", name),
    "commands": Field("commands", text(), ""),
    "execute": Field("execute", texts(role), (), "list"),
    "events": Field("events", texts(text(EVENT_RE, "an event such as users.*.create")), (), "list"),
    "schedule": Field("schedule", cron, ""),
    "timeout": Field("timeout", integer(1, 900), 15, "int"),
    "enabled": Field("enabled", flag, True, "bool"),
    "logging": Field("logging", flag, True, "bool"),
    "scopes": Field("scopes", texts(choice(FUNCTION_SCOPES)), (), "list"),
    "specification": Field("specification", optional(text(SPECIFICATION_RE, "a size such as s-1vcpu-512mb")), None),
}
COLUMN_FIELDS: Final[Mapping[str, Field]] = {
    "key": Field("key", identifier),
    "type": Field("type", text(allow_empty=False)),
    "required": Field("required", flag, False),
    "array": Field("array", flag, False),
    "size": Field("size", optional(integer(1, STRING_MAX)), None),
    "default": Field("default", lambda v: v, None),
    "min": Field("min", optional(number()), None),
    "max": Field("max", optional(number()), None),
    "format": Field("format", optional(text()), None),
    "elements": Field("elements", optional(texts(text(allow_empty=False))), None),
    "encrypt": Field("encrypt", flag, False),
}
RELATIONSHIP_KEYS: Final = (
    "relatedTable", "relatedCollection", "relationType", "twoWay", "twoWayKey", "onDelete", "side",
)  # fmt: skip


def parse_project(data: object, file: str, problems: Problems) -> ProjectSpec | None:
    """The project ``data`` (parsed JSON of ``file``) defines; None when it has problems (all reported)."""
    loc = Loc(file)
    top = as_object(data, loc, problems)
    if top is None:
        return None
    before = len(problems)
    check_keys(top, loc, TOP_LEVEL_KEYS, problems)
    head = read_object(
        top,
        loc,
        {
            "projectId": Field("project_id", identifier),
            "projectName": Field("project_name", name, None),
            "endpoint": Field("endpoint", optional(text()), None),
        },
        problems,
        also_known=TOP_LEVEL_KEYS,
    )
    databases = _databases(top, loc, problems)
    tables = _tables(top, loc, problems, {d.id for d in databases})
    buckets = _each(top, "buckets", loc, problems, _bucket, {})
    functions = _each(top, "functions", loc, problems, _function, {})
    passthrough = {k: top[k] for k in PASSTHROUGH_SECTIONS if k in top}
    if head is None or len(problems) > before:
        return None
    project_id = cast(str, head["project_id"])
    return ProjectSpec(
        project_id=project_id,
        project_name=cast("str | None", head["project_name"]) or project_id,
        databases=tuple(databases),
        tables=tuple(tables),
        buckets=tuple(buckets),
        functions=tuple(functions),
        passthrough=json.dumps(passthrough, sort_keys=True),
        endpoint=cast("str | None", head["endpoint"]),
    )


def _each(
    top: Mapping[str, Any], key: str, loc: Loc, problems: Problems, parse: Any, seen: dict[str, str]
) -> list[Any]:
    """Parse every item of list ``top[key]`` with ``parse(item, item_loc, problems)``; keep the good ones.

    ``seen`` (id -> section) spans the sections that share ids (``tablesDB``/``databases``), so an id
    defined twice is reported even when one of the two is invalid.
    """
    out = []
    for index, item in enumerate(as_list(top.get(key, []), loc.at(key), problems)):
        item_id = item.get("$id") if isinstance(item, dict) else None
        if isinstance(item_id, str):
            if item_id in seen:
                problems.add(str(loc.at(key)), f"the id '{item_id}' is defined twice (also in {seen[item_id]})")
            seen[item_id] = key
        parsed = parse(item, loc.item(key, index, item_id), problems)
        if parsed is not None:
            out.append(parsed)
    return out


def _databases(top: Mapping[str, Any], loc: Loc, problems: Problems) -> list[Database]:
    def parse(item: object, item_loc: Loc, problems: Problems) -> Database | None:
        values = read_fields(item, item_loc, DATABASE_FIELDS, problems)
        return None if values is None else Database(**cast(dict[str, Any], values))

    seen: dict[str, str] = {}
    return _each(top, "tablesDB", loc, problems, parse, seen) + _each(top, "databases", loc, problems, parse, seen)


def _tables(top: Mapping[str, Any], loc: Loc, problems: Problems, database_ids: set[str]) -> list[Table]:
    def parse_table(item: object, item_loc: Loc, problems: Problems) -> Table | None:
        return _table(item, item_loc, problems, database_ids, legacy=False)

    def parse_collection(item: object, item_loc: Loc, problems: Problems) -> Table | None:
        return _table(item, item_loc, problems, database_ids, legacy=True)

    seen: dict[str, str] = {}
    found = _each(top, "tables", loc, problems, parse_table, seen)
    return found + _each(top, "collections", loc, problems, parse_collection, seen)


def _table(item: object, loc: Loc, problems: Problems, database_ids: set[str], legacy: bool) -> Table | None:
    obj = as_object(item, loc, problems)
    if obj is None:
        return None
    security, columns_key = ("documentSecurity", "attributes") if legacy else ("rowSecurity", "columns")
    fields = {
        "$id": Field("id", identifier),
        "$permissions": Field("permissions", texts(permission), ()),
        "databaseId": Field("database_id", identifier),
        "name": Field("name", name),
        "enabled": Field("enabled", flag, True),
        security: Field("row_security", flag, False),
    }
    before = len(problems)
    values = read_object(obj, loc, fields, problems, also_known=(columns_key, "indexes"))
    if values is not None and values["database_id"] not in database_ids:
        database_id = cast(str, values["database_id"])
        problems.add(
            str(loc.at("databaseId")),
            f"no database '{database_id}' is defined{did_you_mean(database_id, database_ids)}; "
            f"known: {listing(sorted(database_ids))}",
        )
    columns: list[Column] = []
    column_types: dict[str, str] = {}
    for index, raw in enumerate(as_list(obj.get(columns_key, []), loc.at(columns_key), problems)):
        key = raw.get("key") if isinstance(raw, dict) else None
        if isinstance(key, str):
            if key in column_types:
                problems.add(str(loc.at(columns_key)), f"the column '{key}' is defined twice")
            column_types[key] = str(raw.get("type"))
        column = _column(raw, loc.item(columns_key, index, key), problems)
        if column is not None:
            columns.append(column)
    indexes = _indexes(obj, loc, problems, column_types, legacy)
    if values is None or len(problems) > before:
        return None
    return Table(columns=tuple(columns), indexes=tuple(indexes), **cast(dict[str, Any], values))


def _column(raw: object, loc: Loc, problems: Problems) -> Column | None:
    obj = as_object(raw, loc, problems)
    if obj is None:
        return None
    kind = obj.get("type")
    if kind in UNSUPPORTED_COLUMN_TYPES:
        problems.add(str(loc.at("type")), f"{kind} columns are not supported by quixotic yet")
        return None
    if isinstance(kind, str) and kind not in COLUMN_TYPES and kind != "float":
        problems.add(str(loc.at("type")), f"unknown column type '{kind}'{did_you_mean(kind, COLUMN_TYPES)}")
        return None
    before = len(problems)
    values = read_object(obj, loc, COLUMN_FIELDS, problems, also_known=RELATIONSHIP_KEYS)
    if values is None:
        return None
    col = cast(dict[str, Any], values)
    if col["type"] == "float":  # the SDK's name; the CLI file and the API model say double
        col["type"] = "double"
    _check_column_shape(col, loc, problems)
    if len(problems) > before:
        return None
    col["elements"] = col["elements"] or ()
    col["format"] = col["format"] if col["type"] == "string" and col["format"] else ""
    column = Column(**col)
    _check_default(column, loc, problems)
    return column if len(problems) == before else None


def _check_column_shape(col: dict[str, Any], loc: Loc, problems: Problems) -> None:
    """The keys that only some column types take: size, min/max, format, elements, encrypt."""
    kind, fmt = col["type"], col["format"] or ""
    if kind in SIZED_TYPES and not fmt and col["size"] is None:
        problems.add(str(loc), f"a {kind} column needs a 'size' (its maximum length in characters)")
    if kind == "varchar" and col["size"] is not None and col["size"] > VARCHAR_MAX:
        problems.add(str(loc.at("size")), f"a varchar holds at most {VARCHAR_MAX} characters; use text or longtext")
    if kind not in SIZED_TYPES and col["size"] is not None:
        problems.add(str(loc.at("size")), "'size' applies only to string and varchar columns")
    for bound in ("min", "max"):
        value = col[bound]
        if value is not None and kind not in NUMERIC_TYPES:
            problems.add(str(loc.at(bound)), f"'{bound}' applies only to integer and double columns")
        elif value is not None and kind == "integer" and not isinstance(value, int):
            problems.add(str(loc.at(bound)), f"an integer column's '{bound}' must be an integer, got {show(value)}")
    if col["min"] is not None and col["max"] is not None and col["min"] > col["max"]:
        problems.add(str(loc), f"'min' ({col['min']:g}) is greater than 'max' ({col['max']:g})")
    if kind == "string" and fmt not in STRING_FORMATS:
        problems.add(str(loc.at("format")), f"unknown format {show(fmt)}; one of: {', '.join(STRING_FORMATS[1:])}")
    elif kind == "datetime" and fmt not in ("", "datetime"):
        problems.add(str(loc.at("format")), "a datetime column takes no format")
    elif kind not in ("string", "datetime") and fmt:
        problems.add(str(loc.at("format")), "'format' applies only to string columns (email, enum, url, ip)")
    if fmt == "enum" and not col["elements"]:
        problems.add(str(loc), "an enum column needs 'elements' (its allowed values)")
    if fmt != "enum" and col["elements"]:
        problems.add(str(loc.at("elements")), "'elements' applies only to enum columns (format 'enum')")
    if col["encrypt"] and kind not in TEXT_TYPES:
        problems.add(str(loc.at("encrypt")), "only string columns can be encrypted")


def _check_default(column: Column, loc: Loc, problems: Problems) -> None:
    value = column.default
    if value is None:
        return
    where = str(loc.at("default"))
    if column.required:
        problems.add(where, "a required column cannot have a default; make it optional or drop the default")
        return
    if column.array:
        problems.add(where, "an array column cannot have a default")
        return
    problem = _default_problem(column, value)
    if problem:
        problems.add(where, problem)


def _default_problem(column: Column, value: Scalar) -> str | None:
    kind = column.type
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            return f"expected a string default, got {show(value)}"
        if column.size is not None and len(value) > column.size:
            return f"the default is longer than the column's size {column.size}"
        if column.format == "enum" and value not in column.elements:
            return f"{show(value)} is not one of the elements: {', '.join(column.elements)}"
        if column.format == "email" and not EMAIL_RE.match(value):
            return f"{show(value)} is not an email address"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, got {show(value)}"
    if kind == "datetime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00") if isinstance(value, str) else "")
        except ValueError:
            return f"expected an ISO 8601 date and time, got {show(value)}"
        return None
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"expected an integer default, got {show(value)}"
    if not is_number(value):
        return f"expected a number default, got {show(value)}"
    assert isinstance(value, int | float)
    if column.min is not None and value < column.min:
        return f"the default {value:g} is below the column's min {column.min:g}"
    if column.max is not None and value > column.max:
        return f"the default {value:g} is above the column's max {column.max:g}"
    return None


def _indexes(
    obj: Mapping[str, Any], loc: Loc, problems: Problems, column_types: Mapping[str, str], legacy: bool
) -> list[Index]:
    columns_key = "attributes" if legacy else "columns"
    fields = {
        "key": Field("key", identifier),
        "type": Field("type", choice(INDEX_TYPES)),
        columns_key: Field("columns", texts(), None),
        "orders": Field("orders", texts(choice(("ASC", "DESC", "asc", "desc")), unique=False), ()),
        "status": Field("status", text(), None),
    }
    out: list[Index] = []
    keys: set[str] = set()
    for position, raw in enumerate(as_list(obj.get("indexes", []), loc.at("indexes"), problems)):
        key = raw.get("key") if isinstance(raw, dict) else None
        item_loc = loc.item("indexes", position, key)
        values = read_fields(raw, item_loc, fields, problems)
        if values is None:
            continue
        index = Index(
            key=cast(str, values["key"]),
            type=cast(str, values["type"]),
            columns=cast("tuple[str, ...]", values["columns"] or ()),
            orders=tuple(o.upper() for o in cast("tuple[str, ...]", values["orders"])),
        )
        if index.key in keys:
            problems.add(str(loc.at("indexes")), f"the index '{index.key}' is defined twice")
        keys.add(index.key)
        if _index_ok(index, item_loc, problems, column_types):
            out.append(index)
    return out


def _index_ok(index: Index, loc: Loc, problems: Problems, column_types: Mapping[str, str]) -> bool:
    before = len(problems)
    if not index.columns:
        problems.add(str(loc), "an index needs at least one column")
    if len(index.orders) > len(index.columns):
        problems.add(str(loc.at("orders")), "give at most one order per column")
    for column in index.columns:
        if column in SYSTEM_COLUMNS:
            continue
        if column not in column_types:
            known = [*column_types, *SYSTEM_COLUMNS]
            problems.add(str(loc), f"unknown column '{column}'{did_you_mean(column, known)}")
        elif index.type == "fulltext" and column_types[column] not in TEXT_TYPES:
            problems.add(str(loc), f"a fulltext index needs string columns; '{column}' is {column_types[column]}")
    return len(problems) == before


def _bucket(item: object, loc: Loc, problems: Problems) -> Bucket | None:
    values = read_fields(item, loc, BUCKET_FIELDS, problems)
    return None if values is None else Bucket(**cast(dict[str, Any], values))


def _function(item: object, loc: Loc, problems: Problems) -> Function | None:
    obj = as_object(item, loc, problems)
    if obj is None:
        return None
    if "vars" in obj:
        problems.add(
            str(loc.at("vars")),
            "function variables are defined once in templates/shared-variables.json (values per environment "
            "in environments/ENV.json); remove 'vars' here",
        )
    values = read_object(obj, loc, FUNCTION_FIELDS, problems, also_known=("vars",))
    return None if values is None else Function(**cast(dict[str, Any], values))
