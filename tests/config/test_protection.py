"""protection.backupMaxAgeHours: how old the latest verified backup may be before `validate` warns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.site import Site

from quixotic.config import load_environment
from quixotic.errors import ConfigError


def env_with(tmp_path: Path, protection: dict[str, object]) -> Site:
    site = Site.create(tmp_path, None, from_repo=["appwrite.json", "templates", "environments", "functions"])
    path = tmp_path / "environments" / "dev.json"
    data = json.loads(path.read_text())
    data["protection"] = {**data["protection"], **protection}
    path.write_text(json.dumps(data))
    return site


def test_the_default_is_a_day_and_an_environment_may_set_its_own(tmp_path: Path) -> None:
    environ = {"QUIXOTIC_DEV_API_KEY": "k", "QUIXOTIC_DEV_OPENAI_API_KEY": "x"}
    assert load_environment(Site.create(tmp_path / "a", None, from_repo=["appwrite.json", "templates",
                            "environments", "functions"]).root, "dev", environ=environ,
                            require_secrets=False).protection.backup_max_age_hours == 24.0  # fmt: skip
    site = env_with(tmp_path / "b", {"backupMaxAgeHours": 168})
    env = load_environment(site.root, "dev", environ=environ, require_secrets=False)
    assert env.protection.backup_max_age_hours == 168.0 and env.protection.backup_before_migrations


def test_a_negative_age_is_reported(tmp_path: Path) -> None:
    site = env_with(tmp_path, {"backupMaxAgeHours": -1})
    with pytest.raises(ConfigError, match="backupMaxAgeHours"):
        load_environment(site.root, "dev", environ={"QUIXOTIC_DEV_API_KEY": "k"}, require_secrets=False)
