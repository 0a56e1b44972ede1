"""tools/coverage.py: the per-service table counts what a recording server was really asked for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB
from support.server import LocalServer
from support.site import REPO

from quixotic.server import admin

TOOL = REPO / "tools" / "coverage.py"


def _row(table: str, service: str) -> tuple[int, int, int]:
    """(in the spec, implemented, exercised) of one service's row."""
    found = re.search(rf"^\| {re.escape(service)} \| (\d+) \| (\d+) \([^)]*\) \| (\d+) ", table, re.M)
    assert found, table
    spec, implemented, exercised = (int(g) for g in found.groups())
    return spec, implemented, exercised


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=REPO, check=False)


def test_exercised_is_what_the_server_was_asked_for(tmp_path: Path) -> None:
    record = tmp_path / "ops.txt"
    env = {**os.environ, "QUIXOTIC_RECORD_OPS": str(record)}
    proc, url = admin.spawn_server(tmp_path / "data", log_file=tmp_path / "server.log", env=env)
    try:
        server = LocalServer(url, tmp_path / "data", proc, tmp_path / "server.log")
        creds = server.new_project()
        client = server.client(creds.project_id, creds.api_key)
        tdb = TablesDB(client)
        tdb.create("cov", "Cov")
        tdb.get("cov")
        tdb.get("cov")  # once is enough to count
        for call in (
            lambda: tdb.create_table("nodb", "t", "T"),  # an error answer still exercises the operation
            lambda: client.call("post", "/tablesdb/cov/tables/none/rows/query", {"content-type": "application/json"}),
        ):
            try:
                call()
            except AppwriteException:
                pass
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    noted = record.read_text().splitlines()
    tables = ["tablesDBCreate", "tablesDBCreateQuery", "tablesDBCreateTable", "tablesDBGet"]
    assert sorted(noted) == ["healthGetVersion", *tables]  # and spawn_server's liveness probe

    done = _tool("--ops", str(record))
    assert done.returncode == 0, done.stderr
    spec, implemented, exercised = _row(done.stdout, "tablesDB")
    assert exercised == 4 and 4 <= implemented < spec  # createQuery is served (as listRows), so it counts
    assert _row(done.stdout, "storage")[2] == 0
    assert _row(done.stdout, "**total**")[2] == 5


def test_the_readme_table_is_replaced_between_its_markers(tmp_path: Path) -> None:
    record = tmp_path / "ops.txt"
    # an unknown ID counts nowhere; a console-spec one in its own row
    record.write_text("storageListBuckets\nnoSuchOperation\nproxyListRules\n")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- coverage:start -->\nold table\n<!-- coverage:end -->\n\nafter\n")
    done = _tool("--ops", str(record), "--readme", str(readme))
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert "old table" not in text and text.endswith("<!-- coverage:end -->\n\nafter\n")
    assert _row(text, "storage")[2] == 1 and _row(text, "**total**")[2] == 2
    spec, implemented, exercised = _row(text, "proxy (console spec)")
    assert exercised == 1 and 1 <= implemented < spec
    assert text.index("| tokens |") < text.index("(console spec)")  # the server spec's services come first

    no_markers = tmp_path / "plain.md"
    no_markers.write_text("# nothing to replace\n")
    refused = _tool("--ops", str(record), "--readme", str(no_markers))
    assert refused.returncode != 0 and "markers" in refused.stderr
    assert no_markers.read_text() == "# nothing to replace\n"
    missing = _tool("--ops", str(tmp_path / "none.txt"))
    assert missing.returncode != 0 and "no such recording" in missing.stderr
