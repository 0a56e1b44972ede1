"""Appwrite's Realtime names, pure: the channels an event is published on, the event names a frame lists,
and the channel names a subscription registers (``shared/appwrite-spec/CLIENT.md`` section 8.4).

An event (``databases.D.tables.T.rows.R.create``, ``buckets.B.files.F.update``, ``users.U.update.name``)
is published on the channels its resource has for project clients (:func:`publication`; a team's events on
``teams`` and ``teams.<id>``, a membership's on ``memberships`` and ``memberships.<id>``); events of
databases, tables, columns, buckets, functions and deployments are the console's and reach no project
client. Each channel whose last or second-to-last segment names a resource is also published with the
action appended (``rows.create``), and for ``users.*`` only top-level user events get it, not sessions.

A subscription's ``account`` channel is the subscriber's own (:func:`convert_channels`): it also registers
``account.<userId>``, ``account.<action>`` becomes ``account.<userId>.<action>``, and any other
``account.*`` name is dropped, so nobody listens on another user's account.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

ACTIONS: Final = ("create", "update", "upsert", "delete")
# Channel segments that name a resource; a channel ending in one, or in one and an ID, gets the action suffix.
RESOURCE_NAMES: Final = frozenset(
    {"documents", "rows", "files", "executions", "functions", "account", "teams", "memberships", "presences"}
)
_DATABASE_PREFIXES: Final = ("databases", "tablesdb")


@dataclass(frozen=True)
class Publication:
    """Where one event goes: its channels, and what decides who may read it.

    ``kind`` is ``rows`` (``ids`` = database, table, row), ``files`` (bucket, file), ``account`` (user),
    ``executions`` (function, execution), ``teams`` (team) or ``memberships`` (team, membership)."""

    channels: tuple[str, ...]
    kind: str
    ids: tuple[str, ...]


def action_of(parts: Sequence[str]) -> str | None:
    """The action of an event's segments: the last one, or the second-to-last (``users.U.update.email``)."""
    if parts and parts[-1] in ACTIONS:
        return parts[-1]
    if len(parts) >= 2 and parts[-2] in ACTIONS:
        return parts[-2]
    return None


def publication(event: str, payload: Mapping[str, Any]) -> Publication | None:
    """The channels and audience of ``event``; None when no project client receives it."""
    parts = event.split(".")
    if len(parts) < 3:
        return None
    head, first = parts[0], parts[1]
    found: tuple[list[str], str, tuple[str, ...]] | None = None
    if head in _DATABASE_PREFIXES and len(parts) >= 6 and parts[4] in ("rows", "documents"):
        table, row = parts[3], parts[5]
        found = (_row_channels(first, table, row), "rows", (first, table, row))
    elif head == "buckets" and parts[2] == "files" and len(parts) >= 4:
        file_id = parts[3]
        found = (["files", f"buckets.{first}.files", f"buckets.{first}.files.{file_id}"], "files", (first, file_id))
    elif head == "users":
        found = (["account", f"account.{first}"], "account", (first,))
    elif head == "teams" and parts[2] == "memberships" and len(parts) >= 4:
        found = (["memberships", f"memberships.{parts[3]}"], "memberships", (first, parts[3]))
    elif head == "teams":
        found = (["teams", f"teams.{first}"], "teams", (first,))
    elif head == "functions" and parts[2] == "executions" and len(parts) >= 4 and payload.get("$permissions"):
        execution = parts[3]
        found = (["executions", f"executions.{execution}", f"functions.{first}"], "executions", (first, execution))
    if found is None:
        return None
    names, kind, ids = found
    action = action_of(parts)
    if head == "users" and parts[2] != action:  # sessions, tokens...: no account.<action> for them
        action = None
    return Publication(tuple(with_action(names, action)), kind, ids)


def _row_channels(database: str, table: str, row: str) -> list[str]:
    """A row's channels in the legacy, TablesDB-under-``databases`` and ``tablesdb`` spellings."""
    return [
        "documents",
        f"databases.{database}.collections.{table}.documents",
        f"databases.{database}.collections.{table}.documents.{row}",
        "rows",
        f"databases.{database}.tables.{table}.rows",
        f"databases.{database}.tables.{table}.rows.{row}",
        f"tablesdb.{database}.tables.{table}.rows",
        f"tablesdb.{database}.tables.{table}.rows.{row}",
    ]


