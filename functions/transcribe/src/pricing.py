"""What a transcription costs: CREDITS_PER_MINUTE for every started minute of DECODED audio.

``minutes = max(1, ceil((seconds - GRACE_SECONDS) / 60))`` and ``price = minutes * CREDITS_PER_MINUTE``,
rounded to 6 decimals. ``seconds`` is what the decoder produced, never the container's header (a truncated
file's header claims its full length). The grace absorbs encoder padding: a 60.2 s decode of a one-minute
recording costs one minute, not two. Any audio at all costs at least one minute.
"""

from __future__ import annotations

import math

GRACE_SECONDS = 0.5


def billed_minutes(seconds: float) -> int:
    return max(1, math.ceil((seconds - GRACE_SECONDS) / 60.0))


def price(seconds: float, credits_per_minute: float) -> float:
    return round(billed_minutes(seconds) * credits_per_minute, 6)
