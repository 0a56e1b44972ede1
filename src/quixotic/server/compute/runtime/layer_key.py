"""Which dependency layer a build needs: its commands read as pip installs, and the key of all that they read.

A layer is a venv shared by every deployment whose build would install the same thing into it. Its key hashes:

- the layer format, the interpreter that makes the venv (path and full version), the server's pip and uv, and
  the function's runtime name;
- the build commands, verbatim: the commands are part of the key;
- the installer settings the build gets (``PIP_*``/``UV_*`` values and the site's pip.conf files; only their
  hash is kept, so an index URL's credentials are stored nowhere), with the names and sizes of the files in a
  local find-links folder (a wheel added there is a new layer);
- the content of every file the installs read: the requirement and constraint files named by ``-r``/``-c``
  and those they name in turn (relative to the naming file, as pip reads them), and local wheels, archives and
  folders named as requirements or with ``--find-links`` (read from the code folder, or anywhere).

Only builds whose every command is a ``pip install`` (``pip``, ``pip3``, ``pipX.Y`` or ``python -m pip``) with
options the pip shim knows, joined by ``&&``, ``;`` or new lines, get a layer: their only effect is the venv,
so a deployment with the same key can take the venv without running them. A command that does anything else
(a script, ``cp``, a pipe, a ``$VARIABLE``, a glob), an editable install (``-e``: it would point at one
deployment's code) or an install elsewhere (``--target``, ``--user``...) makes the build private: a venv of its
own in the deployment folder, built as before, and still fast through uv's shared cache. Unpinned requirements
are resolved when the layer is built; a later deployment with the same key gets the same versions, as with an
image layer (change the requirements, or pin them, to move on).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from quixotic.server.compute.runtime import pipshim

LAYER_FORMAT = "1"
_PIP_NAMES = ("pip", "pip3", f"pip{sys.version_info[0]}.{sys.version_info[1]}")
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
_ALLOWED_OPERATORS = ("&&", ";")
_SHELL_SPECIALS = set("$`*?[]{}~!\\")
# Settings that change how an install runs, not what it installs.
_NOISE = {"PIP_CACHE_DIR", "UV_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT", "PIP_DEFAULT_TIMEOUT",
          "PIP_TIMEOUT", "PIP_PROGRESS_BAR", "UV_HTTP_TIMEOUT", "PIP_ROOT_USER_ACTION", "UV_NO_PROGRESS"}  # fmt: skip
_SITE_CONFIGS = ("/etc/xdg/pip/pip.conf", "/etc/pip.conf")
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_FILE_OPTIONS = {"--requirement", "--constraint"}
_Feed = Callable[..., None]  # hashes its parts, in order, into the key


@dataclass(frozen=True)
class LayerPlan:
    """``key`` names the shared layer (None: the build gets a private venv); ``why`` says which, in one line."""

    key: str | None
    why: str


class _Private(Exception):
    """The build cannot share a layer; the message says why."""


def plan_layer(
    commands: str, code: Path, runtime: str, env: Mapping[str, str], tools: tuple[str, ...] = (), scope: str = ""
) -> LayerPlan:
    """The layer ``commands`` build, run in ``code`` with the installer settings ``env``.

    ``tools`` names the programs behind the install (the server's Python, uv) so that a new one is a new layer.
    """
    try:
        steps = install_steps(commands)
        digest = hashlib.sha256()

        def feed(*parts: str | bytes) -> None:
            for part in parts:
                data = part.encode() if isinstance(part, str) else part
                digest.update(len(data).to_bytes(8, "big") + data)

        feed("format", LAYER_FORMAT, "python", sys.version, os.path.realpath(sys.executable), "runtime", runtime)
        feed("tools", *tools, "commands", commands, "scope", scope)
        _feed_settings(feed, env)
        seen: set[Path] = set()
        for args in steps:
            _feed_install(feed, args, code, seen)
    except _Private as exc:
        return LayerPlan(None, str(exc))
    return LayerPlan(digest.hexdigest()[:32], f"{len(steps)} install command(s), {len(seen)} input file(s) hashed")


def install_steps(commands: str) -> list[list[str]]:
    """The arguments after ``install`` of each command, or _Private when a command is not a plain pip install."""
    steps: list[list[str]] = []
    for line in commands.splitlines():
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            raise _Private(f"the build commands could not be read as shell words ({exc})") from exc
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token and set(token) <= set(";&|<>()"):
                if token not in _ALLOWED_OPERATORS:
                    raise _Private(f"the build commands use `{token}`, so they may do more than install packages")
                if command:
                    steps.append(_install_args(command))
                command = []
            else:
                command.append(token)
    return steps


def _install_args(command: list[str]) -> list[str]:
    shown = " ".join(command)
    if any(set(word) & _SHELL_SPECIALS for word in command):
        raise _Private(f"`{shown}` uses shell expansions, so what it installs is not known before it runs")
    if command[0] in _PIP_NAMES and command[1:2] == ["install"]:
        args = command[2:]
    elif _PYTHON.fullmatch(command[0]) and command[1:4] == ["-m", "pip", "install"]:
        args = command[4:]
    else:
        raise _Private(f"`{shown}` is not a pip install, so its effects are not only the venv")
    for arg in args:
        name = arg.partition("=")[0]
        if arg.startswith("-") and name not in pipshim._OPTIONS and not (name.startswith("-r") and len(name) > 2):
            raise _Private(f"`{shown}` uses {name}, an option a shared layer cannot take (it may install elsewhere)")
    return args


def _feed_settings(feed: _Feed, env: Mapping[str, str]) -> None:
    for name in sorted(env):
        if name.startswith(("PIP_", "UV_")) and name not in _NOISE:
            feed("env", name, env[name])
    configs = [*_SITE_CONFIGS, env.get("PIP_CONFIG_FILE", "")]
    for path in configs:
        if path and os.path.isfile(path):
            text = Path(path).read_bytes()
            feed("config", path, text)
            for named in re.findall(r"(?:file://)?(/[^\s'\"]+)", text.decode(errors="replace")):
                _feed_named(feed, named)
    for name in ("PIP_FIND_LINKS", "UV_FIND_LINKS", "PIP_CONSTRAINT", "UV_CONSTRAINT"):
        for named in env.get(name, "").split():
            _feed_named(feed, named.removeprefix("file://"))


def _feed_named(feed: _Feed, path: str) -> None:
    """A file a setting names (a constraints file): its content; a folder: its listing."""
    if os.path.isfile(path):
        _feed_file(feed, Path(path), Path("/"))
    else:
        _feed_listing(feed, path)


def _feed_listing(feed: _Feed, folder: str) -> None:
    """The names and sizes of a local wheel folder (a PEP 503 index folder is left out: too big to list)."""
    if folder.rstrip("/").endswith("/simple") or not os.path.isdir(folder):
        return
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        try:
            feed("listing", entry.name, str(entry.stat().st_size))
        except OSError:
            continue


def _feed_install(feed: _Feed, args: list[str], code: Path, seen: set[Path]) -> None:
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        name, eq, value = arg.partition("=")
        if name.startswith("-r") and len(name) > 2 and not name.startswith("--"):
            name, eq, value = "-r", "=", name[2:]
        if not arg.startswith("-"):
            _feed_local(feed, arg, [code], seen)
            continue
        target, takes_value = pipshim._OPTIONS.get(name, ("", False))
        if takes_value and not eq and i < len(args):
            value, i = args[i], i + 1
        if target in _FILE_OPTIONS:
            _feed_requirements(feed, code / value, code, seen)
        elif target == "--find-links":
            _feed_local(feed, value, [code], seen)


def _feed_requirements(feed: _Feed, path: Path, code: Path, seen: set[Path]) -> None:
    path = Path(os.path.normpath(path))
    if path in seen:
        return
    seen.add(path)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        feed("missing", _shown(path, code))  # the install fails on it, and a layer is never kept from a failed build
        return
    feed("requirements", _shown(path, code), text)
    for line in re.sub(r"\\\n", " ", text).splitlines():
        words = re.sub(r"(^|\s)#.*$", "", line).split()
        for j, word in enumerate(words):
            name, eq, value = word.partition("=")
            if name.startswith("-r") and len(name) > 2 and not name.startswith("--"):
                name, eq, value = "-r", "=", name[2:]
            if name in ("-e", "--editable"):
                raise _Private(f"{path.name} has an editable requirement, which would point at one deployment")
            target, takes_value = pipshim._OPTIONS.get(name, ("", False))
            if not eq and takes_value:
                value = words[j + 1] if j + 1 < len(words) else ""
            if target in _FILE_OPTIONS:
                _feed_requirements(feed, path.parent / value, code, seen)
            elif target == "--find-links":
                _feed_local(feed, value, [path.parent, code], seen)
            elif not word.startswith("-") and (j == 0 or not words[j - 1].startswith("-")):
                _feed_local(feed, word, [path.parent, code], seen)


def _feed_local(feed: _Feed, word: str, bases: list[Path], seen: set[Path]) -> None:
    """A requirement or link that names a local file or folder: its content is part of the key."""
    if word.startswith("file:"):
        word = word.removeprefix("file:").removeprefix("//")
    elif "://" in word or not ("/" in word or word.startswith(".") or word.endswith(_ARCHIVE_SUFFIXES)):
        return
    for base in bases:
        path = Path(os.path.normpath(base / word))
        if path in seen or not path.exists():
            continue
        seen.add(path)
        feed("local", _shown(path, bases[-1]))
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    _feed_file(feed, Path(folder) / name, path)
        else:
            _feed_file(feed, path, path.parent)


def _shown(path: Path, code: Path) -> str:
    """A path as the key sees it: relative inside the code folder (each deployment has its own), else absolute."""
    try:
        return "code/" + str(path.relative_to(code))
    except ValueError:
        return str(path)


def _feed_file(feed: _Feed, path: Path, root: Path) -> None:
    digest = hashlib.sha256()
    try:
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        else:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    except OSError:
        return
    feed("file", os.path.relpath(path, root), digest.digest())
