"""What a layer's key holds and which builds get one (``layer_key``), and how the pip shim hands pip's options and
settings to uv (``pipshim``); then a real build whose install uv is not given runs pip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.wheels import tiny_wheel

from quixotic.server.compute.runtime.build import BuildResult
from quixotic.server.compute.runtime.layer_key import plan_layer
from quixotic.server.compute.runtime.pipshim import _Unsupported, translate

INSTALL = "pip install -r requirements.txt"


def code(tmp_path: Path, name: str, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / name
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


def key(folder: Path, commands: str = INSTALL, runtime: str = "python-3.11", env: dict[str, str] | None = None) -> str:
    plan = plan_layer(commands, folder, runtime, env or {})
    assert plan.key is not None, plan.why
    return plan.key


def test_the_key_ignores_the_code_and_where_it_lies(tmp_path: Path) -> None:
    a = code(tmp_path, "a", {"requirements.txt": "six\n", "main.py": "A = 1\n"})
    b = code(tmp_path, "b", {"requirements.txt": "six\n", "main.py": "B = 2\n", "other.py": ""})
    assert key(a) == key(b)


def test_the_key_holds_requirements_the_files_they_name_and_local_wheels(tmp_path: Path) -> None:
    name, wheel = tiny_wheel()
    base = {"requirements.txt": f"-r more/base.txt\n./{name}\n", "more/base.txt": "six\n", name: wheel}
    first = key(code(tmp_path, "a", base))
    assert key(code(tmp_path, "b", {**base, "more/base.txt": "six==1.17.0\n"})) != first  # a file it names
    assert key(code(tmp_path, "c", {**base, name: wheel + b"\0"})) != first  # the wheel's content
    assert key(code(tmp_path, "d", base), commands=INSTALL + " --no-deps") != first  # the commands
    assert key(code(tmp_path, "e", base), runtime="python-3.12") != first  # the runtime
    assert key(code(tmp_path, "f", base), env={"PIP_INDEX_URL": "https://mirror.example/simple"}) != first
    assert key(code(tmp_path, "g", base), env={"PIP_DEFAULT_TIMEOUT": "60"}) == first  # not what is installed


@pytest.mark.parametrize(
    ("commands", "why"),
    [
        ("pip install -r requirements.txt && python prepare.py", "not a pip install"),
        ("pip install -r requirements.txt | tee log", "`|`"),
        ("pip install -r $REQS", "shell expansions"),
        ("pip install --target lib -r requirements.txt", "--target"),
        ("pip install -e .", "-e"),
    ],
)
def test_commands_that_do_more_than_install_get_a_private_venv(tmp_path: Path, commands: str, why: str) -> None:
    plan = plan_layer(commands, code(tmp_path, "a", {"requirements.txt": "six\n"}), "python-3.11", {})
    assert plan.key is None
    assert why in plan.why


def test_an_editable_requirement_in_a_file_gets_a_private_venv(tmp_path: Path) -> None:
    plan = plan_layer(INSTALL, code(tmp_path, "a", {"requirements.txt": "-e ./pkg\n"}), "python-3.11", {})
    assert plan.key is None and "editable" in plan.why


def test_shared_layers_take_the_commands_as_they_are_written(tmp_path: Path) -> None:
    folder = code(tmp_path, "a", {"requirements.txt": "six\n", "model.txt": "x==1 --hash=sha256:00\n"})
    both = "pip install -r requirements.txt && pip install --require-hashes --no-deps -r model.txt"
    assert plan_layer(both, folder, "python-3.11", {}).key is not None
    assert plan_layer("python -m pip install six\npip3 install -U numpy", folder, "", {}).key is not None


def test_pip_options_and_settings_go_to_uv() -> None:
    env = {"PIP_FIND_LINKS": "/opt/wheels", "PIP_INDEX_URL": "https://mirror/simple", "PIP_NO_INDEX": "0"}
    configs = [{"extra-index-url": "file:///a/simple file:///b/simple", "constraint": "/etc/c.txt"}]
    args = translate(["install", "--no-deps", "-rrequirements.txt", "--upgrade", "six"], env, configs)
    assert args[:4] == ["pip", "install", "--index-strategy", "unsafe-best-match"]
    assert args[4:] == ["--no-deps", "--requirement", "requirements.txt", "--upgrade", "six",
                        "--index-url", "https://mirror/simple", "--extra-index-url", "file:///a/simple",
                        "--extra-index-url", "file:///b/simple", "--find-links", "/opt/wheels",
                        "--constraint", "/etc/c.txt"]  # fmt: skip
    own = translate(["install", "-i", "https://own/simple", "--require-hashes", "-r", "r.txt"], env, configs)
    assert own.count("--index-url") == 1 and "https://own/simple" in own
    assert "--constraint" not in own  # uv would refuse unpinned constraints in hash-checking mode


@pytest.mark.parametrize(
    ("args", "configs"),
    [
        (["list"], []),
        (["uninstall", "-y", "six"], []),
        (["install", "--user", "six"], []),
        (["install", "six"], [{"use-feature": "truststore"}]),
    ],
)
def test_what_uv_is_not_given_goes_to_pip(args: list[str], configs: list[dict[str, str]]) -> None:
    with pytest.raises(_Unsupported):
        translate(args, {}, configs)


def test_an_install_uv_is_not_given_runs_with_pip(build: Callable[..., BuildResult], tmp_path: Path) -> None:
    name, wheel = tiny_wheel()
    files: dict[str, str | bytes] = {"main.py": "", "requirements.txt": f"./{name}\n", name: wheel}
    result = build(files, commands="pip install --no-index --no-clean -r requirements.txt")
    assert result.ok, result.logs
    assert "pip install with uv" not in result.logs
    assert "Successfully installed quixotic-tinypkg-0.1" in result.logs  # pip's own words
    result = build(files, commands="pip install --no-index -r requirements.txt")
    assert result.ok, result.logs
    assert "pip install with uv" in result.logs
