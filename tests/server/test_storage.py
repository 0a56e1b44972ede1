"""Conformance of the Storage service, driven through the official SDK (appwrite 15.x) against the real
server process of the session fixture; raw ``requests`` only for protocol edge cases the SDK never sends
(out-of-order or malformed chunks, HTTP ranges)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.storage import Storage
from support.sdk import expect_error, v25_fields
from support.server import LocalServer

from quixotic.server import admin

CHUNK = 5 * 1024 * 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def stored_files(server: LocalServer, project_id: str) -> list[Path]:
    """Every file the server keeps for the project, plus anything in its shared temp folder."""
    roots = [server.data_dir / "files" / project_id, server.data_dir / "files" / ".tmp"]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def storage(client: Client) -> Storage:
    return Storage(client)


@pytest.fixture
def bucket(storage: Storage) -> str:
    storage.create_bucket("files", "Files")
    return "files"


class Raw:
    """Plain HTTP calls with the project's key, for requests the SDK cannot be made to send."""

    def __init__(self, server: LocalServer, project: admin.ProjectCredentials, bucket_id: str) -> None:
        self.url = f"{server.url}/storage/buckets/{bucket_id}/files"
        self.headers = {"X-Appwrite-Project": project.project_id, "X-Appwrite-Key": project.api_key}

    def chunk(
        self, data: bytes, start: int, total: int, file_id: str = "unique()", name: str = "blob.bin", **headers: str
    ) -> requests.Response:
        end = start + len(data) - 1
        sent = {**self.headers, "Content-Range": f"bytes {start}-{end}/{total}", **headers}
        return requests.post(self.url, headers=sent, data={"fileId": file_id}, files={"file": (name, data)}, timeout=30)

    def post(self, data: bytes, content_range: str, file_id: str = "unique()", **headers: str) -> requests.Response:
        sent = {**self.headers, "Content-Range": content_range, **headers}
        return requests.post(
            self.url, headers=sent, data={"fileId": file_id}, files={"file": ("blob.bin", data)}, timeout=30
        )

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(f"{self.url}/{path}", headers={**self.headers, **headers}, timeout=30)


@pytest.fixture
def raw(server: LocalServer, project: admin.ProjectCredentials, bucket: str) -> Raw:
    return Raw(server, project, bucket)


# --- buckets --------------------------------------------------------------------------------------


def test_bucket_defaults_get_and_duplicate(storage: Storage) -> None:
    created = storage.create_bucket("photos", "Photos")
    assert created["$id"] == "photos"
    assert {k: created[k] for k in created if not k.startswith("$")} == {
        "name": "Photos",
        "enabled": True,
        "fileSecurity": False,
        "maximumFileSize": 30_000_000,
        "allowedFileExtensions": [],
        "compression": "none",
        "encryption": True,
        "antivirus": True,
        "transformations": True,
        "totalSize": 0,
    } | v25_fields(description="", stripMetadata=False)
    assert created["$permissions"] == []
    assert created["$createdAt"] == created["$updatedAt"]
    assert storage.get_bucket("photos") == created
    expect_error(lambda: storage.create_bucket("photos", "Again"), 409, "storage_bucket_already_exists")
    expect_error(lambda: storage.get_bucket("nope"), 404, "storage_bucket_not_found")
    generated = storage.create_bucket("unique()", "Generated")
    assert len(generated["$id"]) == 20


