"""Secret values: where they come from (never git), and keeping them out of every output.

The value of secret ``NAME`` for environment ``ENV`` is the process variable ``QUIXOTIC_<ENV>_<NAME>``
(an empty value counts as unset, as CI systems expand a missing secret to ""), else the line
``QUIXOTIC_<ENV>_<NAME>=...`` of the git-ignored ``environments/.env.<env>``. The API key is ``API_KEY``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from quixotic.config.layout import env_prefix, secrets_file
from quixotic.envfile import read_env_file

REDACTED: Final = "********"


class SecretValue:
    """A secret string that never shows itself: ``repr``/``str`` print ``********``; ``reveal()`` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue('{REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every (non-empty) secret value replaced by ``********``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class SecretStore:
    """The secret values one environment can see: the process environment first, then its ``.env`` file."""

    def __init__(self, root: Path, env: str, environ: Mapping[str, str]) -> None:
        self.env = env
        self.prefix = env_prefix(env)
        self.file = secrets_file(env).as_posix()
        self._environ = {k: v for k, v in environ.items() if k.startswith(self.prefix) and v}
        self._file_values = read_env_file(root / secrets_file(env))

    def variable(self, name: str) -> str:
        """The process variable (and ``.env`` line) that holds ``name``."""
        return self.prefix + name

    def get(self, name: str) -> tuple[str, str, bool] | None:
        """``(value, where, from_process)`` for secret ``name``, or None when it is not set anywhere."""
        var = self.variable(name)
        if var in self._environ:
            return self._environ[var], var, True
        value = self._file_values.get(var)
        return (value, self.file, False) if value else None

    def file_entries(self) -> tuple[str, ...]:
        """Every name the ``.env`` file sets."""
        return tuple(self._file_values)

    def candidates(self) -> tuple[str, ...]:
        """Every name seen in either place, for "did you mean" hints."""
        return (*self._environ, *self._file_values)

    def how_to_set(self, name: str) -> str:
        return f"set {self.variable(name)} in the process environment or in {self.file}"
