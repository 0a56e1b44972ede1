"""QuixoticWhisper end to end on the local server: the real functions, the real model, through the SDK.

The project (schema, bucket, functions, variables of ``environments/local.json``) is deployed once per session
by the ``whisper`` fixture. Uploads to ``audio`` also fire the ``transcribe`` event, so most files are worked on
by two executions at once (the event's and the test's): every assertion on credits holds across that race.
Accounts are opened with ``fund`` (no user, so no grant event) unless a test is about grants.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta

import pytest
from appwrite.enums.execution_method import ExecutionMethod
from appwrite.exception import AppwriteException
from support.site import cli
from whisper_helpers import ROOT, Clip, Whisper, clips, silence, video_only, word_error_rate

from quixotic.server.ids import new_id

CLIPS = clips()
FOX = CLIPS[0]  # the shortest clip: one credit


def user() -> str:
    return "u" + new_id()[:20]


def charges(whisper: Whisper, user_id: str, file_id: str | None = None) -> list[dict[str, object]]:
    return [
        e
        for e in whisper.ledger(user_id)
        if e["kind"] == "charge" and (file_id is None or e["transcriptionId"] == file_id)
    ]


def net_held(whisper: Whisper, user_id: str) -> float:
    total = 0.0
    for e in whisper.ledger(user_id):
        total += {"charge": 1, "refund": -1}.get(str(e["kind"]), 0) * float(str(e["amount"]))
    return total


@pytest.mark.parametrize("clip", CLIPS, ids=[c.path.name for c in CLIPS])
def test_real_speech_is_transcribed(whisper: Whisper, clip: Clip) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    file_id = whisper.upload(clip.data, clip.path.name, owner)
    result = whisper.transcribe(file_id, owner)
    assert result.status == 200, result.body
    body = result.body
    assert word_error_rate(clip.script, body["text"]) <= 0.25, (clip.script, body["text"])
    assert body["language"] == "en"
    assert body["durationSeconds"] == pytest.approx(clip.seconds, abs=0.3)
    assert body["creditsCharged"] == 1.0  # CREDITS_PER_MINUTE 1.0, one started minute
    assert body["creditsLeft"] == 4.0
    assert body["transcriptionId"] == file_id
    assert body["segments"] and all(s["end"] > s["start"] >= 0 for s in body["segments"])
    row = whisper.transcription(file_id)
    assert row["status"] == "completed" and row["text"] == body["text"] and row["model"] == "tiny.en"
    assert row["wordCount"] == len(body["text"].split())
    assert json.loads(row["segments"]) == body["segments"]
    assert row["$permissions"] == [f'read("user:{owner}")']


def test_functions_answer_health_checks(whisper: Whisper) -> None:
    for function_id in ("transcribe", "grant-credits", "cleanup"):
        execution = whisper.functions.create_execution(function_id, "", False, "/health", ExecutionMethod.GET)
        assert execution["responseStatusCode"] == 200, execution
        assert json.loads(execution["responseBody"])["ok"] is True


def test_a_retry_never_charges_twice(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    file_id = whisper.upload(FOX.data, FOX.path.name, owner)  # the upload event starts one attempt
    first = whisper.transcribe(file_id, owner)
    second = whisper.transcribe(file_id, caller=owner)  # as the user's session would call it
    assert first.status == second.status == 200, (first.body, second.body)
    assert second.body["reused"] is True
    assert first.body["text"] == second.body["text"]
    assert first.body["creditsCharged"] == second.body["creditsCharged"] == 1.0
    whisper.settle()
    assert whisper.balance(owner) == 4.0
    assert len(charges(whisper, owner, file_id)) == 1
    assert whisper.transcription(file_id)["attempts"] == 1


def test_parallel_transcriptions_cannot_overdraw(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 3.0)  # pays for 3 one-minute clips
    files = [whisper.upload(FOX.data, f"fox-{i}.ogg", owner) for i in range(10)]
    started = [whisper.start("transcribe", {"fileId": f, "userId": owner}) for f in files]
    results = [whisper.wait("transcribe", execution_id) for execution_id in started]
    codes = sorted(r.code or "ok" for r in results)
    assert codes == ["insufficient_credits"] * 7 + ["ok"] * 3, [r.body for r in results]
    assert {r.status for r in results if r.code} == {402}
    whisper.settle()
    rows = [whisper.wait_row(f) for f in files]
    assert sorted(r["status"] for r in rows) == ["completed"] * 3 + ["failed"] * 7
    assert whisper.balance(owner) == 0.0
    entries = charges(whisper, owner)
    assert len(entries) == 3 and sum(float(str(e["amount"])) for e in entries) == 3.0
    assert all(float(str(e["balanceAfter"])) >= 0 for e in whisper.ledger(owner))
    assert {str(e["transcriptionId"]) for e in entries} == {r["$id"] for r in rows if r["status"] == "completed"}


def test_oversize_files_are_refused_and_cost_nothing(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    limit = 10 * 1_000_000  # MAX_FILE_SIZE_MB of local
    assert whisper.env.variable("MAX_FILE_SIZE_MB").value == "10"  # type: ignore[union-attr]
    big = FOX.data + bytes(limit + 1 - len(FOX.data))
    with pytest.raises(AppwriteException) as refused:  # the bucket's maximumFileSize follows the variable
        whisper.upload(big, "big.ogg", owner)
    assert refused.value.type == "storage_invalid_file_size"
    # A file that got in anyway (the bucket was allowed more for a while) is still refused by the function.
    bucket = next(b for b in whisper.env.project.buckets if b.id == "audio")

    def set_bucket_limit(size: int) -> None:
        whisper.storage.update_bucket(
            "audio", bucket.name, list(bucket.permissions), bucket.file_security, bucket.enabled, size,
            list(bucket.allowed_file_extensions),
        )  # fmt: skip

    set_bucket_limit(2 * limit)
    try:
        file_id = whisper.upload(big, "big.ogg", owner)
    finally:
        set_bucket_limit(bucket.maximum_file_size)
    result = whisper.transcribe(file_id, owner)
    assert (result.status, result.code) == (413, "file_too_large"), result.body
    whisper.settle()
    assert whisper.balance(owner) == 5.0 and not charges(whisper, owner)
    assert whisper.wait_row(file_id)["errorCode"] == "file_too_large"


def test_bad_audio_is_refused_and_costs_nothing(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    cases = {
        "noise.mp3": (os.urandom(50_000), 422, "corrupt_audio"),
        "half.ogg": (FOX.data[:200], 422, "corrupt_audio"),
        "empty-ish.wav": (b"RIFF\x00\x00\x00\x00WAVE", 422, "corrupt_audio"),
        "video.webm": (video_only().read_bytes(), 415, "unsupported_file"),
        "quiet.ogg": (silence().data, 422, "silence"),
    }
    for name, (data, status, code) in cases.items():
        file_id = whisper.upload(data, name, owner)
        result = whisper.transcribe(file_id, owner)
        assert (result.status, result.code) == (status, code), (name, result.body)
        assert result.body["error"]["message"]
    whisper.settle()
    assert whisper.balance(owner) == 5.0 and not charges(whisper, owner)


def test_a_truncated_file_is_priced_by_what_decodes(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    weather = CLIPS[1]
    assert weather.path.suffix == ".mp3"
    file_id = whisper.upload(weather.data[: len(weather.data) * 2 // 5], "cut.mp3", owner)
    result = whisper.transcribe(file_id, owner)
    assert result.status == 200, result.body
    assert 2.0 < result.body["durationSeconds"] < 0.6 * weather.seconds  # the header still says 10 s
    assert result.body["creditsCharged"] == 1.0


def test_unknown_file(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    result = whisper.transcribe("nosuchfile", owner)
    assert (result.status, result.code) == (404, "file_not_found")
    bad = whisper.run("transcribe", {"fileId": "../etc"})
    assert (bad.status, bad.code) == (400, "bad_request")
    assert whisper.balance(owner) == 5.0


def test_another_users_file_is_forbidden(whisper: Whisper) -> None:
    alice, mallory = user(), user()
    whisper.fund(alice, 5.0)
    whisper.fund(mallory, 5.0)
    file_id = whisper.upload(FOX.data, FOX.path.name, alice)
    for attempt in (
        whisper.transcribe(file_id, caller=mallory),  # a session of another user
        whisper.transcribe(file_id, mallory),  # a server naming another user
        whisper.transcribe(file_id, mallory, caller=alice),  # a user naming someone else
    ):
        assert (attempt.status, attempt.code) == (403, "forbidden"), attempt.body
    whisper.settle()  # the upload event transcribes it for its owner
    assert whisper.wait_row(file_id)["userId"] == alice
    assert whisper.balance(mallory) == 5.0 and not charges(whisper, mallory)
    assert whisper.balance(alice) == 4.0


def test_insufficient_credits_and_no_account(whisper: Whisper) -> None:
    poor, nobody = user(), user()
    whisper.fund(poor, 0.5)  # less than one minute's price
    for owner in (poor, nobody):
        file_id = whisper.upload(FOX.data, FOX.path.name, owner)
        result = whisper.transcribe(file_id, owner)
        assert (result.status, result.code) == (402, "insufficient_credits"), result.body
    whisper.settle()
    assert whisper.balance(poor) == 0.5 and whisper.balance(nobody) is None


def test_a_missing_model_folder_fails_cleanly_and_a_retry_then_works(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    whisper.settle()  # no attempt of another test may run with the broken model
    variable = whisper.functions.create_variable("transcribe", "WHISPER_MODEL_DIR", "/nonexistent/whisper-base")
    try:
        file_id = whisper.upload(FOX.data, FOX.path.name, owner)
        result = whisper.transcribe(file_id, owner)
        assert (result.status, result.code) == (503, "model_unavailable"), result.body
        assert result.execution["status"] == "failed"  # a 5xx answer: the execution failed, the worker did not
        whisper.settle()
    finally:
        whisper.functions.delete_variable("transcribe", variable["$id"])
    assert whisper.balance(owner) == 5.0 and not charges(whisper, owner)
    retry = whisper.transcribe(file_id, owner)
    assert retry.status == 200 and retry.body["creditsCharged"] == 1.0, retry.body
    whisper.settle()
    assert whisper.balance(owner) == 4.0 and len(charges(whisper, owner)) == 1


def test_new_users_get_their_credits_exactly_once(whisper: Whisper) -> None:
    user_id = user()
    whisper.users.create(user_id, name="New user")  # users.*.create -> grant-credits
    deadline = time.monotonic() + 60
    while whisper.balance(user_id) is None:
        assert time.monotonic() < deadline, "grant-credits did not open the account"
        time.sleep(0.1)
    default = float(whisper.env.variable("DEFAULT_USER_CREDITS").value or 0)  # type: ignore[union-attr]
    assert default == 50.0
    for _ in range(2):  # the same event again, e.g. a retry: nothing changes
        again = whisper.run("grant-credits", {"userId": user_id})
        assert again.status == 200 and again.body["granted"] is False, again.body
    grants = [e for e in whisper.ledger(user_id) if e["kind"] == "grant"]
    assert len(grants) == 1 and grants[0]["entryKey"] == f"grant:{user_id}" and grants[0]["amount"] == default
    assert whisper.balance(user_id) == default


def test_cleanup_deletes_only_old_audio_and_keeps_transcripts(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    old = whisper.upload(FOX.data, "old.ogg", owner)
    time.sleep(1.2)
    new = whisper.upload(FOX.data, "new.ogg", owner)
    whisper.settle()  # the upload events transcribe both
    assert whisper.wait_row(old)["status"] == whisper.wait_row(new)["status"] == "completed"
    hours = float(whisper.env.variable("CLEANUP_AFTER_HOURS").value or 0)  # type: ignore[union-attr]
    created = datetime.fromisoformat(whisper.storage.get_file("audio", old)["$createdAt"])
    now = created + timedelta(hours=hours, seconds=0.5)  # "old" is just past the age limit, "new" is not
    report = whisper.run("cleanup", {"now": now.isoformat()})
    assert report.status == 200, report.body
    assert old in report.body["deleted"] and new not in report.body["deleted"]
    with pytest.raises(AppwriteException) as gone:
        whisper.storage.get_file("audio", old)
    assert gone.value.code == 404
    assert whisper.storage.get_file("audio", new)["$id"] == new
    purged, kept = whisper.transcription(old), whisper.transcription(new)
    assert purged["audioPurged"] is True and purged["text"] and purged["status"] == "completed"
    assert kept["audioPurged"] is False
    # The transcript stays reachable through the function once its audio is gone.
    again = whisper.transcribe(old, owner)
    assert again.status == 200 and again.body["text"] == purged["text"]
    assert whisper.run("cleanup", {"now": now.isoformat()}).body["deleted"] == []
    assert whisper.balance(owner) == 3.0


def test_cli_transcribe_json(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    clip = CLIPS[2]
    command = ["transcribe", str(clip.path), "--env", "local", "--json"]
    done = cli(*command, "--user", owner, cwd=ROOT, env=whisper.cli_environ())
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # exactly one JSON object, nothing else
    assert set(out) == {"text", "segments", "language", "durationSeconds", "creditsCharged", "creditsLeft",
                        "transcriptionId"}  # fmt: skip
    assert word_error_rate(clip.script, out["text"]) <= 0.25
    assert out["creditsCharged"] == 1.0 and out["creditsLeft"] == 4.0
    assert whisper.transcription(out["transcriptionId"])["userId"] == owner
    # Without --user, on local: the default user is created and gets its credits from grant-credits.
    default = cli(*command, cwd=ROOT, env=whisper.cli_environ())
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["creditsLeft"] == 49.0
    # An error: the function's code on stderr, nothing on stdout.
    bad = cli("transcribe", str(video_only()), "--env", "local", "--user", owner, cwd=ROOT, env=whisper.cli_environ())
    assert bad.returncode == 1 and bad.stdout == "" and "unsupported_file" in bad.stderr, bad
