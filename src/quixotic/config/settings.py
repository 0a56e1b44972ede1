"""Applying an environment's bucket and function settings to the project: explicit overrides from the
environment file, and settings driven by variables (``MAX_FILE_SIZE_MB`` -> the audio bucket's size)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final, cast

from quixotic.config.environment import SettingValue, Source
from quixotic.config.fields import Field, Loc, as_object, read_object
from quixotic.config.problems import Problems, did_you_mean, listing
from quixotic.config.project_file import BUCKET_FIELDS, FUNCTION_FIELDS
from quixotic.config.resources import Bucket, Function, ProjectSpec
from quixotic.config.variables import Typed, VariableSpec

# What an environment may change: everything but the identity of a resource and where its code lives.
OVERRIDABLE: Final[Mapping[str, Mapping[str, Field]]] = {
    "buckets": {k: f for k, f in BUCKET_FIELDS.items() if k != "$id"},
    "functions": {k: f for k, f in FUNCTION_FIELDS.items() if k not in ("$id", "path")},
}
FIXED: Final[Mapping[str, tuple[str, ...]]] = {"buckets": ("$id",), "functions": ("$id", "path")}


def apply_settings(
    project: ProjectSpec,
    overrides: Mapping[str, Mapping[str, Any]],
    specs: list[VariableSpec],
    typed: Mapping[str, Typed],
    env_file: str,
    problems: Problems,
) -> tuple[ProjectSpec, tuple[SettingValue, ...]]:
    """The project with this environment's settings, and each changed setting with its source."""
    drivers = {setting: (spec.name, factor) for spec in specs for setting, factor in spec.drives}
    applied: list[SettingValue] = []
    resources: dict[str, list[Any]] = {"buckets": list(project.buckets), "functions": list(project.functions)}
    for kind, by_id in overrides.items():
        loc = Loc(env_file, kind)
        ids = [r.id for r in resources[kind]]
        for resource_id, raw in by_id.items():
            if resource_id not in ids:
                problems.add(
                    str(loc.at(resource_id)),
                    f"no {kind[:-1]} '{resource_id}' in appwrite.json{did_you_mean(resource_id, ids)}; "
                    f"known: {listing(ids)}",
                )
                continue
            obj = as_object(raw, loc.at(resource_id), problems)
            if obj is None:
                continue
            for key in obj:
                driver = drivers.get(f"{kind}.{resource_id}.{key}")
                if key in FIXED[kind]:
                    problems.add(str(loc.at(resource_id).at(key)), f"'{key}' cannot differ between environments")
                elif driver is not None:
                    problems.add(
                        str(loc.at(resource_id).at(key)),
                        f"derived from {driver[0]} (x {driver[1]}); set variables.{driver[0]} instead",
                    )
            values = read_object(
                obj, loc.at(resource_id), OVERRIDABLE[kind], problems, partial=True, also_known=FIXED[kind]
            )
            if values is None:
                continue
            position = ids.index(resource_id)
            resources[kind][position] = dataclasses.replace(resources[kind][position], **cast(dict[str, Any], values))
            for key in obj:
                if key in OVERRIDABLE[kind]:
                    applied.append(SettingValue(f"{kind}.{resource_id}.{key}", obj[key], Source("override", env_file)))
    for setting, (name, factor) in drivers.items():
        if name not in typed:
            continue
        kind, resource_id, key = setting.split(".")
        value = int(typed[name]) * factor
        ids = [r.id for r in resources[kind]]
        if resource_id not in ids:
            continue  # reported by the template's checks
        try:
            checked = OVERRIDABLE[kind][key].check(value)
        except ValueError as exc:
            problems.add(f"environment setting {setting}", f"{name} x {factor} = {value}: {exc}")
            continue
        position = ids.index(resource_id)
        attr = OVERRIDABLE[kind][key].attr
        resources[kind][position] = dataclasses.replace(resources[kind][position], **{attr: checked})
        applied.append(SettingValue(setting, checked, Source("derived", f"{name} x {factor}")))
    project = dataclasses.replace(
        project,
        buckets=tuple(cast(list[Bucket], resources["buckets"])),
        functions=tuple(cast(list[Function], resources["functions"])),
    )
    return project, tuple(applied)
