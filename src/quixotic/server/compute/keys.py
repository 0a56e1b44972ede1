"""Dynamic keys: short-lived ``ephemeral_<JWT>`` API keys that an execution gets for its function's scopes.

Signed with HS256 by a secret the server keeps in its store, so they stay valid across a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_dynamic_key(secret: bytes, project: str, scopes: Iterable[str], ttl: float) -> str:
    """An ``ephemeral_<JWT>`` key (HS256) carrying ``scopes`` for ``project``, valid ``ttl`` seconds."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"projectId": project, "scopes": sorted(set(scopes)), "exp": int(time.time() + ttl)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"ephemeral_{header}.{payload}.{signature}"


def verify_dynamic_key(secret: bytes, key: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired dynamic key; None otherwise."""
    _, _, token = key.partition("_")
    try:
        header, payload, signature = token.split(".")
        expected = _b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        claims = json.loads(_unb64(payload))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
        return None
    return claims
