"""The backend's unparsed row calls (AppwriteBackend.row_page / upsert_rows) against the real server, on the
oldest SDK line (15.x, this venv) and the newest (27.x, ``.sdk/toolkit-27``): the page's lines are the rows the
SDK itself lists, the bulk write's count is what was written, and errors are still the toolkit's."""

from __future__ import annotations

import json

import pytest
from support.server import LocalServer
from support.toolkit_lines import NEWEST, OLDEST, needs_newest, run_script

SCRIPT = """
import json, sys
from quixotic.errors import NotFound
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.values import Query
url, project, key = sys.argv[1:4]
backend = AppwriteBackend(url, project, key)
call("creating a database", backend.db.create, "app", "App")
call("creating a table", backend.db.create_table, "app", "notes", "Notes")
call("adding a column", backend.db.create_string_column, "app", "notes", "title", 64, False)
call("adding a column", backend.db.create_integer_column, "app", "notes", "n", False)
written = backend.upsert_rows("app", "notes", [{"$id": f"r{i}", "title": f"t {i}", "n": i} for i in range(40)])
again = backend.upsert_rows("app", "notes", [{"$id": "r0", "title": "changed", "n": 0}])
page = backend.row_page("reading", "app", "notes", [Query.order_asc("$sequence"), Query.limit(25)])
listed = call("listing", backend.db.list_rows, "app", "notes", [Query.order_asc("$sequence"), Query.limit(25)])
listed = listed if isinstance(listed, dict) else listed.to_dict()
try:
    backend.row_page("reading rows of app/nope", "app", "nope", [])
    missing = "found"
except NotFound as exc:
    missing = str(exc)
import importlib.metadata
print(json.dumps({
    "written": written, "again": again, "items": page.items, "listed": listed["rows"],
    "lines": None if page.lines is None else page.lines.decode(), "missing": missing,
    "sdk": importlib.metadata.version("appwrite"),
}))
"""


def _check(out: dict[str, object]) -> None:
    assert out["written"] == 40 and out["again"] == 1
    items = out["items"]
    assert isinstance(items, list) and len(items) == 25
    assert items == out["listed"]  # the same rows the SDK lists, as the server sent them
    assert items[0]["title"] == "changed" and items[24]["n"] == 24
    assert isinstance(out["lines"], str)
    assert [json.loads(line) for line in out["lines"].split("\n")[:-1]] == items
    assert "app/nope" in str(out["missing"])  # NotFound, translated at the boundary as ever


@pytest.mark.parametrize("python", [OLDEST, pytest.param(NEWEST, marks=needs_newest)], ids=["15.x", "27.x"])
def test_unparsed_rows_on_each_sdk_line(server: LocalServer, python: object) -> None:
    creds = server.new_project()
    out = run_script(python, SCRIPT, server.url, creds.project_id, creds.api_key)
    assert out["sdk"].startswith("27." if python == NEWEST else "15.")  # the line it claims ($sequence, models)
    _check(out)