def with_action(channels: Sequence[str], action: str | None) -> list[str]:
    """``channels`` plus, for each that ends in a resource name (or a resource name and an ID), itself with
    ``.<action>`` appended."""
    out = list(dict.fromkeys(channels))
    if action is None:
        return out
    for channel in list(out):
        segments = channel.split(".")
        if segments[-1] in RESOURCE_NAMES or (len(segments) >= 2 and segments[-2] in RESOURCE_NAMES):
            suffixed = f"{channel}.{action}"
            if suffixed not in out:
                out.append(suffixed)
    return out


# --- event names ------------------------------------------------------------------------------------


def event_names(event: str) -> list[str]:
    """Every name Appwrite lists for ``event`` in a frame's ``events``: the concrete one first, then each
    combination of its IDs replaced by ``*``, each truncation to a parent resource, and for rows the
    legacy (``collections.documents``), ``tables.rows`` and ``tablesdb`` spellings of each."""
    parts = event.split(".")
    levels: list[tuple[str, str]] = [(parts[0], parts[1] if len(parts) > 1 else "")]
    i = 2
    while i + 1 < len(parts) and parts[i] not in ACTIONS:
        levels.append((parts[i], parts[i + 1]))
        i += 2
    tail = parts[i:]
    patterns: list[tuple[list[tuple[str, str]], list[str]]] = []
    if tail:
        patterns.append((levels, tail))
        if len(tail) > 1:
            patterns.append((levels, tail[:1]))
        if len(levels) > 1 and len(tail) > 1:
            patterns.append((levels[:1], tail))
    for depth in range(len(levels), 0, -1):
        patterns.append((levels[:depth], []))
    names: list[str] = []
    for pattern_levels, pattern_tail in patterns:
        names.extend(_wildcards(pattern_levels, pattern_tail))
    if parts[0] in _DATABASE_PREFIXES:
        names = [form for name in names for form in _database_spellings(name)]
    return list(dict.fromkeys(names))


def _wildcards(levels: Sequence[tuple[str, str]], tail: Sequence[str]) -> Iterable[str]:
    """The name with every subset of its IDs replaced by ``*``: none first, then all, then the others."""
    count = len(levels)
    masks = [(False,) * count, (True,) * count]
    masks += [m for m in itertools.product((False, True), repeat=count) if m not in masks]
    for mask in masks:
        segments = [s for (word, ident), star in zip(levels, mask, strict=True) for s in (word, "*" if star else ident)]
        yield ".".join([*segments, *tail])


def _database_spellings(name: str) -> list[str]:
    """A database event name as ``tablesdb.…tables.…rows``, ``databases.…collections.…documents`` and
    ``databases.…tables.…rows`` (Appwrite mirrors the two APIs' names)."""
    parts = name.split(".")
    modern = ["rows" if p == "documents" else "tables" if p == "collections" else p for p in parts[1:]]
    legacy = ["documents" if p == "rows" else "collections" if p == "tables" else p for p in parts[1:]]
    forms = [".".join(["tablesdb", *modern]), ".".join(["databases", *legacy]), ".".join(["databases", *modern])]
    first = ".".join(parts)
    return list(dict.fromkeys([first, *forms]))


# --- subscriptions ----------------------------------------------------------------------------------


def convert_channels(channels: Iterable[str], user_id: str) -> list[str]:
    """The channel names a subscription registers (the ``account`` rules of the module doc)."""
    out: dict[str, None] = {}
    for channel in channels:
        if channel == "account":
            out[channel] = None
            if user_id:
                out[f"account.{user_id}"] = None
        elif channel.startswith("account."):
            rest = channel[len("account.") :]
            if rest in ACTIONS:
                out[f"account.{user_id}.{rest}" if user_id else channel] = None
            # anything else under account. (another user's account) is dropped
        else:
            out[channel] = None
    return list(out)


def rebind_account_channels(channels: Iterable[str], old_user: str, new_user: str) -> list[str]:
    """A subscription's channels after the connection signs in as ``new_user`` (it was ``old_user``, or a
    guest when empty): the guest's literal ``account.<action>`` and the old user's account channels
    become the new user's."""
    if not new_user or old_user == new_user:
        return list(channels)
    out: list[str] = []
    for channel in channels:
        rest = channel[len("account.") :] if channel.startswith("account.") else None
        if rest is not None and not old_user and rest in ACTIONS:
            channel = f"account.{new_user}.{rest}"
        elif rest is not None and old_user and rest == old_user:
            channel = f"account.{new_user}"
        elif rest is not None and old_user and rest.startswith(f"{old_user}.") and rest[len(old_user) + 1 :] in ACTIONS:
            channel = f"account.{new_user}.{rest[len(old_user) + 1 :]}"
        out.append(channel)
    return list(dict.fromkeys(out))
