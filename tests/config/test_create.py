"""`env create`: a new environment file from an existing one, checked before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_files import copy_repo_config

from quixotic.commands import env as commands
from quixotic.config import create_environment, list_environments, load_environment
from quixotic.errors import ConfigError, UsageError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_repo_config(tmp_path)


def test_create_copies_overrides_and_applies_sets(root: Path) -> None:
    created = create_environment(
        root,
        "staging",
        "prod",
        "quixotictools-staging",
        {"MAX_FILE_SIZE_MB": "20", "DEFAULT_USER_CREDITS": "5", "endpoint": "https://fra.cloud.appwrite.io/v1",
         "protection.requireConfirmation": "false", "functions.cleanup.schedule": "0 * * * *"},
    )  # fmt: skip
    assert created.path == root / "environments" / "staging.json"
    data = json.loads(created.path.read_text())
    assert data["projectId"] == "quixotictools-staging" and data["projectName"] == "QuixoticWhisper (staging)"
    assert data["variables"] == {"MAX_FILE_SIZE_MB": 20, "DEFAULT_USER_CREDITS": 5.0, "CLEANUP_AFTER_HOURS": 1}
    assert data["protection"]["requireConfirmation"] is False and data["protection"]["refuseDestructive"] is True
    assert list_environments(root) == ("dev", "local", "prod", "staging")
    env = load_environment(root, "staging", environ={})
    audio, cleanup = env.project.bucket("audio"), env.project.function("cleanup")
    assert audio is not None and audio.maximum_file_size == 20_000_000
    assert cleanup is not None and cleanup.schedule == "0 * * * *"
    assert env.endpoint == "https://fra.cloud.appwrite.io/v1"


def test_create_names_secrets_still_to_set(root: Path) -> None:
    template = root / "templates" / "shared-variables.json"
    data = json.loads(template.read_text())
    next(v for v in data["variables"] if v["name"] == "WEBHOOK_TOKEN")["required"] = True
    template.write_text(json.dumps(data))
    created = commands.create(root, "qa", "dev", "quixotictools-qa", [])
    assert created.environment.missing_secrets == ("QUIXOTIC_QA_WEBHOOK_TOKEN",)


def test_create_refuses_bad_input_all_at_once_and_writes_nothing(root: Path) -> None:
    before = sorted(p.name for p in (root / "environments").iterdir())
    with pytest.raises(ConfigError) as info:
        create_environment(
            root,
            "dev",
            "prd",
            "quixotictools",
            {"MAX_FILE_SIZE_MB": "31", "WEBHOOK_TOKEN": "tok-do-not-echo", "MAX_FILESIZE_MB": "3"},
        )
    assert info.value.problems == (
        "environment 'dev': already exists (environments/dev.json)",
        "--from prd: unknown environment (did you mean 'prod'?); known: dev, local, prod",
    )
    with pytest.raises(ConfigError) as info:
        create_environment(
            root,
            "qa",
            "dev",
            "quixotictools",
            {"MAX_FILE_SIZE_MB": "31", "WEBHOOK_TOKEN": "tok-do-not-echo", "MAX_FILESIZE_MB": "3", "projectId": "x"},
        )
    assert info.value.problems == (
        "--set MAX_FILE_SIZE_MB: 31 is above the maximum 30",
        "--set WEBHOOK_TOKEN: WEBHOOK_TOKEN is a secret and never goes in git: set QUIXOTIC_QA_WEBHOOK_TOKEN instead",
        "--set MAX_FILESIZE_MB: unknown setting (did you mean 'MAX_FILE_SIZE_MB'?); set a declared variable, "
        "endpoint, projectName, description, protection.FIELD, buckets.ID.FIELD or functions.ID.FIELD",
        "--set projectId: give the project id with --project-id",
        "--project-id: the project 'quixotictools' is already used by environment 'prod'; "
        "each environment needs a project of its own",
    )
    assert "tok-do-not-echo" not in info.value.message
    assert sorted(p.name for p in (root / "environments").iterdir()) == before


def test_settings_given_to_create_are_validated_like_the_file(root: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_environment(root, "qa", "dev", "quixotictools-qa", {"functions.transcribe.timeout": "1000"})
    assert info.value.problems == ("environments/qa.json: functions.transcribe.timeout: 1000 is above the maximum 900",)
    assert not (root / "environments" / "qa.json").exists()


def test_set_syntax_errors_are_reported_together() -> None:
    with pytest.raises(UsageError) as info:
        commands.parse_sets(["A=1", "novalue", "A=2", "=x"])
    assert (
        info.value.message == "--set 'novalue': expected KEY=VALUE; --set A: given twice; --set '': expected KEY=VALUE"
    )
