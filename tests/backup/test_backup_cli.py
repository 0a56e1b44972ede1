"""The backup commands as a user runs them (and as the seed's scripts do): output, exit codes, no secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from backup_site import PASSPHRASE, Source
from support.site import REPO


def run(source: Source, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return source.site.cli(*args, **env)


def test_backup_list_verify_restore_and_diff_from_the_command_line(source: Source, tmp_path: Path) -> None:
    made = run(source, "backup", "src", "--out", str(tmp_path), "--include-secrets",
               QUIXOTIC_BACKUP_PASSPHRASE=PASSPHRASE)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "backup written and verified" in made.stdout
    (archive,) = tmp_path.glob("src-*.zip")
    listed = run(source, "backup", "list", "--dir", str(tmp_path))
    assert listed.returncode == 0 and archive.name in listed.stdout and "secrets sealed" in listed.stdout
    verified = run(source, "backup", "verify", str(archive), "--deep", "src")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout and "DIFF" not in verified.stdout
    dst = source.fresh()
    restored = run(source, "restore", str(archive), dst, QUIXOTIC_BACKUP_PASSPHRASE=PASSPHRASE)
    assert restored.returncode == 0, restored.stderr
    same = run(source, "diff-data", "src", dst)
    assert same.returncode == 0 and "same data" in same.stdout, same.stdout + same.stderr
    refused = run(source, "restore", str(archive), "src")
    assert refused.returncode == 1 and "--replace" in refused.stderr
    differs = run(source, "diff-data", str(archive), source.fresh())
    assert differs.returncode == 1 and "DIFF  table app/notes: only on side A" in differs.stdout
    for result in (made, listed, verified, restored, same, refused):
        for secret in ("token-of-src", PASSPHRASE, source.site.projects["src"].api_key):
            assert secret not in result.stdout + result.stderr


def test_the_seed_scripts_wrap_the_cli(source: Source, tmp_path: Path) -> None:
    dst = source.fresh()
    env = {**source.site.environ, "QUIXOTIC_ROOT": str(source.site.root), "QUIXOTIC_BACKUP_DIR": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}:{source.site.environ.get('PATH', '')}"}  # fmt: skip
    backed = subprocess.run(
        ["bash", str(REPO / "scripts" / "backup" / "backup-environment.sh"), "src"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert backed.returncode == 0, backed.stderr
    (archive,) = tmp_path.glob("src-*.zip")
    script = str(REPO / "scripts" / "backup" / "restore-environment.sh")
    restored = subprocess.run(["bash", script, dst, str(archive)], capture_output=True, text=True, env=env, timeout=300)
    assert restored.returncode == 0, restored.stderr
    # Without a path it restores the environment's newest backup: here src's own, which needs --replace.
    latest = subprocess.run(["bash", script, "src"], capture_output=True, text=True, env=env, timeout=300)
    assert latest.returncode == 1 and archive.name in latest.stdout and "--replace" in latest.stderr
