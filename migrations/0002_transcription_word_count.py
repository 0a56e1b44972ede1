"""Add wordCount to transcriptions and backfill it from text, so clients can show and sort by length.

Words are runs of non-whitespace (str.split()). Rows without text (queued, processing, failed) keep
wordCount null: unknown, not zero. down removes the column and its values; text is untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quixotic.config.resources import Column

if TYPE_CHECKING:
    from quixotic.migrations.context import Context

WORD_COUNT = Column("wordCount", "integer", min=0)


def count_words(row: dict[str, Any]) -> dict[str, Any] | None:
    text = row.get("text")
    return None if text is None else {"wordCount": len(text.split())}


def up(ctx: Context) -> None:
    ctx.create_column("transcriptions", WORD_COUNT, database="quixotic_app")
    ctx.backfill("transcriptions", count_words, select=["text"], database="quixotic_app")


def down(ctx: Context) -> None:
    ctx.delete_column("transcriptions", "wordCount", database="quixotic_app")
