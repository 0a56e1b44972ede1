"""A restore's row writes: created into a table without rows, upserted once one of them is there already."""

from __future__ import annotations

import json
from typing import Any

import pytest
from appwrite.query import Query
from backup_site import PASSPHRASE, Source

from quixotic.backup.archive import ArchiveReader
from quixotic.backup.restorer import ROW_PLACE, RowWrites
from quixotic.commands import backup as cmd
from quixotic.errors import Conflict
from quixotic.target import Target


def archived_notes(source: Source) -> list[dict[str, Any]]:
    """The archive's notes as a restore sends them (where they lived dropped)."""
    with ArchiveReader(source.archive) as reader:
        rows = list(reader.iter_ndjson("rows/app/notes.ndjson"))
    return [{k: v for k, v in r.items() if k not in ROW_PLACE} for r in rows]


def live(target: Target, row_ids: list[str]) -> dict[str, dict[str, Any]]:
    page = target.backend.row_page("reading", "app", "notes", [Query.equal("$id", row_ids), Query.limit(100)])
    return {str(r["$id"]): {k: v for k, v in r.items() if k not in ROW_PLACE} for r in page.items}


def test_a_create_that_finds_a_row_there_already_is_upserted_and_so_is_every_later_batch(source: Source) -> None:
    dst = source.fresh()
    target = source.site.target(dst)
    cmd.restore(source.archive, target, only=frozenset({"schema"}), passphrase=PASSPHRASE)
    notes = archived_notes(source)
    target.backend.db.create_row("app", "notes", notes[3]["$id"], {"title": "written meanwhile", "words": 1})

    writes = RowWrites(target.backend, "app", "notes")
    writes.create = True
    assert writes.write(notes[:10]) == 10
    assert not writes.create  # the conflict turned the table's writes into upserts
    assert writes.write(notes[10:20]) == 10
    assert live(target, [n["$id"] for n in notes[:20]]) == {n["$id"]: n for n in notes[:20]}

    # A create of rows that are all there (a batch sent again after its answer was lost) upserts them too.
    writes.create = True
    changed = {**notes[0], "title": "changed"}
    assert writes.write([changed]) == 1 and live(target, [changed["$id"]]) == {changed["$id"]: changed}


def test_a_unique_value_taken_is_still_an_error_after_the_fallback(source: Source) -> None:
    dst = source.fresh()
    target = source.site.target(dst)
    cmd.restore(source.archive, target, only=frozenset({"schema"}), passphrase=PASSPHRASE)
    target.backend.db.create_index("app", "notes", "one_title", "unique", ["title"])
    notes = archived_notes(source)
    writes = RowWrites(target.backend, "app", "notes")
    writes.create = True
    with pytest.raises(Conflict):
        writes.write([notes[0], {**notes[1], "title": notes[0]["title"]}])
    assert live(target, [notes[0]["$id"], notes[1]["$id"]]) == {}  # each batch all or nothing


def test_a_restore_into_deployed_empty_tables_and_a_merge_over_it_hold_the_archives_rows(source: Source) -> None:
    dst = source.fresh()
    target = source.site.target(dst)
    cmd.restore(source.archive, target, only=frozenset({"schema"}), passphrase=PASSPHRASE)
    report = cmd.restore(source.archive, target, mode="merge", only=frozenset({"schema", "rows"}))
    assert report.rows == sum(source.seeded.rows.values())
    notes = archived_notes(source)
    assert live(target, [n["$id"] for n in notes[:50]]) == {n["$id"]: n for n in notes[:50]}
    # Again over the rows it wrote: upserts, nothing changes.
    again = cmd.restore(source.archive, target, mode="merge", only=frozenset({"schema", "rows"}))
    assert again.rows == report.rows
    assert json.dumps(live(target, [n["$id"] for n in notes[-50:]]), sort_keys=True) == json.dumps(
        {n["$id"]: n for n in notes[-50:]}, sort_keys=True
    )
    tables = [d for d in cmd.diff_data(source.archive, target).items if d.item.startswith("table ")]
    assert len(tables) == 3 and all(d.same for d in tables), [d.describe() for d in tables]
