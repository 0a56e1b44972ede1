"""Deployment builds: safe extraction, the isolated venv with its pip shim, build commands and their limits."""

from __future__ import annotations

import os
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.wheels import tiny_wheel

from quixotic.server.compute.runtime.build import BuildResult, build_deployment
from quixotic.server.compute.runtime.environment import installer_env

Builder = Callable[..., BuildResult]
Packer = Callable[..., Path]
MAIN = "def main(context):\n    return context.res.text('ok')\n"


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _pypi_reachable() -> bool:
    if os.environ.get("QUIXOTIC_OFFLINE"):
        return False
    if any(k in os.environ for k in ("PIP_INDEX_URL", "PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL")):
        return True
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


def test_build_with_no_commands_extracts_and_creates_an_isolated_venv(build: Builder, tmp_path: Path) -> None:
    result = build({"src/main.py": MAIN, "README.md": "hi"}, entrypoint="src/main.py")
    assert result.ok, result.logs
    dep = tmp_path / "dep"
    assert (dep / "code" / "src" / "main.py").read_text() == MAIN
    assert (dep / "venv" / "bin" / "python").exists()
    assert os.access(dep / "venv" / "bin" / "pip", os.X_OK)
    assert "Extracted 2 files" in result.logs
    assert result.size > len(MAIN)
    assert 0 <= result.duration < 10
    probe = subprocess.run([dep / "venv" / "bin" / "python", "-c", "import quixotic"], capture_output=True)
    assert probe.returncode != 0  # the server's packages are not visible in the deployment's venv


def test_pip_installs_a_local_wheel_into_the_venv(build: Builder, tmp_path: Path) -> None:
    wheel_name, wheel = tiny_wheel()
    files: dict[str, str | bytes] = {"main.py": MAIN, "requirements.txt": f"./{wheel_name}\n", wheel_name: wheel}
    result = build(files, commands="pip install --no-index -r requirements.txt")
    assert result.ok, result.logs
    python = tmp_path / "dep" / "venv" / "bin" / "python"
    out = subprocess.run(
        [python, "-c", "import quixotic_tinypkg as t; print(t.VALUE, t.__file__)"], capture_output=True
    )
    value, path = out.stdout.decode().split()
    assert value == "42"
    assert path.startswith(str(tmp_path / "dep" / "venv"))


def test_pip_with_an_empty_requirements_file(build: Builder) -> None:
    result = build({"main.py": MAIN, "requirements.txt": ""}, commands="pip install -r requirements.txt")
    assert result.ok, result.logs


@pytest.mark.skipif(not _pypi_reachable(), reason="needs a package index (set QUIXOTIC_OFFLINE=1 to skip)")
def test_pip_installs_a_package_from_the_index(build: Builder, tmp_path: Path) -> None:
    result = build(
        {"main.py": MAIN, "requirements.txt": "six\n"}, commands="pip install -r requirements.txt", env=installer_env()
    )
    assert result.ok, result.logs
    python = tmp_path / "dep" / "venv" / "bin" / "python"
    assert subprocess.run([python, "-c", "import six"]).returncode == 0


