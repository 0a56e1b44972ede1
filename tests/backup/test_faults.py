"""Bad archives, missing scopes, kills and files that change under a backup: refused or survived, never silent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
from appwrite.input_file import InputFile
from appwrite.query import Query
from backup_site import PASSPHRASE, Source
from support.sdk import wait_for

from quixotic.backup.archive import MANIFEST, manifest_digest
from quixotic.backup.live import FileGone, download_file, files_of
from quixotic.commands import backup as cmd
from quixotic.errors import BackupError
from quixotic.server import admin

ALL_READ = "databases.read,tables.read,rows.read,buckets.read,files.read,users.read,functions.read"


def copy(source: Source, tmp_path: Path) -> Path:
    path = tmp_path / "copy.zip"
    shutil.copyfile(source.archive, path)
    return path


def flip_byte_inside(path: Path, part: str) -> None:
    """Change one byte in the middle of ``part``'s stored data (not in any zip header)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(part)
    with path.open("r+b") as handle:
        handle.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(handle.read(2), "little"), int.from_bytes(handle.read(2), "little")
        at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0x01]))


def rewrite_manifest(path: Path, change: dict[str, object], *, fix_digest: bool) -> None:
    with zipfile.ZipFile(path) as old:
        parts = {i.filename: old.read(i.filename) for i in old.infolist()}
    manifest = json.loads(parts[MANIFEST])
    manifest.update(change)
    if fix_digest:
        manifest["digest"] = manifest_digest(manifest)
    parts[MANIFEST] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as new:
        for name, data in parts.items():
            new.writestr(name, data)


def nothing_written(source: Source, env: str) -> bool:
    return int(source.site.target(env).backend.db.list([Query.limit(1)])["total"]) == 0


@pytest.mark.parametrize("part", ["rows/app/notes.ndjson", "files/uploads/f2", "functions/hello.tar.gz"])
def test_one_changed_byte_is_found_and_named_and_restore_refuses(source: Source, tmp_path: Path, part: str) -> None:
    path = copy(source, tmp_path)
    flip_byte_inside(path, part)
    with pytest.raises(BackupError) as err:
        cmd.verify(path)
    assert f"part {part}:" in err.value.message
    assert err.value.message.count("part ") == 1  # only that part
    dst = source.fresh()
    with pytest.raises(BackupError, match=f"(?s)refusing to restore.*part {part}"):
        cmd.restore(path, source.site.target(dst), passphrase=PASSPHRASE)
    assert nothing_written(source, dst)


def test_a_truncated_archive_is_refused(source: Source, tmp_path: Path) -> None:
    path = copy(source, tmp_path)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    with pytest.raises(BackupError, match="truncated"):
        cmd.verify(path)
    dst = source.fresh()
    with pytest.raises(BackupError, match="truncated"):
        cmd.restore(path, source.site.target(dst))
    assert nothing_written(source, dst)
    listed = cmd.list_backups(tmp_path)
    assert [b.problem != "" for b in listed] == [True]


def test_an_edited_manifest_and_a_newer_format_are_refused(source: Source, tmp_path: Path) -> None:
    path = copy(source, tmp_path)
    rewrite_manifest(path, {"counts": {"rows": 1}}, fix_digest=False)
    with pytest.raises(BackupError, match=f"part {MANIFEST} .* was edited"):
        cmd.verify(path)
    path = copy(source, tmp_path)
    rewrite_manifest(path, {"formatVersion": 2}, fix_digest=True)
    with pytest.raises(BackupError, match="format 2, newer than this quixotic reads"):
        cmd.verify(path)
    path = copy(source, tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("rows/app/sneaky.ndjson", '{"$id": "x"}\n')
    with pytest.raises(BackupError, match=r"part rows/app/sneaky\.ndjson: not listed in the manifest"):
        cmd.verify(path)


def test_missing_scopes_are_named_before_anything_happens(source: Source, tmp_path: Path) -> None:
    creds = source.site.projects["src"]
    narrow = admin.create_key(source.site.server.data_dir, creds.project_id, ["rows.read", "databases.read"], "narrow")
    source.site.environ["QUIXOTIC_SRC_API_KEY"], full = narrow, creds.api_key
    try:
        with pytest.raises(BackupError, match=r"lacks the scopes buckets\.read, files\.read, functions\.read"):
            cmd.backup(source.site.target("src"), tmp_path / "b.zip")
    finally:
        source.site.environ["QUIXOTIC_SRC_API_KEY"] = full
    assert list(tmp_path.iterdir()) == []

    dst = source.fresh()
    read_only = admin.create_key(source.site.server.data_dir, source.site.projects[dst].project_id,
                                 ALL_READ.split(","), "read-only")  # fmt: skip
    source.site.environ[f"QUIXOTIC_{dst.upper()}_API_KEY"] = read_only
    with pytest.raises(BackupError, match=r"lacks the scopes buckets\.write, databases\.write, files\.write"):
        cmd.restore(source.archive, source.site.target(dst), passphrase=PASSPHRASE)
    assert nothing_written(source, dst)


def test_a_file_replaced_or_deleted_between_listing_and_download(source: Source) -> None:
    backend = source.site.target("src").backend
    data = b"first version " * 1000
    backend.storage.create_file("uploads", "moving", InputFile.from_bytes(data, "moving.bin"))
    listed = next(m for m in files_of(backend, "uploads") if m["$id"] == "moving")
    backend.storage.delete_file("uploads", "moving")
    newer = b"second version, longer " * 1000
    backend.storage.create_file("uploads", "moving", InputFile.from_bytes(newer, "moving.bin"))
    got, meta = download_file(backend, "uploads", listed)
    assert got == newer and meta["sizeOriginal"] == len(newer) and meta["signature"] != listed["signature"]
    backend.storage.delete_file("uploads", "moving")
    with pytest.raises(FileGone):
        download_file(backend, "uploads", meta)


def run_cli(source: Source, *args: str) -> subprocess.Popen[bytes]:
    return source.site.popen(*args)


def test_a_killed_backup_leaves_no_archive(source: Source, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    out.mkdir()
    proc = run_cli(source, "backup", "src", "--out", str(out))
    wait_for(
        lambda: any(out.glob(".*.partial")) and any(p.stat().st_size > 1_000_000 for p in out.glob(".*")),
        timeout=60,
        every=0.005,
    )
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not list(out.glob("*.zip")) and cmd.list_backups(out) == []
    path = cmd.backup(source.site.target("src"), out)
    assert [p.name for p in out.iterdir()] == [path.name]  # the dead backup's partial file is gone too
    assert cmd.verify(path).check.ok


def test_a_killed_restore_converges_when_run_again(source: Source) -> None:
    dst = source.fresh()
    target = source.site.target(dst)
    environ = source.site.environ
    environ["QUIXOTIC_BACKUP_PASSPHRASE"] = PASSPHRASE
    proc = run_cli(source, "restore", str(source.archive), dst)

    def some_rows() -> bool:
        try:
            return int(target.backend.db.list_rows("app", "notes", [Query.limit(1)])["total"]) > 0
        except Exception:
            return False

    wait_for(some_rows, timeout=60, every=0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert not cmd.diff_data(source.archive, source.site.target(dst)).same
    report = cmd.restore(source.archive, source.site.target(dst), passphrase=PASSPHRASE)
    assert report.resumed and report.mode == "merge"
    assert cmd.diff_data(source.site.target("src"), source.site.target(dst)).same
    statuses = [(r.kind, r.status) for r in source.site.target(dst).system.releases()]
    assert statuses == [("restore", "succeeded"), ("restore", "interrupted")]
