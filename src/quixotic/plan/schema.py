"""How a change to a column or an index is judged: update in place or recreate, and what it risks.

Appwrite updates a column's ``required``, ``default``, ``size``, bounds and enum elements in place, but
cannot change its ``type``, ``array``, ``format`` or ``encrypt``: those recreate the column, and its data
goes with it. Narrowing in place keeps the data but existing values may no longer fit. An index cannot
be updated at all: it is rebuilt, which loses nothing (a unique one can fail on duplicates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

from quixotic.config.resources import NUMERIC_TYPES, SIZED_TYPES, TEXT_TYPES, Column, Index
from quixotic.plan.changes import Safety
from quixotic.plan.compare import changed, describe

RECREATE_FIELDS: Final = ("type", "array", "format", "encrypt")
DEFAULT_SIZE: Final = 255  # what a sized column without ``size`` is created with
# Bounds at or past these mean "unbounded": Appwrite reports an unset bound as PHP's extreme value.
_UNBOUNDED: Final = {"integer": 2**63 - 1, "double": 1.7976931348623157e308}


@dataclass(frozen=True)
class Verdict:
    """How a column or index that exists on both sides should change."""

    action: Literal["update", "replace"]
    safety: Safety
    reason: str
    fields: tuple[str, ...]


def _bound(value: int | float | None, column_type: str, sign: int) -> float:
    """A bound as a number, with "none" as ``sign * inf``, so widening and narrowing are comparisons."""
    limit = _UNBOUNDED.get(column_type, math.inf)
    if value is None or value * sign >= limit:
        return sign * math.inf
    return value


def column_facets(column: Column) -> dict[str, Any]:
    """The settings that mean something for this column's type (as the official CLI file writes them)."""
    facets: dict[str, Any] = {"type": column.type, "array": column.array}
    if column.type == "string":
        facets["format"] = column.format
    if column.type in TEXT_TYPES:
        facets["encrypt"] = column.encrypt
    facets["required"] = column.required
    facets["default"] = column.default
    if column.type in SIZED_TYPES and not (column.type == "string" and column.format):  # a format fixes the size
        facets["size"] = DEFAULT_SIZE if column.size is None else column.size
    if column.type in NUMERIC_TYPES:
        facets["min"] = _bound(column.min, column.type, -1)
        facets["max"] = _bound(column.max, column.type, 1)
    if column.type == "string" and column.format == "enum":
        facets["elements"] = frozenset(column.elements)
    return facets


def compare_columns(live: Column, desired: Column) -> Verdict | None:
    """None when the column is as it should be."""
    before, after = column_facets(live), column_facets(desired)
    fields = changed(before, after)
    if not fields:
        return None
    # A facet only one type has (a string's format) is not a change of its own: the type change says it.
    recreate = [f for f in fields if f in RECREATE_FIELDS and f in before and f in after]
    if recreate:
        what = ", ".join(describe(f, getattr(live, f), getattr(desired, f)) for f in recreate)
        shared = tuple(f for f in fields if f in before and f in after)
        return Verdict("replace", "destructive", f"{what}: recreating drops its data", shared)
    risks: list[str] = []
    if "size" in fields and after["size"] < before["size"]:
        risks.append("size reduced")
    if "min" in fields and after["min"] > before["min"]:
        risks.append("min raised")
    if "max" in fields and after["max"] < before["max"]:
        risks.append("max lowered")
    removed = sorted(before.get("elements", frozenset()) - after.get("elements", frozenset()))
    if "elements" in fields and removed:
        risks.append(f"elements {', '.join(removed)} removed")
    if risks:
        return Verdict("update", "destructive", f"{', '.join(risks)}: existing values may not fit", fields)
    return Verdict("update", "compatible", f"updated in place ({', '.join(fields)}), no data lost", fields)


def index_facets(index: Index) -> dict[str, Any]:
    """Type, columns, and one order per column (an unset order is ascending, as Appwrite builds it)."""
    orders = tuple(
        (index.orders[i] if i < len(index.orders) and index.orders[i] else "ASC").upper()
        for i in range(len(index.columns))
    )
    return {"type": index.type, "columns": index.columns, "orders": orders}


def duplicates_risk(live: Index | None, desired: Index) -> bool:
    """Whether building ``desired`` can fail on rows that hold the same values (``live``: the index it replaces).

    A unique index over a superset of an old unique index's columns cannot meet duplicates.
    """
    if desired.type != "unique":
        return False
    return live is None or live.type != "unique" or not set(live.columns) <= set(desired.columns)


def compare_indexes(live: Index, desired: Index) -> Verdict | None:
    """None when the index is as it should be; else a rebuild."""
    before, after = index_facets(live), index_facets(desired)
    fields = changed(before, after)
    if not fields:
        return None
    what = ", ".join(describe(f, before[f], after[f]) for f in fields)
    reason = f"{what}: rebuilt, no data lost"
    if duplicates_risk(live, desired):
        reason += "; fails if existing rows hold duplicate values"
    return Verdict("replace", "compatible", reason, fields)
