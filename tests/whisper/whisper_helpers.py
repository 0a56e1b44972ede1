"""Test helpers for the Whisper backend functions: ``Whisper`` (the deployed project, driven like an app and a
server would), the committed speech clips and their scripts, and word error rate."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.enums.execution_method import ExecutionMethod
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.server import LocalServer
from support.site import REPO

from quixotic.config import Environment

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
ROOT = REPO  # the repository's own project is what gets deployed
ENV = "local"
DATABASE = "quixotic_app"
BUILD_TIMEOUT = 600.0


@dataclass
class Execution:
    status: int
    body: dict[str, Any]
    execution: dict[str, Any]

    @property
    def code(self) -> str | None:
        error = self.body.get("error")
        return error.get("code") if isinstance(error, dict) else None


@dataclass
class Whisper:
    """The deployed backend and shortcuts to drive it like an app and a server would."""

    server: LocalServer
    env: Environment
    api_key: str
    client: Client

    def __post_init__(self) -> None:
        self.tables = TablesDB(self.client)
        self.storage = Storage(self.client)
        self.functions = Functions(self.client)
        self.users = Users(self.client)

    @property
    def project_id(self) -> str:
        return self.env.project_id

    def upload(self, data: bytes, name: str, user_id: str) -> str:
        created = self.storage.create_file(
            "audio", ID.unique(), InputFile.from_bytes(data, name), [Permission.read(Role.user(user_id))]
        )
        return str(created["$id"])

    def start(self, function_id: str, body: dict[str, Any], caller: str | None = None) -> str:
        headers = {"content-type": "application/json"}
        if caller:
            headers["x-appwrite-user-id"] = caller  # the local server's stand-in for a user's session
        execution = self.functions.create_execution(
            function_id, json.dumps(body), True, "/", ExecutionMethod.POST, headers
        )
        return str(execution["$id"])

    def wait(self, function_id: str, execution_id: str, timeout: float = 300.0) -> Execution:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.functions.get_execution(function_id, execution_id)
            if execution["status"] in ("completed", "failed"):
                try:
                    body = json.loads(execution["responseBody"] or "{}")
                except ValueError:
                    body = {"raw": execution["responseBody"]}
                return Execution(int(execution["responseStatusCode"]), body, execution)
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_id} of {function_id} is still {execution['status']}")
            time.sleep(0.1)

    def run(self, function_id: str, body: dict[str, Any], caller: str | None = None) -> Execution:
        return self.wait(function_id, self.start(function_id, body, caller))

    def transcribe(self, file_id: str, user_id: str | None = None, caller: str | None = None) -> Execution:
        body: dict[str, Any] = {"fileId": file_id}
        if user_id:
            body["userId"] = user_id
        return self.run("transcribe", body, caller)

    def fund(self, user_id: str, balance: float) -> None:
        """An account (without a user, so no grant event) holding ``balance``, recorded as a grant."""
        self.tables.create_row(DATABASE, "credit_accounts", user_id, {"userId": user_id, "balance": balance})
        self.tables.create_row(
            DATABASE, "credit_ledger", ID.unique(),
            {"userId": user_id, "kind": "grant", "amount": balance, "entryKey": f"grant:{user_id}",
             "balanceAfter": balance},
        )  # fmt: skip

    def balance(self, user_id: str) -> float | None:
        try:
            return float(self.tables.get_row(DATABASE, "credit_accounts", user_id)["balance"])
        except AppwriteException as exc:
            if exc.code == 404:
                return None
            raise

    def ledger(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.tables.list_rows(DATABASE, "credit_ledger", [Query.equal("userId", [user_id]), Query.limit(500)])
        return list(rows["rows"])

    def transcription(self, file_id: str) -> dict[str, Any]:
        return dict(self.tables.get_row(DATABASE, "transcriptions", file_id))

    def wait_row(self, file_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """The transcription row once no execution holds it and it is completed or failed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                row = self.transcription(file_id)
                if row["status"] in ("completed", "failed") and not row.get("locked"):
                    return row
            except AppwriteException as exc:
                if exc.code != 404:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"transcription {file_id} did not finish")
            time.sleep(0.1)

    def settle(self, timeout: float = 180.0) -> None:
        """Wait until no execution of transcribe is waiting or running (upload events included)."""
        deadline = time.monotonic() + timeout
        busy = [Query.equal("status", ["waiting", "processing"]), Query.limit(1)]
        while self.functions.list_executions("transcribe", busy)["total"]:
            if time.monotonic() > deadline:
                raise TimeoutError("transcribe executions are still running")
            time.sleep(0.1)

    def cli_environ(self) -> dict[str, str]:
        """Process variables that point the ``local`` environment at this server."""
        return {**os.environ, "QUIXOTIC_LOCAL_API_KEY": self.api_key, "QUIXOTIC_LOCAL_ENDPOINT": self.server.url}


@dataclass(frozen=True)
class Clip:
    path: Path
    script: str
    seconds: float

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def clips() -> list[Clip]:
    spec = json.loads((AUDIO / "scripts.json").read_text())
    return [Clip(AUDIO / c["file"], c["script"], float(c["durationSeconds"])) for c in spec["clips"]]


def silence() -> Clip:
    spec = json.loads((AUDIO / "scripts.json").read_text())["silence"]
    return Clip(AUDIO / spec["file"], "", float(spec["durationSeconds"]))


def words(text: str) -> list[str]:
    """Lower-case words; punctuation and apostrophes dropped ("painter's" and "painters" are one word)."""
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance over words."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def video_only() -> Path:
    """A WebM with a video stream and no audio stream."""
    return AUDIO / json.loads((AUDIO / "scripts.json").read_text())["videoOnly"]["file"]
