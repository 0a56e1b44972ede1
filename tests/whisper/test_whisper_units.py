"""Pure parts of the backend, without a server: the pricing rule and the test helpers' word error rate."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from whisper_helpers import word_error_rate

FUNCTION_SRC = Path(__file__).resolve().parents[2] / "functions" / "transcribe" / "src"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"transcribe_{name}", FUNCTION_SRC / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pricing = load("pricing")


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(0.2, 1), (6.15, 1), (60.0, 1), (60.4, 1), (60.6, 2), (119.9, 2), (120.5, 2), (121.0, 3), (3600.0, 60)],
)
def test_every_started_minute_is_billed(seconds: float, minutes: int) -> None:
    assert pricing.billed_minutes(seconds) == minutes


def test_price_is_minutes_times_rate_without_float_noise() -> None:
    assert pricing.price(150.0, 0.1) == 0.3
    assert pricing.price(10.0, 1.0) == 1.0
    assert pricing.price(61.0, 2.5) == 5.0


def test_word_error_rate() -> None:
    assert word_error_rate("The quick brown fox.", "the quick brown fox") == 0.0
    assert word_error_rate("the quick brown fox", "the quick round fox") == 0.25
    assert word_error_rate("a b c d", "a c d e f") == 0.75  # one deletion, two insertions
    assert word_error_rate("the painters left", "the painter's left") == 0.0  # apostrophes are dropped