def test_bucket_options_validation_and_update(storage: Storage) -> None:
    created = storage.create_bucket(
        "docs",
        "Docs",
        permissions=[Permission.read(Role.any()), Permission.write(Role.users())],
        file_security=True,
        enabled=False,
        maximum_file_size=1000,
        allowed_file_extensions=["pdf", "txt"],
        compression="gzip",
        encryption=False,
        antivirus=False,
        transformations=False,
    )
    # write() is stored expanded, as Appwrite does.
    assert created["$permissions"] == ['read("any")', 'create("users")', 'update("users")', 'delete("users")']
    assert (created["fileSecurity"], created["enabled"], created["maximumFileSize"]) == (True, False, 1000)
    assert (created["compression"], created["encryption"]) == ("gzip", False)
    for bad in (
        lambda: storage.create_bucket("b1", "B", maximum_file_size=30_000_001),
        lambda: storage.create_bucket("b2", "B", maximum_file_size=0),
        lambda: storage.create_bucket("b3", "B", allowed_file_extensions=[f"e{i}" for i in range(101)]),
        lambda: storage.create_bucket("b4", "B", permissions=["read(any)"]),
        lambda: storage.create_bucket("b5", "B", permissions=['own("any")']),
        lambda: storage.create_bucket("b6", "B", permissions=['read("nobody")']),
        lambda: storage.create_bucket("-bad", "B"),
        lambda: storage.create_bucket("b7", "B", compression="lz4"),
    ):
        expect_error(bad, 400, "general_argument_invalid")
    assert storage.list_buckets()["total"] == 1

    updated = storage.update_bucket("docs", "Documents", enabled=True, maximum_file_size=2000)
    assert (updated["name"], updated["enabled"], updated["maximumFileSize"]) == ("Documents", True, 2000)
    # Omitted fields keep their values.
    assert updated["allowedFileExtensions"] == ["pdf", "txt"]
    assert updated["compression"] == "gzip"
    assert updated["$permissions"] == created["$permissions"]
    assert updated["$updatedAt"] >= created["$updatedAt"]
    cleared = storage.update_bucket("docs", "Documents", permissions=[], allowed_file_extensions=[])
    assert (cleared["$permissions"], cleared["allowedFileExtensions"]) == ([], [])
    expect_error(lambda: storage.update_bucket("nope", "X"), 404, "storage_bucket_not_found")
    expect_error(lambda: storage.update_bucket("docs", "X", maximum_file_size=10**9), 400, "general_argument_invalid")


def test_list_buckets_queries_and_search(storage: Storage) -> None:
    storage.create_bucket("avatars", "User avatars", maximum_file_size=1_000_000)
    storage.create_bucket("reports", "Monthly reports", enabled=False)
    storage.create_bucket("exports", "Data exports", file_security=True)
    everything = storage.list_buckets()
    assert everything["total"] == 3
    assert [b["$id"] for b in everything["buckets"]] == ["avatars", "reports", "exports"]
    assert [b["$id"] for b in storage.list_buckets([Query.equal("enabled", [False])])["buckets"]] == ["reports"]
    assert [b["$id"] for b in storage.list_buckets([Query.equal("fileSecurity", True)])["buckets"]] == ["exports"]
    small = storage.list_buckets([Query.less_than("maximumFileSize", 2_000_000)])
    assert [b["$id"] for b in small["buckets"]] == ["avatars"]
    ordered = storage.list_buckets([Query.order_asc("name"), Query.limit(2)])
    assert ordered["total"] == 3
    assert [b["name"] for b in ordered["buckets"]] == ["Data exports", "Monthly reports"]
    page = storage.list_buckets([Query.cursor_after("avatars")])
    assert [b["$id"] for b in page["buckets"]] == ["reports", "exports"]
    assert [b["$id"] for b in storage.list_buckets(search="month")["buckets"]] == ["reports"]
    assert [b["$id"] for b in storage.list_buckets(search="exports")["buckets"]] == ["exports"]
    assert storage.list_buckets(total=False)["total"] == 0
    expect_error(lambda: storage.list_buckets([Query.equal("color", ["red"])]), 400, "general_query_invalid")


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_delete_bucket_removes_files(storage: Storage, server: LocalServer, project: admin.ProjectCredentials) -> None:
    storage.create_bucket("tmp", "Temp")
    storage.create_file("tmp", "one", InputFile.from_bytes(b"1" * 100, "one.txt"))
    storage.create_file("tmp", "two", InputFile.from_bytes(b"2" * 200, "two.txt"))
    assert storage.get_bucket("tmp")["totalSize"] == 300
    assert len(stored_files(server, project.project_id)) == 2
    storage.delete_bucket("tmp")
    expect_error(lambda: storage.get_bucket("tmp"), 404, "storage_bucket_not_found")
    expect_error(lambda: storage.delete_bucket("tmp"), 404, "storage_bucket_not_found")
    assert stored_files(server, project.project_id) == []
    # A bucket of the same ID starts empty.
    storage.create_bucket("tmp", "Temp again")
    assert storage.list_files("tmp")["total"] == 0
    expect_error(lambda: storage.get_file("tmp", "one"), 404, "storage_file_not_found")


# --- files ----------------------------------------------------------------------------------------


