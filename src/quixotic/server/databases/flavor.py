"""The two faces of one database service: TablesDB (tables/columns/rows) and the legacy Databases API
(collections/attributes/documents). Both read and write the same store; a flavor only renames
fields, parameters and error types, so data written one way reads back the other way."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quixotic.errors import ApiError

if TYPE_CHECKING:
    from quixotic.server.context import Ctx


@dataclass(frozen=True)
class Flavor:
    name: str  # "tablesdb" | "legacy" (the database ``type`` it creates)
    table: str  # table | collection
    tables: str
    row: str  # row | document
    rows: str
    column: str  # column | attribute
    columns: str
    security: str  # rowSecurity | documentSecurity
    table_ref: str  # $tableId | $collectionId
    table_param: str  # tableId | collectionId
    row_param: str  # rowId | documentId
    column_param: str  # column | attribute (increment/decrement path)
    index_error: str  # column_index | index
    related_param: str  # relatedTableId | relatedCollectionId
    event_db: str  # "tablesdb" | "databases" (first segment of event names)

    def error(self, suffix: str, message: str) -> ApiError:
        """An error of this flavor's family, e.g. ``error("row_not_found")`` -> ``document_not_found``."""
        return ApiError(self.error_type(suffix), message)

    def error_type(self, generic_type: str) -> str:
        """This flavor's name of a generic ``row_*``/``table_*``/``column_*`` error type (others unchanged)."""
        for generic, mine in (
            ("row_", self.row + "_"),
            ("table_", self.table + "_"),
            ("column_index_", self.index_error + "_"),
            ("column_", self.column + "_"),
        ):
            if generic_type.startswith(generic):
                return mine + generic_type[len(generic) :]
        return generic_type

    def adapt(self, exc: ApiError) -> ApiError:
        """``exc`` renamed into this flavor's family (itself when nothing changes)."""
        kind = self.error_type(exc.type)
        if kind == exc.type:
            return exc
        return ApiError(kind, exc.message, exc.code)

    def render_table(self, doc: dict[str, Any], columns: list[Any], indexes: list[Any]) -> dict[str, Any]:
        return {
            "$id": doc["$id"],
            "$createdAt": doc["$createdAt"],
            "$updatedAt": doc["$updatedAt"],
            "$permissions": doc["$permissions"],
            "databaseId": doc["databaseId"],
            "name": doc["name"],
            "enabled": doc["enabled"],
            self.security: doc["rowSecurity"],
            self.columns: columns,
            "indexes": indexes,
            "bytesMax": 0,
            "bytesUsed": 0,
            "description": doc.get("description") or "",  # 2.5.0 (formats drops it below)
        }


TABLES = Flavor(
    name="tablesdb",
    table="table",
    tables="tables",
    row="row",
    rows="rows",
    column="column",
    columns="columns",
    security="rowSecurity",
    table_ref="$tableId",
    table_param="tableId",
    row_param="rowId",
    column_param="column",
    index_error="column_index",
    related_param="relatedTableId",
    event_db="tablesdb",
)

LEGACY = Flavor(
    name="legacy",
    table="collection",
    tables="collections",
    row="document",
    rows="documents",
    column="attribute",
    columns="attributes",
    security="documentSecurity",
    table_ref="$collectionId",
    table_param="collectionId",
    row_param="documentId",
    column_param="attribute",
    index_error="index",
    related_param="relatedCollectionId",
    event_db="databases",
)


def flavor_of(operation_id: str) -> Flavor:
    return TABLES if operation_id.startswith("tablesDB") else LEGACY


Handler = Callable[["Ctx", dict[str, Any]], Any]
FlavoredHandler = Callable[["Ctx", dict[str, Any], Flavor], Any]


def flavored(handler: FlavoredHandler) -> Handler:
    """A handler of both APIs: it gets the flavor of the API that was called, and the generic
    ``row_*``/``column_*`` errors it raises (e.g. from ``schema``) are renamed into that API's family,
    so the legacy API answers ``document_invalid_structure`` where TablesDB answers ``row_invalid_structure``."""

    @functools.wraps(handler)
    def wrapper(ctx: Ctx, params: dict[str, Any]) -> Any:
        fl = flavor_of(ctx.op.id)
        try:
            return handler(ctx, params, fl)
        except ApiError as exc:
            adapted = fl.adapt(exc)
            if adapted is exc:
                raise
            raise adapted from exc.__cause__

    return wrapper
