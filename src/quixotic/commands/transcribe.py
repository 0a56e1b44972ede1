"""``quixotic transcribe``: upload an audio file to an environment, run its ``transcribe`` function, get the text.

The file goes to the ``audio`` bucket (the SDK uploads in 5 MiB chunks when it is larger), readable by the
user it is transcribed for; then ``transcribe`` runs as an ASYNCHRONOUS execution that is polled (a
synchronous one is cut off at 30 s, and long audio takes longer). The upload also fires the function's
``buckets.audio.files.*.create`` event; the function is idempotent per file, so the two executions charge
once and both answer with the same transcription.

The user: ``user_id`` when given. Without one, on ``local`` only, the user ``local-user`` is created if
missing (the ``grant-credits`` function opens its account); elsewhere a user id is required.

``QUIXOTIC_<ENV>_ENDPOINT`` overrides the environment file's endpoint (as for deploys); the API key is
``QUIXOTIC_<ENV>_API_KEY`` or ``environments/.env.<env>``. The function's errors become
:class:`TranscriptionError` with its stable code. No printing here: ``progress`` receives the stages.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quixotic.config import Environment, load_environment
from quixotic.errors import ApiError, NotFound, TranscriptionError, UsageError
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.values import ID, ExecutionMethod, InputFile, Permission, Role
from quixotic.target import attach

FUNCTION = "transcribe"
BUCKET = "audio"
DATABASE = "quixotic_app"
ACCOUNTS = "credit_accounts"
LOCAL_ENV = "local"
LOCAL_USER = "local-user"
POLL_SECONDS = 0.25
ACCOUNT_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Progress:
    """A stage of the command: ``upload`` (``fraction`` 0..1), ``user`` (preparing the default user),
    ``transcribe`` (``elapsed`` seconds, ``status`` of the execution)."""

    stage: str
    fraction: float = 0.0
    elapsed: float = 0.0
    status: str = ""


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class TranscriptionResult:
    transcription_id: str
    file_id: str
    user_id: str
    text: str
    language: str
    duration_seconds: float
    credits_charged: float
    credits_left: float | None
    model: str
    segments: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` output."""
        return {
            "text": self.text,
            "segments": list(self.segments),
            "language": self.language,
            "durationSeconds": self.duration_seconds,
            "creditsCharged": self.credits_charged,
            "creditsLeft": self.credits_left,
            "transcriptionId": self.transcription_id,
        }


def _limit_bytes(env: Environment) -> int | None:
    variable = env.variable("MAX_FILE_SIZE_MB")
    if variable is None or variable.value is None:
        return None
    return int(float(variable.value) * 1_000_000)


def _check_file(env: Environment, audio_file: Path) -> int:
    if not audio_file.is_file():
        raise UsageError(f"{audio_file}: no such file")
    size = audio_file.stat().st_size
    limit = _limit_bytes(env)
    if limit is not None and size > limit:
        raise TranscriptionError(
            "file_too_large",
            f"{audio_file.name} has {size:,} bytes; {env.name} accepts at most {limit // 1_000_000} MB",
        )
    bucket = next((b for b in env.project.buckets if b.id == BUCKET), None)
    allowed = tuple(e.lower() for e in bucket.allowed_file_extensions) if bucket else ()
    extension = audio_file.suffix.lower().lstrip(".")
    if allowed and extension not in allowed:
        raise TranscriptionError(
            "unsupported_file", f"{audio_file.name}: {env.name} accepts {', '.join(allowed)} files only"
        )
    if size == 0:
        raise TranscriptionError("corrupt_audio", f"{audio_file.name} is empty")
    return size


def _default_user(backend: AppwriteBackend, env: Environment, progress: ProgressFn) -> str:
    """``local-user`` on ``local``, created with its account if missing; elsewhere a user must be named."""
    if env.name != LOCAL_ENV:
        raise UsageError(f"give the user to transcribe for with --user (required for environment '{env.name}')")
    try:
        call(f"reading user {LOCAL_USER}", backend.users.get, LOCAL_USER)
    except NotFound:
        progress(Progress("user", status=f"creating user {LOCAL_USER}"))
        call(f"creating user {LOCAL_USER}", backend.users.create, LOCAL_USER, name="quixotic transcribe (local)")
    deadline = time.monotonic() + ACCOUNT_WAIT_SECONDS
    while True:  # grant-credits opens the account on the users.*.create event
        try:
            call(f"reading the credits of {LOCAL_USER}", backend.db.get_row, DATABASE, ACCOUNTS, LOCAL_USER)
            return LOCAL_USER
        except NotFound:
            pass
        if time.monotonic() > deadline:
            raise TranscriptionError(
                "insufficient_credits",
                f"user {LOCAL_USER} has no credit account after {ACCOUNT_WAIT_SECONDS:.0f} s; "
                "is grant-credits deployed?",
            )
        time.sleep(POLL_SECONDS)


