"""Reading JSON objects field by field: types, ranges, unknown keys (with "did you mean"), required keys.

A ``Field`` pairs a JSON key with the attribute it fills and a check; the same fields validate
``appwrite.json`` and the environments' overrides of it, so both report the same rules. Checks raise
``ValueError`` with a message for the user; :func:`read_object` turns those into problems.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlparse

from quixotic.config.problems import Problems, did_you_mean

Check = Callable[[object], object]
TextKind = Literal["str", "bool", "int", "number", "list"]

ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")
ID_RULE: Final = "at most 36 characters: a-z, A-Z, 0-9, '.', '-' and '_', not starting with a special character"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


@dataclass(frozen=True)
class Loc:
    """A place in a file: ``appwrite.json: tables.transcriptions.columns.status``."""

    file: str
    path: str = ""

    def at(self, key: str) -> Loc:
        return Loc(self.file, f"{self.path}.{key}" if self.path else key)

    def item(self, key: str, index: int, name: object = None) -> Loc:
        """The item of list ``key``: named by its id when it has a usable one, else by its index."""
        label = name if isinstance(name, str) and name else f"[{index}]"
        sep = "." if isinstance(name, str) and name else ""
        return Loc(self.file, f"{self.path + '.' if self.path else ''}{key}{sep}{label}")

    def __str__(self) -> str:
        return f"{self.file}: {self.path}" if self.path else self.file


@dataclass(frozen=True)
class Field:
    """One JSON key of an object: the attribute it fills, its check, its default (or REQUIRED)."""

    attr: str
    check: Check
    default: object = REQUIRED
    text: TextKind = "str"  # how a ``--set KEY=VALUE`` text becomes a JSON value for this field


def show(value: object) -> str:
    """A short, quoted rendering of a user's value for messages."""
    text = repr(value) if isinstance(value, str) else _json_like(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_like(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return str(value)


# --- checks --------------------------------------------------------------------------------------


def text(pattern: re.Pattern[str] | None = None, rule: str = "", allow_empty: bool = True) -> Check:
    def check(value: object) -> object:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {show(value)}")
        if not allow_empty and not value:
            raise ValueError("must not be empty")
        if pattern is not None and not pattern.match(value):
            raise ValueError(f"{show(value)} is not valid: {rule}")
        return value

    return check


def identifier(value: object) -> object:
    return text(ID_RE, ID_RULE)(value)


def flag(value: object) -> object:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {show(value)}")
    return value


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(lo: float | None = None, hi: float | None = None, integral: bool = False) -> Check:
    def check(value: object) -> object:
        if integral and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ValueError(f"expected an integer, got {show(value)}")
        if not is_number(value):
            raise ValueError(f"expected a number, got {show(value)}")
        assert isinstance(value, int | float)
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {show(value)}")
        if lo is not None and value < lo:
            raise ValueError(f"{show(value)} is below the minimum {lo:g}")
        if hi is not None and value > hi:
            raise ValueError(f"{show(value)} is above the maximum {hi:g}")
        return value

    return check


def integer(lo: int | None = None, hi: int | None = None) -> Check:
    return number(lo, hi, integral=True)


def choice(values: Collection[str]) -> Check:
    def check(value: object) -> object:
        if not isinstance(value, str) or value not in values:
            hint = did_you_mean(value, values) if isinstance(value, str) else ""
            if len(values) > 10:
                raise ValueError(f"{show(value)} is not a known value{hint}")
            raise ValueError(f"{show(value)} is not one of: {', '.join(values)}{hint}")
        return value

    return check


def texts(item: Check | None = None, unique: bool = True) -> Check:
    """A list of strings, as a tuple; each item also passes ``item``."""

    def check(value: object) -> object:
        if not isinstance(value, list):
            raise ValueError(f"expected a list of strings, got {show(value)}")
        out: list[str] = []
        for index, entry in enumerate(value):
            if not isinstance(entry, str):
                raise ValueError(f"item {index} must be a string, got {show(entry)}")
            if item is not None:
                try:
                    item(entry)
                except ValueError as exc:
                    raise ValueError(f"item {index}: {exc}") from None
            if unique and entry in out:
                raise ValueError(f"{show(entry)} is listed twice")
            out.append(entry)
        return tuple(out)

    return check


def optional(check: Check) -> Check:
    """``null`` or what ``check`` accepts."""

    def inner(value: object) -> object:
        return None if value is None else check(value)

    return inner


def url(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"expected a URL string, got {show(value)}")
    parts = urlparse(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{show(value)} is not an http(s) URL")
    return value


_CRON_FIELD = re.compile(r"^[0-9*/,\-]+$|^[A-Za-z]{3}$")


def cron(value: object) -> object:
    """A five-field cron expression, or empty for no schedule."""
    if not isinstance(value, str):
        raise ValueError(f"expected a cron expression string, got {show(value)}")
    if value and (len(value.split()) != 5 or not all(_CRON_FIELD.match(f) for f in value.split())):
        raise ValueError(f"{show(value)} is not a cron expression of 5 fields, e.g. '*/15 * * * *'")
    return value


# --- objects -------------------------------------------------------------------------------------


def as_object(value: object, loc: Loc, problems: Problems) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    problems.add(str(loc), f"expected a JSON object, got {show(value)}")
    return None


def as_list(value: object, loc: Loc, problems: Problems) -> list[Any]:
    if isinstance(value, list):
        return value
    problems.add(str(loc), f"expected a list, got {show(value)}")
    return []


def check_keys(data: Mapping[str, Any], loc: Loc, known: Collection[str], problems: Problems) -> None:
    for key in data:
        if key not in known:
            problems.add(str(loc), f"unknown key '{key}'{did_you_mean(key, known)}")


def read_object(
    data: Mapping[str, Any],
    loc: Loc,
    fields: Mapping[str, Field],
    problems: Problems,
    *,
    also_known: Collection[str] = (),
    partial: bool = False,
    lenient: bool = False,
) -> dict[str, object] | None:
    """``{attr: value}`` from ``data`` per ``fields``; None when any field is wrong (each one reported).

    ``partial`` (overrides): absent keys are left out instead of defaulted or reported as missing.
    ``lenient``: never None; a wrong or missing field takes its default (None if it has none), so the
    caller can go on checking the rest (the problems are reported all the same).
    """
    check_keys(data, loc, [*fields, *also_known], problems)
    out: dict[str, object] = {}
    ok = True
    for key, spec in fields.items():
        if key in data:
            try:
                out[spec.attr] = spec.check(data[key])
            except ValueError as exc:
                problems.add(str(loc.at(key)), str(exc))
                ok = False
                if lenient:
                    out[spec.attr] = None if spec.default is REQUIRED else spec.default
        elif partial:
            continue
        elif spec.default is REQUIRED:
            problems.add(str(loc), f"missing required key '{key}'")
            ok = False
            if lenient:
                out[spec.attr] = None
        else:
            out[spec.attr] = spec.default
    return out if ok or lenient else None


def read_fields(value: object, loc: Loc, fields: Mapping[str, Field], problems: Problems) -> dict[str, object] | None:
    """:func:`read_object` of a value that must be a JSON object: None when it is not, or a field is wrong."""
    obj = as_object(value, loc, problems)
    return None if obj is None else read_object(obj, loc, fields, problems)


def value_from_text(kind: TextKind, raw: str) -> object:
    """The JSON value a ``--set`` text stands for, given the kind of field it sets."""
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        return raw
    if kind in ("int", "number"):
        try:
            return int(raw)
        except ValueError:
            pass
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw
