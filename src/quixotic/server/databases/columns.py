"""Columns (attributes): their kinds, how a create request becomes a column definition, and how row
values are checked against the columns, as Appwrite's structure validator does.

Pure: no SQLite, no HTTP. Errors are raised in the generic ``row_*``/``column_*`` family and renamed
by the caller's flavor.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from quixotic.errors import ApiError
from quixotic.server.clock import normalize_iso
from quixotic.server.queries import Field

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT_MAX = 1.7976931348623157e308
STRING_MAX = 1_073_741_824
VARCHAR_MAX = 16381
TEXT_SIZES = {"text": 65535, "mediumtext": 16_777_215, "longtext": 4_294_967_295}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Kind:
    """A column kind as named in the create path (``/columns/{segment}``)."""

    segment: str
    type: str  # model ``type``
    format: str = ""  # model ``format`` (email, enum, url, ip, datetime)
    sized: bool = False


KINDS: dict[str, Kind] = {
    k.segment: k
    for k in (
        Kind("boolean", "boolean"),
        Kind("integer", "integer"),
        Kind("bigint", "bigint"),  # 1.9: a 64-bit integer (``integer`` is one too here: SQLite's)
        Kind("float", "double"),
        Kind("string", "string", sized=True),
        Kind("varchar", "varchar", sized=True),
        Kind("text", "text"),
        Kind("mediumtext", "mediumtext"),
        Kind("longtext", "longtext"),
        Kind("email", "string", "email"),
        Kind("enum", "string", "enum"),
        Kind("url", "string", "url"),
        Kind("ip", "string", "ip"),
        Kind("datetime", "datetime", "datetime"),
    )
}
STRINGY = {"string", "varchar", "text", "mediumtext", "longtext"}
INTEGERS = ("integer", "bigint")  # the model types of whole-number columns, checked and queried alike


def segment_of(column: Mapping[str, Any]) -> str:
    """The path segment a stored column was created with (inverse of ``KINDS``)."""
    return str(column.get("segment") or column["type"])


def query_field(column: Mapping[str, Any], fulltext: bool = False) -> Field:
    kind = column["type"]
    qtype = "string" if kind in STRINGY else "integer" if kind in INTEGERS else kind
    elements = tuple(column["elements"]) if column.get("elements") else None
    return Field(type=qtype, array=bool(column.get("array")), fulltext=fulltext, elements=elements)


def _bad(message: str) -> ApiError:
    return ApiError("general_argument_invalid", message)


def build_column(segment: str, p: Mapping[str, Any], existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stored definition of a column from create (or update, with ``existing``) parameters."""
    kind = KINDS[segment]
    col: dict[str, Any] = dict(existing) if existing else {}
    col.update({"type": kind.type, "segment": segment, "required": bool(p.get("required"))})
    if existing is None:
        col["array"] = bool(p.get("array"))
        col["key"] = p["key"]
    if existing is None or p.get("description") is not None:
        col["description"] = p.get("description") or ""
    if kind.format:
        col["format"] = kind.format
    if kind.sized:
        size = p.get("size") if p.get("size") is not None else col.get("size")
        limit = VARCHAR_MAX if segment == "varchar" else STRING_MAX
        if size is None or not 1 <= int(size) <= limit:
            raise _bad(f"Invalid `size` param: Value must be a valid range between 1 and {limit:,}")
        col["size"] = int(size)
    elif segment in TEXT_SIZES:
        col["size"] = TEXT_SIZES[segment]
    if segment in ("string", "varchar", "text", "mediumtext", "longtext") and existing is None:
        col["encrypt"] = bool(p.get("encrypt"))
    if segment == "enum":
        elements = p.get("elements") or []
        if not elements or len(elements) > 100 or any(not isinstance(e, str) or not e for e in elements):
            raise _bad("Invalid `elements` param: give 1 to 100 non-empty strings")
        col["elements"] = list(elements)
    if segment in ("integer", "bigint", "float"):
        whole = segment != "float"
        lo_default, hi_default = (INT64_MIN, INT64_MAX) if whole else (-FLOAT_MAX, FLOAT_MAX)
        lo: Any = p.get("min") if p.get("min") is not None else col.get("min", lo_default)
        hi: Any = p.get("max") if p.get("max") is not None else col.get("max", hi_default)
        if lo > hi:
            raise ApiError("column_value_invalid", f"Minimum value must be lesser than maximum value ({lo} > {hi})")
        col["min"], col["max"] = (int(lo), int(hi)) if whole else (float(lo), float(hi))
    default = p.get("default")
    if default is not None:
        if col["required"] or col["array"]:
            raise ApiError("column_default_unsupported", "Cannot set default value for required or array columns")
        col["default"] = _check_default(col, default)
    else:
        col["default"] = None
    return col


