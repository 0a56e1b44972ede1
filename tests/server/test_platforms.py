"""Platforms kept in a data folder (a real store, no server): what is refused and why, and what is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from quixotic.errors import UsageError
from quixotic.server import admin, platforms
from quixotic.server.store import Store


@pytest.fixture
def data(tmp_path: Path) -> Path:
    admin.create_project(tmp_path, "p1")
    return tmp_path


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"platform_type": "webb", "hostname": "a.io"}, "unknown platform type 'webb'"),
        ({"platform_type": "web"}, "a web platform needs --hostname"),
        ({"platform_type": "web", "hostname": "a.io/path"}, "is not a host name"),
        ({"platform_type": "android"}, "needs --key"),
    ],
)
def test_bad_platforms_are_refused_and_nothing_is_stored(data: Path, kwargs: dict[str, str], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        platforms.add(data, "p1", **kwargs)
    assert platforms.listing(data, "p1") == []


def test_an_unknown_project_is_named(data: Path) -> None:
    with pytest.raises(UsageError, match="project 'nope' does not exist here"):
        platforms.add(data, "nope", "web", hostname="a.io")
    with pytest.raises(UsageError, match="has no platform 'x'"):
        platforms.remove(data, "p1", "x")


def test_a_pasted_url_keeps_its_host_and_the_origins_follow(data: Path) -> None:
    added = platforms.add(data, "p1", "WEB", hostname="https://App.Example.com:8443/login")
    assert (added.type, added.hostname, added.name) == ("web", "app.example.com", "app.example.com")
    store = Store(data)
    try:
        with store.read() as conn:
            origins = platforms.origins_of(conn, "p1")
            assert origins.allows("https://app.example.com") and not origins.allows("https://other.example.com")
            assert platforms.origins_of(conn, "console").hostnames == frozenset({"localhost"})
    finally:
        store.close()
    platforms.remove(data, "p1", added.id)
    assert platforms.listing(data, "p1") == []
