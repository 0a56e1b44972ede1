"""QuixoticWhisper ``transcribe``: one audio file of the ``audio`` bucket to text, paid for in credits.

Triggers
    HTTP ``POST {"fileId": ..., "userId"?: ...}``: the caller is ``x-appwrite-user-id`` when Appwrite sets it (a
    user's session); a server (API key) may name the user in ``userId`` instead. ``GET`` answers a health check.
    Event ``buckets.audio.files.*.create``: the body is the file; its owner is the file's ``read("user:ID")``.

Steps
    check the owner and the size (MAX_FILE_SIZE_MB, 1 MB = 1,000,000 bytes) -> download -> decode with PyAV and
    take the DECODED duration -> price it -> reserve the credits -> transcribe (faster-whisper, int8) -> store
    text, word count, segments, language, duration, model and credits on the transcription row.

Pricing
    CREDITS_PER_MINUTE for every started minute of decoded audio: ``ceil((seconds - 0.5) / 60)`` minutes, at
    least one (the half second absorbs encoder padding). Silence and undecodable files cost nothing.

Credits and idempotency
    The transcription row's id is the file id, so one file has one transcription. An attempt takes the row's
    lock (a bounded atomic increment) and re-reads it: a completed row is returned as it is (no charge); a row
    being processed by another execution is waited for and its outcome returned. The reservation is an atomic
    ``decrement_row_column(balance, min=0)`` (parallel requests can never overdraw), recorded in the ledger as
    ``charge:<fileId>:<attempt>``. Credits an earlier attempt reserved and never gave back (its worker died) are
    reused, never charged again. Any failure after the reservation refunds it (``refund:<fileId>:<attempt>``)
    and stores the failure on the row (``status=failed``, ``errorCode``), so no credit is ever lost.

Errors
    ``{"ok": false, "error": {"code", "message"}}`` with the status of ``failures.STATUS``: bad_request,
    insufficient_credits, forbidden, file_not_found, in_progress, file_too_large, unsupported_file,
    corrupt_audio, silence, model_unavailable, misconfigured, internal_error. Nothing the caller sends crashes
    the worker.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything can import huggingface_hub: never try a download

import json
import re
import time
import traceback
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import audio, engine, pricing
from .backend import Backend, now_iso
from .failures import STATUS, FunctionError
from .function_kit import server_client

ACCEPTED_EXTENSIONS = ("wav", "mp3", "m4a", "ogg", "opus", "webm", "flac")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")
OWNER_RE = re.compile(r'^read\("user:([^"/]+)(?:/[^"]*)?"\)$')
WAIT_SECONDS = 600.0  # how long an execution waits for another one that holds the file's lock
STALE_SECONDS = 960.0  # a lock older than the longest function timeout (900 s) + 60 s belongs to a dead worker
POLL_SECONDS = (0.05, 0.5)  # first and longest pause between looks at a lock held by another execution
EPSILON = 1e-6


@dataclass(frozen=True)
class Settings:
    max_file_bytes: int
    credits_per_minute: float
    model_name: str
    model_dir: str | None
    debug: bool
    webhook_url: str | None
    webhook_token: str | None

    @staticmethod
    def from_env() -> Settings:
        def number(name: str, default: float, kind: type) -> Any:
            raw = os.environ.get(name, "").strip()
            if not raw:
                return kind(default)
            try:
                value = kind(float(raw)) if kind is float else kind(raw)
            except ValueError as exc:
                raise FunctionError("misconfigured", f"{name}={raw!r} is not a valid {kind.__name__}") from exc
            if value <= 0:
                raise FunctionError("misconfigured", f"{name}={raw!r} must be above 0")
            return value

        return Settings(
            max_file_bytes=number("MAX_FILE_SIZE_MB", 25, int) * 1_000_000,
            credits_per_minute=number("CREDITS_PER_MINUTE", 1.0, float),
            model_name=os.environ.get("WHISPER_MODEL", "").strip() or "tiny.en",
            model_dir=os.environ.get("WHISPER_MODEL_DIR", "").strip() or None,
            debug=os.environ.get("LOG_LEVEL", "info").strip().lower() == "debug",
            webhook_url=os.environ.get("WEBHOOK_URL", "").strip() or None,
            webhook_token=os.environ.get("WEBHOOK_TOKEN", "").strip() or None,
        )


@dataclass(frozen=True)
class Request:
    file_id: str
    user_id: str | None  # who asks; None: whoever owns the file (events, servers)


class Log:
    def __init__(self, context: Any, debug: bool) -> None:
        self.context = context
        self.verbose = debug

    def info(self, message: str) -> None:
        self.context.log(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self.context.log(message)

    def error(self, message: str) -> None:
        self.context.error(message)


def main(context: Any) -> Any:
    log = Log(context, debug=False)
    try:
        settings = Settings.from_env()
        log.verbose = settings.debug
        if context.req.method in ("GET", "HEAD", "OPTIONS"):
            return context.res.json({"ok": True, "function": "transcribe", "model": settings.model_name})
        request = parse_request(context)
        if request is None:
            return context.res.json({"ok": True, "skipped": "not a file of the audio bucket"})
        result = Transcription(Backend(server_client(context)), settings, log, request).run()
        return context.res.json(result)
    except FunctionError as exc:
        log.info(f"{exc.code}: {exc.message}")
        return context.res.json(exc.as_json(), exc.status)
    except Exception as exc:
        log.error(traceback.format_exc())
        failure = FunctionError("internal_error", f"unexpected error: {type(exc).__name__}: {exc}"[:500])
        return context.res.json(failure.as_json(), failure.status)


def parse_request(context: Any) -> Request | None:
    headers = {str(k).lower(): str(v) for k, v in dict(context.req.headers or {}).items()}
    text = context.req.body_text or ""
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise FunctionError("bad_request", 'the body must be JSON: {"fileId": "...", "userId"?: "..."}') from exc
    if not isinstance(body, dict):
        raise FunctionError("bad_request", 'the body must be a JSON object: {"fileId": "..."}')
    if headers.get("x-appwrite-trigger") == "event":
        if body.get("bucketId") not in (None, "audio"):
            return None
        file_id, body_user = body.get("$id"), None
    else:
        file_id, body_user = body.get("fileId"), body.get("userId")
    if not isinstance(file_id, str) or not ID_RE.match(file_id):
        raise FunctionError("bad_request", "give the file's id as fileId (1-36 characters: a-z A-Z 0-9 . - _)")
    if body_user is not None and (not isinstance(body_user, str) or not ID_RE.match(body_user)):
        raise FunctionError("bad_request", "userId must be a user id (1-36 characters: a-z A-Z 0-9 . - _)")
    caller = headers.get("x-appwrite-user-id") or None
    if caller and body_user and caller != body_user:
        raise FunctionError("forbidden", "userId in the body must be the calling user")
    return Request(file_id, caller or body_user)


def owners(file: dict[str, Any]) -> list[str]:
    """Users that may read the file, in permission order (the first is its owner)."""
    found = []
    for permission in file.get("$permissions") or []:
        match = OWNER_RE.match(str(permission))
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def result_of(row: dict[str, Any], credits_left: float | None, reused: bool) -> dict[str, Any]:
    try:
        segments = json.loads(row.get("segments") or "[]")
    except ValueError:
        segments = []
    return {
        "ok": True,
        "transcriptionId": row["$id"],
        "fileId": row.get("fileId"),
        "userId": row.get("userId"),
        "status": row.get("status"),
        "text": row.get("text") or "",
        "segments": segments,
        "language": row.get("language") or "",
        "durationSeconds": row.get("durationSeconds"),
        "model": row.get("model") or "",
        "creditsCharged": float(row.get("creditsCharged") or 0.0),
        "creditsLeft": credits_left,
        "reused": reused,
    }


def failure_of(row: dict[str, Any]) -> FunctionError:
    code = str(row.get("errorCode") or "internal_error")
    return FunctionError(code if code in STATUS else "internal_error", str(row.get("error") or "transcription failed"))


class Transcription:
    """One execution's work on one file."""

    def __init__(self, backend: Backend, settings: Settings, log: Log, request: Request) -> None:
        self.backend = backend
        self.settings = settings
        self.log = log
        self.request = request
        self.file_id = request.file_id

    def run(self) -> dict[str, Any]:
        file = self.backend.file(self.file_id)
        if file is None:
            return self.purged_or_missing()
        user_id = self.owner(file)
        self.backend.ensure_transcription(self.file_id, user_id)
        row, waited = self.lock()
        status = row.get("status")
        if row.get("userId") != user_id or status == "completed" or (waited and status == "failed"):
            self.unlock()  # exactly once: after this, the lock may be someone else's
            if row.get("userId") != user_id:
                raise FunctionError("forbidden", f"file {self.file_id} is transcribed for another user")
            if status == "completed":
                return result_of(row, self.backend.balance(user_id), reused=True)
            raise failure_of(row)  # the attempt we waited for failed: its outcome is ours
        return self.attempt(file, user_id, int(row.get("attempts") or 0) + 1)

    # --- who and what ---------------------------------------------------------------------------

    def owner(self, file: dict[str, Any]) -> str:
        readers = owners(file)
        if self.request.user_id is not None:
            if self.request.user_id not in readers:
                raise FunctionError("forbidden", f"file {self.file_id} belongs to another user")
            return self.request.user_id
        if not readers:
            raise FunctionError("forbidden", f'file {self.file_id} has no owner (no read("user:ID") permission)')
        return readers[0]

    def purged_or_missing(self) -> dict[str, Any]:
        """The file is gone: a completed transcription of it (audio purged by cleanup) is still an answer."""
        row = self.backend.transcription(self.file_id)
        user = self.request.user_id
        if row is not None and row.get("status") == "completed" and user in (None, row.get("userId")):
            return result_of(row, self.backend.balance(str(row.get("userId"))), reused=True)
        raise FunctionError("file_not_found", f"no file {self.file_id} in the audio bucket")

    # --- the lock -------------------------------------------------------------------------------

    def lock(self) -> tuple[dict[str, Any], bool]:
        """Take the file's lock, waiting for another execution that holds it; the row and whether we waited."""
        deadline = time.monotonic() + WAIT_SECONDS
        waited = False
        pause = POLL_SECONDS[0]
        while True:
            if self.backend.try_lock(self.file_id):
                row = self.backend.transcription(self.file_id)
                if row is None:  # deleted under us: start over
                    raise FunctionError("internal_error", f"the transcription row {self.file_id} vanished")
                return row, waited
            waited = True
            row = self.backend.transcription(self.file_id)
            if row is not None and int(row.get("locked") or 0) > 0 and self.stale(row):
                self.log.info(f"breaking the stale lock of {self.file_id} (started {row.get('startedAt')})")
                self.backend.break_lock(self.file_id)
                continue
            if time.monotonic() > deadline:
                raise FunctionError("in_progress", f"file {self.file_id} is being transcribed by another execution")
            time.sleep(pause)
            pause = min(pause * 1.2, POLL_SECONDS[1])

    @staticmethod
    def stale(row: dict[str, Any]) -> bool:
        started = row.get("startedAt") or row.get("$updatedAt")
        try:
            moment = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        except ValueError:
            return False
        return (datetime.now(UTC) - moment).total_seconds() > STALE_SECONDS

    def unlock(self) -> None:
        try:
            self.backend.update_transcription(self.file_id, {"locked": 0})
        except Exception:
            self.log.error(f"could not release the lock of {self.file_id}:\n{traceback.format_exc()}")

    # --- one attempt ----------------------------------------------------------------------------

    def attempt(self, file: dict[str, Any], user_id: str, attempt: int) -> dict[str, Any]:
        """The work, under the lock; every way out releases it, and a failure refunds what is held."""
        held = 0.0
        try:
            self.backend.update_transcription(
                self.file_id,
                {"status": "processing", "attempts": attempt, "startedAt": now_iso(), "completedAt": None,
                 "error": None, "errorCode": None},
            )  # fmt: skip
            held = self.backend.held(self.file_id)
            self.check(file)
            started = time.monotonic()
            decoded = audio.decode(self.backend.download(self.file_id))
            seconds = round(decoded.seconds, 3)
            self.log.debug(f"decoded {seconds} s in {time.monotonic() - started:.2f} s ({decoded.bad_packets} bad)")
            if decoded.silent:
                raise FunctionError("silence", "the audio is silent: there is no speech to transcribe")
            model = engine.load(self.settings.model_dir)
            cost = pricing.price(seconds, self.settings.credits_per_minute)
            if held + EPSILON < cost:
                minutes = pricing.billed_minutes(seconds)
                reason = f"{seconds:.1f} s of audio: {minutes} min x {self.settings.credits_per_minute:g}"
                self.backend.charge(user_id, self.file_id, attempt, round(cost - held, 6), reason)
                held = cost
            else:
                self.log.info(f"{held:g} credits are already held for {self.file_id}; no new charge")
            self.backend.update_transcription(self.file_id, {"durationSeconds": seconds, "creditsCharged": held})
            started = time.monotonic()
            transcript = engine.transcribe(model, decoded.samples)
            self.log.debug(f"transcribed {seconds} s in {time.monotonic() - started:.2f} s")
            if not transcript.text:
                raise FunctionError("silence", "no speech was recognised in the audio")
            row = self.backend.update_transcription(
                self.file_id,
                {
                    "status": "completed",
                    "text": transcript.text,
                    "wordCount": len(transcript.text.split()),
                    "segments": json.dumps(transcript.segments, separators=(",", ":")),
                    "language": transcript.language[:16],
                    "durationSeconds": seconds,
                    "model": self.settings.model_name[:64],
                    "creditsCharged": held,
                    "completedAt": now_iso(),
                    "locked": 0,
                },
            )
        except FunctionError as exc:
            self.fail(user_id, attempt, held, exc)
            raise
        except Exception as exc:
            self.log.error(traceback.format_exc())
            failure = FunctionError("internal_error", f"transcription failed: {type(exc).__name__}: {exc}"[:500])
            self.fail(user_id, attempt, held, failure)
            raise failure from exc
        self.notify(row, None)
        return result_of(row, self.backend.balance(user_id), reused=False)

    def check(self, file: dict[str, Any]) -> None:
        size = int(file.get("sizeOriginal") or 0)
        if size > self.settings.max_file_bytes:
            limit = self.settings.max_file_bytes // 1_000_000
            raise FunctionError("file_too_large", f"the file has {size:,} bytes; the limit is {limit} MB")
        name = str(file.get("name") or "")
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in ACCEPTED_EXTENSIONS:
            raise FunctionError(
                "unsupported_file", f"{name!r} is not an accepted audio file ({', '.join(ACCEPTED_EXTENSIONS)})"
            )

    def fail(self, user_id: str, attempt: int, held: float, failure: FunctionError) -> None:
        """Refund what is held and record the failure; releases the lock whatever happens."""
        left = held
        if held > EPSILON:
            try:
                self.backend.refund(user_id, self.file_id, attempt, held, f"{failure.code}: refund")
                left = 0.0
            except Exception:
                self.log.error(f"REFUND FAILED for {self.file_id} ({held:g} credits):\n{traceback.format_exc()}")
        try:
            row = self.backend.update_transcription(
                self.file_id,
                {"status": "failed", "errorCode": failure.code, "error": failure.message[:2048],
                 "creditsCharged": left, "completedAt": now_iso(), "locked": 0},
            )  # fmt: skip
        except Exception:
            self.log.error(f"could not record the failure of {self.file_id}:\n{traceback.format_exc()}")
            self.unlock()
            return
        self.notify(row, failure)

    # --- webhook --------------------------------------------------------------------------------

    def notify(self, row: dict[str, Any], failure: FunctionError | None) -> None:
        """Best effort POST to WEBHOOK_URL; never fails the transcription."""
        url = self.settings.webhook_url
        if not url:
            return
        notice = {
            "event": "transcription.failed" if failure else "transcription.completed",
            "transcriptionId": row.get("$id"),
            "fileId": row.get("fileId"),
            "userId": row.get("userId"),
            "status": row.get("status"),
            "durationSeconds": row.get("durationSeconds"),
            "creditsCharged": row.get("creditsCharged"),
            "error": failure.as_json()["error"] if failure else None,
        }
        headers = {"content-type": "application/json"}
        if self.settings.webhook_token:
            headers["authorization"] = f"Bearer {self.settings.webhook_token}"
        request = urllib.request.Request(url, json.dumps(notice).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read(1024)
        except Exception as exc:
            self.log.info(f"webhook {url} failed: {type(exc).__name__}: {exc}")
