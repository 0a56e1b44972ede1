"""Pieces the suites' literal test projects share: the ``hello`` function and its two variables."""

from __future__ import annotations

from typing import Any


def hello_function() -> dict[str, Any]:
    """``functions/hello`` in appwrite.json: Python 3.11, no schedule or events, 15 s."""
    return {
        "$id": "hello",
        "name": "Hello",
        "runtime": "python-3.11",
        "execute": [],
        "events": [],
        "schedule": "",
        "timeout": 15,
        "enabled": True,
        "logging": True,
        "entrypoint": "src/main.py",
        "commands": "",
        "scopes": [],
        "path": "functions/hello",
    }


def hello_variables(token_description: str) -> list[dict[str, Any]]:
    """The template's ``GREETING`` (plain, default "hi") and ``API_TOKEN`` (a required secret) of ``hello``."""
    return [
        {
            "name": "GREETING",
            "type": "string",
            "default": "hi",
            "functions": ["hello"],
            "secret": False,
            "description": "How hello greets.",
        },
        {
            "name": "API_TOKEN",
            "type": "string",
            "functions": ["hello"],
            "secret": True,
            "required": True,
            "description": token_description,
        },
    ]
