"""Declared variables (``templates/shared-variables.json``): their types, bounds, targets, and values.

Appwrite stores every variable as a string; a :class:`VariableSpec` checks a value against its type
and turns it into that string. Messages about a secret never include its value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from quixotic.config import fields
from quixotic.config.fields import Check, show

VarType = Literal["string", "int", "float", "bool", "url", "enum"]
VAR_TYPES: Final[tuple[str, ...]] = get_args(VarType)
Typed = str | int | float | bool


@dataclass(frozen=True)
class VariableSpec:
    """One variable, declared once: ``functions`` None means project-wide (``"*"`` in the file)."""

    name: str
    type: VarType
    description: str
    default: Typed | None = None
    secret: bool = False
    required: bool = False
    functions: tuple[str, ...] | None = None
    values: tuple[str, ...] = ()
    min: int | float | None = None
    max: int | float | None = None
    exclusive_min: int | float | None = None
    exclusive_max: int | float | None = None
    drives: tuple[tuple[str, int], ...] = ()  # (setting such as "buckets.audio.maximumFileSize", factor)

    @property
    def project_wide(self) -> bool:
        return self.functions is None

    def targets(self, function_id: str) -> bool:
        return self.functions is not None and function_id in self.functions

    def check(self, value: object) -> Typed:
        """``value`` (from JSON) as this variable's type; ``ValueError`` says why not (never echoing a secret)."""
        try:
            checked = self._checker()(value)
        except ValueError as exc:
            if self.secret:
                raise ValueError(f"the secret value is not a valid {self.type_label()}") from None
            raise ValueError(str(exc)) from None
        if self.type == "float":
            assert isinstance(checked, int | float)
            return float(checked)
        return cast(Typed, checked)

    def parse(self, text: str) -> Typed:
        """A value given as text (process environment, ``.env`` file, ``--set``), checked."""
        return self.check(_from_text(self.type, text, self.secret))

    def type_label(self) -> str:
        return {"int": "integer", "float": "number", "bool": "boolean (true/false)", "url": "http(s) URL"}.get(
            self.type, self.type
        )

    def _checker(self) -> Check:
        if self.type in ("int", "float"):
            base = fields.number(self.min, self.max, integral=self.type == "int")
            return _exclusive(base, self.exclusive_min, self.exclusive_max)
        if self.type == "bool":
            return fields.flag
        if self.type == "url":
            return fields.url
        if self.type == "enum":
            return fields.choice(self.values)
        return fields.text()


def _exclusive(base: Check, low: float | None, high: float | None) -> Check:
    def check(value: object) -> object:
        checked = base(value)
        assert isinstance(checked, int | float)
        if low is not None and checked <= low:
            raise ValueError(f"{show(checked)} must be greater than {low:g}")
        if high is not None and checked >= high:
            raise ValueError(f"{show(checked)} must be less than {high:g}")
        return checked

    return check


def _from_text(kind: str, text: str, secret: bool) -> object:
    shown = "the secret value" if secret else show(text)
    raw = text.strip()
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected an integer, got {shown}") from None
    if kind == "float":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {shown}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {shown}")
        return number
    if kind == "bool":
        lowered = raw.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"expected true or false, got {shown}")
    return text


def to_text(value: Typed) -> str:
    """The string Appwrite stores for a typed value: ``true``/``false`` for booleans, ``50.0`` for floats."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def to_json_value(spec: VariableSpec, value: Typed) -> Typed:
    """The value as it is written into an environment file (floats stay floats: ``50.0``)."""
    return float(value) if spec.type == "float" and not isinstance(value, bool) else value
