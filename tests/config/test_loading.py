"""Loading and merging an environment from literal files: values, sources, secrets, and every bad input
collected into one ConfigError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_files import DEV, SECRETS, TEMPLATE, demo_root

from quixotic.config import REDACTED, DesiredVariable, Source, list_environments, load_environment, redact
from quixotic.errors import ConfigError, QuixoticError


def problems_of(root: Path, env: str, environ: dict[str, str] | None = None) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_environment(root, env, environ=environ if environ is not None else {})
    assert isinstance(info.value, QuixoticError)
    return info.value.problems


def test_values_are_merged_and_each_says_where_it_came_from(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/.env.dev": "QUIXOTIC_DEV_HOOK=https://hooks.example/x\n"})
    env = load_environment(root, "dev", environ={**SECRETS, "QUIXOTIC_DEV_API_KEY": "key-dev"})

    assert (env.name, env.project_id, env.endpoint) == ("dev", "demo-dev", "http://127.0.0.1:9/v1")
    assert env.project_name == "Demo"  # from appwrite.json: dev.json does not set one
    by_name = {v.name: v for v in env.variables}
    assert by_name["MAX_MB"].value == "10" and by_name["MAX_MB"].source == Source("override", "environments/dev.json")
    assert by_name["START_CREDITS"].value == "50.0"
    assert by_name["MODE"].value == "fast"
    assert by_name["MODE"].source == Source("default", "templates/shared-variables.json")
    assert by_name["API_TOKEN"].source == Source("process-env", "QUIXOTIC_DEV_API_TOKEN")
    assert by_name["HOOK"].source == Source("env-file", "environments/.env.dev")
    assert str(by_name["HOOK"].source) == "file environments/.env.dev"

    # The desired variable sets that `vars diff/sync` work from.
    assert env.function_variables("worker") == {
        "MAX_MB": ("10", False),
        "START_CREDITS": ("50.0", False),
        "API_TOKEN": ("tok-dev-0001", True),
        "HOOK": ("https://hooks.example/x", True),
    }
    assert env.project_variables() == {"MODE": DesiredVariable("fast", False)}
    assert env.managed_variables("worker") == {"MAX_MB", "START_CREDITS", "API_TOKEN", "HOOK"}
    assert env.managed_variables() == {"MODE"}

    # Settings: the bucket size follows MAX_MB (MB = 1,000,000 bytes); the function timeout is overridden.
    assert env.project.bucket("uploads") is not None and env.project.bucket("uploads").maximum_file_size == 10_000_000
    assert env.project.function("worker") is not None and env.project.function("worker").timeout == 120
    settings = {s.setting: (s.value, str(s.source)) for s in env.settings}
    assert settings == {
        "functions.worker.timeout": (120, "set in environments/dev.json"),
        "buckets.uploads.maximumFileSize": (10_000_000, "from MAX_MB x 1000000"),
    }
    assert env.protection.require_confirmation and not env.protection.refuse_destructive
    assert env.require_api_key() == "key-dev"


def test_process_environment_wins_over_the_env_file_and_empty_means_unset(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/.env.dev": "QUIXOTIC_DEV_API_TOKEN=from-file\n"})
    env = load_environment(root, "dev", environ={"QUIXOTIC_DEV_API_TOKEN": "from-process"})
    assert env.function_variables("worker")["API_TOKEN"] == ("from-process", True)
    env = load_environment(root, "dev", environ={"QUIXOTIC_DEV_API_TOKEN": ""})
    assert env.function_variables("worker")["API_TOKEN"] == ("from-file", True)


def test_every_bad_input_is_reported_together_in_one_error(tmp_path: Path) -> None:
    dev = """{
      "projectId": "demo-dev",
      "endpoint": "http://127.0.0.1:9/v1",
      "protecton": {},
      "variables": {"MAX_MB": -1, "START_CREDITS": "lots", "MAX_MBS": 3}
    }"""
    root = demo_root(tmp_path, {"environments/dev.json": dev})
    problems = problems_of(root, "dev")
    assert problems == (
        "environments/dev.json: unknown key 'protecton' (did you mean 'protection'?)",
        "environments/dev.json: variables.MAX_MBS: no variable 'MAX_MBS' is declared in "
        "templates/shared-variables.json (did you mean 'MAX_MB'?); declare it there first",
        "environments/dev.json: variables.MAX_MB: -1 is below the minimum 1",
        "environments/dev.json: variables.START_CREDITS: expected a number, got 'lots'",
        "environment 'dev': the required secret API_TOKEN is not set: set QUIXOTIC_DEV_API_TOKEN "
        "in the process environment or in environments/.env.dev",
    )


def test_the_error_message_lists_every_problem_under_a_headline(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/dev.json": DEV.replace('"MAX_MB": 10', '"MAX_MB": 31')})
    with pytest.raises(ConfigError) as info:
        load_environment(root, "dev", environ={})
    lines = info.value.message.splitlines()
    assert lines[0] == "the configuration of environment 'dev' is invalid: 2 problems to fix"
    assert lines[1:] == [f"  - {p}" for p in info.value.problems]
    assert "31 is above the maximum 30" in lines[1]


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    root = demo_root(tmp_path)
    assert list_environments(root) == ("dev", "prod")
    (problem,) = problems_of(root, "prd")
    assert problem.startswith("environment 'prd': unknown environment (did you mean 'prod'?); known: dev, prod")
    (problem,) = problems_of(root, "Bad Name")
    assert "not a valid environment name" in problem


def test_rendered_files_and_odd_names_are_not_environments(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/appwrite.dev.json": "{}", "environments/Notes.json": "{}"})
    assert list_environments(root) == ("dev", "prod")


def test_missing_files_are_all_reported(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"appwrite.json": None, "templates/shared-variables.json": None})
    problems = problems_of(root, "dev", SECRETS)
    assert problems[0].startswith("appwrite.json: file not found")
    assert problems[1].startswith("templates/shared-variables.json: file not found")


def test_invalid_json_gives_file_line_and_column(tmp_path: Path) -> None:
    broken = '{\n  "projectId": "demo-dev",\n  "endpoint": "http://127.0.0.1:9/v1",,\n}'
    root = demo_root(tmp_path, {"environments/dev.json": broken, "templates/shared-variables.json": "[1, 2"})
    problems = problems_of(root, "dev")
    assert problems == (
        "templates/shared-variables.json: invalid JSON at line 1, column 6: Expecting ',' delimiter",
        "environments/dev.json: invalid JSON at line 3, column 39: Expecting property name enclosed in double quotes",
    )


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/dev.json": DEV.replace('"MAX_MB": 10', '"MAX_MB": 10, "MAX_MB": 11')})
    assert "environments/dev.json: the key 'MAX_MB' appears twice in one object; keep one" in problems_of(
        root, "dev", SECRETS
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"lots"', "expected a number, got 'lots'"),
        ("true", "expected a number, got true"),
        ("NaN", "expected a finite number, got nan"),
        ("-0.5", "-0.5 is below the minimum 0"),
        ("null", "expected a number, got null"),
    ],
)
def test_a_float_credit_count_must_be_a_number(tmp_path: Path, value: str, message: str) -> None:
    root = demo_root(
        tmp_path, {"environments/dev.json": DEV.replace('"START_CREDITS": 50.0', f'"START_CREDITS": {value}')}
    )
    assert problems_of(root, "dev", SECRETS) == (f"environments/dev.json: variables.START_CREDITS: {message}",)


def test_an_int_must_be_an_integer(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/dev.json": DEV.replace('"MAX_MB": 10', '"MAX_MB": 10.5')})
    assert problems_of(root, "dev", SECRETS) == (
        "environments/dev.json: variables.MAX_MB: expected an integer, got 10.5",
    )


def test_a_secret_in_git_is_refused_without_echoing_it(tmp_path: Path) -> None:
    dev = DEV.replace('"START_CREDITS": 50.0', '"START_CREDITS": 50.0, "API_TOKEN": "leaked-in-git-77"')
    root = demo_root(tmp_path, {"environments/dev.json": dev})
    with pytest.raises(ConfigError) as info:
        load_environment(root, "dev", environ=SECRETS)
    assert info.value.problems == (
        "environments/dev.json: variables.API_TOKEN: API_TOKEN is a secret, so its value must not be in git: "
        "remove it here and set QUIXOTIC_DEV_API_TOKEN in the process environment or in environments/.env.dev",
    )
    assert "leaked-in-git-77" not in info.value.message


def test_an_invalid_secret_is_reported_without_its_value(tmp_path: Path) -> None:
    root = demo_root(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_environment(root, "dev", environ={**SECRETS, "QUIXOTIC_DEV_HOOK": "not-a-url-secret-99"})
    assert info.value.problems == (
        "process variable QUIXOTIC_DEV_HOOK: HOOK: the secret value is not a valid http(s) URL",
    )
    assert "not-a-url-secret-99" not in info.value.message


def test_a_non_secret_given_outside_git_is_refused(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/.env.dev": "QUIXOTIC_DEV_MODE=slow\n"})
    problems = problems_of(root, "dev", {**SECRETS, "QUIXOTIC_DEV_MAX_MB": "12"})
    assert problems == (
        "process variable QUIXOTIC_DEV_MAX_MB: MAX_MB is not a secret, so its value comes from git: "
        "remove QUIXOTIC_DEV_MAX_MB and set variables.MAX_MB in environments/dev.json",
        "environments/.env.dev: MODE is not a secret, so its value comes from git: remove QUIXOTIC_DEV_MODE "
        "and set variables.MODE in environments/dev.json",
    )


def test_a_typo_in_the_env_file_is_caught(tmp_path: Path) -> None:
    root = demo_root(tmp_path, {"environments/.env.dev": "QUIXOTIC_DEV_API_TOKN=abc\n"})
    problems = problems_of(root, "dev")
    assert problems == (
        "environment 'dev': the required secret API_TOKEN is not set: set QUIXOTIC_DEV_API_TOKEN in the process "
        "environment or in environments/.env.dev (did you mean 'QUIXOTIC_DEV_API_TOKN'?)",
        "environments/.env.dev: 'QUIXOTIC_DEV_API_TOKN' is neither a secret of environment 'dev' nor its API key "
        "(did you mean 'QUIXOTIC_DEV_API_TOKEN'?)",
    )


def test_missing_secrets_can_be_listed_instead_of_refused(tmp_path: Path) -> None:
    env = load_environment(demo_root(tmp_path), "dev", environ={}, require_secrets=False)
    assert env.missing_secrets == ("QUIXOTIC_DEV_API_TOKEN",)
    assert "API_TOKEN" not in env.function_variables("worker")
    with pytest.raises(ConfigError) as info:
        env.require_api_key()
    assert "set QUIXOTIC_DEV_API_KEY in the process environment or in environments/.env.dev" in info.value.message


def test_settings_overrides_are_checked(tmp_path: Path) -> None:
    dev = DEV.replace(
        '"functions": {"worker": {"timeout": 120}}',
        '"functions": {"worker": {"timeout": 1200, "path": "elsewhere"}, "wrker": {}},'
        ' "buckets": {"uploads": {"maximumFileSize": 5, "antivirs": false}}',
    )
    problems = problems_of(demo_root(tmp_path, {"environments/dev.json": dev}), "dev", SECRETS)
    assert problems == (
        "environments/dev.json: buckets.uploads.maximumFileSize: derived from MAX_MB (x 1000000); "
        "set variables.MAX_MB instead",
        "environments/dev.json: buckets.uploads: unknown key 'antivirs' (did you mean 'antivirus'?)",
        "environments/dev.json: functions.worker.path: 'path' cannot differ between environments",
        "environments/dev.json: functions.worker.timeout: 1200 is above the maximum 900",
        "environments/dev.json: functions.wrker: no function 'wrker' in appwrite.json (did you mean 'worker'?); "
        "known: worker",
    )


def test_wrong_types_in_the_environment_file_do_not_hide_other_problems(tmp_path: Path) -> None:
    dev = (
        '{"projectId": "bad id!", "endpoint": "ftp://x", "variables": {"MAX_MB": 0},'
        ' "protection": {"requireConfirmation": "yes"}}'
    )
    problems = problems_of(demo_root(tmp_path, {"environments/dev.json": dev}), "dev", SECRETS)
    assert [p.split(": ")[1] for p in problems] == [
        "projectId",
        "endpoint",
        "protection.requireConfirmation",
        "variables.MAX_MB",
    ]


def test_secrets_never_show_in_reprs_and_redact_scrubs_text(tmp_path: Path) -> None:
    env = load_environment(demo_root(tmp_path), "dev", environ={**SECRETS, "QUIXOTIC_DEV_API_KEY": "key-dev-555"})
    shown = " ".join([repr(env), str(env), repr(env.variables), repr(env.function_variables("worker"))])
    assert "tok-dev-0001" not in shown and "key-dev-555" not in shown
    assert REDACTED in shown
    public = json.dumps(env.to_public_json())
    assert "tok-dev-0001" not in public and "key-dev-555" not in public
    assert env.redact("token tok-dev-0001 and key key-dev-555") == f"token {REDACTED} and key {REDACTED}"
    assert redact("a-b-c", ["b", ""]) == f"a-{REDACTED}-c"


def test_template_is_checked_against_the_project(tmp_path: Path) -> None:
    template = TEMPLATE.replace('"functions": "*"', '"functions": ["wroker"]').replace(
        '"secret": true, "required": true,', '"secret": true, "required": true, "default": "in-git",'
    )
    problems = problems_of(demo_root(tmp_path, {"templates/shared-variables.json": template}), "dev", SECRETS)
    assert problems == (
        "templates/shared-variables.json: variables.MODE.functions: no function 'wroker' in appwrite.json "
        "(did you mean 'worker'?); known: worker",
        "templates/shared-variables.json: variables.API_TOKEN.default: a secret has no default in git; "
        "set it per environment (QUIXOTIC_<ENV>_API_TOKEN) instead",
    )
