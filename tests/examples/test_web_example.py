"""examples/web, the app's flow in a browser, end to end against ``local``.

``quixotic up`` (the real command line) starts a server on a free port with a fresh data folder and deploys
this repository's project to it; the page is served by the one line its README gives
(``python -m http.server``); Debian's headless Chromium opens it (``web_browser/drive.mjs``, puppeteer-core).
The page signs in anonymously, then in one round picks ``tests/fixtures/audio/fox.ogg`` and in a second
records from Chromium's fake microphone, which plays an espeak-ng clip of another sentence. Each round's
transcription must arrive over Realtime and say the clip's key words (tiny.en's wording varies, so no
exact string); the page must show the text and the credits charged that the server's row holds, and the
balance less those credits (its update over Realtime too). The server, asked with the project's key,
holds each upload readable by that user alone. The screenshots stay in the test's tmp folder (their paths
are printed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from support.npm import npm_ci
from support.server import free_port, sdk_client
from support.site import REPO, Site, cli

from quixotic.envfile import read_env_file
from quixotic.server import admin

WEB = REPO / "examples" / "web"
DRIVER = Path(__file__).resolve().parent / "web_browser"
FOX = REPO / "tests" / "fixtures" / "audio" / "fox.ogg"
FOX_WORDS = {"quick", "brown", "fox", "lazy", "farmer", "watches", "porch"}
SPOKEN = "Please remember to bring your umbrella tomorrow, because heavy rain will fall in the afternoon."
SPOKEN_WORDS = {"remember", "bring", "umbrella", "tomorrow", "heavy", "rain", "afternoon"}
ENVIRONMENTS = ("local", "dev", "prod")


def test_the_page_config_names_each_environment_as_its_file_does_and_holds_no_key() -> None:
    config = json.loads((WEB / "config.json").read_text())
    assert config["default"] == "local"
    assert set(config["environments"]) == set(ENVIRONMENTS)
    for name in ENVIRONMENTS:
        declared = json.loads((REPO / "environments" / f"{name}.json").read_text())
        entry = config["environments"][name]
        assert set(entry) == {"endpoint", "projectId"}, f"config.json's {name} holds more than an endpoint and an id"
        assert entry == {"endpoint": declared["endpoint"], "projectId": declared["projectId"]}, name


# --- what the browser test needs --------------------------------------------------------------------------


def debian_tool(binary: str, package: str) -> str:
    """``binary``'s path, installing Debian's ``package`` when it is missing (as root); skip when it cannot be had."""
    found = shutil.which(binary) or (f"/usr/bin/{binary}" if Path(f"/usr/bin/{binary}").is_file() else None)
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip(f"{binary} is missing and cannot be installed here (needs root and apt-get): "
                    f"apt-get install -y {package}")  # fmt: skip
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = f"apt-get update -q && apt-get install -y -q {package}"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=900)
    found = shutil.which(binary)
    if not found:
        pytest.skip(f"{binary} is missing and `{command}` did not install it: {(done.stderr or done.stdout)[-500:]}")
    return found


def speak(text: str, dest: Path, espeak: str) -> float:
    """``text`` spoken by espeak-ng (US English, 150 words a minute) into the WAV ``dest``; its seconds."""
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(dest), text], check=True, capture_output=True)
    with wave.open(str(dest)) as clip:
        return clip.getnframes() / clip.getframerate()


def key_words_heard(transcript: str, wanted: set[str]) -> set[str]:
    said = {w.strip(".,;:!?\"'").lower() for w in transcript.split()}
    return wanted & said


def wait_until_served(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "python -m http.server exited"
        try:
            if requests.get(url + "config.json", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 20 s")


@pytest.fixture
def tools() -> tuple[str, str, str]:
    """Chromium, espeak-ng and node, and both folders' node_modules (before the server: a skip costs nothing)."""
    chromium = debian_tool("chromium", "chromium")
    espeak = debian_tool("espeak-ng", "espeak-ng")
    node = shutil.which("node")
    assert node, "node (20 or later) is needed for the browser test"
    npm_ci(WEB, "appwrite")
    npm_ci(DRIVER, "puppeteer-core")
    return chromium, espeak, node


