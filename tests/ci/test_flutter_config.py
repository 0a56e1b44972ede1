"""`quixotic ci flutter` through the command line: the Dart parses (tree-sitter-dart) with every define read by a
``const String.fromEnvironment`` whose key the define files hold, a release build's defines name PROD only, no
file holds a key, and `ci flutter-check` fails a release config or build that could reach DEV."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_dart
from ci_lint import lint_all
from deploy_project import files
from support.site import Site, cli
from tree_sitter import Language, Node, Parser

DART = Language(tree_sitter_dart.language())
CONFIG = "lib/config/app_config.dart"


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """Three environments as the team has them: local (the embedded server), dev and prod on one Cloud host."""
    site = Site.create(tmp_path / "project", None, files=files("flutter-test"))
    site.write_env("local", "app-local")
    site.write_env("dev", "app-dev")
    site.write_env("prod", "app")
    for name, endpoint in (("local", "http://127.0.0.1:8080/v1"), ("dev", "https://cloud.example.io/v1"),
                           ("prod", "https://cloud.example.io/v1")):  # fmt: skip
        path = site.root / "environments" / f"{name}.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "endpoint": endpoint}))
    return site


@pytest.fixture
def app(site: Site, tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "pubspec.yaml").write_text("name: quixotic_whisper\n")
    done = site.cli("ci", "flutter", "--out", str(folder))
    assert done.returncode == 0, done.stderr
    return folder


def defines(app: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((app / "config" / "appwrite").glob("*.json"))}


def walk(node: Node) -> list[Node]:
    found = [node]
    for child in node.children:
        found += walk(child)
    return found


def test_the_dart_parses_and_reads_only_const_defines_the_files_hold(app: Path) -> None:
    source = (app / CONFIG).read_bytes()
    tree = Parser(DART).parse(source)
    nodes = walk(tree.root_node)
    assert not any(n.type == "ERROR" or n.is_missing for n in nodes), "the generated Dart has syntax errors"
    declarations = [n for n in nodes if n.type == "declaration" and b"fromEnvironment" in (n.text or b"")]
    assert len(declarations) == 1 + 2 * 3  # the selected environment, then endpoint and project id of each
    keys = set()
    for declaration in declarations:
        kinds = [c.type for c in declaration.children]
        assert "const_builtin" in kinds[: kinds.index("static_final_declaration_list")], kinds
        text = (declaration.text or b"").decode()
        keys.add(text.split("fromEnvironment('")[1].split("'")[0])
    written = defines(app)
    assert set(written) == {"local", "dev", "prod"}
    debug_keys = set(written["dev"]) - {"QUIXOTIC_GENERATED"}
    assert keys == debug_keys  # every key the Dart reads is in the debug file, and nothing else is
    assert written["dev"]["APPWRITE_DEV_PROJECT_ID"] == "app-dev"
    assert written["local"]["APPWRITE_LOCAL_ENDPOINT"] == "http://127.0.0.1:8080/v1"
    assert written["prod"] == {
        "QUIXOTIC_GENERATED": written["prod"]["QUIXOTIC_GENERATED"],
        "APPWRITE_ENVIRONMENT": "prod",
        "APPWRITE_PROD_ENDPOINT": "https://cloud.example.io/v1",
        "APPWRITE_PROD_PROJECT_ID": "app",
    }
    dart = source.decode()
    assert "if (kReleaseMode) {\n      return release;" in dart  # release builds are PROD, whatever the defines
    assert "if (!kDebugMode) {\n      throw StateError" in dart  # the switcher is debug-only
    assert "class EnvironmentBanner extends StatelessWidget" in dart and "Banner(" in dart


def test_launch_entries_per_environment_and_no_keys_anywhere(site: Site, app: Path) -> None:
    key = "standard_" + "e" * 64
    site.environ.update({f"QUIXOTIC_{e}_API_KEY": key for e in ("LOCAL", "DEV", "PROD")})
    assert site.cli("ci", "flutter", "--out", str(app)).returncode == 0
    launch = (app / ".vscode" / "launch.json").read_text()
    entries = json.loads(launch.split("\n", 1)[1])["configurations"]
    assert [(e["name"], e["flutterMode"]) for e in entries] == [
        ("dev (debug)", "debug"), ("local (debug)", "debug"), ("prod (release)", "release")
    ]  # fmt: skip
    assert entries[1]["args"] == ["--dart-define-from-file=config/appwrite/local.json"]
    for path in app.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert key not in text and "API_KEY" not in text and "apiKey" not in text, path


def test_flutter_config_and_check_are_the_same_commands(site: Site, app: Path, tmp_path: Path) -> None:
    """`quixotic flutter config|check`, the issue's names, write and check exactly what `ci flutter` does."""
    other = tmp_path / "app2"
    other.mkdir()
    (other / "pubspec.yaml").write_text("name: quixotic_whisper\n")
    done = site.cli("flutter", "config", "--out", str(other))
    assert done.returncode == 0, done.stderr
    written = sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(app) for p in app.rglob("*") if p.is_file())
    assert all((other / p).read_bytes() == (app / p).read_bytes() for p in written)
    assert cli("flutter", "check", "--app", str(other)).returncode == 0  # no --root: it reads the app only


