"""Backup verbs: backup, verify, list, restore, clone, diff-data. Each returns a value or raises; no printing.

The work is in :mod:`quixotic.backup`; these functions pick names and defaults, check scopes before
reading, and put the pieces together (``clone`` is a backup into a temporary archive, then a restore).
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from quixotic.backup.anonymize import Anonymizer
from quixotic.backup.archive import FORMAT_VERSION, ArchiveCheck, ArchiveReader, ArchiveWriter, check_archive
from quixotic.backup.dump import PARTS, Dumper, DumpOptions
from quixotic.backup.fingerprint import Fingerprint, ItemDiff, compare, summarize_archive, summarize_live
from quixotic.backup.progress import Progress, Step, silent, verify_bar
from quixotic.backup.restore import Confirm, Mode, RestoreReport
from quixotic.backup.restore import restore_archive as restore  # the verb is the library function
from quixotic.backup.scopes import READ_SCOPES, need, require_scopes
from quixotic.errors import BackupError, QuixoticError, UsageError
from quixotic.target import Target
from quixotic.target.provenance import git_commit

__all__ = ["backup", "clone", "diff_data", "list_backups", "restore", "verify"]

BACKUPS_DIR: Final = Path("backups")
CLONE_PARTS: Final = frozenset({"schema", "rows", "files", "users", "functions"})


def tool_version() -> str:
    try:
        return importlib.metadata.version("quixotic")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def archive_path(target: Target, out: Path | None, moment: datetime) -> Path:
    """Where a backup goes: ``out`` (a file, or a folder for the default name), else ``backups/``."""
    name = f"{target.env.name}-{_stamp(moment)}.zip"
    if out is None:
        return target.root / BACKUPS_DIR / name
    if out.is_dir() or not out.suffix:
        return out / name
    if out.suffix != ".zip":
        raise UsageError(f"--out {out}: a backup archive is a .zip file (or give a folder)")
    return out


def backup(
    target: Target,
    out: Path | None = None,
    include_secrets: bool = False,
    progress: Progress | None = None,
    *,
    passphrase: str | None = None,
    only: frozenset[str] | None = None,
    sample: int | None = None,
    anonymize: bool = False,
    anonymize_salt: str = "",
) -> Path:
    """Write one verified archive of ``target``'s project and return its path (see quixotic.backup.archive)."""
    report = progress or silent
    parts = frozenset(PARTS) if only is None else only
    unknown = sorted(parts - set(PARTS))
    if unknown:
        raise UsageError(f"unknown part(s) {', '.join(unknown)}: choose among {', '.join(PARTS)}")
    if include_secrets and not passphrase:
        raise UsageError("--include-secrets needs a passphrase (QUIXOTIC_BACKUP_PASSPHRASE or the prompt)")
    if sample is not None and sample < 0:
        raise UsageError("--sample must be 0 or more")
    backend = target.backend
    require_scopes(backend, need(READ_SCOPES, parts), f"backing up {target.env.name}")
    moment = datetime.now(UTC)
    final = archive_path(target, out, moment)
    if final.exists():
        raise UsageError(f"{final} already exists: choose another --out")
    options = DumpOptions(
        parts=parts,
        include_secrets=include_secrets,
        passphrase=passphrase,
        sample=sample,
        anonymizer=Anonymizer(backend.project_id, anonymize_salt) if anonymize else None,
    )
    with ArchiveWriter(final) as writer:
        dumped = Dumper(backend, target.env, target.system.secret_hashes(), writer, options, report,
                        fingerprint=target.system.fingerprint).run()  # fmt: skip
        manifest: dict[str, Any] = {
            "format": "quixotic-backup",
            "formatVersion": FORMAT_VERSION,
            "createdAt": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tool": {"name": "quixotic", "version": tool_version()},
            "gitCommit": git_commit(target.root),
            "source": {
                "environment": target.env.name,
                "projectId": backend.project_id,
                "endpoint": backend.endpoint,
                "serverVersion": backend.server_version(),
            },
            "options": {
                "parts": [p for p in PARTS if p in parts],
                "includeSecrets": include_secrets,
                "sample": sample,
                "anonymized": anonymize,
            },
            "encryption": dumped.encryption,
            "counts": dumped.counts,
            "warnings": dumped.warnings,
        }
        return writer.finish(manifest, verify_bar(report))


@dataclass
class VerifyReport:
    check: ArchiveCheck
    deep: list[ItemDiff] | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        return self.check.manifest

    @property
    def deep_differences(self) -> list[ItemDiff]:
        return [d for d in self.deep or [] if not d.same]


