"""Reading a JSON configuration file and reporting what is wrong with it precisely (file, line, column)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quixotic.config.problems import Problems


def read_json(root: Path, relative: Path, problems: Problems, missing: str = "file not found") -> Any | None:
    """The parsed contents of ``root/relative``, or None after adding a problem.

    Duplicate keys in an object are reported too: JSON silently keeps the last one, which hides edits.
    """
    label = relative.as_posix()
    try:
        text = (root / relative).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add(label, missing)
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(label, f"cannot be read: {exc}")
        return None
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        problems.add(label, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        return None
    for key in duplicates:
        problems.add(label, f"the key '{key}' appears twice in one object; keep one")
    return data


def dump_json(data: Any) -> str:
    """The project's JSON style: two-space indent, key order kept, non-ASCII as is, final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def camel_json(obj: object, names: str) -> dict[str, Any]:
    """``obj``'s attributes ``names`` (space-separated) under their camelCase keys (``project_id`` ->
    ``projectId``), in order: the JSON views name values as Appwrite does, each plain one once, not twice."""
    return {_camel(name): getattr(obj, name) for name in names.split()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
