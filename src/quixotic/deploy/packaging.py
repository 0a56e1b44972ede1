"""Function folders as deterministic ``.tar.gz`` archives.

The same folder always gives the same bytes (sorted paths, fixed times, owners and modes, gzip
without a timestamp), so the SHA-256 of an archive identifies the code: deploy compares it with the
hash of the live deployment's downloaded source and uploads only what changed. Files that
``.gitignore`` (the folder's own and the repository's, simple patterns) or the usual caches exclude
are left out, as Appwrite's CLI does.

Code several functions share lives once, in a ``_shared`` folder beside their folders (``functions/_shared``):
its files are added to every sibling function's archive at the same relative paths (``_shared/src/kit.py``
goes in as ``src/kit.py``, next to the entrypoint, where a relative import finds it), because Appwrite builds
each function from its own archive only. A function's own file at one of those paths is refused, not
silently replaced.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from quixotic.errors import UsageError

SHARED_FOLDER = "_shared"  # beside the function folders: its files go into each of their archives
ALWAYS_IGNORED = (".git", "__pycache__", "*.pyc", ".venv", "venv", ".env", ".env.*", ".DS_Store", ".pytest_cache")


@dataclass(frozen=True)
class Package:
    data: bytes
    sha256: str
    files: tuple[str, ...]


def _patterns(folder: Path) -> list[str]:
    patterns = list(ALWAYS_IGNORED)
    for candidate in (folder / ".gitignore", *(p / ".gitignore" for p in folder.parents)):
        if candidate.is_file():
            for line in candidate.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "!")):
                    patterns.append(line.rstrip("/").lstrip("/"))
        if (candidate.parent / ".git").exists():
            break
    return patterns


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatch(relative, pattern) or relative.startswith(pattern + "/"):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def _walk(folder: Path) -> dict[str, Path]:
    """The files of ``folder`` that go into an archive, by relative path."""
    patterns = _patterns(folder)
    files: dict[str, Path] = {}
    for root, dirs, names in os.walk(folder):
        rel_root = Path(root).relative_to(folder).as_posix()
        dirs[:] = sorted(d for d in dirs if not _ignored(f"{rel_root}/{d}".lstrip("./"), patterns))
        for name in sorted(names):
            relative = f"{rel_root}/{name}" if rel_root != "." else name
            if not _ignored(relative, patterns) and (Path(root) / name).is_file():
                files[relative] = Path(root) / name
    return files


def _shared_files(folder: Path) -> dict[str, Path]:
    """The files of the ``_shared`` folder beside ``folder`` (none when there is none, or it is ``folder``)."""
    shared = folder.parent / SHARED_FOLDER
    if folder.name == SHARED_FOLDER or not shared.is_dir():
        return {}
    return _walk(shared)


def package_folder(folder: Path) -> Package:
    """The deterministic archive of ``folder`` (a function's ``path``), with the ``_shared`` folder beside it."""
    if not folder.is_dir():
        raise UsageError(f"function folder {folder} does not exist: check the function's `path` in appwrite.json")
    own = _walk(folder)
    shared = _shared_files(folder)
    clashes = sorted(own.keys() & shared.keys())
    if clashes:
        raise UsageError(
            f"function folder {folder} has its own {', '.join(clashes)}, which {folder.parent / SHARED_FOLDER} "
            f"also has and adds to every function's archive: rename or remove one of them"
        )
    sources = {**shared, **own}
    files = sorted(sources)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in files:
            path = sources[relative]
            info = tarfile.TarInfo(relative)
            info.size = path.stat().st_size
            info.mtime = 0
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    data = gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
    return Package(data, hashlib.sha256(data).hexdigest(), tuple(files))
