"""One soak client: mixed SDK traffic, every write journaled before it is sent and when it is acknowledged.

Run by ``bench/soak.py`` as a child process (one per client). The journal is what the checker compares the
server's data against after each kill -9, so its rules are strict:

- ``intent`` (the op number and every change it makes: kind, id, full expected content or null for a delete)
  is written and flushed before the first attempt; ``ack`` after a 2xx; ``fail`` (the ids are then unknown and
  no longer checked) after a 4xx/5xx that no retry explains. A connection error is not an answer: the op is
  retried, the same request again, once the killer opens the gate.
- A retry that meets "already exists" (create) or "not found" (delete) is the first attempt having been
  applied before the kill: acknowledged. A transaction whose commit was cut off is resolved by reading it back.
- While the gate is closed (the killer is restarting and checking) the client parks with its journal flushed and
  nothing in flight, so the checker sees every acknowledgement there is, and at most one open intent per client.

Everything stays within the client's own ids (``c<n>r..``, ``c<n>f..``, ``c<n>u..``), so its model of them is
the truth the server must match.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users

DB, TABLE, BUCKET = "soak", "items", "blobs"
ROW_FIELDS = ("title", "n", "score", "flag", "tags", "client")
CHUNK = 5 * 1024 * 1024  # the SDK's chunk size: a file this large goes up in several requests
CHUNKED_SIZE = CHUNK + 512 * 1024
MAX_CHUNKED_ALIVE = 2  # keeps the disk use of a long soak bounded
KINDS = ("row create", "row update", "row delete", "bulk create", "bulk upsert", "bulk delete", "transaction",
         "file small", "file chunked", "file delete", "user create", "user update")  # fmt: skip
READS = ("row get", "row list", "file get", "file list", "user list", "user get")
WEIGHTS = {"row create": 20, "row update": 15, "row delete": 6, "bulk create": 3, "bulk upsert": 3,
           "bulk delete": 2, "transaction": 3, "file small": 6, "file chunked": 0.4, "file delete": 2,
           "user create": 5, "user update": 2, "row get": 10, "row list": 6, "file get": 3, "file list": 2,
           "user list": 2, "user get": 2}  # fmt: skip
COUNTERS = ("requests", "connection errors", "5xx", "4xx", "wrong reads", "retried acks", *KINDS)
ALREADY = {
    "row_already_exists",
    "document_already_exists",
    "storage_file_already_exists",
    "user_already_exists",
    "user_email_already_exists",
}
NOT_FOUND = {"row_not_found", "document_not_found", "storage_file_not_found", "user_not_found"}


@dataclass
class Shared:
    """What the parent shares with a client: the gate (set = traffic may flow), its parked flag, its counters."""

    gate: Any
    parked: Any
    counters: Any  # multiprocessing Array('q', len(COUNTERS))


@dataclass
class Change:
    kind: str  # row, file, user
    id: str
    content: dict[str, Any] | None  # None: absent after the op


class Failed(Exception):
    """An op answered with an error no retry explains; its ids are forgotten."""


@dataclass
class Soaker:
    number: int
    endpoint: str
    project: str
    key: str
    journal_path: Path
    deadline: float
    shared: Shared
    seed: int
    rng: random.Random = field(init=False)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    chunked: list[str] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    serial: int = 0
    op: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed * 1000 + self.number)
        client = Client().set_endpoint(self.endpoint).set_project(self.project).set_key(self.key)
        self.db, self.storage, self.users_api = TablesDB(client), Storage(client), Users(client)
        self.journal = self.journal_path.open("a", encoding="utf-8")
        self.parent = os.getppid()

    # --- bookkeeping ------------------------------------------------------------------------------

    def count(self, name: str, by: int = 1) -> None:
        with self.shared.counters.get_lock():
            self.shared.counters[COUNTERS.index(name)] += by

    def write(self, entry: dict[str, Any]) -> None:
        self.journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.journal.flush()

    def finding(self, status: int | None, what: str, body: str) -> None:
        self.write({"t": "finding", "status": status, "what": what, "body": body[:2000]})

    def new_id(self, letter: str) -> str:
        self.serial += 1
        return f"c{self.number}{letter}{self.serial}"

    def gate_wait(self) -> None:
        if self.shared.gate.is_set():
            return
        self.journal.flush()
        self.shared.parked.value = 1
        while not self.shared.gate.wait(1.0):
            if os.getppid() != self.parent:
                raise SystemExit(2)
        self.shared.parked.value = 0

    def attempt(self, what: str, fn: Callable[[], Any], retry_ok: set[str] | None = None) -> Any:
        """``fn()`` until it answers; connection errors are retried behind the gate (they acknowledge nothing)."""
        tries = 0
        started = time.monotonic()
        while True:
            self.gate_wait()
            self.count("requests")
            try:
                return fn()
            except AppwriteException as exc:
                if exc.code is None or exc.code == 0:
                    self.count("connection errors")
                    tries += 1
                    if time.monotonic() - started > 300:
                        self.finding(None, what, f"no answer for 300 s: {exc.message}")
                        raise Failed(what) from exc
                    time.sleep(min(0.05 * tries, 0.5))
                    continue
                if tries and retry_ok and exc.type in retry_ok:
                    self.count("retried acks")
                    return None
                self.count("5xx" if exc.code >= 500 else "4xx")
                self.finding(exc.code, what, exc.response or exc.message)
                raise Failed(what) from exc

    def apply(self, kind: str, changes: list[Change], send: Callable[[], Any]) -> None:
        """Journal the intent, send, journal the answer, and only then update the model."""
        self.op += 1
        self.write({"t": "intent", "op": self.op, "ch": [[c.kind, c.id, c.content] for c in changes]})
        try:
            send()
        except Failed:
            self.write({"t": "fail", "op": self.op})
            for c in changes:
                self.store_of(c.kind).pop(c.id, None)
            return
        self.write({"t": "ack", "op": self.op})
        self.count(kind)
        for c in changes:
            if c.content is None:
                self.store_of(c.kind).pop(c.id, None)
            else:
                self.store_of(c.kind)[c.id] = c.content

    def store_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"row": self.rows, "file": self.files, "user": self.users}[kind]

    # --- content ----------------------------------------------------------------------------------

    def row_content(self) -> dict[str, Any]:
        r = self.rng
        return {"title": f"soak {r.randrange(10**9)} café — {r.choice(['a', 'ß', '日本', 'x' * 50])}",
                "n": r.randint(-(10**9), 10**9), "score": r.uniform(-1e6, 1e6), "flag": r.random() < 0.5,
                "tags": [r.choice(["red", "green", "blue", "ünï"]) for _ in range(r.randint(0, 3))],
                "client": self.number}  # fmt: skip

    def pick(self, store: dict[str, Any], k: int = 1) -> list[str]:
        ids = list(store)
        return self.rng.sample(ids, min(k, len(ids)))

    # --- writes -----------------------------------------------------------------------------------

    def row_create(self) -> None:
        rid, content = self.new_id("r"), self.row_content()
        send = lambda: self.attempt("createRow " + rid, lambda: self.db.create_row(DB, TABLE, rid, content), ALREADY)  # noqa: E731
        self.apply("row create", [Change("row", rid, content)], send)

    def row_update(self) -> None:
        (rid,) = self.pick(self.rows) or [None]
        if rid is None:
            return self.row_create()
        patch = {k: v for k, v in self.row_content().items() if k in ("title", "n", "flag")}
        content = {**self.rows[rid], **patch}
        send = lambda: self.attempt("updateRow " + rid, lambda: self.db.update_row(DB, TABLE, rid, patch))  # noqa: E731
        self.apply("row update", [Change("row", rid, content)], send)

    def row_delete(self) -> None:
        (rid,) = self.pick(self.rows) or [None]
        if rid is None:
            return self.row_create()
        send = lambda: self.attempt("deleteRow " + rid, lambda: self.db.delete_row(DB, TABLE, rid), NOT_FOUND)  # noqa: E731
        self.apply("row delete", [Change("row", rid, None)], send)

    def bulk_create(self) -> None:
        made = {self.new_id("r"): self.row_content() for _ in range(self.rng.randint(5, 40))}
        body = [{"$id": rid, **c} for rid, c in made.items()]
        send = lambda: self.attempt("createRows", lambda: self.db.create_rows(DB, TABLE, body), ALREADY)  # noqa: E731
        self.apply("bulk create", [Change("row", rid, c) for rid, c in made.items()], send)

    def bulk_upsert(self) -> None:
        made = {rid: self.row_content() for rid in self.pick(self.rows, 8)}
        made.update({self.new_id("r"): self.row_content() for _ in range(4)})
        body = [{"$id": rid, **c} for rid, c in made.items()]
        send = lambda: self.attempt("upsertRows", lambda: self.db.upsert_rows(DB, TABLE, body))  # noqa: E731
        self.apply("bulk upsert", [Change("row", rid, c) for rid, c in made.items()], send)

    def bulk_delete(self) -> None:
        gone = self.pick(self.rows, 6)
        if not gone:
            return self.bulk_create()
        send = lambda: self.attempt("deleteRows", lambda: self.db.delete_rows(DB, TABLE, [Query.equal("$id", gone)]))  # noqa: E731
        self.apply("bulk delete", [Change("row", rid, None) for rid in gone], send)

    def transaction(self) -> None:
        """Two creates, an update and a delete, staged then committed: all of them or none."""
        existing = self.pick(self.rows, 2)
        made = {self.new_id("r"): self.row_content() for _ in range(2)}
        ops: list[dict[str, Any]] = [
            {"action": "create", "databaseId": DB, "tableId": TABLE, "rowId": rid, "data": c} for rid, c in made.items()
        ]
        changes = [Change("row", rid, c) for rid, c in made.items()]
        if existing:
            patch = {"n": self.rng.randint(0, 10**6), "flag": True}
            ops.append({"action": "update", "databaseId": DB, "tableId": TABLE, "rowId": existing[0], "data": patch})
            changes.append(Change("row", existing[0], {**self.rows[existing[0]], **patch}))
        if len(existing) > 1:
            ops.append({"action": "delete", "databaseId": DB, "tableId": TABLE, "rowId": existing[1]})
            changes.append(Change("row", existing[1], None))
        self.apply("transaction", changes, lambda: self.run_transaction(ops))

    def run_transaction(self, ops: list[dict[str, Any]]) -> None:
        while True:
            self.gate_wait()
            try:  # a staged transaction that is never committed writes nothing: on a cut, start over
                self.count("requests")
                tx = self.db.create_transaction(ttl=600)["$id"]
                self.count("requests")
                self.db.create_operations(tx, ops)
            except AppwriteException as exc:
                if exc.code is None or exc.code == 0:
                    self.count("connection errors")
                    time.sleep(0.05)
                    continue
                self.count("5xx" if exc.code >= 500 else "4xx")
                self.finding(exc.code, "transaction staging", exc.response or exc.message)
                raise Failed("transaction") from exc
            break
        self.attempt("commit " + tx, lambda: self.commit(tx))

    def commit(self, tx: str) -> Any:
        try:
            return self.db.update_transaction(tx, commit=True)
        except AppwriteException as exc:
            # a retried commit that finds its transaction committed already: the first one went through
            if exc.code and self.db.get_transaction(tx).get("status") == "committed":
                self.count("retried acks")
                return None
            raise

    def file_small(self) -> None:
        fid, data = self.new_id("f"), os.urandom(self.rng.randint(1, 64 * 1024))
        self.upload(fid, data, "file small")

    def file_chunked(self) -> None:
        if len(self.chunked) >= MAX_CHUNKED_ALIVE:
            oldest = self.chunked.pop(0)
            if oldest in self.files:
                self.file_delete(oldest)
        fid = self.new_id("f")
        self.upload(fid, os.urandom(CHUNKED_SIZE + self.rng.randint(0, 4096)), "file chunked")
        self.chunked.append(fid)

    def upload(self, fid: str, data: bytes, kind: str) -> None:
        name = f"{fid}.bin"
        content = {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

        def send() -> None:  # a fresh InputFile each try: the SDK resumes a chunked upload from what the server has
            self.attempt(
                "createFile " + fid,
                lambda: self.storage.create_file(BUCKET, fid, InputFile.from_bytes(data, name)),
                ALREADY,
            )

        self.apply(kind, [Change("file", fid, content)], send)

    def file_delete(self, fid: str | None = None) -> None:
        fid = fid or (self.pick(self.files) or [None])[0]
        if fid is None:
            return self.file_small()
        send = lambda: self.attempt("deleteFile " + fid, lambda: self.storage.delete_file(BUCKET, fid), NOT_FOUND)  # noqa: E731
        self.apply("file delete", [Change("file", fid, None)], send)

    def user_create(self) -> None:
        uid = self.new_id("u")
        content = {"name": f"Soak Ünïcode {self.rng.randrange(10**6)}", "email": f"{uid}@soak.example.com"}
        send = lambda: self.attempt(  # noqa: E731
            "createUser " + uid,
            lambda: self.users_api.create(uid, content["email"], None, "soak-password-1", content["name"]),
            ALREADY,
        )
        self.apply("user create", [Change("user", uid, content)], send)

    def user_update(self) -> None:
        (uid,) = self.pick(self.users) or [None]
        if uid is None:
            return self.user_create()
        content = {**self.users[uid], "name": f"Renamed {self.rng.randrange(10**6)}"}
        send = lambda: self.attempt("updateName " + uid, lambda: self.users_api.update_name(uid, content["name"]))  # noqa: E731
        self.apply("user update", [Change("user", uid, content)], send)

    # --- reads: what the client knows it wrote must be what it reads ------------------------------

    def read(self, name: str) -> None:
        try:
            self.read_once(name)
        except Failed:
            pass

    def read_once(self, name: str) -> None:
        if name == "row get" and self.rows:
            (rid,) = self.pick(self.rows)
            got = self.attempt("getRow " + rid, lambda: self.db.get_row(DB, TABLE, rid))
            self.compare("row", rid, {k: got.get(k) for k in ROW_FIELDS}, self.rows[rid])
        elif name == "row list":
            self.attempt(
                "listRows", lambda: self.db.list_rows(DB, TABLE, [Query.equal("client", self.number), Query.limit(25)])
            )
        elif name == "file get" and self.files:
            (fid,) = self.pick(self.files)
            if self.files[fid]["size"] < CHUNK:
                data = self.attempt("getFileDownload " + fid, lambda: self.storage.get_file_download(BUCKET, fid))
                self.compare(
                    "file", fid, {"sha256": hashlib.sha256(data).hexdigest()}, {"sha256": self.files[fid]["sha256"]}
                )
        elif name == "file list":
            self.attempt("listFiles", lambda: self.storage.list_files(BUCKET, [Query.limit(25)]))
        elif name == "user list":
            self.attempt("listUsers", lambda: self.users_api.list([Query.limit(25)], search="Soak"))
        elif name == "user get" and self.users:
            (uid,) = self.pick(self.users)
            got = self.attempt("getUser " + uid, lambda: self.users_api.get(uid))
            self.compare("user", uid, {"name": got.get("name"), "email": got.get("email")}, self.users[uid])

    def compare(self, kind: str, rid: str, got: dict[str, Any], want: dict[str, Any]) -> None:
        if got != want:
            self.count("wrong reads")
            self.finding(200, f"read of {kind} {rid}", json.dumps({"got": got, "want": want}, ensure_ascii=False))

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.time() < self.deadline and os.getppid() == self.parent:
            name = self.rng.choices(names, weights)[0]
            if name in READS:
                self.read(name)
            else:
                getattr(self, name.replace(" ", "_"))()
        self.journal.close()


def client_main(
    number: int, endpoint: str, project: str, key: str, journal: str, deadline: float, shared: Shared, seed: int
) -> None:
    """Entry point of a client process."""
    Soaker(number, endpoint, project, key, Path(journal), deadline, shared, seed).run()