def _check_default(col: Mapping[str, Any], value: Any) -> Any:
    """A column's default, checked as Appwrite does: a value of the wrong type or format fails the
    parameter validator (``general_argument_invalid``); one out of range, outside the enum's elements
    or longer than the size is ``column_value_invalid``."""
    try:
        return check_value(col, value, col["key"])
    except InvalidValue as exc:
        if exc.problem == "range":
            raise ApiError("column_value_invalid", f"Invalid default value: {exc.why}") from None
        raise ApiError("general_argument_invalid", f"Invalid `default` param: {exc.why}") from None


class InvalidValue(ApiError):
    """A value that does not fit its column (``row_invalid_structure``).

    ``problem`` says what is wrong: ``type`` (not a string/number/...), ``format`` (not an email,
    URL, IP or date) or ``range`` (outside min/max, not an enum element, longer than the size).
    """

    def __init__(self, key: str, problem: str, why: str) -> None:
        word = "type" if problem == "type" else "format"
        super().__init__(
            "row_invalid_structure", f'Invalid document structure: Attribute "{key}" has invalid {word}. {why}'
        )
        self.problem = problem
        self.why = why


def check_value(col: Mapping[str, Any], value: Any, key: str) -> Any:
    """The stored form of one (non-null, non-array) value of ``col``; raises :class:`InvalidValue`."""
    kind, fmt = col["type"], col.get("format", "")
    lo, hi = col.get("min"), col.get("max")

    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidValue(key, "type", "Value must be a valid boolean")
        return value
    if kind in INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(key, "type", "Value must be a valid integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise InvalidValue(key, "type", "Value must be a valid integer")
            value = int(value)
        if not (INT64_MIN if lo is None else lo) <= value <= (INT64_MAX if hi is None else hi):
            raise InvalidValue(key, "range", f"Value must be a valid range between {lo} and {hi}")
        return value
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(key, "type", "Value must be a valid float")
        if isinstance(value, int) and abs(value) > FLOAT_MAX:  # float() of it would overflow
            raise InvalidValue(key, "range", f"Value must be a valid range between {lo} and {hi}")
        if not math.isfinite(value):
            raise InvalidValue(key, "type", "Value must be a valid float")
        if not (-FLOAT_MAX if lo is None else lo) <= value <= (FLOAT_MAX if hi is None else hi):
            raise InvalidValue(key, "range", f"Value must be a valid range between {lo} and {hi}")
        return float(value)
    if kind == "datetime":
        try:
            return normalize_iso(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidValue(key, "format", "Value must be a valid date in ISO 8601 format") from exc
    if not isinstance(value, str):
        raise InvalidValue(key, "type", "Value must be a valid string")
    size = col.get("size")
    if size is not None and len(value) > size:
        raise InvalidValue(key, "range", f"Value must be a valid string and no longer than {size} chars")
    if fmt == "email" and not EMAIL_RE.fullmatch(value):
        raise InvalidValue(key, "format", "Value must be a valid email address")
    if fmt == "enum" and value not in col.get("elements", []):
        raise InvalidValue(key, "range", f"Value must be one of ({', '.join(col.get('elements', []))})")
    if fmt == "url":
        parsed = urlparse(value)
        if not parsed.scheme or not parsed.netloc:
            raise InvalidValue(key, "format", "Value must be a valid URL")
    if fmt == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise InvalidValue(key, "format", "Value must be a valid IP address") from exc
    return value


def check_row(columns: Mapping[str, Mapping[str, Any]], data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validate ``data`` against ``columns`` (available ones, by key); returns the values to store.

    ``partial`` (updates) skips the required check for absent keys; full writes get defaults filled.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("$"):
            continue
        col = columns.get(key)
        if col is None:
            raise ApiError("row_invalid_structure", f'Invalid document structure: Unknown attribute: "{key}"')
        if value is None:
            if col["required"]:
                raise ApiError(
                    "row_invalid_structure", f'Invalid document structure: Missing required attribute "{key}"'
                )
            out[key] = None
        elif col.get("array"):
            if not isinstance(value, list):
                raise ApiError(
                    "row_invalid_structure",
                    f'Invalid document structure: Attribute "{key}" must be an array',
                )
            out[key] = [check_value(col, v, key) for v in value]
        else:
            out[key] = check_value(col, value, key)
    if not partial:
        for key, col in columns.items():
            if key in out:
                continue
            if col["required"]:
                raise ApiError(
                    "row_invalid_structure", f'Invalid document structure: Missing required attribute "{key}"'
                )
            out[key] = col.get("default")
    return out


def render_column(col: Mapping[str, Any]) -> dict[str, Any]:
    """The column model as Appwrite returns it (no internal fields)."""
    out = {k: v for k, v in col.items() if k not in ("segment", "$id", "$sequence", "$permissions")}
    out.setdefault("error", "")
    out.setdefault("array", False)
    out.setdefault("description", "")  # 2.5.0 (formats drops it below); columns made before have none
    return out
