"""A package index on 127.0.0.1 that serves the tiny wheel, and can hold its download back (an install stuck part-way).

Builds reach it as ``pip install --index-url URL quixotic-tinypkg``; ``hold()`` makes the next downloads wait
until ``release()``, so a test can kill or overlap a build while its install is in flight.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.wheels import tiny_wheel


class WheelIndex:
    """A PEP 503 index of one project, ``quixotic-tinypkg``; ``downloads`` counts the wheel's downloads begun."""

    def __init__(self) -> None:
        self.name, self.wheel = tiny_wheel()
        self._open = threading.Event()
        self._open.set()
        self.download_begun = threading.Event()
        self.downloads = 0
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:  # uv asks whether ranges are served (they are not: it downloads whole)
                if self.path == f"/files/{index.name}":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(index.wheel)))
                    self.end_headers()
                else:
                    self.send_error(404)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/simple/quixotic-tinypkg":
                    digest = hashlib.sha256(index.wheel).hexdigest()
                    link = f'<a href="/files/{index.name}#sha256={digest}">{index.name}</a>'
                    self._send(f"<html><body>{link}</body></html>".encode(), "text/html")
                elif self.path == f"/files/{index.name}":
                    index.downloads += 1
                    index.download_begun.set()
                    index._open.wait(120)
                    self._send(index.wheel, "application/octet-stream")
                else:
                    self.send_error(404)

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/simple/"

    def hold(self) -> None:
        self.download_begun.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @contextmanager
    def running(self) -> Iterator[WheelIndex]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            self._server.shutdown()
            self._server.server_close()
