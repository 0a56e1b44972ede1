"""Helpers for the compute runtime tests: function folders packed as .tar.gz, and a built deployment to run."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from quixotic.server.compute.runtime.build import BuildResult, build_deployment

Files = Mapping[str, str | bytes]


def pack_archive(archive: Path, files: Files, extra: list[tarfile.TarInfo] | None = None) -> Path:
    """Write ``files`` (path -> content) and raw ``extra`` members into a .tar.gz, as `tar czf` would."""
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return archive


@pytest.fixture(scope="session")
def pack() -> Callable[..., Path]:
    """``pack(archive, files, extra_members=None)``: see ``pack_archive``."""
    return pack_archive


@pytest.fixture
def build(tmp_path: Path) -> Callable[..., BuildResult]:
    """Pack ``files`` and build them into tmp_path/'dep'; returns the BuildResult."""

    def run(files: Files, entrypoint: str = "main.py", commands: str = "", **kwargs: object) -> BuildResult:
        archive = pack_archive(tmp_path / "code.tar.gz", files)
        return build_deployment(archive, tmp_path / "dep", entrypoint, commands, **kwargs)  # type: ignore[arg-type]

    return run
