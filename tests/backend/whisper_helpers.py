"""Test helpers for the backend: the committed speech clips and their scripts, and word error rate."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@dataclass(frozen=True)
class Clip:
    path: Path
    script: str
    seconds: float

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def clips() -> list[Clip]:
    spec = json.loads((AUDIO / "scripts.json").read_text())
    return [Clip(AUDIO / c["file"], c["script"], float(c["durationSeconds"])) for c in spec["clips"]]


def silence() -> Clip:
    spec = json.loads((AUDIO / "scripts.json").read_text())["silence"]
    return Clip(AUDIO / spec["file"], "", float(spec["durationSeconds"]))


def words(text: str) -> list[str]:
    """Lower-case words; punctuation and apostrophes dropped ("painter's" and "painters" are one word)."""
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance over words."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def video_only() -> Path:
    """A WebM with a video stream and no audio stream."""
    return AUDIO / json.loads((AUDIO / "scripts.json").read_text())["videoOnly"]["file"]
