"""Parsing ``environments/<env>.json``: what differs per environment (project, endpoint, overrides, protection).

The overrides are kept as raw JSON here; they are checked against the template and ``appwrite.json``
when the environment is resolved (``quixotic.config.load``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from quixotic.config.fields import Field, Loc, as_object, flag, identifier, number, optional, read_object, text, url
from quixotic.config.freeze_file import FeatureFreeze, parse_freeze
from quixotic.config.platforms_file import PlatformSpec, parse_platforms
from quixotic.config.problems import Problems


@dataclass(frozen=True)
class Protection:
    """How carefully changes to this environment are made (PROD: all three)."""

    require_confirmation: bool = False  # ask before applying (or --yes in CI)
    refuse_destructive: bool = False  # destructive changes only with --allow-destructive
    backup_before_migrations: bool = False  # a verified backup before any migration runs
    backup_max_age_hours: float = 24.0  # `validate` warns when the latest verified backup is older

    def describe(self) -> str:
        parts = [
            "confirmation required" if self.require_confirmation else "",
            "destructive changes refused" if self.refuse_destructive else "",
            "backup before migrations" if self.backup_before_migrations else "",
        ]
        return ", ".join(p for p in parts if p) or "none"


PROTECTION_FIELDS: Final[Mapping[str, Field]] = {
    "requireConfirmation": Field("require_confirmation", flag, False, "bool"),
    "refuseDestructive": Field("refuse_destructive", flag, False, "bool"),
    "backupBeforeMigrations": Field("backup_before_migrations", flag, False, "bool"),
    "backupMaxAgeHours": Field("backup_max_age_hours", number(0), 24.0, "number"),
}


def endpoint(value: object) -> object:
    checked = url(value)
    if not str(checked).rstrip("/").endswith("/v1"):
        raise ValueError(f"{value!r} should end with /v1, e.g. https://cloud.appwrite.io/v1")
    return str(checked).rstrip("/")


def _object(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


ENVIRONMENT_FIELDS: Final[Mapping[str, Field]] = {
    "description": Field("description", text(), ""),
    "projectId": Field("project_id", identifier),
    "projectName": Field("project_name", optional(text(allow_empty=False)), None),
    "endpoint": Field("endpoint", endpoint),
    "variables": Field("variables", _object, {}),
    "buckets": Field("buckets", _object, {}),
    "functions": Field("functions", _object, {}),
    "protection": Field("protection", _object, {}),
    "freeze": Field("freeze", lambda value: value, None),  # checked by parse_freeze
    "platforms": Field("platforms", lambda value: value, None),  # checked by parse_platforms
}


@dataclass(frozen=True)
class EnvironmentFile:
    """One environment file, checked for shape; overrides still raw (``{id: {jsonKey: value}}``)."""

    file: str
    project_id: str
    endpoint: str
    project_name: str | None = None
    description: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)
    buckets: Mapping[str, Any] = field(default_factory=dict)
    functions: Mapping[str, Any] = field(default_factory=dict)
    protection: Protection = Protection()
    freeze: FeatureFreeze | None = None
    platforms: tuple[PlatformSpec, ...] = ()


def parse_environment_file(data: object, file: str, problems: Problems) -> EnvironmentFile | None:
    """The environment ``data`` (parsed JSON of ``file``) describes; None only when it is not an object.

    A wrong field is reported and replaced by a neutral value, so the rest can still be checked.
    """
    loc = Loc(file)
    obj = as_object(data, loc, problems)
    if obj is None:
        return None
    v = cast(dict[str, Any], read_object(obj, loc, ENVIRONMENT_FIELDS, problems, lenient=True))
    for key in ("variables", "buckets", "functions", "protection"):
        v[key] = v[key] or {}
    protection = read_object(v["protection"], loc.at("protection"), PROTECTION_FIELDS, problems, lenient=True)
    given = {k: x for k, x in cast(dict[str, Any], protection).items() if x is not None}
    v["protection"] = Protection(
        require_confirmation=bool(given.get("require_confirmation", False)),
        refuse_destructive=bool(given.get("refuse_destructive", False)),
        backup_before_migrations=bool(given.get("backup_before_migrations", False)),
        backup_max_age_hours=float(given.get("backup_max_age_hours", Protection.backup_max_age_hours)),
    )
    v["freeze"] = parse_freeze(v["freeze"], loc.at("freeze"), problems)
    v["platforms"] = parse_platforms(v["platforms"], loc.at("platforms"), problems)
    v["project_id"] = v["project_id"] or ""
    v["endpoint"] = v["endpoint"] or ""
    return EnvironmentFile(file=file, **v)
