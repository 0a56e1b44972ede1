"""Finding and importing migration files: every bad file is reported, together, before anything runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from quixotic.commands import migrate as cmd
from quixotic.errors import MigrationError
from quixotic.migrations import files

GOOD = '"""Does a thing."""\n\n\ndef up(ctx):\n    pass\n\n\ndef down(ctx):\n    pass\n'
ONE_WAY = '"""Cannot go back."""\n\nIRREVERSIBLE = "it drops data"\n\n\ndef up(ctx):\n    pass\n'


def folder(tmp_path: Path, contents: dict[str, str]) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    for name, text in contents.items():
        (d / name).write_text(text)
    return d


def test_discovers_ids_checksums_descriptions_and_reversibility(tmp_path: Path) -> None:
    d = folder(tmp_path, {"0001_first.py": GOOD, "0002_one_way.py": ONE_WAY, "_helpers.py": "X = 1\n"})
    migrations, problems = files.discover(d)
    assert problems == []
    first, second = migrations
    assert (first.id, first.slug, first.description, first.has_down) == ("0001", "first", "Does a thing.", True)
    assert first.checksum == hashlib.sha256(GOOD.encode()).hexdigest()
    assert (second.has_down, second.irreversible_reason) == (False, "it drops data")
    assert callable(first.up) and callable(first.down) and second.down is None


def test_a_migration_may_import_a_helper_beside_it(tmp_path: Path) -> None:
    text = '"""Uses a helper."""\nfrom _shared import VALUE\n\n\ndef up(ctx):\n    return VALUE\n'
    d = folder(tmp_path, {"0001_uses_helper.py": text, "_shared.py": "VALUE = 42\n"})
    (migration,) = files.require(d)
    assert migration.up is not None and migration.up(None) == 42  # type: ignore[func-returns-value]


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    d = folder(
        tmp_path,
        {
            "0001_ok.py": GOOD,
            "0002_syntax.py": "def up(ctx):\n    return (\n",
            "0003_raises.py": '"""x"""\nimport os\n\nraise RuntimeError("no config")\n',
            "0004_no_up.py": '"""x"""\n\n\ndef down(ctx):\n    pass\n',
            "0005_both.py": GOOD + 'IRREVERSIBLE = "but it has down"\n',
            "0006_exits.py": "import sys\nsys.exit(3)\n",
            "0006_twin.py": GOOD,
            "0009_after_gap.py": GOOD,
            "08_badname.py": GOOD,
        },
    )
    with pytest.raises(MigrationError) as err:
        files.require(d)
    problems = "\n".join(err.value.problems)
    assert "0002_syntax.py does not import: syntax error at line" in problems
    assert "0003_raises.py does not import at line 4: RuntimeError: no config" in problems
    assert "0004_no_up.py: defines no up(ctx) function" in problems
    assert "0005_both.py: defines down() and IRREVERSIBLE; keep one" in problems
    assert "0006_exits.py does not import" in problems and "SystemExit" in problems
    assert "0006 is used by 2 files" in problems
    assert "a gap: 0007 to 0008 missing before 0009_after_gap.py" in problems
    assert "08_badname.py: not a migration name" in problems
    assert len(err.value.problems) == 8


def test_no_folder_means_no_migrations(tmp_path: Path) -> None:
    assert files.discover(tmp_path / "nope") == ([], [])


def test_new_numbers_the_next_file_and_refuses_bad_slugs(tmp_path: Path) -> None:
    first = cmd.new(tmp_path, "create_things")
    assert first.name == "0001_create_things.py"
    second = cmd.new(tmp_path, "fill_things", "Fill the things from the old column.")
    assert second.name == "0002_fill_things.py"
    assert second.read_text().startswith('"""Fill the things from the old column."""')
    migrations = files.require(tmp_path / "migrations")
    assert [m.name for m in migrations] == ["0001_create_things", "0002_fill_things"]
    for bad in ("Add-Thing", "add thing", "", "x__y"):
        with pytest.raises(MigrationError, match="bad slug"):
            cmd.new(tmp_path, bad)
    (tmp_path / "migrations" / "0002_dupe.py").write_text(GOOD)
    with pytest.raises(MigrationError, match="fix the migrations"):
        cmd.new(tmp_path, "third")
