"""A resolved environment: the project, variables and settings as they should be, each with its source.

This is what commands consume: ``vars diff/sync`` reads :meth:`Environment.function_variables` and
:meth:`Environment.project_variables` (``{key: (value, secret)}``) and :meth:`Environment.managed_variables`;
deploy reads ``project`` and ``protection``. Secret values print as ``********`` everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from quixotic.config.environment_file import Protection
from quixotic.config.freeze_file import FeatureFreeze
from quixotic.config.jsonfile import camel_json
from quixotic.config.platforms_file import PlatformSpec
from quixotic.config.resources import ProjectSpec, project_to_cli_json
from quixotic.config.secrets import REDACTED, SecretValue, redact
from quixotic.config.variables import VarType
from quixotic.errors import ConfigError

SourceKind = Literal["default", "override", "process-env", "env-file", "derived"]


@dataclass(frozen=True)
class Source:
    """Where a value came from: the template's default, an environment file, a process variable, a ``.env`` file,
    or a variable that drives a setting."""

    kind: SourceKind
    where: str  # a file, a process variable's name, or the driving variable

    def __str__(self) -> str:
        labels = {"default": "default in", "override": "set in", "process-env": "env", "env-file": "file"}
        return f"{labels.get(self.kind, 'from')} {self.where}"


class DesiredVariable(NamedTuple):
    """``(value, secret)``: what a function or the project should have; secret values print redacted."""

    value: str
    secret: bool

    def __repr__(self) -> str:
        shown = REDACTED if self.secret else repr(self.value)
        return f"DesiredVariable(value={shown}, secret={self.secret})"


@dataclass(frozen=True)
class ResolvedVariable:
    """A declared variable's value for one environment (``value`` None: not set) and where it came from."""

    name: str
    type: VarType
    value: str | None
    secret: bool
    source: Source | None
    functions: tuple[str, ...] | None  # None: project-wide
    required: bool = False

    def __repr__(self) -> str:
        return (
            f"ResolvedVariable(name={self.name!r}, value={self.shown_value()!r}, secret={self.secret}, "
            f"source={self.source!s})"
        )

    def shown_value(self) -> str | None:
        """The value for output: ``********`` for a secret that is set."""
        if self.value is None:
            return None
        return REDACTED if self.secret else self.value


@dataclass(frozen=True)
class SettingValue:
    """A bucket or function setting this environment changes from ``appwrite.json``."""

    setting: str  # e.g. "buckets.audio.maximumFileSize"
    value: Any
    source: Source


_PROTECTION = "require_confirmation refuse_destructive backup_before_migrations backup_max_age_hours"


@dataclass(frozen=True)
class Environment:
    """Everything about one environment, validated. ``missing_secrets`` is only non-empty when loaded
    with ``require_secrets=False``: the process variables still to set."""

    name: str
    project: ProjectSpec
    endpoint: str
    protection: Protection
    variables: tuple[ResolvedVariable, ...]
    settings: tuple[SettingValue, ...]
    api_key: SecretValue | None
    api_key_var: str
    secrets_file: str
    description: str = ""
    missing_secrets: tuple[str, ...] = ()
    freeze: FeatureFreeze | None = None  # declared in the environment file; quixotic.plan.freeze enforces it
    platforms: tuple[PlatformSpec, ...] = ()  # web hostnames and app IDs allowed to call it (`up` registers local's)

    @property
    def project_id(self) -> str:
        return self.project.project_id

    @property
    def project_name(self) -> str:
        return self.project.project_name

    def variable(self, name: str) -> ResolvedVariable | None:
        return next((v for v in self.variables if v.name == name), None)

    def function_variables(self, function_id: str) -> dict[str, DesiredVariable]:
        """The variables ``function_id`` should have (only those with a value), ``{key: (value, secret)}``."""
        return {
            v.name: DesiredVariable(v.value, v.secret)
            for v in self.variables
            if v.value is not None and v.functions is not None and function_id in v.functions
        }

    def project_variables(self) -> dict[str, DesiredVariable]:
        """The project-wide variables (``"functions": "*"``) that have a value, ``{key: (value, secret)}``."""
        return {
            v.name: DesiredVariable(v.value, v.secret)
            for v in self.variables
            if v.value is not None and v.functions is None
        }

    def managed_variables(self, function_id: str | None = None) -> frozenset[str]:
        """Keys this project owns on ``function_id`` (None: the project), set or not: a live key among them
        that has no desired value should be removed; keys outside are someone else's."""
        if function_id is None:
            return frozenset(v.name for v in self.variables if v.functions is None)
        return frozenset(v.name for v in self.variables if v.functions is not None and function_id in v.functions)

    def secret_values(self) -> tuple[str, ...]:
        values = [v.value for v in self.variables if v.secret and v.value]
        if self.api_key is not None:
            values.append(self.api_key.reveal())
        return tuple(values)

    def redact(self, text: str) -> str:
        """``text`` with this environment's secret values (and API key) replaced by ``********``."""
        return redact(text, self.secret_values())

    def require_api_key(self) -> str:
        """The API key, or a :class:`ConfigError` that says which variable to set."""
        if self.api_key is None:
            raise ConfigError(
                f"environment '{self.name}' has no API key",
                [f"set {self.api_key_var} in the process environment or in {self.secrets_file}"],
            )
        return self.api_key.reveal()

    def to_cli_json(self) -> dict[str, Any]:
        """This environment's ``appwrite.json`` in the official CLI format; no variables, so no secrets."""
        return project_to_cli_json(self.project)

    def to_public_json(self) -> dict[str, Any]:
        """A JSON view for people and scripts: every value with its source, secrets as ``********``."""
        return {
            "environment": self.name,
            **camel_json(self, "description project_id project_name endpoint"),
            "apiKey": {"variable": self.api_key_var, "set": self.api_key is not None},
            "protection": camel_json(self.protection, _PROTECTION),
            "freeze": None if self.freeze is None else self.freeze.to_json(),
            "platforms": [p.to_json() for p in self.platforms],
            "variables": {
                v.name: {
                    "value": v.shown_value(),
                    "type": v.type,
                    "secret": v.secret,
                    "required": v.required,
                    "source": None if v.source is None else str(v.source),
                    "functions": "*" if v.functions is None else list(v.functions),
                }
                for v in self.variables
            },
            "settings": {s.setting: {"value": s.value, "source": str(s.source)} for s in self.settings},
            "missingSecrets": list(self.missing_secrets),
            "databases": [d.id for d in self.project.databases],
            "tables": [t.id for t in self.project.tables],
            "buckets": [b.id for b in self.project.buckets],
            "functions": [f.id for f in self.project.functions],
        }
