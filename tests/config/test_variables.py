"""The shared-variables template: declarations are checked, values are typed and written as Appwrite stores them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_files import PROJECT, write_tree

from quixotic.config import VariableSpec, load_template
from quixotic.config.variables import to_text
from quixotic.errors import ConfigError


def template_problems(tmp_path: Path, variables: list[dict[str, object]]) -> tuple[str, ...]:
    write_tree(
        tmp_path, {"appwrite.json": PROJECT, "templates/shared-variables.json": json.dumps({"variables": variables})}
    )
    with pytest.raises(ConfigError) as info:
        load_template(tmp_path)
    return info.value.problems


def var(**fields: object) -> dict[str, object]:
    return {"name": "X", "type": "string", "description": "A variable.", "functions": ["worker"], **fields}


def test_declarations_are_checked_together(tmp_path: Path) -> None:
    problems = template_problems(
        tmp_path,
        [
            var(name="LEVEL", type="enum"),
            var(name="NAME", min=1),
            var(name="SIZE", type="int", min=0.5, drives={"buckets.upload.maximumFileSize": 1000}),
            var(name="TOKEN", secret=True, default="committed"),
            var(name="API_KEY"),
            var(name="lower"),
            var(name="RATE", type="flaot"),
            var(name="NAME"),
            var(name="ALL", functions=[]),
            var(name="COUNT", type="int", default=3.5),
            var(name="WHERE", functions="everything"),
        ],
    )
    assert problems == (
        "templates/shared-variables.json: variables.LEVEL: an enum variable needs 'values' (its allowed values)",
        "templates/shared-variables.json: variables.NAME.min: 'min' applies only to int and float variables",
        "templates/shared-variables.json: variables.SIZE.drives: no bucket 'upload' in appwrite.json "
        "(did you mean 'uploads'?)",
        "templates/shared-variables.json: variables.SIZE.min: an int variable's 'min' must be an integer, got 0.5",
        "templates/shared-variables.json: variables.TOKEN.default: a secret has no default in git; "
        "set it per environment (QUIXOTIC_<ENV>_TOKEN) instead",
        "templates/shared-variables.json: variables.API_KEY.name: 'API_KEY' is reserved; choose another name",
        "templates/shared-variables.json: variables.lower.name: 'lower' is not valid: upper-case letters, digits "
        "and '_', starting with a letter",
        "templates/shared-variables.json: variables.RATE.type: 'flaot' is not one of: string, int, float, bool, url, "
        "enum (did you mean 'float'?)",
        "templates/shared-variables.json: variables: the variable 'NAME' is declared twice",
        'templates/shared-variables.json: variables.ALL.functions: name at least one function, or "*" for the '
        "whole project",
        "templates/shared-variables.json: variables.COUNT.default: expected an integer, got 3.5",
        'templates/shared-variables.json: variables.WHERE.functions: expected "*" (the whole project) or a list of '
        "function ids, got 'everything'",
    )


@pytest.mark.parametrize(
    ("spec", "text", "typed", "stored"),
    [
        (VariableSpec("N", "int", "", min=1), " 7 ", 7, "7"),
        (VariableSpec("F", "float", ""), "50", 50.0, "50.0"),
        (VariableSpec("B", "bool", ""), "yes", True, "true"),
        (VariableSpec("E", "enum", "", values=("a", "b")), "b", "b", "b"),
        (VariableSpec("U", "url", ""), "https://x.example/h", "https://x.example/h", "https://x.example/h"),
    ],
)
def test_values_from_text_are_typed_and_stored_as_strings(
    spec: VariableSpec, text: str, typed: object, stored: str
) -> None:
    assert spec.parse(text) == typed and type(spec.parse(text)) is type(typed)
    assert to_text(spec.parse(text)) == stored


@pytest.mark.parametrize(
    ("spec", "text", "message"),
    [
        (VariableSpec("N", "int", "", min=1, max=30), "-1", "-1 is below the minimum 1"),
        (VariableSpec("N", "int", ""), "ten", "expected an integer, got 'ten'"),
        (VariableSpec("F", "float", "", exclusive_min=0), "0", "0.0 must be greater than 0"),
        (VariableSpec("F", "float", ""), "inf", "expected a finite number, got 'inf'"),
        (
            VariableSpec("E", "enum", "", values=("debug", "info")),
            "inof",
            "'inof' is not one of: debug, info (did you mean 'info'?)",
        ),
        (VariableSpec("S", "url", "", secret=True), "hunter2-secret", "the secret value is not a valid http(s) URL"),
        (VariableSpec("S", "int", "", secret=True), "hunter2-secret", "expected an integer, got the secret value"),
    ],
)
def test_bad_values_say_why_and_never_echo_secrets(spec: VariableSpec, text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        spec.parse(text)
    assert str(info.value) == message
