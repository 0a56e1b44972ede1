"""This repository's own configuration: it loads for local, dev and prod with the seed values, describes the
QuixoticWhisper backend, and renders to official CLI files that read back the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_files import REPO, copy_repo_config

from quixotic.config import list_environments, load_environment, load_project, render_environment

SEEDS = {
    # env: (MAX_FILE_SIZE_MB, DEFAULT_USER_CREDITS, CLEANUP_AFTER_HOURS, projectId)
    "local": ("10", "50.0", "6", "quixotictools-local"),
    "dev": ("10", "50.0", "6", "quixotictools-dev"),
    "prod": ("25", "10.0", "1", "quixotictools"),
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_repo_config(tmp_path)


def test_the_three_environments_exist() -> None:
    assert list_environments(REPO) == ("dev", "local", "prod")


@pytest.mark.parametrize("env", sorted(SEEDS))
def test_each_environment_loads_with_its_seed_values(root: Path, env: str) -> None:
    loaded = load_environment(root, env, environ={})
    size, credits, hours, project_id = SEEDS[env]
    assert loaded.project_id == project_id
    assert loaded.function_variables("transcribe")["MAX_FILE_SIZE_MB"] == (size, False)
    assert loaded.function_variables("grant-credits")["DEFAULT_USER_CREDITS"] == (credits, False)
    assert loaded.function_variables("cleanup")["CLEANUP_AFTER_HOURS"] == (hours, False)
    audio = loaded.project.bucket("audio")
    assert audio is not None and audio.maximum_file_size == int(size) * 1_000_000  # MB = 1,000,000 bytes
    assert loaded.project_variables().keys() == {"LOG_LEVEL"}


def test_endpoints_and_protection(root: Path) -> None:
    local, dev, prod = (load_environment(root, e, environ={}) for e in ("local", "dev", "prod"))
    assert local.endpoint == "http://127.0.0.1:8080/v1"
    assert local.api_key_var == "QUIXOTIC_LOCAL_API_KEY"  # where `quixotic up` writes it
    assert dev.endpoint == prod.endpoint == "https://cloud.appwrite.io/v1"
    p = prod.protection
    assert p.require_confirmation and p.refuse_destructive and p.backup_before_migrations
    assert not local.protection.require_confirmation and not local.protection.refuse_destructive


def test_the_schema_serves_the_app() -> None:
    project = load_project(REPO)
    assert [d.id for d in project.databases] == ["quixotic_app"]
    transcriptions, accounts, ledger = (
        project.table(t) for t in ("transcriptions", "credit_accounts", "credit_ledger")
    )
    assert transcriptions is not None and accounts is not None and ledger is not None
    status = transcriptions.column("status")
    assert status is not None and status.elements == ("queued", "processing", "completed", "failed")
    assert {c.key for c in transcriptions.columns} >= {
        "userId", "fileId", "status", "language", "durationSeconds", "text", "segments", "model",
        "creditsCharged", "error", "startedAt", "completedAt", "audioPurged",
    }  # fmt: skip
    text = transcriptions.column("text")
    assert text is not None and text.type == "longtext"
    indexes = {(t.id, i.type, i.columns) for t in project.tables for i in t.indexes}
    assert ("transcriptions", "key", ("userId", "status")) in indexes
    assert ("transcriptions", "unique", ("fileId",)) in indexes  # one transcription (and charge) per file
    assert ("credit_accounts", "unique", ("userId",)) in indexes
    assert ("credit_ledger", "unique", ("entryKey",)) in indexes  # idempotent grants, charges and refunds
    balance = accounts.column("balance")
    assert balance is not None and balance.min == 0
    kind = ledger.column("kind")
    assert kind is not None and kind.elements == ("grant", "charge", "refund")


def test_the_bucket_and_functions() -> None:
    project = load_project(REPO)
    audio = project.bucket("audio")
    assert audio is not None
    assert set(audio.allowed_file_extensions) == {"wav", "mp3", "m4a", "ogg", "opus", "webm", "flac"}
    transcribe, grant, cleanup = (project.function(f) for f in ("transcribe", "grant-credits", "cleanup"))
    assert transcribe is not None and grant is not None and cleanup is not None
    assert transcribe.execute == ("users",) and transcribe.timeout == 900
    assert transcribe.events == ("buckets.audio.files.*.create",)
    assert grant.events == ("users.*.create",)
    assert cleanup.schedule == "*/15 * * * *"
    for function in project.functions:
        assert function.runtime == "python-3.11" and function.entrypoint == "src/main.py"
        assert function.path == f"functions/{function.id}"


@pytest.mark.parametrize("env", sorted(SEEDS))
def test_render_reads_back_as_the_same_environment(
    root: Path, tmp_path_factory: pytest.TempPathFactory, env: str
) -> None:
    secrets = {"QUIXOTIC_DEV_WEBHOOK_TOKEN": "whsec-render-4242", "QUIXOTIC_PROD_WEBHOOK_TOKEN": "whsec-render-4242"}
    rendered = render_environment(root, env, environ=secrets)
    text = json.dumps(rendered)
    assert "whsec-render-4242" not in text and '"vars"' not in text
    assert rendered["projectId"] == SEEDS[env][3]
    # The rendered file, used as the project's appwrite.json, gives the same environment back.
    other = copy_repo_config(tmp_path_factory.mktemp("rendered"))
    (other / "appwrite.json").write_text(json.dumps(rendered))
    assert load_environment(other, env, environ={}).project == load_environment(root, env, environ={}).project
    assert load_project(other).project_id == SEEDS[env][3]
