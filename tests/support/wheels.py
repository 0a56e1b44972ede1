"""A minimal pure-Python wheel, so a deployment's ``pip install`` needs no package index."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

TINY_DIST = "quixotic_tinypkg-0.1"
TINY_WHEEL = f"{TINY_DIST}-py3-none-any.whl"


def tiny_wheel() -> tuple[str, bytes]:
    """``(file name, bytes)`` of a wheel whose package ``quixotic_tinypkg`` holds ``VALUE = 42``."""
    files = {
        "quixotic_tinypkg/__init__.py": b"VALUE = 42\n",
        f"{TINY_DIST}.dist-info/METADATA": b"Metadata-Version: 2.1\nName: quixotic-tinypkg\nVersion: 0.1\n",
        f"{TINY_DIST}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{TINY_DIST}.dist-info/RECORD,,")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{TINY_DIST}.dist-info/RECORD", "\n".join(record) + "\n")
    return TINY_WHEEL, buf.getvalue()