def test_small_upload_download_view_preview(storage: Storage, bucket: str, raw: Raw) -> None:
    data = b"hello, storage\n" * 10
    created = storage.create_file(
        bucket, "greeting", InputFile.from_bytes(data, "greeting.txt"), [Permission.read(Role.any())]
    )
    assert created["$id"] == "greeting"
    assert created["bucketId"] == bucket
    assert created["name"] == "greeting.txt"
    assert created["signature"] == md5(data)
    assert created["mimeType"] == "text/plain"
    assert (created["sizeOriginal"], created["chunksTotal"], created["chunksUploaded"]) == (len(data), 1, 1)
    assert (created["encryption"], created["compression"]) == (True, "none")
    assert created["$permissions"] == ['read("any")']
    assert storage.get_file(bucket, "greeting") == created
    assert storage.get_file_download(bucket, "greeting") == data
    assert storage.get_file_view(bucket, "greeting") == data
    assert storage.get_file_preview(bucket, "greeting", width=100) == data
    assert storage.get_bucket(bucket)["totalSize"] == len(data)

    response = raw.get("greeting/download")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Content-Disposition"] == 'attachment; filename="greeting.txt"'
    assert raw.get("greeting/view").headers["Content-Disposition"].startswith("inline")

    # Create answers 201; the mime type comes from the content when the name has no known extension.
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    made = requests.post(
        raw.url, headers=raw.headers, data={"fileId": "pic"}, files={"file": ("picture", png)}, timeout=30
    )
    assert made.status_code == 201, made.text
    assert made.json()["mimeType"] == "image/png"
    assert raw.get("pic/view").headers["Content-Type"] == "image/png"


def test_large_uploads_are_chunked(storage: Storage, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(20_000_000)
    from_bytes = storage.create_file(bucket, "big-bytes", InputFile.from_bytes(data, "big.bin"))
    assert (from_bytes["chunksTotal"], from_bytes["chunksUploaded"]) == (4, 4)
    assert from_bytes["sizeOriginal"] == len(data)
    assert from_bytes["signature"] == md5(data)
    assert from_bytes["mimeType"] == "application/octet-stream"
    path = tmp_path / "big.dat"
    path.write_bytes(data[::-1])
    from_path = storage.create_file(bucket, "unique()", InputFile.from_path(str(path)))
    assert from_path["name"] == "big.dat"
    assert from_path["chunksUploaded"] == 4
    assert md5(storage.get_file_download(bucket, "big-bytes")) == md5(data)
    assert md5(storage.get_file_download(bucket, from_path["$id"])) == md5(data[::-1])
    assert storage.get_bucket(bucket)["totalSize"] == 2 * len(data)
    # Exactly one chunk's worth: the SDK sends it with a Content-Range, as one chunk.
    exact = os.urandom(CHUNK)
    one = storage.create_file(bucket, "exact", InputFile.from_bytes(exact, "exact.bin"))
    assert (one["chunksTotal"], one["chunksUploaded"], one["signature"]) == (1, 1, md5(exact))


def test_chunks_out_of_order(storage: Storage, bucket: str, raw: Raw) -> None:
    data = os.urandom(2 * CHUNK + 1234)
    pieces = [(i * CHUNK, data[i * CHUNK : (i + 1) * CHUNK]) for i in range(3)]
    third = raw.chunk(pieces[2][1], pieces[2][0], len(data), file_id="shuffled", name="shuffled.bin")
    assert third.status_code == 201, third.text
    assert (third.json()["chunksTotal"], third.json()["chunksUploaded"]) == (3, 1)
    first = raw.chunk(pieces[0][1], 0, len(data), **{"X-Appwrite-Id": "shuffled"})
    assert first.json()["chunksUploaded"] == 2
    expect_error(lambda: storage.get_file_download(bucket, "shuffled"), 404, "storage_file_not_found")
    second = raw.chunk(pieces[1][1], CHUNK, len(data), **{"X-Appwrite-Id": "shuffled"})
    assert second.status_code == 201, second.text
    done = second.json()
    assert (done["chunksUploaded"], done["signature"], done["name"]) == (3, md5(data), "shuffled.bin")
    assert storage.get_file_download(bucket, "shuffled") == data
    # Re-sending any chunk of a complete file is a conflict.
    again = raw.chunk(pieces[0][1], 0, len(data), **{"X-Appwrite-Id": "shuffled"})
    assert (again.status_code, again.json()["type"]) == (409, "storage_file_already_exists")


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_chunks_concurrently(storage: Storage, bucket: str, raw: Raw, server: LocalServer) -> None:
    data = os.urandom(4 * CHUNK - 7)
    starts = [i * CHUNK for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(lambda s: raw.chunk(data[s : s + CHUNK], s, len(data), file_id="parallel"), reversed(starts))
        )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["chunksUploaded"] for r in responses) == [1, 2, 3, 4]
    final = storage.get_file(bucket, "parallel")
    assert (final["chunksUploaded"], final["signature"]) == (4, md5(data))
    assert storage.get_file_download(bucket, "parallel") == data
    assert not list((server.data_dir / "files" / ".tmp").glob("*"))


