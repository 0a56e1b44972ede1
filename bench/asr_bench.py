"""Real-time factor of transcription: the bare engine vs the full path, on the same clips in the same run.

    .venv/bin/python bench/asr_bench.py [--rounds 3]

Starts a local server with a temporary data dir, deploys the QuixoticWhisper project to it (as the backend
tests do: ``tests/whisper/conftest.py``), then, for the speech clips of ``tests/fixtures/audio``:

- bare engine: the function's own ``audio.decode`` + ``engine.transcribe`` (faster-whisper tiny.en, int8),
  run in the function's built venv with the model loaded once, timed from the file's bytes to text;
- full path: upload to the ``audio`` bucket -> ``transcribe`` execution (async, polled) -> row stored, timed
  from the start of the upload to reading the completed row, with warm workers (the upload event fires an
  execution too, as in production; the function makes them share the work).

The two are interleaved clip by clip, so both see the same machine. RTF = audio seconds / wall seconds (higher
is faster). The ratio bare / full is the platform's overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "whisper")]

from figures import figures  # noqa: E402
from support.server import start_server  # noqa: E402
from whisper_helpers import Whisper, clips  # noqa: E402

from quixotic.commands import deploy  # noqa: E402
from quixotic.config import load_environment  # noqa: E402
from quixotic.server import admin  # noqa: E402
from quixotic.target import connect  # noqa: E402

console = Console()

BARE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from src import audio, engine
started = time.perf_counter()
model = engine.load(None)
print(json.dumps({"load": time.perf_counter() - started}), flush=True)
for line in sys.stdin:  # one clip path per line -> one JSON line: decoded seconds, wall seconds, text
    raw = open(line.strip(), "rb").read()
    t = time.perf_counter()
    decoded = audio.decode(raw)
    text = engine.transcribe(model, decoded.samples).text
    print(json.dumps({"seconds": decoded.seconds, "wall": time.perf_counter() - t, "text": text}), flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="Times each clip is transcribed per mode.")
    args = parser.parse_args()
    speech = clips()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", Path(tmp) / "server.log")
        try:
            env = load_environment(ROOT, "local", environ={"QUIXOTIC_LOCAL_API_KEY": "unused"})
            creds = admin.create_project(server.data_dir, env.project_id)
            environ = {**os.environ, "QUIXOTIC_LOCAL_API_KEY": creds.api_key, "QUIXOTIC_LOCAL_ENDPOINT": server.url}
            env = load_environment(ROOT, "local", environ=environ)
            whisper = Whisper(server, env, creds.api_key, server.client(env.project_id, creds.api_key))
            started = time.perf_counter()
            deploy.deploy(connect(ROOT, "local", environ), yes=True, progress=lambda m: console.print(m, style="dim"))
            console.print(f"deployed in {time.perf_counter() - started:.1f} s", style="dim")
            deployment = whisper.functions.get("transcribe")["deploymentId"]
            built = server.data_dir / "functions" / env.project_id / "transcribe" / deployment
            owner = "bench-user"
            whisper.fund(owner, 1e6)

            def full(clip_data: bytes, name: str) -> tuple[float, float]:
                t = time.perf_counter()
                file = whisper.storage.create_file(
                    "audio", ID.unique(), InputFile.from_bytes(clip_data, name), [Permission.read(Role.user(owner))]
                )
                result = whisper.transcribe(file["$id"], owner)
                assert result.status == 200, result.body
                assert whisper.transcription(file["$id"])["status"] == "completed"
                return float(result.body["durationSeconds"]), time.perf_counter() - t

            bare = subprocess.Popen(
                [str(built / "venv" / "bin" / "python"), "-c", BARE, str(built / "code")],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
            )  # fmt: skip
            requests, replies = bare.stdin, bare.stdout
            assert requests is not None and replies is not None
            load = json.loads(replies.readline())["load"]

            def engine_only(clip: Any) -> tuple[float, float]:
                requests.write(f"{clip.path}\n")
                requests.flush()
                result = json.loads(replies.readline())
                return float(result["seconds"]), float(result["wall"])

            engine_only(speech[0])  # warm-up of both paths: model loaded, workers started
            full(speech[0].data, speech[0].path.name)
            whisper.settle()
            totals = {"bare": [0.0, 0.0], "full": [0.0, 0.0]}
            for _ in range(args.rounds):  # interleaved, so both paths see the same machine
                for clip in speech:
                    for path, (seconds, wall) in (
                        ("bare", engine_only(clip)),
                        ("full", full(clip.data, clip.path.name)),
                    ):
                        totals[path][0] += seconds
                        totals[path][1] += wall
                    whisper.settle()  # the upload event's execution ends before the next clip starts
            requests.close()
            bare.wait(timeout=30)
        finally:
            server.process.terminate()
            server.process.wait(timeout=10)
    (bare_audio, bare_wall), (full_audio, full_wall) = totals["bare"], totals["full"]
    bare_rtf, full_rtf = bare_audio / bare_wall, full_audio / full_wall
    title = f"Transcription speed, {len(speech)} clips x {args.rounds} rounds (tiny.en, int8)"
    table = figures(title, "path", "audio s", "wall s", "RTF (audio s / wall s)")
    table.add_row("bare engine (decode + transcribe)", f"{bare_audio:.1f}", f"{bare_wall:.2f}", f"{bare_rtf:.2f}x")
    table.add_row("full path (upload -> execution -> row)", f"{full_audio:.1f}", f"{full_wall:.2f}", f"{full_rtf:.2f}x")
    console.print(table)
    console.print(f"model load (bare): {load:.2f} s")
    console.print(f"ratio bare / full: {bare_rtf / full_rtf:.2f} (the platform's overhead factor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
