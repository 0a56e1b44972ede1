"""Secret fingerprints keyed per project, end to end against the local server: deploy, plan, backup, migration.

A plain SHA-256 of a secret in a plan file, a release record or a backup is an offline guess away from the
secret. These tests deploy a project with a secret and look for that hash, and for the key, everywhere they
must not be; then they plant what an older version wrote (plain fingerprints in the system database and in a
release) and check that the next deploy re-keys what it can verify and never lets the rest pass for equal
(a plan writes nothing: it shows those secrets as unknown, to be set).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from deploy_project import SECRET, deploy_site
from support.server import LocalServer
from support.site import Site

from quixotic.commands import backup as backup_cmd
from quixotic.commands import deploy as cmd
from quixotic.plan.state import LEGACY, secret_fingerprint
from quixotic.target import Target
from quixotic.target.system import KEY_ROW, SYSTEM_DB

PLAIN = hashlib.sha256(SECRET.encode()).hexdigest()  # what older versions recorded for API_TOKEN


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    return deploy_site(tmp_path, server)


def rows(target: Target, table: str) -> list[dict[str, Any]]:
    return list(target.backend.db.list_rows(SYSTEM_DB, table)["rows"])


def stored_key(target: Target) -> bytes:
    return bytes.fromhex(target.backend.db.get_row(SYSTEM_DB, "secrets", KEY_ROW)["hash"])


def token_row(target: Target) -> dict[str, Any]:
    found = [r for r in rows(target, "secrets") if r["key"] == "API_TOKEN"]
    assert len(found) == 1, found
    return found[0]


def deploy_twice(site: Site) -> None:
    """Two releases: the second one's record holds the live secret's fingerprint (its "before")."""
    cmd.deploy(site.target("test"), yes=True)
    env_file = site.root / "environments" / "test.json"
    config = json.loads(env_file.read_text())
    config["variables"]["GREETING"] = "howdy"
    env_file.write_text(json.dumps(config))
    assert cmd.deploy(site.target("test"), yes=True).release_id


def test_plans_releases_and_the_system_database_hold_only_keyed_fingerprints(site: Site) -> None:
    target = site.target("test")
    plan = cmd.plan(target).plan
    deploy_twice(site)
    result = cmd.plan(site.target("test"))
    key = stored_key(site.target("test"))
    assert len(key) == 32
    keyed = secret_fingerprint(SECRET, key)
    assert token_row(site.target("test"))["hash"] == keyed
    releases = json.dumps([r.record for r in cmd.releases(site.target("test"))])
    for text in (plan.to_json(), result.plan.to_json(), releases):
        assert PLAIN not in text and key.hex() not in text and SECRET not in text
    assert keyed in releases  # the record does carry the secret's fingerprint, keyed
    # Another machine (a fresh connection, as CI would make) computes the same fingerprints: nothing to do.
    assert cmd.plan(site.target("test")).plan.is_empty


def test_a_backup_carries_neither_the_key_nor_a_plain_fingerprint(site: Site, tmp_path: Path) -> None:
    deploy_twice(site)
    key = stored_key(site.target("test"))
    archive = backup_cmd.backup(site.target("test"), tmp_path / "backups")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        content = b"".join(zf.read(name) for name in names)
    assert "history/releases.ndjson" in names and "history/secrets.ndjson" not in names
    assert secret_fingerprint(SECRET, key).encode() in content  # the release history is there, keyed
    assert PLAIN.encode() not in content and key.hex().encode() not in content and SECRET.encode() not in content


def as_an_older_version_left_it(target: Target, token_hash: str) -> bytes:
    """No fingerprint key, and ``token_hash`` (a plain SHA-256) for API_TOKEN in the secrets table and in every
    release record; returns the key that was removed."""
    old_key = stored_key(target)
    db = target.backend.db
    db.delete_row(SYSTEM_DB, "secrets", KEY_ROW)
    db.update_row(SYSTEM_DB, "secrets", token_row(target)["$id"], {"hash": token_hash})
    for row in rows(target, "releases"):
        db.update_row(SYSTEM_DB, "releases", row["$id"],
                      {"data": row["data"].replace(secret_fingerprint(SECRET, old_key), token_hash)})  # fmt: skip
    assert token_hash in json.dumps(rows(target, "releases"))
    return old_key


def has_key(target: Target) -> bool:
    return any(r["$id"] == KEY_ROW for r in rows(target, "secrets"))


def test_old_plain_fingerprints_of_an_unchanged_secret_are_re_keyed(site: Site) -> None:
    deploy_twice(site)
    old_key = as_an_older_version_left_it(site.target("test"), PLAIN)
    plan = cmd.plan(site.target("test")).plan  # writes nothing: the key is made by the deploy that applies it
    changes = {c.address: c.reason for c in plan.changes}
    assert list(changes) == ["variable:hello/API_TOKEN"] and "will be set" in changes["variable:hello/API_TOKEN"]
    assert not has_key(site.target("test")) and token_row(site.target("test"))["hash"] == PLAIN
    cmd.deploy(site.target("test"), yes=True)  # sets the value again (unknown without a key) and makes the key
    new_key = stored_key(site.target("test"))
    assert new_key != old_key
    assert token_row(site.target("test"))["hash"] == secret_fingerprint(SECRET, new_key)
    history = json.dumps(rows(site.target("test"), "releases"))
    assert PLAIN not in history and secret_fingerprint(SECRET, new_key) in history  # the old records re-keyed
    assert cmd.plan(site.target("test")).plan.is_empty


def test_old_plain_fingerprints_that_no_longer_match_never_pass_for_equal(site: Site) -> None:
    deploy_twice(site)
    stale = hashlib.sha256(b"the value before the last rotation").hexdigest()
    as_an_older_version_left_it(site.target("test"), stale)
    plan = cmd.plan(site.target("test")).plan
    changes = {c.address: c.reason for c in plan.changes}
    assert list(changes) == ["variable:hello/API_TOKEN"], changes
    assert "unknown" in changes["variable:hello/API_TOKEN"]  # not "unchanged", and no plain hash kept to match
    assert not has_key(site.target("test"))  # the plan wrote nothing
    cmd.deploy(site.target("test"), yes=True)  # sets the value again and records it keyed
    history = json.dumps(rows(site.target("test"), "releases"))
    assert stale not in history and LEGACY in history  # what could not be checked never passes for equal
    new_key = stored_key(site.target("test"))
    assert token_row(site.target("test"))["hash"] == secret_fingerprint(SECRET, new_key)
    assert cmd.plan(site.target("test")).plan.is_empty
