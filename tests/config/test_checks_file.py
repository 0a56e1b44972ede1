"""templates/checks.json: the repository's own parses; mistakes are reported together with where and how to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.site import REPO

from quixotic.config import load_project
from quixotic.config.checks_file import Checks, Request, load_checks, parse_checks
from quixotic.config.problems import Problems
from quixotic.errors import ConfigError


def test_the_repository_declares_a_smoke_and_replay_safe_health_request_per_function() -> None:
    project = load_project(REPO)
    checks = load_checks(REPO, project)
    for function in project.functions:
        declared = checks.of(function.id)
        assert declared.smoke is not None and declared.smoke.request == Request("GET", "/health")
        assert declared.parity.replay_safe and declared.parity.requests == (Request("GET", "/health"),)


def test_no_file_declares_nothing(tmp_path: Path) -> None:
    checks = load_checks(tmp_path, load_project(REPO))
    assert (
        checks == Checks() and checks.of("transcribe").smoke is None and not checks.of("transcribe").parity.replay_safe
    )


def test_every_mistake_is_reported_at_once() -> None:
    problems = Problems()
    data = {
        "functions": {
            "transcrbe": {},
            "cleanup": {"smoke": {"request": {"method": "FETCH"}, "status": 99, "budget": 1}},
            "grant-credits": {"parity": {"requests": [{"path": "/"}], "ignore": [""]}},
        }
    }
    parse_checks(data, "templates/checks.json", load_project(REPO), problems)
    text = "\n".join(problems.items)
    assert "no function 'transcrbe' in appwrite.json (did you mean 'transcribe'?)" in text
    assert "functions.cleanup.smoke: unknown key 'budget' (did you mean 'budgetMs'?)" in text
    assert "functions.cleanup.smoke.request.method" in text
    assert "below the minimum 100" in text
    assert "declares parity requests but not replaySafe: true" in text
    assert "functions.grant-credits.parity.ignore: expected a list of non-empty strings" in text


def test_a_broken_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "checks.json").write_text('{"functions": {"cleanup": {"smoke": 3}}}')
    with pytest.raises(ConfigError, match=r"templates/checks\.json is invalid"):
        load_checks(tmp_path, load_project(REPO))
