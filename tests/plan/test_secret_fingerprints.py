"""Keyed secret fingerprints and the migration of plain ones, on literal values (no server)."""

from __future__ import annotations

import hashlib

import pytest

from quixotic.plan.state import (
    LEGACY,
    is_legacy_fingerprint,
    migrate_fingerprint,
    migrate_record,
    secret_fingerprint,
    value_hash,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
PLAIN_HUNTER2 = "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"  # sha256("hunter2")


def test_a_fingerprint_is_an_hmac_of_the_value_under_the_project_key() -> None:
    # HMAC-SHA256(key=00..1f, "hunter2"), base64url without padding, computed independently of the code.
    assert secret_fingerprint("hunter2", KEY) == "k1:hinXEto2YxhYgxfz-YxyjHHUgZ-EPZXbiAPAGcVhwec"
    assert len(secret_fingerprint("hunter2", KEY)) == 46  # fits the secrets table's 64-character column


def test_a_fingerprint_reveals_nothing_a_dictionary_lookup_finds() -> None:
    fingerprint = secret_fingerprint("hunter2", KEY)
    assert PLAIN_HUNTER2 not in fingerprint
    assert value_hash("hunter2") == PLAIN_HUNTER2  # what older versions recorded
    assert secret_fingerprint("hunter2", OTHER_KEY) != fingerprint  # another project: unrelated
    assert secret_fingerprint("hunter3", KEY) != fingerprint


def test_no_key_is_refused() -> None:
    with pytest.raises(ValueError, match="fingerprint key"):
        secret_fingerprint("hunter2", b"")


def test_plain_sha256_is_told_from_keyed_and_empty() -> None:
    assert is_legacy_fingerprint(PLAIN_HUNTER2)
    assert not is_legacy_fingerprint(secret_fingerprint("hunter2", KEY))
    assert not is_legacy_fingerprint("")
    assert not is_legacy_fingerprint(LEGACY)
    assert not is_legacy_fingerprint(PLAIN_HUNTER2.upper())


def test_a_legacy_fingerprint_of_the_same_value_is_re_keyed() -> None:
    assert migrate_fingerprint(PLAIN_HUNTER2, "hunter2", KEY) == secret_fingerprint("hunter2", KEY)


def test_a_legacy_fingerprint_that_cannot_be_checked_never_matches() -> None:
    changed = migrate_fingerprint(PLAIN_HUNTER2, "a new value", KEY)
    unknown = migrate_fingerprint(PLAIN_HUNTER2, None, KEY)
    assert changed == unknown == LEGACY
    assert secret_fingerprint("hunter2", KEY) != LEGACY and secret_fingerprint("a new value", KEY) != LEGACY


def test_keyed_and_empty_fingerprints_are_left_as_they_are() -> None:
    keyed = secret_fingerprint("hunter2", OTHER_KEY)
    assert migrate_fingerprint(keyed, "hunter2", KEY) == keyed
    assert migrate_fingerprint("", "hunter2", KEY) == ""


def test_a_release_record_loses_every_plain_secret_fingerprint() -> None:
    record = {
        "before": {
            "variables": [
                {"scope": "project", "key": "TOKEN", "secret": True, "value": None, "hash": PLAIN_HUNTER2},
                {"scope": "f1", "key": "PIN", "secret": True, "value": None, "hash": value_hash("1234")},
                {"scope": "f1", "key": "MODE", "secret": False, "value": "fast", "hash": value_hash("fast")},
            ]
        },
        "plan": {
            "changes": [{"after": {"scope": "f1", "key": "PIN", "secret": True, "valueHash": value_hash("1234")}}]
        },
    }
    migrated, count = migrate_record(record, {("project", "TOKEN"): "hunter2", ("f1", "PIN"): "4321"}, KEY)
    assert count == 3
    assert migrated == {
        "before": {
            "variables": [
                {"scope": "project", "key": "TOKEN", "secret": True, "value": None,
                 "hash": secret_fingerprint("hunter2", KEY)},
                {"scope": "f1", "key": "PIN", "secret": True, "value": None, "hash": LEGACY},
                {"scope": "f1", "key": "MODE", "secret": False, "value": "fast", "hash": value_hash("fast")},
            ]
        },
        "plan": {"changes": [{"after": {"scope": "f1", "key": "PIN", "secret": True, "valueHash": LEGACY}}]},
    }  # fmt: skip
    assert migrate_record(migrated, {}, KEY) == (migrated, 0)  # nothing left to migrate
    assert record["before"]["variables"][0]["hash"] == PLAIN_HUNTER2  # the input is not changed


def test_the_expected_literal_is_really_hmac_sha256() -> None:
    """The literal above, checked against hashlib's own HMAC construction (RFC 2104), not our module."""
    import base64

    block = KEY.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + b"hunter2").digest()
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block) + inner).digest()
    assert "k1:" + base64.urlsafe_b64encode(outer).rstrip(b"=").decode() == secret_fingerprint("hunter2", KEY)
