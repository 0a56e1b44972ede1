"""The app's initial schema: database quixotic_app with transcriptions, credit_accounts and credit_ledger.

Frozen here as it was when migrations began: appwrite.json moves on, an applied migration must not. On a
project that `quixotic deploy` already set up, every table, column and index is found and kept (so
applying this is safe either way); later columns come from appwrite.json through deploy, or from
migrations when they need data work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quixotic.config.resources import Column, Index

if TYPE_CHECKING:
    from quixotic.migrations.context import Context

IRREVERSIBLE = "undoing it would drop every table of the app and its data; restore a backup instead"

DATABASE = "quixotic_app"

TRANSCRIPTIONS = (
    Column("userId", "varchar", required=True, size=36),
    Column("fileId", "varchar", required=True, size=36),
    Column("status", "string", required=True, format="enum", elements=("queued", "processing", "completed", "failed")),
    Column("language", "varchar", size=16),
    Column("durationSeconds", "double", min=0),
    Column("text", "longtext"),
    Column("segments", "longtext"),
    Column("model", "varchar", size=64),
    Column("creditsCharged", "double", min=0, default=0.0),
    Column("error", "varchar", size=2048),
    Column("startedAt", "datetime"),
    Column("completedAt", "datetime"),
    Column("audioPurged", "boolean", default=False),
)
TRANSCRIPTION_INDEXES = (
    Index("owner_status", "key", ("userId", "status"), ("ASC", "ASC")),
    Index("owner_created", "key", ("userId", "$createdAt"), ("ASC", "DESC")),
    Index("file_unique", "unique", ("fileId",), ("ASC",)),
    Index("purge_scan", "key", ("audioPurged", "$createdAt"), ("ASC", "ASC")),
)

ACCOUNTS = (
    Column("userId", "varchar", required=True, size=36),
    Column("balance", "double", required=True, min=0),
)
ACCOUNT_INDEXES = (Index("user_unique", "unique", ("userId",), ("ASC",)),)

LEDGER = (
    Column("userId", "varchar", required=True, size=36),
    Column("kind", "string", required=True, format="enum", elements=("grant", "charge", "refund")),
    Column("amount", "double", required=True, min=0),
    Column("transcriptionId", "varchar", size=36),
    Column("reason", "varchar", size=255),
    Column("balanceAfter", "double", min=0),
    Column("entryKey", "varchar", required=True, size=128),
)
LEDGER_INDEXES = (
    Index("user_created", "key", ("userId", "$createdAt"), ("ASC", "DESC")),
    Index("entry_unique", "unique", ("entryKey",), ("ASC",)),
    Index("by_transcription", "key", ("transcriptionId",), ("ASC",)),
)


def up(ctx: Context) -> None:
    ctx.create_database(DATABASE, "QuixoticWhisper")
    tables = (
        ("transcriptions", "Transcriptions", TRANSCRIPTIONS, TRANSCRIPTION_INDEXES),
        ("credit_accounts", "Credit accounts", ACCOUNTS, ACCOUNT_INDEXES),
        ("credit_ledger", "Credit ledger", LEDGER, LEDGER_INDEXES),
    )
    for table, name, columns, indexes in tables:
        ctx.create_table(table, name, columns=columns, indexes=indexes, row_security=True, database=DATABASE)