def test_resume_partial_upload(storage: Storage, bucket: str, raw: Raw, tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK + 99)
    raw.chunk(data[:CHUNK], 0, len(data), file_id="resumable", name="resumable.bin")
    raw.chunk(data[CHUNK : 2 * CHUNK], CHUNK, len(data), **{"X-Appwrite-Id": "resumable"})
    partial = storage.get_file(bucket, "resumable")
    assert (partial["chunksTotal"], partial["chunksUploaded"], partial["signature"]) == (4, 2, "")
    assert storage.list_files(bucket, [Query.less_than("chunksUploaded", 4)])["total"] == 1
    expect_error(lambda: storage.get_file_view(bucket, "resumable"), 404, "storage_file_not_found")
    # The SDK asks for chunksUploaded and sends only the rest (from_path: its bytes source cannot seek).
    path = tmp_path / "resumable.bin"
    path.write_bytes(data)
    progress: list[dict[str, Any]] = []
    done = storage.create_file(bucket, "resumable", InputFile.from_path(str(path)), on_progress=progress.append)
    assert [p["chunksUploaded"] for p in progress] == [3, 4]
    assert (done["chunksUploaded"], done["signature"]) == (4, md5(data))
    assert storage.get_file_download(bucket, "resumable") == data


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_oversize_rejected_and_nothing_left(
    storage: Storage, server: LocalServer, project: admin.ProjectCredentials
) -> None:
    storage.create_bucket("small", "Small", maximum_file_size=1_000_000)
    big = InputFile.from_bytes(os.urandom(6 * 1024 * 1024), "big.bin")
    expect_error(lambda: storage.create_file("small", "big", big), 400, "storage_invalid_file_size")
    medium = InputFile.from_bytes(os.urandom(1_000_001), "medium.bin")
    expect_error(lambda: storage.create_file("small", "medium", medium), 400, "storage_invalid_file_size")
    assert storage.list_files("small")["total"] == 0
    expect_error(lambda: storage.get_file("small", "big"), 404, "storage_file_not_found")
    assert stored_files(server, project.project_id) == []
    fits = storage.create_file("small", "fits", InputFile.from_bytes(b"x" * 1_000_000, "fits.bin"))
    assert fits["sizeOriginal"] == 1_000_000


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_extension_and_empty_file(storage: Storage, server: LocalServer, project: admin.ProjectCredentials) -> None:
    storage.create_bucket("images", "Images", allowed_file_extensions=["png", "JPG"])
    for name in ("virus.exe", "noext", "png", "archive.png.zip"):
        upload = InputFile.from_bytes(b"data", name)
        expect_error(
            lambda: storage.create_file("images", "unique()", upload),  # noqa: B023 (called at once)
            400,
            "storage_file_type_unsupported",
        )
    assert storage.create_file("images", "a", InputFile.from_bytes(b"data", "A.PNG"))["name"] == "A.PNG"
    assert storage.create_file("images", "b", InputFile.from_bytes(b"data", "b.jpg"))["mimeType"] == "image/jpeg"
    storage.create_bucket("any", "Any")
    expect_error(
        lambda: storage.create_file("any", "empty", InputFile.from_bytes(b"", "empty.txt")), 400, "storage_file_empty"
    )
    expect_error(
        lambda: storage.create_file("nope", "f", InputFile.from_bytes(b"x", "f.txt")), 404, "storage_bucket_not_found"
    )
    assert storage.list_files("images")["total"] == 2
    assert len(stored_files(server, project.project_id)) == 2


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_bad_content_range_and_id(
    storage: Storage, bucket: str, raw: Raw, server: LocalServer, project: admin.ProjectCredentials
) -> None:
    chunk = b"z" * CHUNK
    total = 2 * CHUNK
    cases = [
        (chunk, "bytes abc"),
        (chunk, f"bytes 0-{CHUNK - 1}"),
        (chunk, f"items 0-{CHUNK - 1}/{total}"),
        (chunk, f"bytes 0-{total}/{total}"),  # END must be below TOTAL
        (chunk, f"bytes 10-{CHUNK + 9}/{total}"),  # not on a chunk boundary
        (b"z" * 100, f"bytes 0-99/{total}"),  # only the last chunk may be short
        (chunk[:-1], f"bytes 0-{CHUNK - 1}/{total}"),  # part smaller than the range says
        (chunk, f"bytes {CHUNK}-{CHUNK - 1}/{total}"),  # start after end
    ]
    for data, content_range in cases:
        response = raw.post(data, content_range)
        assert (response.status_code, response.json()["type"]) == (400, "storage_invalid_content_range"), content_range
    for bad_id in ("unique()", "-starts-badly", "x" * 37, ""):
        response = raw.post(chunk, f"bytes 0-{CHUNK - 1}/{total}", **{"X-Appwrite-Id": bad_id})
        assert (response.status_code, response.json()["type"]) == (400, "storage_invalid_appwrite_id"), bad_id
    # SDKs of Appwrite 2.x name the first chunk of a unique() upload `unique()`: in their format it is no file yet.
    first = raw.post(chunk, f"bytes 0-{CHUNK - 1}/{total}", **{"X-Appwrite-Id": "unique()",
                                                              "X-Appwrite-Response-Format": "2.5.0"})  # fmt: skip
    assert first.status_code == 201 and first.json()["chunksUploaded"] == 1, first.text
    storage.delete_file(bucket, first.json()["$id"])
    # A later chunk must agree with the TOTAL the upload started with.
    assert raw.post(chunk, f"bytes 0-{CHUNK - 1}/{total}", file_id="grow").status_code == 201
    response = raw.post(chunk, f"bytes {CHUNK}-{2 * CHUNK - 1}/{total + 1}", **{"X-Appwrite-Id": "grow"})
    assert (response.status_code, response.json()["type"]) == (400, "storage_invalid_content_range")
    assert storage.get_file(bucket, "grow")["chunksUploaded"] == 1
    assert storage.list_files(bucket)["total"] == 1
    assert not list((server.data_dir / "files" / ".tmp").glob("*"))
    # Deleting an upload in progress drops its chunks too.
    storage.delete_file(bucket, "grow")
    assert stored_files(server, project.project_id) == []


