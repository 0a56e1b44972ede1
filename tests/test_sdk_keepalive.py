"""The toolkit's SDK client reuses its TCP connections (quixotic.sdk.transport), on the oldest SDK line (15.x,
this venv) and the newest (27.x, ``.sdk/toolkit-27``): a counting TCP proxy in front of the real server sees
far fewer connections than calls, from one thread or several, with chunked uploads; errors are still the
toolkit's, and a server restarted between two calls (every pooled connection dead) costs nothing but a
reconnect.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.server import LocalServer, start_server
from support.toolkit_lines import NEWEST, needs_newest, run_script

from quixotic.config.resources import Column
from quixotic.errors import NotFound
from quixotic.sdk.backend import READERS, AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.values import ID, InputFile
from quixotic.server import admin


class CountingProxy:
    """A TCP proxy on a free port that counts the connections made to it and forwards each to ``upstream``."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for s in self._open:
                s.close()


def _address(url: str) -> tuple[str, int]:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def proxy(server: LocalServer) -> Iterator[CountingProxy]:
    p = CountingProxy(_address(server.url))
    yield p
    p.close()


def _backend(server: LocalServer, proxy: CountingProxy) -> AppwriteBackend:
    creds = server.new_project()
    return AppwriteBackend(proxy.url, creds.project_id, creds.api_key)


def test_many_calls_share_a_connection(server: LocalServer, proxy: CountingProxy) -> None:
    backend = _backend(server, proxy)
    call("creating a database", backend.db.create, "app", "App")
    for n in range(30):
        call("creating a table", backend.db.create_table, "app", f"t{n}", f"T{n}")
    names = [t["$id"] for t in backend.tables_of("app")]
    assert len(names) == 30
    assert proxy.connections == 1, f"{proxy.connections} connections for 32 calls one after another"
    for _ in range(10):  # its reads go side by side: a few more connections, each kept
        assert len(backend.read_state(with_code=False).tables) == 30
    assert proxy.connections <= 1 + READERS, f"{proxy.connections} connections for 100+ calls"


def test_errors_are_still_translated_and_the_connection_kept(server: LocalServer, proxy: CountingProxy) -> None:
    backend = _backend(server, proxy)
    with pytest.raises(NotFound, match="reading database nope"):
        call("reading database nope", backend.db.get, "nope")
    call("creating a database", backend.db.create, "app", "App")
    with pytest.raises(NotFound):
        backend.db.get_table("app", "missing")
    assert call("reading database app", backend.db.get, "app")["$id"] == "app"
    assert proxy.connections == 1


def test_threads_share_the_pool(server: LocalServer, proxy: CountingProxy) -> None:
    backend = _backend(server, proxy)
    call("creating a database", backend.db.create, "app", "App")
    call("creating a table", backend.db.create_table, "app", "notes", "Notes")
    backend.create_column("app", "notes", Column("title", "varchar", size=50))
    backend.wait_column("app", "notes", "title")

    def write(worker: int) -> int:
        for n in range(15):
            call("creating a row", backend.db.create_row, "app", "notes", f"w{worker}n{n}", {"title": f"{worker}/{n}"})
        return 15

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(write, range(6))) == 90
    rows = call("listing rows", backend.db.list_rows, "app", "notes")
    assert rows["total"] == 90
    assert proxy.connections <= 8, f"{proxy.connections} connections for 90 calls from 6 threads"


def test_a_chunked_upload_goes_over_the_pool(server: LocalServer, proxy: CountingProxy) -> None:
    backend = _backend(server, proxy)
    call("creating a bucket", backend.storage.create_bucket, "b", "B")
    data = os.urandom(11 * 1024 * 1024)  # three chunks of the SDK's 5 MiB
    before = proxy.connections
    created = call("uploading", backend.storage.create_file, "b", ID.unique(), InputFile.from_bytes(data, "x.bin"))
    assert created["sizeOriginal"] == len(data)
    assert bytes(call("downloading", backend.storage.get_file_download, "b", created["$id"])) == data
    assert proxy.connections - before <= 1


@pytest.mark.local_only("restarts a server of its own")
def test_a_server_restart_between_calls(tmp_path: Path) -> None:
    port = admin.free_port()
    srv = start_server(tmp_path / "data", tmp_path / "server.log", port=port)
    try:
        creds = srv.new_project()
        backend = AppwriteBackend(srv.url, creds.project_id, creds.api_key)
        call("creating a database", backend.db.create, "app", "App")
        call("reading it", backend.db.get, "app")
        srv.process.terminate()
        srv.process.wait(timeout=10)
        srv = start_server(tmp_path / "data", tmp_path / "server.log", port=port)
        # a write first (never sent twice): the dead pooled connection is noticed before it is used
        call("creating a table", backend.db.create_table, "app", "t", "T")
        assert call("reading it", backend.db.get_table, "app", "t")["$id"] == "t"
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=10)


NEWEST_SCRIPT = """
import json, os, sys
from quixotic.sdk.backend import READERS, AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.values import ID, InputFile
from quixotic.config.resources import Column
from quixotic.errors import NotFound
url, project, key = sys.argv[1:4]
backend = AppwriteBackend(url, project, key)
call("creating a database", backend.db.create, "app", "App")
for n in range(20):
    call("creating a table", backend.db.create_table, "app", f"t{n}", f"T{n}")
tables = len(list(backend.tables_of("app")))
try:
    backend.db.get("nope")
    missing = "found"
except NotFound as exc:
    missing = str(exc)
call("creating a bucket", backend.storage.create_bucket, "b", "B")
data = os.urandom(16 * 1024 * 1024)  # four chunks, three of them sent by the SDK's 8 threads at once
created = call("uploading", backend.storage.create_file, "b", ID.unique(), InputFile.from_bytes(data, "x.bin"))
same = bytes(call("downloading", backend.storage.get_file_download, "b", created["$id"])) == data
import appwrite.client
print(json.dumps({"tables": tables, "missing": missing, "same": same,
                  "format": appwrite.client.Client().get_headers()["X-Appwrite-Response-Format"]}))
"""


@needs_newest
def test_the_newest_sdk_line_keeps_connections_too(server: LocalServer, proxy: CountingProxy) -> None:
    creds = server.new_project()
    answer = run_script(NEWEST, NEWEST_SCRIPT, proxy.url, creds.project_id, creds.api_key)
    assert answer["format"] == "2.5.0"  # it really is the 27.x line
    assert answer["tables"] == 20 and answer["same"]
    assert "nope" in answer["missing"] or "not found" in answer["missing"].lower()
    # 26 calls, 4 upload chunks (3 in parallel) and a download: a handful of connections, not one per call
    assert proxy.connections <= 4, f"{proxy.connections} connections"
