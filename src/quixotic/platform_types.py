"""Appwrite's platform types (1.8.1's console API) and the Origin schemes each lets in.

A leaf both sides read: the configuration checks the platforms an environment declares against it, and the
local server's origin rules (``quixotic.server.origins``) decide with it. Legacy names map as their OS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

_APPLE: Final = ("appwrite-ios", "appwrite-macos", "appwrite-watchos", "appwrite-tvos")
PLATFORM_SCHEMES: Final[Mapping[str, tuple[str, ...]]] = {
    "web": ("http", "https"),
    "flutter-web": ("http", "https"),
    "android": ("appwrite-android",),
    "flutter-android": ("appwrite-android",),
    "react-native-android": ("appwrite-android",),
    "apple-ios": _APPLE,
    "apple-macos": _APPLE,
    "apple-watchos": _APPLE,
    "apple-tvos": _APPLE,
    "flutter-ios": _APPLE,
    "flutter-macos": _APPLE,
    "react-native-ios": _APPLE,
    "flutter-windows": ("appwrite-windows",),
    "flutter-linux": ("appwrite-linux",),
    "unity": (),
}
PLATFORM_TYPES: Final = tuple(PLATFORM_SCHEMES)
WEB_TYPES: Final = frozenset({"web", "flutter-web"})


def missing(platform_type: str, hostname: str, key: str) -> Literal["hostname", "key", "host"] | None:
    """What a platform lacks, the one rule for the CLI and the environment files: a web one needs a hostname
    (``"host"``: one that is not a bare host), a native one its bundle or package ID (``key``); None when whole."""
    if platform_type in WEB_TYPES:
        if not hostname:
            return "hostname"
        return "host" if "/" in hostname or " " in hostname else None
    return "key" if not key and platform_type != "unity" else None
