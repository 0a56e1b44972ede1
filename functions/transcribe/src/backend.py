"""Every Appwrite call of the transcribe function: the audio file, the transcription row, credits and ledger.

Credits move only through the server's bounded increments, each in ONE TablesDB transaction with its ledger
entry: a charge is ``decrement_row_column(..., "balance", value=price, min=0)`` (refused below zero, so
parallel charges can never overdraw) plus its ``credit_ledger`` row, committed together or not at all, so a
worker killed between the two leaves neither. Entries have a unique ``entryKey``
(``charge:<fileId>:<attempt>``, ``refund:<fileId>:<attempt>``), so an entry can never be written twice and the
net amount held for a file is the sum of its ledger entries.

The transcription row (id = the file id) carries a mutex, ``locked`` (an integer column bounded 0..1): taking
it is ``increment_row_column(..., "locked", value=1, max=1)``, which only one caller can win; releasing it is
part of the attempt's last row update.

The SDK (27.x, ``requirements.txt``) answers pydantic models; :func:`plain` turns each answer into Appwrite's
JSON (``$id`` and the other system fields by their names, a row's columns beside them) here, once, so the
rest of the function reads rows and files as the documents Appwrite describes.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB

from .failures import FunctionError

DATABASE = "quixotic_app"
TRANSCRIPTIONS = "transcriptions"
ACCOUNTS = "credit_accounts"
LEDGER = "credit_ledger"
BUCKET = "audio"
TX_TTL = 60  # seconds a credit movement's transaction may stay open (Appwrite's shortest)
TX_RETRIES = 8  # commits a movement tries when another movement of the account got in first
BOUND_ERRORS = ("column_limit_exceeded", "column_value_invalid", "attribute_limit_exceeded", "attribute_value_invalid")


def plain(answer: Any) -> dict[str, Any]:
    """An SDK answer as Appwrite's JSON document. A model is dumped by its aliases with a row's ``data`` (its
    columns) flattened beside the system fields; a dict (what 15.x answers, as when the toolkit's own
    environment drives this module in tests/whisper) is already that document."""
    if isinstance(answer, dict):
        return answer
    doc: dict[str, Any] = answer.to_dict()
    data = doc.pop("data", None)
    return {**data, **doc} if isinstance(data, dict) else doc


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def error_type(exc: AppwriteException) -> str:
    return str(getattr(exc, "type", "") or "")


def error_code(exc: AppwriteException) -> int:
    try:
        return int(getattr(exc, "code", 0) or 0)
    except (TypeError, ValueError):
        return 0


class Backend:
    def __init__(self, client: Client) -> None:
        self.tables = TablesDB(client)
        self.storage = Storage(client)

    # --- the audio file ---------------------------------------------------------------------------

    def file(self, file_id: str) -> dict[str, Any] | None:
        try:
            return plain(self.storage.get_file(BUCKET, file_id))
        except AppwriteException as exc:
            if error_code(exc) == 404:
                return None
            raise

    def download(self, file_id: str) -> bytes:
        try:
            data = self.storage.get_file_download(BUCKET, file_id)
        except AppwriteException as exc:
            if error_code(exc) == 404:
                raise FunctionError("file_not_found", f"file {file_id} was deleted while it was being read") from exc
            raise
        return bytes(data)

    # --- the transcription row --------------------------------------------------------------------

    def transcription(self, file_id: str) -> dict[str, Any] | None:
        try:
            return plain(self.tables.get_row(DATABASE, TRANSCRIPTIONS, file_id))
        except AppwriteException as exc:
            if error_code(exc) == 404:
                return None
            raise

    def ensure_transcription(self, file_id: str, user_id: str) -> None:
        """Create the row (status ``queued``, unlocked) unless it exists."""
        data = {
            "userId": user_id,
            "fileId": file_id,
            "status": "queued",
            "attempts": 0,
            "locked": 0,
            "creditsCharged": 0.0,
            "audioPurged": False,
        }
        try:
            self.tables.create_row(DATABASE, TRANSCRIPTIONS, file_id, data, [Permission.read(Role.user(user_id))])
        except AppwriteException as exc:
            if error_code(exc) != 409:
                raise

    def try_lock(self, file_id: str) -> bool:
        try:
            self.tables.increment_row_column(DATABASE, TRANSCRIPTIONS, file_id, "locked", value=1, max=1)
        except AppwriteException as exc:
            if error_type(exc) in BOUND_ERRORS:
                return False
            raise
        return True

    def break_lock(self, file_id: str) -> None:
        """Release a lock whose holder died (bounded at 0, so two breakers cannot make it negative)."""
        try:
            self.tables.decrement_row_column(DATABASE, TRANSCRIPTIONS, file_id, "locked", value=1, min=0)
        except AppwriteException as exc:
            if error_type(exc) not in BOUND_ERRORS:
                raise

    def update_transcription(self, file_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return plain(self.tables.update_row(DATABASE, TRANSCRIPTIONS, file_id, data))

    # --- credits ----------------------------------------------------------------------------------

    def balance(self, user_id: str) -> float | None:
        try:
            return float(plain(self.tables.get_row(DATABASE, ACCOUNTS, user_id))["balance"])
        except AppwriteException as exc:
            if error_code(exc) == 404:
                return None
            raise

    def held(self, file_id: str) -> float:
        """Credits held for this file: its charges minus its refunds, from the ledger."""
        total = 0.0
        cursor: str | None = None
        while True:
            queries = [Query.equal("transcriptionId", [file_id]), Query.limit(100)]
            if cursor:
                queries.append(Query.cursor_after(cursor))
            rows = self._rows(queries)
            for row in rows:
                if row.get("kind") == "charge":
                    total += float(row["amount"])
                elif row.get("kind") == "refund":
                    total -= float(row["amount"])
            if len(rows) < 100:
                return round(total, 6)
            cursor = rows[-1]["$id"]

    def charge(self, user_id: str, file_id: str, attempt: int, amount: float, reason: str) -> float:
        """Take ``amount`` from the user's balance (never below 0) and record it; returns the balance after."""
        try:
            return self._move(user_id, f"charge:{file_id}:{attempt}", "charge", -amount, file_id, reason)
        except AppwriteException as exc:
            if error_code(exc) == 404:
                raise FunctionError(
                    "insufficient_credits", f"user {user_id} has no credit account; this file costs {amount:g} credits"
                ) from exc
            if error_type(exc) in BOUND_ERRORS:
                have = self.balance(user_id)
                raise FunctionError(
                    "insufficient_credits",
                    f"this file costs {amount:g} credits and the balance is {have if have is not None else 0:g}",
                ) from exc
            raise

    def refund(self, user_id: str, file_id: str, attempt: int, amount: float, reason: str) -> float:
        """Give ``amount`` back and record it; returns the balance after."""
        return self._move(user_id, f"refund:{file_id}:{attempt}", "refund", amount, file_id, reason)

    def _move(self, user_id: str, key: str, kind: str, delta: float, file_id: str, reason: str) -> float:
        """Change the balance by ``delta`` and write its ledger entry in ONE transaction: both or neither.

        Another movement of the same account committed in between makes the commit a
        ``transaction_conflict`` (nothing applied): the movement is retried in a new transaction. A
        transaction never committed (a worker killed, an error) expires with nothing applied."""
        for round_ in range(TX_RETRIES):
            tx = str(plain(self.tables.create_transaction(ttl=TX_TTL))["$id"])
            try:
                if delta < 0:
                    account = self.tables.decrement_row_column(
                        DATABASE, ACCOUNTS, user_id, "balance", value=-delta, min=0, transaction_id=tx
                    )
                else:
                    account = self.tables.increment_row_column(
                        DATABASE, ACCOUNTS, user_id, "balance", value=delta, transaction_id=tx
                    )
                after = float(plain(account)["balance"])
                self._ledger(user_id, key, kind, abs(delta), file_id, reason, after, tx)
                self.tables.update_transaction(tx, commit=True)
                return after
            except AppwriteException as exc:
                self._drop(tx)
                if error_type(exc) != "transaction_conflict" or round_ == TX_RETRIES - 1 or self._entry(key):
                    raise
            except BaseException:
                self._drop(tx)
                raise
            time.sleep(min(0.05 * 2**round_, 1.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _drop(self, tx: str) -> None:
        """Roll ``tx`` back if it is still open (best effort: an unused transaction expires anyway)."""
        try:
            self.tables.update_transaction(tx, rollback=True)
        except AppwriteException:
            pass

    def _entry(self, key: str) -> bool:
        """Whether the ledger already holds the entry ``key`` (a movement never writes twice)."""
        return bool(self._rows([Query.equal("entryKey", [key]), Query.limit(1)]))

    def _rows(self, queries: list[str]) -> list[dict[str, Any]]:
        """One page of the ledger."""
        page = self.tables.list_rows(DATABASE, LEDGER, queries)
        rows = page.get("rows", []) if isinstance(page, dict) else page.rows
        return [plain(row) for row in rows]

    def _ledger(
        self, user_id: str, key: str, kind: str, amount: float, file_id: str, reason: str, after: float, tx: str
    ) -> None:
        data = {
            "userId": user_id,
            "kind": kind,
            "amount": amount,
            "transcriptionId": file_id,
            "reason": reason[:255],
            "balanceAfter": max(0.0, after),
            "entryKey": key,
        }
        self.tables.create_row(
            DATABASE, LEDGER, ID.unique(), data, [Permission.read(Role.user(user_id))], transaction_id=tx
        )
