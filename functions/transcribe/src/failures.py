"""The errors the transcribe function answers with: a stable ``code``, an HTTP status, a message for people.

The response of a failed execution is ``{"ok": false, "error": {"code": ..., "message": ...}}`` with the status
below; clients branch on ``code`` only (messages may change).
"""

from __future__ import annotations

from typing import Final

STATUS: Final[dict[str, int]] = {
    "bad_request": 400,  # no or malformed fileId / body
    "insufficient_credits": 402,  # the balance (or a missing account) cannot pay for the audio
    "forbidden": 403,  # the file belongs to another user, or has no owner to charge
    "file_not_found": 404,  # no such file in the audio bucket
    "in_progress": 409,  # another execution is transcribing this file and did not finish in time
    "file_too_large": 413,  # over MAX_FILE_SIZE_MB (1 MB = 1,000,000 bytes)
    "unsupported_file": 415,  # not an accepted audio extension, or no audio stream in it
    "corrupt_audio": 422,  # the bytes do not decode as audio (or decode to nothing)
    "silence": 422,  # the audio holds no speech
    "internal_error": 500,  # anything unexpected (credits are refunded all the same)
    "misconfigured": 500,  # a variable of the function has an invalid value
    "model_unavailable": 503,  # WHISPER_MODEL_DIR (or the bundled model) is missing or unreadable
}


class FunctionError(Exception):
    """An error answered to the caller as ``{"ok": false, "error": {...}}`` with ``status``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code if code in STATUS else "internal_error"
        self.message = message

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def as_json(self) -> dict[str, object]:
        return {"ok": False, "error": {"code": self.code, "message": self.message}}