def test_commands_see_only_a_minimal_environment(
    build: Builder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUIXOTIC_TEST_SERVER_SECRET", "leaked")
    commands = (
        'echo "home=$HOME"; echo "secret=${QUIXOTIC_TEST_SERVER_SECRET:-none}"; echo "given=$GIVEN"; which python'
    )
    result = build({"main.py": MAIN}, commands=commands, env={"GIVEN": "yes"})
    assert result.ok, result.logs
    dep = tmp_path / "dep"
    assert f"home={dep / 'home'}" in result.logs
    assert "secret=none" in result.logs
    assert "given=yes" in result.logs
    assert str(dep / "venv" / "bin" / "python") in result.logs


def test_failing_command_reports_its_output_and_exit_code(build: Builder) -> None:
    result = build({"main.py": MAIN}, commands="echo about to fail; echo on stderr >&2; exit 7")
    assert not result.ok
    assert "about to fail" in result.logs
    assert "on stderr" in result.logs
    assert "exit code 7" in result.logs


def test_build_timeout_kills_the_commands(build: Builder) -> None:
    began = time.monotonic()
    result = build({"main.py": MAIN}, commands="sleep 30 & sleep 30", timeout=1)
    assert not result.ok
    assert "Build timed out after 1 s" in result.logs
    assert time.monotonic() - began < 5


def test_huge_build_output_is_truncated_to_its_end(build: Builder) -> None:
    result = build({"main.py": MAIN}, commands="head -c 3000000 /dev/zero | tr '\\0' x; echo; echo the-end")
    assert result.ok
    assert len(result.logs) <= 1_000_000
    assert result.logs.rstrip().endswith("Build succeeded.")
    assert "the-end" in result.logs


def test_missing_entrypoint(build: Builder) -> None:
    result = build({"main.py": MAIN}, entrypoint="src/main.py")
    assert not result.ok
    assert "Entrypoint src/main.py not found" in result.logs


def test_corrupt_and_truncated_archives(tmp_path: Path, pack: Packer) -> None:
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(os.urandom(2048))
    result = build_deployment(garbage, tmp_path / "a", "main.py", "")
    assert not result.ok
    assert "not a valid .tar.gz" in result.logs

    whole = pack(tmp_path / "whole.tar.gz", {"main.py": MAIN, "blob.bin": os.urandom(200_000)}).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    result = build_deployment(cut, tmp_path / "b", "main.py", "")
    assert not result.ok
    assert "not a valid .tar.gz" in result.logs

    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(garbage, arcname="main.py")
    result = build_deployment(plain, tmp_path / "c", "main.py", "")
    assert not result.ok
    assert "not a valid .tar.gz" in result.logs


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (tarfile.TarInfo("../evil.py"), "path with '..'"),
        (tarfile.TarInfo("sub/../../evil.py"), "path with '..'"),
        (tarfile.TarInfo("/tmp/quixotic-absolute-evil.py"), "absolute path"),
        (_link("passwd", "/etc/passwd"), "symbolic link to absolute path /etc/passwd"),
        (_link("sub/up", "../../etc/passwd"), "outside the deployment"),
        (_link("hard", "../outside", tarfile.LNKTYPE), "hard link to ../outside"),
        (_link("dev", "", tarfile.CHRTYPE), "device or FIFO"),
        (_link("fifo", "", tarfile.FIFOTYPE), "device or FIFO"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-abs", "symlink-up", "hardlink", "chardev", "fifo"],
)
def test_unsafe_members_are_rejected(tmp_path: Path, pack: Packer, member: tarfile.TarInfo, reason: str) -> None:
    archive = pack(tmp_path / "evil.tar.gz", {"main.py": MAIN}, [member])
    result = build_deployment(archive, tmp_path / "dep", "main.py", "")
    assert not result.ok
    assert "Archive rejected" in result.logs
    assert reason in result.logs
    assert not (tmp_path / "evil.py").exists()
    assert not Path("/tmp/quixotic-absolute-evil.py").exists()
    assert not (tmp_path / "dep" / "venv").exists()


def test_a_link_that_escapes_through_another_link_is_rejected(tmp_path: Path, pack: Packer) -> None:
    # "here" -> "." passes, and "here/up" -> "../x" looks inside on paper but resolves to dep/x's parent.
    archive = pack(tmp_path / "chain.tar.gz", {"main.py": MAIN}, [_link("here", "."), _link("here/up", "../x")])
    result = build_deployment(archive, tmp_path / "dep", "main.py", "")
    assert not result.ok
    assert "Archive rejected" in result.logs


def test_links_inside_the_deployment_are_fine(tmp_path: Path, pack: Packer) -> None:
    archive = pack(
        tmp_path / "ok.tar.gz", {"lib/real.py": "X = 1\n", "main.py": MAIN}, [_link("alias.py", "lib/real.py")]
    )
    result = build_deployment(archive, tmp_path / "dep", "main.py", "")
    assert result.ok, result.logs
    assert (tmp_path / "dep" / "code" / "alias.py").read_text() == "X = 1\n"


def test_rebuilding_into_the_same_folder_starts_clean(build: Builder, tmp_path: Path) -> None:
    assert build({"main.py": MAIN, "old.py": ""}).ok
    assert build({"main.py": MAIN}).ok
    assert not (tmp_path / "dep" / "code" / "old.py").exists()
