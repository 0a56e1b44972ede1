"""The platforms an environment file declares, on literals: what is kept, what is reported and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from quixotic.config import load_environment
from quixotic.config.fields import Loc
from quixotic.config.platforms_file import PlatformSpec, parse_platforms
from quixotic.config.problems import Problems

LOC = Loc("environments/local.json", "platforms")


def parsed(data: object) -> tuple[tuple[PlatformSpec, ...], tuple[str, ...]]:
    problems = Problems()
    return parse_platforms(data, LOC, problems), problems.items


def test_web_and_native_platforms_are_kept() -> None:
    kept, problems = parsed(
        [{"type": "web", "hostname": "*.quixotic.example"}, {"type": "flutter-android", "key": "com.q.w", "name": "A"}]
    )
    assert problems == ()
    assert kept == (PlatformSpec("web", hostname="*.quixotic.example"), PlatformSpec("flutter-android", key="com.q.w",
                                                                                   name="A"))  # fmt: skip


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"type": "web"}, "expected a list"),
        ([{"type": "webb", "hostname": "a.io"}], "'webb' is not a known value (did you mean 'web'?)"),
        ([{"type": "web"}], "a web platform needs a 'hostname'"),
        ([{"type": "android"}], "a android platform needs a 'key'"),
        ([{"type": "web", "hostname": "https://a.io/x"}], "is not a host name"),
        ([{"type": "web", "hostname": "a.io", "port": 80}], "unknown key 'port'"),
        (["web"], "expected a JSON object"),
    ],
)
def test_wrong_platforms_are_reported_where_they_are(data: object, words: str) -> None:
    kept, problems = parsed(data)
    assert kept == ()
    assert any(words in p and p.startswith("environments/local.json: platforms") for p in problems), problems


def test_this_repositorys_local_environment_declares_the_apps_platforms() -> None:
    env = load_environment(Path(__file__).parents[2], "local", environ={}, require_secrets=False)
    assert {p.type for p in env.platforms} >= {"flutter-android", "flutter-ios"}
    assert env.to_public_json()["platforms"][0]["key"] == "com.quixotictools.whisper"
