"""The archive writer and reader, sealing and anonymizing, without a server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quixotic.backup.anonymize import Anonymizer
from quixotic.backup.archive import ArchiveReader, ArchiveWriter, check_archive, remove_stale_partials
from quixotic.backup.secrets import Sealer
from quixotic.errors import BackupError

MANIFEST = {"format": "quixotic-backup", "formatVersion": 1}


def test_a_finished_archive_reads_back_and_a_failed_one_leaves_nothing(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path / "ok.zip") as writer:
        with writer.part("rows/db/t.ndjson") as out:
            out.write_line({"$id": "a", "n": 1})
            out.write_block(b'{"$id":"b"}\n{"$id":"c"}\n', 2)
        writer.write_bytes("files/b/f", b"\x00" * 10)
        writer.write_json("schema.json", {"tables": []})
        path = writer.finish(MANIFEST)
    assert [p.name for p in tmp_path.iterdir()] == ["ok.zip"]
    with ArchiveReader(path) as reader:
        assert [r["$id"] for r in reader.iter_ndjson("rows/db/t.ndjson")] == ["a", "b", "c"]
        assert reader.parts["rows/db/t.ndjson"].items == 3 and reader.read_bytes("files/b/f") == b"\x00" * 10
    assert check_archive(path).ok

    with pytest.raises(RuntimeError), ArchiveWriter(tmp_path / "failed.zip") as writer:
        writer.write_bytes("files/b/f", b"x")
        raise RuntimeError("the server went away")
    assert [p.name for p in tmp_path.iterdir()] == ["ok.zip"]


def test_a_dead_backups_partial_file_is_removed_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    dead = tmp_path / ".x.zip.999999999.partial"
    live = tmp_path / f".y.zip.{os.getpid()}.partial"
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    assert remove_stale_partials(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


def test_a_part_written_whole_refuses_more_data_and_names_are_checked(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path / "a.zip") as writer:
        with pytest.raises(BackupError), writer.part("files/b/f", compress=False) as out:
            out.write_whole(b"abc", "0" * 64)
            out.write(b"more")
        with pytest.raises(BackupError, match="invalid"):
            writer.write_bytes("../escape", b"x")
        writer.abort()


def test_sealed_values_open_only_with_the_passphrase_and_for_their_own_variable() -> None:
    sealer = Sealer.new("passphrase")
    settings = sealer.settings()
    box = sealer.seal("s3cret", "hello/API_TOKEN")
    again = Sealer.from_settings(settings, "passphrase")
    assert again.open(box, "hello/API_TOKEN") == "s3cret"
    with pytest.raises(BackupError, match="does not open"):
        again.open(box, "hello/OTHER")  # moved to another variable
    with pytest.raises(BackupError, match="wrong passphrase"):
        Sealer.from_settings(settings, "not it")
    tampered = dict(box, ciphertext=box["ciphertext"][:-4] + "AAAA")
    with pytest.raises(BackupError):
        again.open(tampered, "hello/API_TOKEN")
    assert "s3cret" not in str(settings) + str(box)


def test_anonymization_is_deterministic_and_keyed_by_project() -> None:
    a, b, other = Anonymizer("p1"), Anonymizer("p1"), Anonymizer("p2")
    assert a.email("Ada@Example.com") == b.email("ada@example.com") != other.email("ada@example.com")
    assert a.email("ada@example.com").endswith("@example.com") and "ada" not in a.email("ada@example.com")
    assert a.name("Ada Lovelace") == b.name("Ada Lovelace") and "Ada" not in a.name("Ada Lovelace")
    user = a.user({"$id": "u1", "email": "ada@example.com", "name": "Ada", "phone": "+1555", "password": "h"})
    assert user["phone"] == "" and user["password"] is None and user["$id"] == "u1"
