"""Filling a text template: ``<<name>>`` placeholders, every one given, none left over.

Plain text rather than a YAML or Dart emitter, so the files read as a person would write them (comments,
order, quoting) and the templates are reviewable as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Final

_PLACEHOLDER: Final = re.compile(r"<<([A-Za-z_]+)>>")
KEEP: Final = frozenset({"stamp"})  # filled later, by quixotic.ci.stamp


def template(name: str) -> str:
    """The text of ``templates/<name>`` (package data)."""
    return resources.files("quixotic.ci").joinpath("templates", *name.split("/")).read_text(encoding="utf-8")


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``<<name>>`` replaced by ``values[name]``; a name without a value is a bug."""

    def one(found: re.Match[str]) -> str:
        name = found.group(1)
        if name in KEEP:
            return found.group(0)
        if name not in values:
            raise KeyError(f"template placeholder <<{name}>> has no value")
        return values[name]

    return _PLACEHOLDER.sub(one, text)
