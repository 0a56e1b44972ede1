"""Migrations across processes: two runners at once, a runner killed mid-backfill, locks that expire."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from migrate_site import Site, make_site, rows, seed
from support.sdk import wait_for
from support.server import LocalServer

from quixotic.commands import migrate as cmd
from quixotic.errors import LockHeld
from quixotic.target.system import SYSTEM_DB

SLOW = '''"""Takes a few seconds, so that two runners overlap."""

import time


def up(ctx):
    time.sleep(4)


def down(ctx):
    pass
'''


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=180)
        out.append((proc.returncode, stdout, stderr))
    return sorted(out, key=lambda r: r[0])


def applied_ids(site: Site) -> list[str]:
    return [r["migrationId"] for r in site.history() if r["status"] == "applied"]


def test_two_runners_at_once_exactly_one_applies(server: LocalServer, tmp_path: Path) -> None:
    quick, patient = make_site(tmp_path / "quick", server), make_site(tmp_path / "patient", server)
    for site in (quick, patient):
        site.write_migration("0003_slow.py", SLOW)
    runs = [quick.popen("migrate", "up", "test", text=True) for _ in range(2)] + [
        patient.popen("migrate", "up", "test", "--wait", "60", text=True) for _ in range(2)
    ]
    (won, _, _), (lost, _, refusal) = finish(runs[:2])
    assert (won, lost) == (0, 1)
    assert "the migrations lock is held by" in refusal and "(pid " in refusal and "--wait" in refusal
    assert applied_ids(quick) == ["0001", "0002", "0003"]

    (first, out_a, _), (second, out_b, _) = finish(runs[2:])
    assert (first, second) == (0, 0)
    outputs = sorted([out_a, out_b], key=lambda text: "nothing to apply" in text)
    assert "0003_slow: applied" in outputs[0] and "test: nothing to apply" in outputs[1]
    assert applied_ids(patient) == ["0001", "0002", "0003"]
    assert patient.target().system.current_lock("migrations") is None


def comparable(site: Site) -> dict[str, dict[str, Any]]:
    return {i: {k: v for k, v in r.items() if k != "$createdAt"} for i, r in rows(site.db).items()}


def test_killed_backfill_resumes_and_ends_like_an_uninterrupted_run(server: LocalServer, tmp_path: Path) -> None:
    killed, clean = make_site(tmp_path / "killed", server), make_site(tmp_path / "clean", server)
    for site in (killed, clean):
        cmd.up(site.target(), to="0001")
        seed(site.db, 20_000)
    tool = killed.target().system
    proc = killed.popen("migrate", "up", "test", text=True)

    def midway() -> dict[str, Any] | None:
        for record in tool.migration_rows():
            if record["migrationId"] == "0002" and int(record["cursors"].get("transcriptions", 0)) >= 3000:
                return record
        return None

    wait_for(midway, timeout=120, every=0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    record = [r for r in tool.migration_rows() if r["migrationId"] == "0002"][-1]
    saved = int(record["cursors"]["transcriptions"])
    assert record["status"] == "running" and 3000 <= saved < 20_000, record
    assert cmd.status(killed.target()).statuses[1].detail.startswith("interrupted")

    started = time.monotonic()
    resumed = cmd.up(killed.target())  # the dead runner's lock is taken over at once: same host, pid gone
    assert time.monotonic() - started < 30
    (outcome,) = resumed.outcomes
    assert outcome.resumed and resumed.interrupted == ["0002"]
    history = [(r["status"], r.get("retryOf")) for r in killed.history() if r["migrationId"] == "0002"]
    assert history == [("interrupted", None), ("applied", record["attempt"])]

    cmd.up(clean.target())
    final = comparable(killed)
    assert final == comparable(clean)
    assert all(r.get("wordCount") is not None for r in final.values() if r["text"] is not None)


def foreign_lock(site: Site, expires_in_ms: int) -> None:
    """A lock row as a runner on another machine leaves it."""
    site.target().system.ensure()
    expires = int(time.time() * 1000) + expires_in_ms
    row = {
        "owner": "ci@elsewhere",
        "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(expires / 1000)),
        "expiresMs": expires,
        "data": json.dumps({"host": "elsewhere", "pid": 4242, "nonce": "n1"}),
    }
    site.db.create_row(SYSTEM_DB, "locks", "migrations", row)


def test_a_lock_from_a_dead_runner_elsewhere_expires(site: Site) -> None:
    foreign_lock(site, 1500)
    with pytest.raises(LockHeld, match=r"held by ci@elsewhere on elsewhere \(pid 4242\)"):
        cmd.up(site.target(), to="1")
    assert site.history() == []
    result = cmd.up(site.target(), to="1", lock_wait=20)  # waits until it expires, then takes it over
    assert [o.name for o in result.outcomes] == ["0001_initial_schema"]
    assert site.target().system.current_lock("migrations") is None

    foreign_lock(site, -1000)  # already expired: unlock breaks it without --force
    unlocked = cmd.unlock(site.target())
    assert unlocked.broken and unlocked.stale and unlocked.lock is not None and unlocked.lock.owner == "ci@elsewhere"
    assert cmd.unlock(site.target()).lock is None


def test_unlock_shows_the_holder_and_needs_force_for_a_live_one(site: Site) -> None:
    with site.target().system.lock("migrations", ttl=60, heartbeat=0.5) as held:
        refused = site.cli("migrate", "unlock", "test")
        assert refused.returncode == 1
        assert f"held by {held.owner} on {held.host} (pid {os.getpid()})" in refused.stdout
        assert "looks alive" in refused.stderr and "--force" in refused.stderr
        forced = site.cli("migrate", "unlock", "test", "--force")
        assert forced.returncode == 0 and "lock broken (live, forced)" in forced.stdout
        wait_for(held.lost.is_set, timeout=10)  # the holder's next heartbeat notices
    assert site.cli("migrate", "unlock", "test").stdout.strip() == "test: the migrations lock is free"


def test_heartbeat_keeps_a_short_lock_alive(site: Site) -> None:
    other = site.target().system
    with site.target().system.lock("migrations", ttl=1.0, heartbeat=0.2) as held:
        time.sleep(1.8)  # well past the TTL: only the heartbeat keeps it
        current = other.current_lock("migrations")
        assert current is not None and not current.expired() and current.nonce == held.nonce
        with pytest.raises(LockHeld), other.lock("migrations"):
            pass
        assert not held.lost.is_set()
    assert other.current_lock("migrations") is None
