"""The ``browser`` marker: tests that drive a page in Debian's headless Chromium (deselect with -m "not browser")."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives a page in Debian's headless Chromium (installed with apt-get when missing, else skipped) "
        "against a server `quixotic up` starts; about two minutes",
    )
