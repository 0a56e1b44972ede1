"""What writing generated files would do to what is there: create, leave, update a file we wrote, or
refuse to overwrite one a person edited (unless forced). Pure: texts in, actions with diffs out."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from quixotic.ci.stamp import is_pristine

Verdict = Literal["create", "unchanged", "update", "overwrite", "refuse"]
WRITES: Final = frozenset({"create", "update", "overwrite"})


@dataclass(frozen=True)
class FileAction:
    """One generated file: what happens to it, the new text, and the diff from what is there."""

    path: str
    verdict: Verdict
    text: str
    diff: str = ""

    @property
    def writes(self) -> bool:
        return self.verdict in WRITES


def plan_files(wanted: Mapping[str, str], current: Mapping[str, str | None], *, force: bool) -> list[FileAction]:
    """An action per wanted file. ``current[path]`` is the text on disk (None: no file). A file is ours to
    update when its stamp still matches its text; any other existing text is a person's and is kept
    (``refuse``) unless ``force`` (``overwrite``)."""
    actions = []
    for path, text in wanted.items():
        old = current.get(path)
        if old is None:
            actions.append(FileAction(path, "create", text))
            continue
        if old == text:
            actions.append(FileAction(path, "unchanged", text))
            continue
        diff = "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True), text.splitlines(keepends=True), f"{path} (on disk)", f"{path} (new)"
            )
        )
        verdict: Verdict = "update" if is_pristine(old) else ("overwrite" if force else "refuse")
        actions.append(FileAction(path, verdict, text, diff))
    return actions
