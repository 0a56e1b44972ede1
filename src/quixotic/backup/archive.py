"""The backup archive: one zip file, every part listed with its SHA-256 in a manifest written last.

Why a zip: one file that any unzip tool can open, random access to each part (restore reads the schema
first without scanning gigabytes of files), a per-member CRC on top of our SHA-256, and Zip64 for large
parts. JSON parts are deflated; file bytes are stored as they are (audio is already compressed).

Layout (format version 1)::

    manifest.json                 written last; see below
    schema.json                   databases, tables (columns, indexes, permissions) and buckets, in the
                                  official Appwrite CLI's ``appwrite.json`` form (TablesDB), so the same
                                  parser as the configuration reads it back
    rows/<db>/<table>.ndjson      one row per line as the API returned it: ``$id``, ``$permissions``,
                                  ``$createdAt``, ``$updatedAt`` (and ``$sequence``) kept, plus every column
    files/<bucket>.ndjson         one file's metadata per line ($id, name, mimeType, sizeOriginal, signature
                                  (MD5), $permissions, $createdAt, $updatedAt), in the order of the bytes
    files/<bucket>/<fileId>       the file's bytes, checked against its signature when downloaded
    users.ndjson                  users with their password hashes and options (hashes, never passwords)
    functions.json                each function's settings (the API's model) and its active deployment
    functions/<functionId>.tar.gz the source of that deployment, as the API serves it
    variables.json                function and project variables; secret values are absent, or, with
                                  ``--include-secrets``, sealed with AES-256-GCM (see quixotic.backup.secrets)
    history/<table>.ndjson        the tool's own records (releases, migrations): never locks

``manifest.json``::

    {"format": "quixotic-backup", "formatVersion": 1, "createdAt": ISO-8601 UTC,
     "tool": {"name": "quixotic", "version": ...}, "gitCommit": ...,
     "source": {"environment", "projectId", "endpoint", "serverVersion"},
     "options": {"parts": [...], "includeSecrets", "sample", "anonymized"},
     "encryption": null | {"cipher", "kdf", "salt", "n", "r", "p", "check"},
     "counts": {"databases", "tables", "rows", "buckets", "files", "fileBytes", "users", "functions",
                "variables", "secrets", "history"},
     "parts": {"<name>": {"sha256": hex, "bytes": int, "items": lines or null}},
     "warnings": [...], "digest": SHA-256 of the canonical JSON of everything above}

A backup is written as ``.<name>.<pid>.partial`` beside its final name, read back and checked part by
part, and only then renamed: an archive under its final name is always complete and verified, and a
killed backup leaves at most a hidden ``.partial`` file, which the next backup into that folder removes.
Readers refuse a newer ``formatVersion`` rather than guess.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from quixotic.errors import BackupError

FORMAT: Final = "quixotic-backup"
FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
PARTIAL_SUFFIX: Final = ".partial"
_BLOCK: Final = 1 << 20
_PART_NAME: Final = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def canonical(data: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces; what digests are taken over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# One encoder for every line: json.dumps() with options builds a new one per call.
_LINE_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_line(data: Any) -> bytes:
    return _LINE_ENCODER.encode(data).encode() + b"\n"


def manifest_digest(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in manifest.items() if k != "digest"})).hexdigest()


@dataclass(frozen=True)
class PartInfo:
    sha256: str
    bytes: int
    items: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes, "items": self.items}


class PartStream:
    """One part being written: hashes and counts what goes through."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.hash = hashlib.sha256()
        self.size = 0
        self.items = 0
        self._known: str | None = None  # the SHA-256 of a part written whole, hashed by its producer

    def write(self, data: bytes) -> None:
        if self._known is not None:
            raise BackupError("a part written whole takes no more data")
        self._handle.write(data)
        self.hash.update(data)
        self.size += len(data)

    def write_whole(self, data: bytes, sha256: str) -> None:
        """The part's only data, hashed already (in a download thread); the read-back check hashes it again."""
        if self.size:
            raise BackupError("a part written whole must be its only data")
        self._handle.write(data)
        self.size = len(data)
        self._known = sha256

    def write_line(self, item: Any) -> None:
        self.write(json_line(item))
        self.items += 1

    def write_block(self, lines: bytes, count: int) -> None:
        """``count`` JSON lines encoded already (a page of rows, encoded while the next page is fetched)."""
        self.write(lines)
        self.items += count

    def hexdigest(self) -> str:
        return self._known if self._known is not None else self.hash.hexdigest()


# --- writing ----------------------------------------------------------------------------------------


