"""The Flutter app's environments, generated so that a release build can never talk to DEV.

Endpoints and project ids go into ``config/appwrite/<env>.json`` (``--dart-define-from-file``); the Dart
``AppConfig`` reads them with ``const String.fromEnvironment``. The release environment's file holds only
its own values, so a release build has nothing of DEV to reach; :func:`unsafe_defines` and
:func:`scan_build` check that in CI. No API key is ever written: the app uses sessions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlparse

from quixotic.ci.fill import fill, template
from quixotic.ci.pins import PINS
from quixotic.ci.stamp import PLACEHOLDER, stamp
from quixotic.ci.workflows import branch_problem, setup_problems, setup_steps
from quixotic.config import Environment
from quixotic.errors import UsageError

DEFINES_DIR: Final = "config/appwrite"
DART_FILE: Final = "lib/config/app_config.dart"
LAUNCH_FILE: Final = ".vscode/launch.json"
GUARD_FILE: Final = ".github/workflows/release-guard.yml"
SELECTED: Final = "APPWRITE_ENVIRONMENT"
STAMP_KEY: Final = "QUIXOTIC_GENERATED"
COLORS: Final = {"local": "0xFF7B1FA2", "dev": "0xFFEF6C00", "staging": "0xFF00838F"}
OTHER_COLOR: Final = "0xFF2E7D32"
RELEASE_COLOR: Final = "0xFFC62828"


@dataclass(frozen=True)
class FlutterSettings:
    release: str = "prod"  # the only environment of release builds
    debug: str = "dev"  # where debug and profile builds start
    branch: str = "main"  # the app's branch the release guard also runs on
    python: str = "3.11"
    install: str = "python -m pip install quixotic"  # how the app's CI gets this tool


def define_prefix(env: str) -> str:
    return f"APPWRITE_{env.upper().replace('-', '_')}_"


def _camel(env: str) -> str:
    head, *rest = env.split("-")
    return head + "".join(part.capitalize() for part in rest)


def defines_of(env: Environment) -> dict[str, str]:
    """The public values of ``env`` a build may carry: endpoint and project id, never a key."""
    return {define_prefix(env.name) + "ENDPOINT": env.endpoint, define_prefix(env.name) + "PROJECT_ID": env.project_id}


def render_flutter(envs: Sequence[Environment], settings: FlutterSettings) -> dict[str, str]:
    """``{relative path: text}``: one define file per environment, the Dart file and VS Code's launch entries."""
    names = [e.name for e in envs]
    for what, name in (("release", settings.release), ("debug", settings.debug)):
        if name not in names:
            raise UsageError(f"the {what} environment {name!r} is not one of this project's: {', '.join(names)}")
    if settings.release == settings.debug:
        raise UsageError(f"--release and --debug are both {settings.release!r}: debug builds need another environment")
    files: dict[str, str] = {}
    for env in envs:
        reachable = [env] if env.name == settings.release else list(envs)  # a release file: its own values only
        values: dict[str, str] = {STAMP_KEY: PLACEHOLDER, SELECTED: env.name}
        for other in reachable:
            values.update(defines_of(other))
        files[f"{DEFINES_DIR}/{env.name}.json"] = stamp(json.dumps(values, indent=2) + "\n")
    files[DART_FILE] = stamp(_dart(envs, settings))
    files[LAUNCH_FILE] = stamp(_launch(envs, settings))
    files[GUARD_FILE] = stamp(_guard(settings))
    return files


def _guard(settings: FlutterSettings) -> str:
    """The app repository's workflow that builds for release and searches the build for other environments."""
    problems = [*setup_problems(settings.python, settings.install), branch_problem("--branch", settings.branch)]
    if any(problems):
        raise UsageError("cannot render the release guard:\n" + "\n".join(f"  - {p}" for p in problems if p))
    values = {"release": settings.release, "branch": settings.branch, "flutter": PINS["flutter"].uses()}
    values["setup_steps"] = setup_steps(settings.python, settings.install)
    return fill(template("github/release_guard.yml"), values)


def _dart(envs: Sequence[Environment], settings: FlutterSettings) -> str:
    consts, environments = [], []
    for env in envs:
        var, prefix = _camel(env.name), define_prefix(env.name)
        consts += [
            f"  static const String _{var}Endpoint = String.fromEnvironment('{prefix}ENDPOINT');",
            f"  static const String _{var}ProjectId = String.fromEnvironment('{prefix}PROJECT_ID');",
        ]
        color = RELEASE_COLOR if env.name == settings.release else COLORS.get(env.name, OTHER_COLOR)
        environments.append(
            f"  static const AppEnvironment _{var} = AppEnvironment(\n"
            f"    name: '{env.name}',\n"
            f"    endpoint: _{var}Endpoint,\n"
            f"    projectId: _{var}ProjectId,\n"
            f"    label: '{env.name.upper()}',\n"
            f"    color: Color({color}),\n"
            "  );"
        )
    return fill(
        template("flutter/app_config.dart"),
        {
            "debug": settings.debug,
            "release": settings.release,
            "consts": "\n".join(consts),
            "environments": "\n\n".join(environments),
            "names": ", ".join(f"_{_camel(e.name)}" for e in envs),
            "release_var": f"_{_camel(settings.release)}",
        },
    )


