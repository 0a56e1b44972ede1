"""Raw HTTP to the local server, for what the SDK will not send: lone surrogates, NaN, CR/LF in a path,
lying headers, bodies of any shape. And a snapshot of a project's stored data, to check that a refused
request changed nothing."""

from __future__ import annotations

import http.client
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """One keep-alive connection to the server, with the project's key on every request."""

    def __init__(self, url: str, project_id: str, key: str | None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.project_id, self.key = project_id, key
        self._conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes | str = b"", headers: dict[str, str] | None = None) -> Answer:
        """``path`` goes on the request line as given (already percent-encoded where it needs to be)."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        sent = {"X-Appwrite-Project": self.project_id}
        if self.key is not None:  # None: a guest
            sent["X-Appwrite-Key"] = self.key
        if data and not (headers and "Content-Type" in headers):
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        for attempt in (1, 2):
            conn = self._conn or http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._conn = conn
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in sent.items():
                    conn.putheader(name, value)
                conn.putheader("Content-Length", str(len(data)))
                conn.endheaders(data)
                reply = conn.getresponse()
                answer = Answer(reply.status, reply.getheader("content-type") or "", reply.read())
                if reply.getheader("connection", "").lower() == "close":
                    self.close()
                return answer
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def by_hand(
        self, method: str, path: str, framing: tuple[str, str], timeout: float = 60
    ) -> http.client.HTTPConnection:
        """A connection of its own with the request's head sent but not ended (the project's headers, JSON, and
        ``framing``: a Content-Length or Transfer-Encoding of the caller's choosing), for a body sent by hand."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.putrequest(method, path, skip_accept_encoding=True)
        head = (("X-Appwrite-Project", self.project_id), ("X-Appwrite-Key", self.key))
        for name, value in (*head, ("Content-Type", "application/json"), framing):
            conn.putheader(name, value)
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def snapshot(data_dir: Path, project_id: str) -> list[tuple[Any, ...]]:
    """Every stored record of the project: its meta records and the rows of its tables."""
    conn = sqlite3.connect(data_dir / "quixotic.db", timeout=30)
    try:
        meta = conn.execute(
            "SELECT kind, parent, _uid, _updatedAt, _permissions, data FROM meta WHERE project=? ORDER BY _seq",
            (project_id,),
        ).fetchall()
        tables = conn.execute("SELECT _seq FROM meta WHERE project=? AND kind='table'", (project_id,)).fetchall()
        rows: list[tuple[Any, ...]] = []
        for (seq,) in tables:
            name = f"r_{int(seq)}"
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
            if found:
                rows.extend((name, *r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY _seq").fetchall())
        return [*meta, *rows]
    finally:
        conn.close()