def test_duplicate_file_id(storage: Storage, bucket: str, tmp_path: Path) -> None:
    storage.create_file(bucket, "dup", InputFile.from_bytes(b"first", "dup.txt"))
    expect_error(
        lambda: storage.create_file(bucket, "dup", InputFile.from_bytes(b"second", "dup.txt")),
        409,
        "storage_file_already_exists",
    )
    assert storage.get_file_download(bucket, "dup") == b"first"
    expect_error(
        lambda: storage.create_file(bucket, "bad id!", InputFile.from_bytes(b"x", "x.txt")),
        400,
        "general_argument_invalid",
    )


def test_list_files_queries_and_search(storage: Storage, bucket: str) -> None:
    storage.create_file(bucket, "r1", InputFile.from_bytes(b"a" * 10, "annual report.txt"))
    storage.create_file(bucket, "r2", InputFile.from_bytes(b"b" * 20, "budget.csv"))
    storage.create_file(bucket, "r3", InputFile.from_bytes(b"\x89PNG\r\n\x1a\n" + b"c" * 30, "chart.png"))
    listed = storage.list_files(bucket)
    assert (listed["total"], [f["$id"] for f in listed["files"]]) == (3, ["r1", "r2", "r3"])

    def ids(queries: list[str] | None = None, search: str | None = None) -> list[str]:
        return [f["$id"] for f in storage.list_files(bucket, queries, search)["files"]]

    assert ids([Query.equal("mimeType", ["image/png"])]) == ["r3"]
    assert ids([Query.greater_than("sizeOriginal", 15)]) == ["r2", "r3"]
    assert ids([Query.equal("signature", [md5(b"b" * 20)])]) == ["r2"]
    assert ids([Query.starts_with("name", "b")]) == ["r2"]
    assert ids([Query.order_desc("sizeOriginal"), Query.limit(1)]) == ["r3"]
    assert ids([Query.equal("chunksTotal", 1), Query.offset(1)]) == ["r2", "r3"]
    assert ids(search="report") == ["r1"]
    selected = storage.list_files(bucket, [Query.select(["name"]), Query.limit(1)])["files"]
    assert selected == [{k: v for k, v in listed["files"][0].items() if k.startswith("$") or k == "name"}]
    assert ids(search="r2") == ["r2"]
    assert ids([Query.search("name", "chart")]) == ["r3"]
    expect_error(lambda: storage.list_files(bucket, [Query.equal("owner", ["x"])]), 400, "general_query_invalid")
    expect_error(lambda: storage.list_files("nope"), 404, "storage_bucket_not_found")