def verify(path: Path, deep_target: Target | None = None, progress: Progress | None = None) -> VerifyReport:
    """Check every part of an archive (and, with ``deep_target``, compare its data with the live project).

    A damaged or edited archive raises :class:`BackupError` naming every bad part; differences with the
    live project are returned (the project may simply have changed since).
    """
    report = progress or silent
    checked = check_archive(path, verify_bar(report))
    if checked.problems:
        raise BackupError(f"{path} failed verification:\n{checked.describe()}")
    result = VerifyReport(checked)
    if deep_target is not None:
        with ArchiveReader(path) as reader:
            archived = summarize_archive(reader)
        live = summarize_live(deep_target.backend, tick=_ticker(report, "live"))
        # Compare only what the archive holds: a backup of some parts says nothing of the others.
        result.deep = compare(archived, {k: v for k, v in live.items() if k in archived})
    return result


def _ticker(report: Progress, side: str) -> Any:
    return lambda item, n: report(Step(f"{side} {item}", f"{side} {item}", n, None, "rows"))


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: str = ""
    environment: str = ""
    project_id: str = ""
    format_version: int = 0
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    encrypted: bool = False
    problem: str = ""


def list_backups(directory: Path) -> list[BackupInfo]:
    """The archives under ``directory`` (newest first); unfinished ``.partial`` files are not backups."""
    found = []
    if not directory.is_dir():
        return []
    for path in sorted(directory.rglob("*.zip")):
        if path.name.startswith("."):
            continue
        try:
            with ArchiveReader(path) as reader:
                m = reader.manifest
                source = m.get("source") or {}
                found.append(
                    BackupInfo(
                        path=path,
                        created_at=str(m.get("createdAt") or ""),
                        environment=str(source.get("environment") or ""),
                        project_id=str(source.get("projectId") or ""),
                        format_version=int(m.get("formatVersion") or 0),
                        bytes=path.stat().st_size,
                        counts=dict(m.get("counts") or {}),
                        encrypted=bool(m.get("encryption")),
                    )
                )
        except QuixoticError as exc:
            found.append(BackupInfo(path=path, bytes=path.stat().st_size, problem=exc.message))
    return sorted(found, key=lambda b: (b.created_at, str(b.path)), reverse=True)


@dataclass
class CloneReport:
    counts: dict[str, int]
    restore: RestoreReport
    warnings: list[str]


def clone(
    source_target: Target,
    dest_target: Target,
    schema_only: bool = False,
    sample: int | None = None,
    anonymize: bool = False,
    *,
    mode: Mode | None = None,
    yes: bool = False,
    anonymize_salt: str = "",
    confirm: Confirm | None = None,
    progress: Progress | None = None,
) -> CloneReport:
    """Make ``dest`` hold ``source``'s schema, functions and (unless ``schema_only``) data.

    Variables stay the destination's own (its configuration sets them; ``quixotic deploy`` re-applies
    them), and so does its history. The archive in between is temporary and removed afterwards.
    """
    src, dst = source_target.backend, dest_target.backend
    if (src.endpoint.rstrip("/"), src.project_id) == (dst.endpoint.rstrip("/"), dst.project_id):
        raise UsageError(
            f"{source_target.env.name} and {dest_target.env.name} are the same project ({src.project_id}): "
            "nothing to clone"
        )
    parts = frozenset({"schema", "functions"}) if schema_only else CLONE_PARTS
    report = progress or silent
    with tempfile.TemporaryDirectory(prefix="quixotic-clone-") as folder:
        archive = backup(
            source_target, Path(folder) / "clone.zip", progress=_prefixed(report, "read"), only=parts, sample=sample,
            anonymize=anonymize, anonymize_salt=anonymize_salt,
        )  # fmt: skip
        with ArchiveReader(archive) as reader:
            counts = dict(reader.manifest.get("counts") or {})
            warnings = list(reader.manifest.get("warnings") or [])
        restored = restore(
            archive, dest_target, mode=mode, yes=yes, confirm=confirm, progress=_prefixed(report, "write")
        )
    return CloneReport(counts, restored, warnings + restored.warnings)


def _prefixed(report: Progress, prefix: str) -> Progress:
    """The same progress with its tasks named apart (a clone reads, then writes, the same tables)."""
    return lambda step: report(replace(step, key=f"{prefix} {step.key}", label=f"{prefix} {step.label}"))


Side = Target | Path


@dataclass
class DataDiff:
    a: str
    b: str
    items: list[ItemDiff]

    @property
    def same(self) -> bool:
        return all(d.same for d in self.items)


def _summarize(side: Side, progress: Progress, name: str) -> dict[str, Fingerprint]:
    if isinstance(side, Path):
        with ArchiveReader(side) as reader:
            return summarize_archive(reader, _ticker(progress, name))
    return summarize_live(side.backend, tick=_ticker(progress, name))


def _side_name(side: Side) -> str:
    return str(side) if isinstance(side, Path) else f"{side.env.name} ({side.backend.project_id})"


def diff_data(a: Side, b: Side, progress: Progress | None = None) -> DataDiff:
    """Counts and content hashes per table, bucket and the users of two sides (environments or archives)."""
    report = progress or silent
    return DataDiff(_side_name(a), _side_name(b), compare(_summarize(a, report, "A"), _summarize(b, report, "B")))
