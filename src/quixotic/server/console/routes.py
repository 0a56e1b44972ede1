"""The console-spec routes (``data/routes-console.json``, from ``tools/gen_console_routes.py``) after the server spec's.

The server spec's table is :func:`quixotic.server.spec.route_table`; the console's operations are matched
only where it has none, so the two files can grow apart without one shadowing the other.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from quixotic.server.spec import Operation, RouteTable, route_table

_MATCHES_KEPT = 4096  # distinct (method, path) answers remembered; all are forgotten when more come
_PATH_KEPT = 512  # longer paths are matched each time, so the memory the answers take stays small


class Routes:
    """Route tables tried in order: the first that matches a request answers it.

    Clients repeat their paths (a row read again, a list polled, a file's chunks), so each answer is kept by
    method and path: the tables never change once built, and a trie walk is a few microseconds of every
    request."""

    def __init__(self, *tables: RouteTable) -> None:
        self.tables = tables
        self._matches: dict[tuple[str, str], tuple[Operation, dict[str, str]] | None] = {}

    @property
    def operations(self) -> tuple[Operation, ...]:
        """Every table's operations, in matching order (``tools/coverage.py`` counts what the server knows)."""
        return tuple(op for table in self.tables for op in table.operations)

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation and path parameters of ``method path`` (a fresh dict each time: callers may change it)."""
        if len(path) > _PATH_KEPT:
            return self._match(method, path)
        key = (method, path)
        try:
            found = self._matches[key]
        except KeyError:
            found = self._match(method, path)
            if len(self._matches) >= _MATCHES_KEPT:
                self._matches.clear()  # cheaper than evicting one by one, and the hot paths come straight back
            self._matches[key] = found
        return None if found is None else (found[0], dict(found[1]))

    def _match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for table in self.tables:
            found = table.match(method, path)
            if found is not None:
                return found
        return None


@cache
def console_table() -> RouteTable:
    text = resources.files("quixotic.server").joinpath("data/routes-console.json").read_text()
    return RouteTable(json.loads(text)["operations"])


def with_console(record_ops: str = "") -> Routes:
    """The server spec's routes, then the console's; ``record_ops`` as :meth:`RouteTable.recording` takes it."""
    return Routes(route_table().recording(record_ops), console_table().recording(record_ops))
