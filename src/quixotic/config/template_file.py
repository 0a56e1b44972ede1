"""Parsing ``templates/shared-variables.json``: every variable once, with its type and its targets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, cast

from quixotic.config.fields import (
    Field,
    Loc,
    as_list,
    as_object,
    check_keys,
    choice,
    flag,
    number,
    optional,
    read_fields,
    show,
    text,
    texts,
)
from quixotic.config.problems import Problems, did_you_mean, listing
from quixotic.config.resources import ProjectSpec
from quixotic.config.variables import VAR_TYPES, VariableSpec

NAME_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
RESERVED_NAMES: Final = ("API_KEY",)  # QUIXOTIC_<ENV>_API_KEY is the environment's API key
RESERVED_PREFIXES: Final = ("APPWRITE_", "OPEN_RUNTIMES_")  # set by the Appwrite runtime itself
DRIVABLE_SETTINGS: Final = {"buckets": ("maximumFileSize",), "functions": ("timeout",)}
PROJECT_WIDE: Final = "*"
BOUND_KEYS: Final = ("min", "max", "exclusiveMin", "exclusiveMax")

VARIABLE_FIELDS: Final[Mapping[str, Field]] = {
    "name": Field("name", text(NAME_RE, "upper-case letters, digits and '_', starting with a letter")),
    "type": Field("type", choice(VAR_TYPES)),
    "description": Field("description", text(allow_empty=False)),
    "default": Field("default", lambda v: v, None),
    "secret": Field("secret", flag, False),
    "required": Field("required", flag, False),
    "functions": Field("functions", lambda v: v),
    "values": Field("values", texts(text(allow_empty=False)), ()),
    "min": Field("min", optional(number()), None),
    "max": Field("max", optional(number()), None),
    "exclusiveMin": Field("exclusive_min", optional(number()), None),
    "exclusiveMax": Field("exclusive_max", optional(number()), None),
    "drives": Field("drives", lambda v: v, None),
}


def parse_template(data: object, file: str, project: ProjectSpec | None, problems: Problems) -> list[VariableSpec]:
    """The declared variables; problems (including references to unknown functions) go to ``problems``."""
    loc = Loc(file)
    top = as_object(data, loc, problems)
    if top is None:
        return []
    check_keys(top, loc, ("description", "variables"), problems)
    if "variables" not in top:
        problems.add(str(loc), "missing required key 'variables' (a list of variable declarations)")
    out: list[VariableSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(as_list(top.get("variables", []), loc.at("variables"), problems)):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name in seen:
            problems.add(str(loc.at("variables")), f"the variable '{name}' is declared twice")
            continue
        seen.add(str(name))
        spec = _variable(item, loc.item("variables", index, name), project, problems)
        if spec is not None:
            out.append(spec)
    return out


def _variable(item: object, loc: Loc, project: ProjectSpec | None, problems: Problems) -> VariableSpec | None:
    values = read_fields(item, loc, VARIABLE_FIELDS, problems)
    if values is None:
        return None
    before = len(problems)
    v = cast(dict[str, Any], values)
    name: str = v["name"]
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        problems.add(str(loc.at("name")), f"'{name}' is reserved; choose another name")
    v["functions"] = _targets(v["functions"], loc.at("functions"), project, problems)
    v["drives"] = _drives(v["drives"], v["type"], loc.at("drives"), project, problems)
    numeric = v["type"] in ("int", "float")
    for key, field in VARIABLE_FIELDS.items():
        bound = v[field.attr] if key in BOUND_KEYS else None
        if bound is not None and not numeric:
            problems.add(str(loc.at(key)), f"'{key}' applies only to int and float variables")
        elif bound is not None and v["type"] == "int" and not isinstance(bound, int):
            problems.add(str(loc.at(key)), f"an int variable's '{key}' must be an integer, got {show(bound)}")
    if v["type"] == "enum" and not v["values"]:
        problems.add(str(loc), "an enum variable needs 'values' (its allowed values)")
    if v["type"] != "enum" and v["values"]:
        problems.add(str(loc.at("values")), "'values' applies only to enum variables")
    if len(problems) > before:
        return None
    default = v.pop("default")
    spec = VariableSpec(**v)
    if default is not None and spec.secret:
        problems.add(
            str(loc.at("default")),
            f"a secret has no default in git; set it per environment (QUIXOTIC_<ENV>_{name}) instead",
        )
        return None
    if default is not None:
        try:
            spec = VariableSpec(**{**v, "default": spec.check(default)})
        except ValueError as exc:
            problems.add(str(loc.at("default")), str(exc))
            return None
    return spec


def _targets(value: object, loc: Loc, project: ProjectSpec | None, problems: Problems) -> tuple[str, ...] | None:
    if value == PROJECT_WIDE:
        return None
    try:
        ids = cast("tuple[str, ...]", texts()(value))
    except ValueError:
        problems.add(str(loc), f'expected "*" (the whole project) or a list of function ids, got {show(value)}')
        return ()
    if not ids:
        problems.add(str(loc), 'name at least one function, or "*" for the whole project')
    if project is not None:
        known = [f.id for f in project.functions]
        for function_id in ids:
            if function_id not in known:
                problems.add(
                    str(loc),
                    f"no function '{function_id}' in appwrite.json{did_you_mean(function_id, known)}; "
                    f"known: {listing(known)}",
                )
    return ids


def _drives(
    value: object, var_type: str, loc: Loc, project: ProjectSpec | None, problems: Problems
) -> tuple[tuple[str, int], ...]:
    """``{"buckets.audio.maximumFileSize": 1000000}``: settings this variable sets (value x factor)."""
    if value is None:
        return ()
    if var_type != "int":
        problems.add(str(loc), "only int variables can drive settings")
        return ()
    obj = as_object(value, loc, problems)
    out: list[tuple[str, int]] = []
    for setting, factor in (obj or {}).items():
        if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
            problems.add(str(loc.at(setting)), f"the factor must be a positive integer, got {show(factor)}")
            continue
        parts = setting.split(".")
        kind = parts[0] if parts else ""
        if len(parts) != 3 or kind not in DRIVABLE_SETTINGS or parts[2] not in DRIVABLE_SETTINGS[kind]:
            choices = [f"{k}.ID.{f}" for k, fs in DRIVABLE_SETTINGS.items() for f in fs]
            problems.add(str(loc), f"cannot drive '{setting}'; drivable settings: {', '.join(choices)}")
            continue
        if project is not None:
            known = [b.id for b in project.buckets] if kind == "buckets" else [f.id for f in project.functions]
            if parts[1] not in known:
                problems.add(str(loc), f"no {kind[:-1]} '{parts[1]}' in appwrite.json{did_you_mean(parts[1], known)}")
                continue
        out.append((setting, factor))
    return tuple(out)