def partial_name(final: Path) -> Path:
    return final.parent / f".{final.name}.{os.getpid()}{PARTIAL_SUFFIX}"


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the ``.partial`` files of backups whose process is gone (killed); return them."""
    removed = []
    for path in folder.glob(f".*{PARTIAL_SUFFIX}"):
        pid = path.name[: -len(PARTIAL_SUFFIX)].rsplit(".", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process of this machine runs (a backup or restore that was killed does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _valid_name(name: str) -> bool:
    """Relative, plain segments only: nothing an unzip tool could write outside its folder."""
    return bool(_PART_NAME.match(name)) and not any(seg in (".", "..") for seg in name.split("/"))


class ArchiveWriter:
    """Writes parts into a hidden temporary zip; :meth:`finish` checks it and renames it into place."""

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(final.parent)
        self.temp = partial_name(final)
        self._zip = zipfile.ZipFile(self.temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True)
        self.parts: dict[str, PartInfo] = {}
        self._closed = False

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None or not self._closed:
            self.abort()

    @contextmanager
    def part(self, name: str, *, compress: bool = True) -> Iterator[PartStream]:
        """Stream one part; its hash, size and line count go into the manifest."""
        if not _valid_name(name) or name == MANIFEST or name in self.parts:
            raise BackupError(f"cannot write part {name!r}: the name is invalid or already used")
        if compress:
            handle = self._zip.open(name, "w", force_zip64=True)
        else:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_STORED
            handle = self._zip.open(info, "w", force_zip64=True)
        stream = PartStream(handle)
        try:
            yield stream
        finally:
            handle.close()
        self.parts[name] = PartInfo(stream.hexdigest(), stream.size, stream.items or None)

    def write_json(self, name: str, data: Any) -> None:
        with self.part(name) as out:
            out.write(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False).encode() + b"\n")

    def write_bytes(self, name: str, data: bytes, *, compress: bool = False, sha256: str | None = None) -> None:
        with self.part(name, compress=compress) as out:
            if sha256 is None:
                out.write(data)
            else:
                out.write_whole(data, sha256)

    def finish(self, manifest: dict[str, Any], progress: Callable[[int, int], None] | None = None) -> Path:
        """Write the manifest, read every part back and check it, then rename to the final name."""
        body = {**manifest, "parts": {n: p.to_json() for n, p in sorted(self.parts.items())}}
        body["digest"] = manifest_digest(body)
        self._zip.writestr(MANIFEST, json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        self._zip.close()
        self._closed = True
        # Every line was made by json_line here, and the SHA-256 and line count prove the bytes read back are
        # the ones written: parsing them again proves nothing more (`quixotic backup verify` still parses).
        report = check_archive(self.temp, progress, parse=False)
        if report.problems:
            self.abort()
            raise BackupError("the backup failed its read-back check, nothing was kept:\n" + report.describe())
        with self.temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.temp, self.final)
        _fsync_dir(self.final.parent)
        return self.final

    def abort(self) -> None:
        """Forget everything written: the temporary file goes, nothing looks like a backup."""
        if not self._closed:
            self._closed = True
            try:
                self._zip.close()
            except Exception:  # the part being written may be broken; it is deleted below anyway
                pass
        self.temp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- reading ----------------------------------------------------------------------------------------


_DAMAGE: Final = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


class ArchiveReader:
    """An archive opened for reading: the manifest is checked on open (format, version, digest)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise BackupError(f"no backup archive at {path}")
        try:
            self.zip = zipfile.ZipFile(path)
        except _DAMAGE as exc:
            raise BackupError(
                f"{path} is not a complete backup archive ({exc}): it is truncated, damaged or not a backup"
            ) from exc
        try:
            self.manifest = self._manifest()
        except BaseException:
            self.zip.close()
            raise
        self.parts: dict[str, PartInfo] = {
            name: PartInfo(str(p["sha256"]), int(p["bytes"]), p.get("items"))
            for name, p in self.manifest["parts"].items()
        }

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()

    def _manifest(self) -> dict[str, Any]:
        try:
            raw = self.zip.read(MANIFEST)
        except KeyError:
            raise BackupError(
                f"{self.path} has no {MANIFEST}: it is not a quixotic backup, or its backup did not finish"
            ) from None
        except _DAMAGE as exc:
            raise BackupError(f"part {MANIFEST} of {self.path} is damaged ({exc})") from exc
        try:
            manifest = json.loads(raw)
        except ValueError as exc:
            raise BackupError(f"part {MANIFEST} of {self.path} is not JSON ({exc}): the archive was edited") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{self.path} is not a quixotic backup ({MANIFEST} does not say format {FORMAT!r})")
        version = manifest.get("formatVersion")
        if not isinstance(version, int) or version < 1:
            raise BackupError(f"part {MANIFEST} of {self.path} has no valid formatVersion: the archive was edited")
        if version > FORMAT_VERSION:
            raise BackupError(
                f"{self.path} has archive format {version}, newer than this quixotic reads ({FORMAT_VERSION}): "
                "upgrade quixotic to use it"
            )
        if manifest.get("digest") != manifest_digest(manifest):
            raise BackupError(f"part {MANIFEST} of {self.path} was edited: its digest does not match its content")
        parts = manifest.get("parts")
        if not isinstance(parts, dict) or not all(
            isinstance(p, dict) and isinstance(p.get("sha256"), str) and isinstance(p.get("bytes"), int)
            for p in parts.values()
        ):
            raise BackupError(f"part {MANIFEST} of {self.path} lists its parts wrongly: the archive was edited")
        return manifest

    def has(self, name: str) -> bool:
        return name in self.parts

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.parts if n.startswith(prefix))

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if name not in self.parts:
            raise BackupError(f"part {name} is not in {self.path}")
        try:
            with self.zip.open(name) as handle:
                yield handle
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BackupError(f"part {name} of {self.path} is damaged ({exc})") from exc

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def read_json(self, name: str) -> Any:
        data = self.read_bytes(name)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise BackupError(f"part {name} of {self.path} is not JSON ({exc})") from exc

    def iter_ndjson(self, name: str) -> Iterator[dict[str, Any]]:
        with self.open(name) as handle:
            for number, line in enumerate(handle, 1):
                try:
                    yield _parse_line(line, number)
                except _BadLine as exc:
                    raise BackupError(f"part {name} of {self.path}, {exc}") from exc


