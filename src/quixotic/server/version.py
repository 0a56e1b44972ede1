"""The Appwrite versions this server can emulate, and the response format each one serves natively.

The emulated version is a setting (``ServerSettings.appwrite_version``, env ``QUIXOTIC_APPWRITE_VERSION``);
these constants are the choices and the default. ``server.formats`` lowers responses to older formats.
"""

from __future__ import annotations

from typing import Final

SUPPORTED_VERSIONS: Final = ("1.8.1", "1.9.6", "2.5.0")
APPWRITE_VERSION: Final = SUPPORTED_VERSIONS[-1]  # the default: the newest the server implements