def _launch(envs: Sequence[Environment], settings: FlutterSettings) -> str:
    configurations = [
        {
            "name": f"{env.name}" + (" (release)" if env.name == settings.release else " (debug)"),
            "request": "launch",
            "type": "dart",
            "program": "lib/main.dart",
            "flutterMode": "release" if env.name == settings.release else "debug",
            "args": [f"--dart-define-from-file={DEFINES_DIR}/{env.name}.json"],
        }
        for env in envs
    ]
    body = json.dumps({"version": "0.2.0", "configurations": configurations}, indent=2)
    return f"// Generated by `quixotic ci flutter` ({PLACEHOLDER}); hand edits are kept unless --force.\n{body}\n"


def _host(value: str) -> str:
    return (urlparse(value).hostname or "") if "://" in value else ""


LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})  # the engine itself may hold these


def _markers(defines: Mapping[str, Mapping[str, object]], release: str) -> dict[str, str]:
    """``{text: what it is}`` for every other environment's project id, endpoint and host that the release's own
    values do not share (two environments on one Appwrite Cloud host differ by project id only)."""
    own = _own(defines, release)
    own_hosts = {_host(v) for v in own}
    found: dict[str, str] = {}
    for env, values in defines.items():
        if env == release:
            continue
        prefix = define_prefix(env)
        project, endpoint = str(values.get(prefix + "PROJECT_ID", "")), str(values.get(prefix + "ENDPOINT", ""))
        if project and project not in own:
            found[project] = f"{env}'s project id"
        if endpoint and endpoint not in own and _host(endpoint) not in own_hosts:
            found[endpoint] = f"{env}'s endpoint"
            if _host(endpoint) not in LOOPBACK:
                found[_host(endpoint)] = f"{env}'s host"
    return found


def _own(defines: Mapping[str, Mapping[str, object]], release: str) -> list[str]:
    """The release's own values (its endpoint, project id and name), whatever else its file holds."""
    return [
        str(v) for k, v in defines[release].items() if (k == SELECTED or k.startswith(define_prefix(release))) and v
    ]


def holds(blob: bytes, marker: bytes, own: Sequence[bytes]) -> bool:
    """Whether ``marker`` occurs in ``blob`` other than inside one of the release's ``own`` values (the
    release's project id ``app`` must not hide DEV's ``app-dev``, nor DEV's ``app`` flag PROD's ``app-prod``)."""
    inside = sum(blob.count(value) * value.count(marker) for value in own if marker in value)
    return blob.count(marker) > inside


def unsafe_defines(defines: Mapping[str, Mapping[str, object]], release: str) -> list[str]:
    """What in the release's define file could point a release build anywhere but ``release``."""
    values = defines[release]
    findings = []
    if values.get(SELECTED) != release:
        findings.append(f"{DEFINES_DIR}/{release}.json sets {SELECTED} to {values.get(SELECTED)!r}, not {release!r}")
    for key in values:
        if key.startswith("APPWRITE_") and key != SELECTED and not key.startswith(define_prefix(release)):
            findings.append(f"{DEFINES_DIR}/{release}.json defines {key} (another environment's value)")
        if "KEY" in key.upper() and key != STAMP_KEY:
            findings.append(f"{DEFINES_DIR}/{release}.json defines {key}: an app build must never carry an API key")
    text = json.dumps({k: v for k, v in values.items() if k != STAMP_KEY}).encode()
    own = [v.encode() for v in _own(defines, release)]
    findings += [
        f"{DEFINES_DIR}/{release}.json holds {what} {marker!r}"
        for marker, what in _markers(defines, release).items()
        if holds(text, marker.encode(), own)
    ]
    return findings


def scan_build(blobs: Mapping[str, bytes], defines: Mapping[str, Mapping[str, object]], release: str) -> list[str]:
    """Each file of a release build that holds another environment's project id, endpoint or host."""
    own = [v.encode() for v in _own(defines, release)]
    markers = _markers(defines, release)
    return [
        f"{name} holds {what} {marker!r}"
        for name, blob in blobs.items()
        for marker, what in markers.items()
        if holds(blob, marker.encode(), own)
    ]
