"""Column (legacy: attribute) specs for ``create_table(columns=...)`` and ``create_collection(attributes=...)``."""

from __future__ import annotations

from typing import Any


def column(key: str, type_: str = "integer", *, required: bool = False, **settings: Any) -> dict[str, Any]:
    """One inline column: optional unless ``required``; ``settings`` adds ``size``, ``min``, ``array``, …"""
    return {"key": key, "type": type_, "required": required, **settings}
