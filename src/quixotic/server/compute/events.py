"""Appwrite event names and the patterns functions subscribe with (pure)."""

from __future__ import annotations


def event_names(event: str) -> set[str]:
    """Every name an event is known by, including the other database API's spelling.

    A row event is emitted as ``databases.D.tables.T.rows.R.create``; Appwrite 1.8 functions may
    subscribe to that, to ``tablesdb.D.tables.T.rows.R.create`` or to the legacy
    ``databases.D.collections.T.documents.R.create``.
    """
    names = {event}
    parts = event.split(".")
    if len(parts) >= 6 and parts[0] == "databases" and parts[2] in ("tables", "collections"):
        table_word = parts[2]
        row_word = parts[4]
        names.add(".".join(["tablesdb", *parts[1:]]).replace(f".{table_word}.", ".tables.", 1))
        legacy = list(parts)
        legacy[2] = "collections"
        legacy[4] = "documents" if row_word in ("rows", "documents") else row_word
        names.add(".".join(legacy))
        modern = list(parts)
        modern[2] = "tables"
        modern[4] = "rows" if row_word in ("rows", "documents") else row_word
        names.add(".".join(modern))
        names.add(".".join(["tablesdb", *modern[1:]]))
    return names


def event_matches(pattern: str, event: str) -> bool:
    """``*`` matches one segment; a pattern may stop early (``users.*`` matches ``users.1.create``)."""
    want = pattern.split(".")
    for name in event_names(event):
        have = name.split(".")
        if len(want) <= len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=False)):
            return True
    return False
