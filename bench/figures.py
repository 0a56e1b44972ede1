"""The table a benchmark prints: one column naming each figure, then the figures, right-aligned to compare."""

from __future__ import annotations

from rich.table import Table


def figures(title: str, label: str, *values: str) -> Table:
    """A table titled ``title`` whose rows are named under ``label`` and hold one figure under each of ``values``."""
    table = Table(title=title)
    table.add_column(label)
    for value in values:
        table.add_column(value, justify="right")
    return table
