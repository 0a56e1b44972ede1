"""JSON answers as the server sent them: a list page cut into its items' texts, a bulk answer's count.

Pure: no SDK import. A backup writes each row as the text the server sent (one NDJSON line, no model and
no re-encoding); a restore reads only the ``total`` of a bulk write's answer. Both rest on the C scanner
of :mod:`json`: :func:`split_list` parses each item once, as ``json.loads`` of the page would, and keeps
where it starts and ends.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

# The C scanner json.loads uses (not in the stubs): an item parsed from an offset, and where it ends.
_SCAN: Final[Any] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009
scanstring: Final[Any] = getattr(json.decoder, "scanstring")  # noqa: B009
_TOTAL: Final = re.compile(rb'\{\s*"total"\s*:\s*(\d+)\s*,')
_COMPACT_HEAD: Final = re.compile(rb'\{(?:"total":(\d+),)?"([A-Za-z]+)":\[')


@dataclass(frozen=True)
class RawJson:
    """A successful JSON answer's body, unparsed."""

    body: bytes

    def parsed(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class ListPage:
    """One page of a list answer: its items parsed, and the same items as NDJSON lines of the server's own
    text (``None`` where that text spans lines: a pretty-printed answer)."""

    items: list[dict[str, Any]]
    lines: bytes | None
    fields: dict[str, Any]


def split_list(raw: RawJson | Any, plural: str) -> ListPage:
    """The page ``raw`` holds (``{..., plural: [item, ...]}``); an answer the SDK parsed already (a line
    that sends some other way) is taken as it is, without lines. Raises ValueError when it is no such page."""
    if not isinstance(raw, RawJson):
        if not isinstance(raw, dict) or not isinstance(raw.get(plural), list):
            raise ValueError(f"the answer is not a list of {plural}")
        return ListPage(list(raw[plural]), None, {k: v for k, v in raw.items() if k != plural})
    compact = _compact(raw.body, plural)
    if compact is not None:
        return compact
    text = raw.body.decode()
    try:
        items, texts, fields = _walk(text, plural)
    except (StopIteration, IndexError, ValueError) as exc:
        raise ValueError(f"the answer is not a list of {plural}: bad JSON ({exc!r})") from None
    if texts is None:
        raise ValueError(f"the answer is not a list of {plural}")
    lines = None if "\n" in text else ("\n".join(texts) + "\n").encode() if texts else b""
    return ListPage(items, lines, fields)


def _compact(body: bytes, plural: str) -> ListPage | None:
    """The page of an answer shaped as the local server and Appwrite send a list, ``{"total":N,"rows":[...]}``
    without white space, parsed whole and cut where its items meet (``},{``); None for any other shape, or where
    the cut and the parse disagree (an item holding ``},{`` itself, a nested list of objects), which the scanner
    then cuts item by item. A third quicker than the scanner on a page of 1,000 rows."""
    head = _COMPACT_HEAD.match(body)
    if head is None or head.group(2) != plural.encode() or not body.endswith(b"]}") or b"\n" in body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    keys = {plural, "total"} if head.group(1) else {plural}
    if not isinstance(parsed, dict) or parsed.keys() != keys:
        return None
    items = parsed[plural]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return None
    inner = body[head.end() : -2]
    fields = {k: v for k, v in parsed.items() if k != plural}
    if not items:
        return None if inner else ListPage([], b"", fields)
    if inner.count(b"},{") != len(items) - 1:
        return None
    lines = inner.replace(b"},{", b"}\n{") + b"\n"
    first, _, rest = lines.partition(b"\n")
    last = lines[lines.rfind(b"\n", 0, len(lines) - 1) + 1 : -1] if rest else first
    try:
        if json.loads(first) != items[0] or json.loads(last) != items[-1]:  # each end is an item of its own
            return None
    except ValueError:
        return None
    return ListPage(items, lines, fields)


def _skip(text: str, at: int) -> int:
    """Past the JSON white space at ``at``."""
    while text[at] in " \t\n\r":
        at += 1
    return at


def _walk(text: str, plural: str) -> tuple[list[dict[str, Any]], list[str] | None, dict[str, Any]]:
    """The top-level object's fields; the ``plural`` array item by item, each item's text kept."""
    items: list[dict[str, Any]] = []
    texts: list[str] | None = None
    fields: dict[str, Any] = {}
    at = _skip(text, 0)
    if text[at] != "{":
        raise StopIteration(at)
    at = _skip(text, at + 1)
    if text[at] == "}":
        return items, texts, fields
    while True:
        if text[at] != '"':
            raise StopIteration(at)
        key, at = scanstring(text, at + 1)
        at = _skip(text, at)
        if text[at] != ":":
            raise StopIteration(at)
        at = _skip(text, at + 1)
        if key == plural and text[at] == "[":
            texts = []
            at = _items(text, at + 1, items, texts)
        else:
            fields[key], at = _SCAN(text, at)
        at = _skip(text, at)
        if text[at] == "}":
            return items, texts, fields
        if text[at] != ",":
            raise StopIteration(at)
        at = _skip(text, at + 1)


def _items(text: str, at: int, items: list[dict[str, Any]], texts: list[str]) -> int:
    """The array's items from ``at`` (just past ``[``) into ``items`` and ``texts``; where the array ends."""
    at = _skip(text, at)
    if text[at] == "]":
        return at + 1
    while True:
        found: tuple[Any, int] = _SCAN(text, at)
        item, end = found
        if not isinstance(item, dict):
            raise StopIteration(at)
        items.append(item)
        texts.append(text[at:end])
        mark = text[end]
        if mark == ",":
            at = end + 1
            if text[at] in " \t\n\r":
                at = _skip(text, at)
            continue
        if mark == "]":
            return end + 1
        at = _skip(text, end)
        if text[at] == "]":
            return at + 1
        if text[at] != ",":
            raise StopIteration(at)
        at = _skip(text, at + 1)


def reply_total(raw: RawJson | Any) -> int:
    """The ``total`` of a bulk write's answer. Read from the first bytes when ``total`` comes first (as
    Appwrite and the local server send it), else from the answer parsed. Raises ValueError without one."""
    if isinstance(raw, RawJson):
        found = _TOTAL.match(raw.body)
        if found:
            return int(found.group(1))
        try:
            raw = raw.parsed()
        except ValueError as exc:
            raise ValueError(f"the answer is not JSON ({exc})") from None
    total = raw.get("total") if isinstance(raw, dict) else None
    if not isinstance(total, int) or isinstance(total, bool):
        raise ValueError("the answer has no count (`total`) of the rows written")
    return int(total)