@pytest.fixture
def page_server() -> Iterator[str]:
    """examples/web served by the README's line, on a free port of 127.0.0.1."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    process = subprocess.Popen(command, cwd=WEB, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[tuple[Site, Path, str]]:
    """This repository's project deployed to ``local`` by ``quixotic up`` on a server of its own."""
    site = Site.create(
        tmp_path / "site", None,
        from_repo=["appwrite.json", "templates", "functions", "migrations", "environments/local.json"],
    )  # fmt: skip
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIXOTIC_LOCAL_")}
    try:
        done = cli(
            "up", "--port", str(free_port()), "--data", str(data), "--root", str(site.root), env=env, timeout=600
        )
        assert done.returncode == 0, f"quixotic up failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        endpoint = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("server "))
        yield site, data, endpoint
    finally:
        admin.down(data)


# --- the flow ---------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_web_example_transcribes_a_picked_file_and_a_recording_over_realtime(
    tmp_path: Path, tools: tuple[str, str, str], local_up: tuple[Site, Path, str], page_server: str
) -> None:
    chromium, espeak, node = tools
    site, _data, endpoint = local_up
    local = json.loads((site.root / "environments" / "local.json").read_text())
    project = local["projectId"]
    granted = float(local["variables"]["DEFAULT_USER_CREDITS"])

    mic = tmp_path / "spoken.wav"
    spoken_seconds = speak(SPOKEN, mic, espeak)
    refused = tmp_path / "notes.txt"
    refused.write_text("not audio\n")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    url = f"{page_server}?env=local&endpoint={endpoint}"
    record_for = f"{spoken_seconds + 1:.1f}"
    command = [node, str(DRIVER / "drive.mjs"), chromium, url, str(shots), str(FOX), str(mic), record_for, str(refused)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, f"drive.mjs failed:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"browser flow in {time.monotonic() - started:.1f} s; screenshots: {sorted(map(str, shots.iterdir()))}")
    assert "error" not in result, f"{result['error']}\nconsole: {result['console']}"

    start = result["start"]
    assert start["env"] == "local" and start["banner"].startswith("LOCAL"), start["banner"]
    assert endpoint in start["banner"] and project in start["banner"], start["banner"]
    assert start["balance"] == granted, start  # grant-credits opened the account on the anonymous user's creation
    user_id = start["userId"]

    rounds = {r["name"]: r for r in result["rounds"]}
    assert list(rounds) == ["file", "record"]
    key = read_env_file(site.root / "environments" / ".env.local")[admin.KEY_VAR]
    client = sdk_client(endpoint, project, key)
    tables = TablesDB(client)
    for name, wanted in (("file", FOX_WORDS), ("record", SPOKEN_WORDS)):
        before, after = rounds[name]["before"], rounds[name]["after"]
        assert after["status"] == "completed" and after["error"] is None, (name, after["error"], after["log"][-4:])
        heard = key_words_heard(after["transcript"], wanted)
        assert len(heard) >= len(wanted) - 1, (name, after["transcript"], wanted - heard)
        row = tables.get_row("quixotic_app", "transcriptions", after["fileId"])  # the server's own record
        assert row["userId"] == user_id and row["text"] == after["transcript"], (name, row)
        assert after["charged"] == row["creditsCharged"] > 0, (name, after["chargedText"], row["creditsCharged"])
        assert after["balance"] == before["balance"] - after["charged"], (name, before["balance"], after["balance"])
        new = after["log"][len(before["log"]) :]
        arrived = {(e["source"], e.get("kind"), e.get("status") or e.get("balance")) for e in new}
        assert ("realtime", "transcription", "completed") in arrived, (name, new)
        assert ("realtime", "balance", f"{after['balance']:g}") in arrived, (name, new)
        png = Path(rounds[name]["screenshot"])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000, png

    # A file of a type the bucket refuses: the page says so and the last transcription stays on screen.
    bad = result["refused"]
    assert bad["error"] and "upload" in bad["error"] and "extension" in bad["error"].lower(), bad["error"]
    shown = rounds["record"]["after"]
    assert bad["uploads"] == 2 and (bad["fileId"], bad["transcript"]) == (shown["fileId"], shown["transcript"]), bad

    # Asked with the project's key: two uploads, each readable (and deletable) by that user alone, two rows of theirs.
    files = Storage(client).list_files("audio")["files"]
    assert len(files) == 2, files
    for file in files:
        assert sorted(file["$permissions"]) == sorted([f'read("user:{user_id}")', f'delete("user:{user_id}")'])
    rows = tables.list_rows("quixotic_app", "transcriptions")["rows"]
    assert sorted(r["$id"] for r in rows) == sorted(f["$id"] for f in files)
    assert {r["userId"] for r in rows} == {user_id} and {r["status"] for r in rows} == {"completed"}