def test_update_file(storage: Storage, bucket: str) -> None:
    created = storage.create_file(bucket, "doc", InputFile.from_bytes(b"content", "draft.txt"))
    renamed = storage.update_file(bucket, "doc", name="final.txt")
    assert (renamed["name"], renamed["$permissions"]) == ("final.txt", [])
    assert renamed["$updatedAt"] >= created["$updatedAt"]
    granted = storage.update_file(bucket, "doc", permissions=[Permission.write(Role.user("alice"))])
    assert granted["name"] == "final.txt"
    assert granted["$permissions"] == ['update("user:alice")', 'delete("user:alice")']
    assert storage.get_file(bucket, "doc") == granted
    expect_error(
        lambda: storage.update_file(bucket, "doc", permissions=[Permission.create(Role.any())]),
        400,
        "general_argument_invalid",
    )
    expect_error(lambda: storage.update_file(bucket, "missing", name="x"), 404, "storage_file_not_found")
    assert storage.get_file_download(bucket, "doc") == b"content"


@pytest.mark.local_only("reads the local server's SQLite or files")
def test_delete_file_removes_bytes(
    storage: Storage, bucket: str, server: LocalServer, project: admin.ProjectCredentials
) -> None:
    storage.create_file(bucket, "gone", InputFile.from_bytes(b"bye", "gone.txt"))
    path = server.data_dir / "files" / project.project_id / bucket / "gone"
    assert path.read_bytes() == b"bye"
    storage.delete_file(bucket, "gone")
    assert not path.exists()
    expect_error(lambda: storage.get_file(bucket, "gone"), 404, "storage_file_not_found")
    expect_error(lambda: storage.get_file_download(bucket, "gone"), 404, "storage_file_not_found")
    expect_error(lambda: storage.delete_file(bucket, "gone"), 404, "storage_file_not_found")
    # The ID is free again.
    assert storage.create_file(bucket, "gone", InputFile.from_bytes(b"back", "gone.txt"))["sizeOriginal"] == 4


def test_range_download(storage: Storage, bucket: str, raw: Raw) -> None:
    data = bytes(range(256)) * 4
    storage.create_file(bucket, "ranged", InputFile.from_bytes(data, "ranged.bin"))
    part = raw.get("ranged/download", Range="bytes=10-19")
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = raw.get("ranged/view", Range="bytes=-24")
    assert (tail.status_code, tail.content) == (206, data[-24:])
    rest = raw.get("ranged/download", Range="bytes=1000-")
    assert (rest.status_code, rest.content) == (206, data[1000:])
    whole = raw.get("ranged/download")
    assert (whole.status_code, whole.content, whole.headers["Accept-Ranges"]) == (200, data, "bytes")
    for bad in ("bytes=5-2000", "bytes=20-10", "pages=1-2", "bytes=0-1,5-6", "bytes=-0"):
        response = raw.get("ranged/download", Range=bad)
        assert (response.status_code, response.json()["type"]) == (416, "storage_invalid_range"), bad


def test_disabled_bucket_still_works_for_keys(storage: Storage) -> None:
    storage.create_bucket("off", "Off", enabled=False)
    storage.create_file("off", "f", InputFile.from_bytes(b"ok", "f.txt"))
    assert storage.get_file_download("off", "f") == b"ok"


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_key_without_files_write_scope(
    storage: Storage, bucket: str, server: LocalServer, project: admin.ProjectCredentials
) -> None:
    key = admin.create_key(server.data_dir, project.project_id, ["buckets.read"])
    limited = Storage(server.client(project.project_id, key))
    assert limited.get_bucket(bucket)["$id"] == bucket
    error = expect_error(
        lambda: limited.create_file(bucket, "f", InputFile.from_bytes(b"x", "f.txt")), 401, "general_unauthorized_scope"
    )
    assert "files.write" in error.message
    expect_error(lambda: limited.list_files(bucket), 401, "general_unauthorized_scope")
    expect_error(lambda: limited.create_bucket("b", "B"), 401, "general_unauthorized_scope")
    assert storage.list_files(bucket)["total"] == 0
