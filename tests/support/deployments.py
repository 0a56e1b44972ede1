"""A function with real code deployed through the SDK and built by the server, for tests that need it to run."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from typing import Any

from appwrite.input_file import InputFile
from appwrite.services.functions import Functions

from support.sdk import wait_for


def code_archive(files: Mapping[str, str | bytes]) -> InputFile:
    """``files`` (path -> source, or bytes) as the .tar.gz a deployment uploads."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return InputFile.from_bytes(buf.getvalue(), "code.tar.gz")


def deployed(fn: Functions, function_id: str, main_py: str, **settings: Any) -> dict[str, Any]:
    """Create ``function_id`` (entrypoint main.py) and deploy ``main_py``; returns the function once it is live
    on that deployment (fails if the build does)."""
    fn.create(function_id, function_id.title(), "python-3.11", entrypoint="main.py", commands="", **settings)
    created = fn.create_deployment(function_id, code_archive({"main.py": main_py}), True)

    def finished() -> dict[str, Any] | None:
        dep = dict(fn.get_deployment(function_id, created["$id"]))
        return dep if dep["status"] in ("ready", "failed") else None

    dep = wait_for(finished, 120, 0.1)
    assert dep["status"] == "ready", dep["buildLogs"]
    return dict(wait_for(lambda: (f := fn.get(function_id))["deploymentId"] == dep["$id"] and f, 30, 0.1))
