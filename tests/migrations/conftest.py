"""Fixtures for migration tests: each test gets its own project and its own copy of the project files."""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_site import Site, make_site
from support.server import LocalServer


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    return make_site(tmp_path / "site", server)