def test_a_folder_without_pubspec_is_refused_and_hand_edits_kept(site: Site, app: Path, tmp_path: Path) -> None:
    bare = tmp_path / "not-an-app"
    bare.mkdir()
    refused = site.cli("ci", "flutter", "--out", str(bare))
    assert refused.returncode == 1 and "no pubspec.yaml" in refused.stderr and not any(bare.iterdir())
    dart = app / CONFIG
    dart.write_text(dart.read_text().replace("label: 'DEV'", "label: 'DEVELOPMENT'"))
    kept = site.cli("ci", "flutter", "--out", str(app))
    assert kept.returncode == 1 and "-    label: 'DEVELOPMENT'," in kept.stderr and "DEVELOPMENT" in dart.read_text()
    assert site.cli("ci", "flutter", "--out", str(app), "--force").returncode == 0
    assert "DEVELOPMENT" not in dart.read_text()
    same = site.cli("ci", "flutter", "--out", str(app), "--release", "prod", "--debug", "prod")
    assert same.returncode == 1 and "debug builds need another environment" in same.stderr


def test_flutter_check_fails_a_release_that_could_reach_dev(site: Site, app: Path, tmp_path: Path) -> None:
    ok = cli("ci", "flutter-check", "--app", str(app))
    assert ok.returncode == 0, ok.stderr
    build = tmp_path / "build"
    (build / "lib").mkdir(parents=True)
    (build / "lib" / "libapp.so").write_bytes(b"\x00ELF...https://cloud.example.io/v1\x00app\x00prod\x00")
    clean = cli("ci", "flutter-check", "--app", str(app), "--build", str(build))
    assert clean.returncode == 0 and "1 build file(s)" in clean.stdout, clean.stderr
    (build / "lib" / "libapp.so").write_bytes(b"\x00ELF...app-dev\x00")  # DEV's id holds PROD's "app"
    dirty = cli("ci", "flutter-check", "--app", str(app), "--build", str(build))
    assert dirty.returncode == 1 and "lib/libapp.so holds dev's project id 'app-dev'" in dirty.stderr
    (build / "lib" / "libapp.so").write_bytes(b"\x00http://127.0.0.1:8080/v1\x00")
    local = cli("ci", "flutter-check", "--app", str(app), "--build", str(build))
    assert local.returncode == 1 and "local's endpoint" in local.stderr
    release = app / "config" / "appwrite" / "prod.json"
    release.write_text(json.dumps({**json.loads(release.read_text()), "APPWRITE_DEV_PROJECT_ID": "app-dev"}))
    mixed = cli("ci", "flutter-check", "--app", str(app))
    assert mixed.returncode == 1 and "defines APPWRITE_DEV_PROJECT_ID" in mixed.stderr
    assert "holds dev's project id 'app-dev'" in mixed.stderr


def test_the_dart_compiles_where_dart_is_installed(app: Path) -> None:
    dart = shutil.which("dart")
    if dart is None:
        pytest.skip("no dart SDK on this machine: the syntax is checked by tree-sitter-dart above, not compiled")
    result = subprocess.run([dart, "analyze", str(app / CONFIG)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_guard_workflow_passes_the_linters(app: Path) -> None:
    guard = app / ".github" / "workflows" / "release-guard.yml"
    for name, result in lint_all([guard]).items():
        assert result.returncode == 0, f"{name} found problems:\n{result.stdout}\n{result.stderr}"
    text = guard.read_text()
    assert "quixotic ci flutter-check --release prod --build build/app/outputs" in text
    assert "--dart-define-from-file=config/appwrite/prod.json" in text and "subosito/flutter-action@" in text
