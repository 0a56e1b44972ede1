"""Serving a stored file: one ``Range: bytes=A-B`` as Appwrite serves it, and a header-safe Content-Disposition."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final
from urllib.parse import quote

from quixotic.errors import ApiError

MAX_RANGE_OUTPUT: Final = 10 * 1024 * 1024  # an open-ended Range gets at most this much, as in Appwrite
# At most 15 digits per bound: a longer number is an unsatisfiable range, never parsed.
_RANGE_RE: Final = re.compile(r"\s*bytes\s*=\s*(\d{0,15})\s*-\s*(\d{0,15})\s*", re.IGNORECASE)


def byte_range(header: str, size: int) -> tuple[int, int]:
    """``Range: bytes=A-B`` (one range) as Appwrite serves it: END must be inside the file, an open end
    gets at most 10 MiB; a suffix ``bytes=-N`` is the last N bytes."""
    m = _RANGE_RE.fullmatch(header)
    if m is not None and (m.group(1) or m.group(2)):
        first, last = m.group(1), m.group(2)
        if not first:
            start, end = max(0, size - int(last)), size - 1
            valid = int(last) > 0
        else:
            start = int(first)
            end = int(last) if last else min(start + MAX_RANGE_OUTPUT - 1, size - 1)
            valid = True
        if valid and start <= end < size:
            return start, end
    raise ApiError(
        "storage_invalid_range",
        f"The requested range is not satisfiable: '{header}' for a file of {size} bytes. Send one range "
        "`bytes=START-END` with END below the file size.",
    )


def read_range(path: Path, start: int, end: int) -> bytes:
    """Bytes ``start`` to ``end`` (inclusive) of ``path``."""
    with path.open("rb") as src:
        src.seek(start)
        return src.read(end - start + 1)


def disposition(kind: str, name: str) -> str:
    """A header-safe Content-Disposition; non-ASCII names go in ``filename*`` (RFC 6266)."""
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", name) or "file"
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
