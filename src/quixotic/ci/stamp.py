"""The stamp a generated file carries: ``quixotic-sha256:<hash>`` of the file's own text (with the hash
zeroed), so a later ``init`` tells a file it wrote and nobody touched from one a person edited."""

from __future__ import annotations

import hashlib
import re
from typing import Final

PLACEHOLDER: Final = "<<stamp>>"
_PREFIX: Final = "quixotic-sha256:"
_ZERO: Final = _PREFIX + "0" * 64
_FOUND: Final = re.compile(re.escape(_PREFIX) + r"[0-9a-f]{64}")


def stamp(text: str) -> str:
    """``text`` with its one :data:`PLACEHOLDER` replaced by the stamp of the result."""
    if text.count(PLACEHOLDER) != 1:
        raise ValueError(f"a generated file needs exactly one {PLACEHOLDER}, found {text.count(PLACEHOLDER)}")
    zeroed = text.replace(PLACEHOLDER, _ZERO)
    return zeroed.replace(_ZERO, _PREFIX + _digest(zeroed))


def is_pristine(text: str) -> bool:
    """True when ``text`` carries one stamp and the stamp matches the text: written by us, not edited."""
    found: list[str] = _FOUND.findall(text)
    if len(found) != 1:
        return False
    zeroed = text.replace(found[0], _ZERO)
    return found[0] == _PREFIX + _digest(zeroed)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
