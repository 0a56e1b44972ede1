"""One seeded source project and its sealed backup, shared by the backup tests (made once: seeding is the slow
part); every test restores into projects of its own (``Source.fresh``)."""

from __future__ import annotations

import itertools

import pytest
from backup_site import FILE_SIZES, PASSPHRASE, Source, add_env, make_site, seed
from support.server import LocalServer

from quixotic.commands import backup as cmd


@pytest.fixture(scope="session")
def source(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Source:
    site = make_site(tmp_path_factory.mktemp("backup-site"), server)
    add_env(site, "src")
    seeded = seed(site.target("src"), sizes=FILE_SIZES)
    archive = cmd.backup(
        site.target("src"), tmp_path_factory.mktemp("archives") / "src.zip", True, passphrase=PASSPHRASE
    )
    return Source(site, seeded, archive, itertools.count(1))
