"""appwrite.json: the TablesDB and legacy forms, the checks on columns/indexes/buckets/functions, and
writing it back in the official CLI format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_files import PROJECT, write_tree

from quixotic.config import Column, Index, load_project
from quixotic.config.resources import project_to_cli_json
from quixotic.errors import ConfigError


def legacy_form() -> str:
    """PROJECT as the legacy form spells it: ``databases``, ``collections`` of ``attributes`` with
    ``documentSecurity``, and indexes on ``attributes`` with lower-case orders and the ``status`` the API adds."""
    data = json.loads(PROJECT)
    data["databases"] = data.pop("tablesDB")
    (table,) = data.pop("tables")
    data["collections"] = [
        {
            "$id": "notes", "$permissions": ['read("users")'], "databaseId": "app", "name": "Notes",
            "enabled": True, "documentSecurity": True, "attributes": table["columns"],
            "indexes": [{"key": "by_owner", "type": "key", "status": "available",
                         "attributes": ["owner", "$createdAt"], "orders": ["asc", "desc"]}],
        }
    ]  # fmt: skip
    return json.dumps(data)


LEGACY = legacy_form()


def project_problems(tmp_path: Path, text: str) -> tuple[str, ...]:
    write_tree(tmp_path, {"appwrite.json": text})
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    return info.value.problems


def test_tablesdb_form_is_read_into_typed_values(tmp_path: Path) -> None:
    project = load_project(write_tree(tmp_path, {"appwrite.json": PROJECT}))
    (table,) = project.tables
    assert (table.id, table.database_id, table.row_security, table.permissions) == (
        "notes", "app", True, ('read("users")',)
    )  # fmt: skip
    assert table.column("status") == Column("status", "string", format="enum", elements=("new", "done"), default="new")
    assert table.column("score") == Column("score", "double", min=0, default=0.0)
    assert table.indexes == (Index("by_owner", "key", ("owner", "$createdAt"), ("ASC", "DESC")),)


def test_legacy_databases_and_collections_read_the_same(tmp_path: Path) -> None:
    new = load_project(write_tree(tmp_path / "new", {"appwrite.json": PROJECT}))
    old = load_project(write_tree(tmp_path / "old", {"appwrite.json": LEGACY}))
    assert old == new


def test_written_back_in_the_cli_format_it_reads_the_same(tmp_path: Path) -> None:
    project = load_project(write_tree(tmp_path / "a", {"appwrite.json": LEGACY}))
    rendered = project_to_cli_json(project)
    assert {"tablesDB", "tables", "buckets", "functions"} <= set(rendered)
    assert "collections" not in rendered and "databases" not in rendered
    again = load_project(write_tree(tmp_path / "b", {"appwrite.json": json.dumps(rendered)}))
    assert again == project


def test_sections_quixotic_does_not_model_are_carried_through(tmp_path: Path) -> None:
    data = json.loads(PROJECT)
    data["settings"] = {"services": {"account": True}}
    data["teams"] = [{"$id": "staff", "name": "Staff"}]
    project = load_project(write_tree(tmp_path, {"appwrite.json": json.dumps(data)}))
    rendered = project_to_cli_json(project)
    assert rendered["settings"] == data["settings"] and rendered["teams"] == data["teams"]


def test_column_and_index_problems_are_collected(tmp_path: Path) -> None:
    data = json.loads(PROJECT)
    columns = data["tables"][0]["columns"]
    columns[0]["default"] = "someone"  # required + default
    columns[1]["default"] = "archived"  # not an element
    columns[2]["type"] = "doubel"  # typo
    columns.append({"key": "label", "type": "varchar", "required": False, "array": False, "default": None})
    columns.append({"key": "name", "type": "text", "required": False, "array": False, "min": 1, "default": None})
    columns.append({"key": "owner", "type": "boolean", "required": False, "array": False, "default": None})
    data["tables"][0]["indexes"] = [
        {"key": "by_status", "type": "key", "columns": ["stauts"], "orders": []},
        {"key": "search", "type": "fulltext", "columns": ["score"], "orders": []},
        {"key": "bad_order", "type": "key", "columns": ["owner"], "orders": ["UP"]},
    ]
    assert project_problems(tmp_path, json.dumps(data)) == (
        "appwrite.json: tables.notes.columns.owner.default: a required column cannot have a default; "
        "make it optional or drop the default",
        "appwrite.json: tables.notes.columns.status.default: 'archived' is not one of the elements: new, done",
        "appwrite.json: tables.notes.columns.score.type: unknown column type 'doubel' (did you mean 'double'?)",
        "appwrite.json: tables.notes.columns.label: a varchar column needs a 'size' (its maximum length in characters)",
        "appwrite.json: tables.notes.columns.name.min: 'min' applies only to integer and double columns",
        "appwrite.json: tables.notes.columns: the column 'owner' is defined twice",
        "appwrite.json: tables.notes.indexes.by_status: unknown column 'stauts' (did you mean 'status'?)",
        "appwrite.json: tables.notes.indexes.search: a fulltext index needs string columns; 'score' is doubel",
        "appwrite.json: tables.notes.indexes.bad_order.orders: item 0: 'UP' is not one of: ASC, DESC, asc, desc",
    )


def test_tables_buckets_and_functions_are_checked(tmp_path: Path) -> None:
    data = json.loads(PROJECT)
    data["tables"][0]["databaseId"] = "ap"
    data["tables"].append(dict(data["tables"][0], databaseId="app"))
    data["buckets"][0]["allowedFileExtensions"] = [".wav"]
    data["buckets"][0]["$permissions"] = ["read(everyone)"]
    worker = data["functions"][0]
    worker.update(timeout=901, scopes=["row.read"], schedule="hourly", vars=[{"key": "A", "value": "b"}])
    worker.pop("runtime")
    problems = project_problems(tmp_path, json.dumps(data))
    assert problems == (
        "appwrite.json: tables.notes.databaseId: no database 'ap' is defined (did you mean 'app'?); known: app",
        "appwrite.json: tables: the id 'notes' is defined twice (also in tables)",
        "appwrite.json: buckets.uploads.$permissions: item 0: 'read(everyone)' is not valid: a permission such as "
        'read("users") or create("user:ID")',
        "appwrite.json: buckets.uploads.allowedFileExtensions: item 0: '.wav' is not valid: letters and digits, "
        "without a dot",
        "appwrite.json: functions.worker.vars: function variables are defined once in templates/shared-variables.json "
        "(values per environment in environments/ENV.json); remove 'vars' here",
        "appwrite.json: functions.worker: missing required key 'runtime'",
        "appwrite.json: functions.worker.schedule: 'hourly' is not a cron expression of 5 fields, e.g. '*/15 * * * *'",
        "appwrite.json: functions.worker.timeout: 901 is above the maximum 900",
        "appwrite.json: functions.worker.scopes: item 0: 'row.read' is not a known value (did you mean 'rows.read'?)",
    )


def test_unknown_top_level_keys_get_a_suggestion(tmp_path: Path) -> None:
    data = json.loads(PROJECT)
    data["bucket"] = data.pop("buckets")
    assert project_problems(tmp_path, json.dumps(data)) == (
        "appwrite.json: unknown key 'bucket' (did you mean 'buckets'?)",
    )
