"""The Appwrite version this server emulates, in one place (error bodies, health, functions' env, warnings).

A setting may replace these later; until then every module reads them from here.
"""

from __future__ import annotations

from typing import Final

APPWRITE_VERSION: Final = "1.8.1"
RESPONSE_FORMAT: Final = "1.8.0"  # the X-Appwrite-Response-Format of the SDK line it serves (appwrite 15.x)