# --- checking ---------------------------------------------------------------------------------------


@dataclass
class ArchiveCheck:
    """What :func:`check_archive` found: every problem names its part."""

    path: Path
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    parts: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        return "\n".join(f"  - {p}" for p in self.problems)


def check_archive(
    path: Path, progress: Callable[[int, int], None] | None = None, *, parse: bool = True
) -> ArchiveCheck:
    """Read every part back: present, SHA-256 and size as listed, line counts as listed and (``parse``)
    every JSON line parses.

    Problems are collected (all of them, each naming its part); a manifest that cannot be trusted
    raises :class:`BackupError` at once. A restore checks without ``parse``: the SHA-256 already proves
    the bytes are the ones written, and it parses every line as it writes it anyway.
    """
    with ArchiveReader(path) as reader:
        report = ArchiveCheck(path, reader.manifest)
        members = reader.zip.namelist()
        seen: set[str] = set()
        for name in members:
            if name in seen:
                report.problems.append(f"part {name}: stored twice (the archive was edited)")
            seen.add(name)
        total = sum(p.bytes for p in reader.parts.values())
        done = 0
        for name, info in sorted(reader.parts.items()):
            if name not in seen:
                report.problems.append(f"part {name}: missing from the archive")
                continue
            problem = _check_part(reader, name, info, parse)
            if problem:
                report.problems.append(f"part {name}: {problem}")
            report.parts += 1
            done += info.bytes
            report.bytes = done
            if progress:
                progress(done, total)
        for name in sorted(seen - set(reader.parts) - {MANIFEST}):
            report.problems.append(f"part {name}: not listed in the manifest (added after the backup was made)")
    return report


def _check_part(reader: ArchiveReader, name: str, info: PartInfo, parse: bool) -> str | None:
    digest = hashlib.sha256()
    size = 0
    lines = 0
    pending = b""
    is_ndjson = name.endswith(".ndjson")
    try:
        with reader.zip.open(name) as handle:
            while block := handle.read(_BLOCK):
                digest.update(block)
                size += len(block)
                if is_ndjson and parse:
                    pending += block
                    *complete, pending = pending.split(b"\n")
                    for line in complete:
                        lines += 1
                        _parse_line(line, lines)
                elif is_ndjson:
                    lines += block.count(b"\n")
                    pending = block[-1:]
    except _DAMAGE as exc:
        return f"damaged ({exc})"
    except _BadLine as exc:
        return str(exc)
    if size != info.bytes:
        return f"holds {size} bytes, the manifest says {info.bytes} (the archive was changed or damaged)"
    if digest.hexdigest() != info.sha256:
        return "SHA-256 does not match the manifest (the archive was changed or damaged)"
    if is_ndjson:
        if pending.strip() if parse else pending not in (b"", b"\n"):
            return f"line {lines + 1} is incomplete"
        if (info.items or 0) != lines:
            return f"holds {lines} lines, the manifest says {info.items or 0}"
    elif name.endswith(".json"):
        try:
            json.loads(reader.zip.read(name))
        except ValueError as exc:
            return f"not JSON ({exc})"
    return None


class _BadLine(Exception):
    pass


def _parse_line(line: bytes, number: int) -> dict[str, Any]:
    """One NDJSON line as the JSON object it must hold."""
    try:
        item = json.loads(line.decode())  # UTF-8 (json_line's), without json's per-call encoding detection
    except ValueError as exc:
        raise _BadLine(f"line {number} is not JSON ({exc})") from exc
    if not isinstance(item, dict):
        raise _BadLine(f"line {number} is not a JSON object")
    return item