def _result(body: Any, user_id: str) -> TranscriptionResult:
    return TranscriptionResult(
        transcription_id=str(body["transcriptionId"]),
        file_id=str(body.get("fileId") or body["transcriptionId"]),
        user_id=str(body.get("userId") or user_id),
        text=str(body.get("text") or ""),
        language=str(body.get("language") or ""),
        duration_seconds=float(body.get("durationSeconds") or 0.0),
        credits_charged=float(body.get("creditsCharged") or 0.0),
        credits_left=None if body.get("creditsLeft") is None else float(body["creditsLeft"]),
        model=str(body.get("model") or ""),
        segments=tuple(dict(s) for s in body.get("segments") or ()),
    )


def _outcome(execution: Mapping[str, Any], user_id: str) -> TranscriptionResult:
    raw = str(execution.get("responseBody") or "")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("ok") is True and body.get("transcriptionId"):
        return _result(body, user_id)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        raise TranscriptionError(str(error.get("code") or "internal_error"), str(error.get("message") or ""))
    errors = str(execution.get("errors") or "").strip().splitlines()
    detail = errors[-1] if errors else f"status {execution.get('responseStatusCode')}, body {raw[:200]!r}"
    raise TranscriptionError("execution_failed", f"execution {execution.get('$id')} failed: {detail}")


def transcribe(
    root: Path,
    env_name: str,
    audio_file: Path,
    user_id: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
    timeout: float | None = None,
) -> TranscriptionResult:
    """Upload ``audio_file`` for ``user_id`` to ``env_name`` and transcribe it; raises on any failure."""
    environ = os.environ if environ is None else environ
    say = progress or (lambda _p: None)
    env = load_environment(root, env_name, environ=environ)
    size = _check_file(env, audio_file)
    backend = attach(root, env, environ).backend
    user = user_id or _default_user(backend, env, say)

    say(Progress("upload", 0.0))

    def uploaded(info: Mapping[str, Any]) -> None:
        say(Progress("upload", min(1.0, float(info.get("sizeUploaded") or 0) / max(1, size))))

    source = InputFile.from_path(str(audio_file))
    try:
        created = call(f"uploading {audio_file.name}", backend.storage.create_file, BUCKET, ID.unique(), source,
                       [Permission.read(Role.user(user))], on_progress=uploaded)  # fmt: skip
    except ApiError as exc:
        if exc.type == "storage_invalid_file_size":
            raise TranscriptionError("file_too_large", exc.message) from exc
        if exc.type == "storage_file_type_unsupported":
            raise TranscriptionError("unsupported_file", exc.message) from exc
        raise
    file_id = str(created["$id"])
    say(Progress("upload", 1.0))

    functions = backend.functions
    function = call(f"reading the {FUNCTION} function", functions.get, FUNCTION)
    limit = timeout if timeout is not None else float(function.get("timeout") or 900) + 60.0
    body = json.dumps({"fileId": file_id, "userId": user})
    headers = {"content-type": "application/json"}
    execution = call(f"starting {FUNCTION}", functions.create_execution, FUNCTION, body, True, "/",
                     ExecutionMethod.POST, headers)  # fmt: skip
    execution_id = str(execution["$id"])

    def poll() -> dict[str, Any]:
        return dict(functions.get_execution(FUNCTION, execution_id))

    started = time.monotonic()
    while execution.get("status") not in ("completed", "failed"):
        elapsed = time.monotonic() - started
        say(Progress("transcribe", elapsed=elapsed, status=str(execution.get("status"))))
        if elapsed > limit:
            raise TranscriptionError(
                "timeout", f"execution {execution_id} is still {execution.get('status')} after {limit:.0f} s"
            )
        time.sleep(POLL_SECONDS)
        execution = call(f"checking execution {execution_id}", poll)
    say(Progress("transcribe", elapsed=time.monotonic() - started, status=str(execution.get("status"))))
    return _outcome(execution, user)
