"""`quixotic up` in process, on a local server of its own: the functions are packaged once for the deploy and
the validation both, and each function's check goes through `commands.execute` (whose `ok` is the one rule
of what answering is)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from deploy_project import SECRET, local_site
from support.server import free_port
from support.site import NO_PROTECTION, write

from quixotic.commands.execute import Executed
from quixotic.commands.up import up
from quixotic.deploy import desired as desired_module
from quixotic.deploy.packaging import Package
from quixotic.server import admin, platforms


def test_up_packages_each_function_once_and_checks_it_through_execute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = local_site(tmp_path / "site", "quixotictools-local", env="local")
    config = site.root / "environments" / "local.json"
    android = {"type": "flutter-android", "key": "com.quixotictools.whisper", "name": "the app"}
    write(config, {**json.loads(config.read_text()), "protection": NO_PROTECTION, "platforms": [android]})
    monkeypatch.setenv("QUIXOTIC_LOCAL_API_TOKEN", SECRET)
    monkeypatch.delenv("QUIXOTIC_LOCAL_ENDPOINT", raising=False)
    packaged: list[Path] = []
    real = desired_module.package_folder

    def package_folder(folder: Path) -> Package:  # counted, then the real packaging
        packaged.append(folder)
        return real(folder)

    monkeypatch.setattr(desired_module, "package_folder", package_folder)
    data = tmp_path / "data"
    try:
        report = up(site.root, port=free_port(), data_dir=data)
        # the declared platform was registered: the Flutter app's origin is let in, another OS's is not
        for origin, expected in (("appwrite-android://com.quixotictools.whisper", 401), ("appwrite-ios://x", 403)):
            answer = requests.get(report.server.endpoint + "/account", timeout=10,
                                  headers={"X-Appwrite-Project": "quixotictools-local", "Origin": origin})  # fmt: skip
            assert answer.status_code == expected, (origin, answer.text)
        assert platforms.ensure(data, "quixotictools-local", [("flutter-android", "", android["key"], "")]) == []
    finally:
        admin.down(data)
    assert [(p.type, p.key, p.name) for p in report.platforms] == [("flutter-android", android["key"], "the app")]
    assert packaged == [site.root / "functions" / "hello"], packaged  # the deploy's package serves validate too
    assert report.deploy.release_id is not None and report.validation is not None
    assert report.validation.exit_code == 0, [f for f in report.validation.findings if f.status == "FAIL"]
    check = report.checks["hello"]
    assert isinstance(check, Executed) and check.ok and check.status == 200 and check.ms > 0
    assert report.functions == {"hello": 200} and report.failing() == {}
    report.check()
