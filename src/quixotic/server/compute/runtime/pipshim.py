"""The ``pip`` of a deployment's venv: ``pip install`` runs ``uv pip install``, everything else the server's pip.

Standard library only, and never ``quixotic``: builds run it inside the sandbox as
``python -I pipshim.py SERVER_PYTHON VENV_PYTHON UV_BIN ARGS...`` (the ``pip`` script in ``venv/bin`` says so).

Why uv: it installs from a warm cache in a second or two where pip downloads everything again (the registry sends
no cache headers, so pip's HTTP cache stays empty) and byte-compiles on the critical path. Why a translation and
not ``uv pip`` under pip's name: build commands are written for pip, and uv reads neither ``PIP_*`` variables nor
``pip.conf``, and by default takes a package from the first index that has it where pip takes the best match of
all. So the options pip users write (``-r``, ``-c``, ``--no-index``, ``-f``, ``-i``, ``--extra-index-url``,
``--no-deps``, ``--require-hashes``, ``-U``...) and the settings pip would read (``PIP_INDEX_URL``,
``PIP_FIND_LINKS``, ``PIP_CERT``, the ``[global]``/``[install]`` index and constraint keys of pip.conf) are
handed to uv, with ``--index-strategy unsafe-best-match`` (pip's choice of versions); in hash-checking mode
the configured constraints are left out (uv, unlike pip, would refuse unpinned ones, and pinned, hashed
requirements leave them nothing to choose). An install with an
option or a setting this table does not know, and any other command (``pip list``, ``pip uninstall``...), runs
the server's pip as before, so nothing that worked with pip stops working.
"""

from __future__ import annotations

import configparser
import os
import sys

# pip option -> (uv option or "" to drop it, takes a value)
_OPTIONS: dict[str, tuple[str, bool]] = {
    "-r": ("--requirement", True),
    "--requirement": ("--requirement", True),
    "-c": ("--constraint", True),
    "--constraint": ("--constraint", True),
    "-i": ("--index-url", True),
    "--index-url": ("--index-url", True),
    "--extra-index-url": ("--extra-index-url", True),
    "-f": ("--find-links", True),
    "--find-links": ("--find-links", True),
    "--no-index": ("--no-index", False),
    "--no-deps": ("--no-deps", False),
    "--require-hashes": ("--require-hashes", False),
    "-U": ("--upgrade", False),
    "--upgrade": ("--upgrade", False),
    "--force-reinstall": ("--reinstall", False),
    "--pre": ("--prerelease=allow", False),
    "--no-build-isolation": ("--no-build-isolation", False),
    "--only-binary": ("--only-binary", True),
    "--no-binary": ("--no-binary", True),
    "-q": ("--quiet", False),
    "--quiet": ("--quiet", False),
    "-v": ("--verbose", False),
    "--verbose": ("--verbose", False),
    "--no-cache-dir": ("--no-cache", False),
    "--trusted-host": ("--allow-insecure-host", True),
    # pip-only knobs with no effect on what gets installed
    "--prefer-binary": ("", False),
    "--disable-pip-version-check": ("", False),
    "--no-input": ("", False),
    "--no-warn-script-location": ("", False),
    "--no-compile": ("", False),
    "--compile": ("", False),
    "--progress-bar": ("", True),
    "--upgrade-strategy": ("", True),
    "--root-user-action": ("", True),
    "--timeout": ("", True),
    "--default-timeout": ("", True),
    "--retries": ("", True),
    "--break-system-packages": ("", False),
    "--isolated": ("", False),
}
_CONFIG_KEYS = {"constraint", "index-url", "extra-index-url", "find-links", "no-index", "trusted-host", "cert",
                "timeout", "default-timeout", "disable-pip-version-check", "no-input", "progress-bar",
                "root-user-action", "break-system-packages", "retries", "no-cache-dir", "prefer-binary", "cache-dir",
                "require-virtualenv"}  # fmt: skip
_TRUE = {"1", "true", "yes", "on"}


class _Unsupported(Exception):
    """Something uv is not given here: the server's pip runs instead."""


def _split_install(args: list[str]) -> list[str]:
    """The arguments after ``install`` (leading general options such as ``-q`` kept), or _Unsupported."""
    for i, arg in enumerate(args):
        if arg == "install":
            return args[:i] + args[i + 1 :]
        if not arg.startswith("-"):
            break
    raise _Unsupported


def translate(args: list[str], env: dict[str, str], configs: list[dict[str, str]]) -> list[str]:
    """``uv pip install`` arguments for pip's ``args``, the ``PIP_*`` settings and pip.conf values."""
    rest = _split_install(args)
    out: list[str] = []
    given: set[str] = set()
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            out.append(arg)  # a requirement: a name, a path, a URL
            continue
        name, eq, value = arg.partition("=")
        if name not in _OPTIONS and name.startswith("-r") and len(name) > 2 and not name.startswith("--"):
            name, value, eq = "-r", name[2:], "="  # -rrequirements.txt
        if name not in _OPTIONS:
            raise _Unsupported
        target, takes_value = _OPTIONS[name]
        if takes_value and not eq:
            if i >= len(rest):
                raise _Unsupported
            value, i = rest[i], i + 1
        given.add(target)
        if target:
            out += [target, value] if takes_value else [target]
    settings: dict[str, str] = {}
    for config in configs:
        if set(config) - _CONFIG_KEYS:
            raise _Unsupported
        settings.update(config)
    for key, value in env.items():
        if key.startswith("PIP_"):
            settings[key[4:].lower().replace("_", "-")] = value
    if "--index-url" not in given and settings.get("index-url"):
        out += ["--index-url", settings["index-url"]]
    for url in settings.get("extra-index-url", "").split():
        out += ["--extra-index-url", url]
    for link in settings.get("find-links", "").split():
        out += ["--find-links", link]
    if settings.get("no-index", "").lower() in _TRUE and "--no-index" not in given:
        out.append("--no-index")
    for host in settings.get("trusted-host", "").split():
        out += ["--allow-insecure-host", host]
    if "--require-hashes" not in given:  # uv would want the constraints pinned and hashed too; pip does not
        for path in settings.get("constraint", "").split():
            out += ["--constraint", path]
    return ["pip", "install", "--index-strategy", "unsafe-best-match", *out]


def _config_values(path: str) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise _Unsupported from exc
    values: dict[str, str] = {}
    for section in ("global", "install"):
        if parser.has_section(section):
            values.update({k: " ".join(v.split()) for k, v in parser.items(section)})
    return values


def _configs(env: dict[str, str]) -> list[dict[str, str]]:
    """pip.conf values in pip's order (site, then PIP_CONFIG_FILE); the build's HOME has no user config."""
    paths = ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"]
    if env.get("PIP_CONFIG_FILE") and env["PIP_CONFIG_FILE"] != os.devnull:
        paths.append(env["PIP_CONFIG_FILE"])
    return [_config_values(p) for p in paths if os.path.isfile(p)]


def main(argv: list[str]) -> None:
    server_python, venv_python, uv = argv[1], argv[2], argv[3]
    args = argv[4:]
    env = dict(os.environ)
    if uv != "-":
        try:
            configs = _configs(env)
            uv_args = translate(args, env, configs)
        except _Unsupported:
            pass
        else:
            settings = {k: v for c in configs for k, v in c.items()}
            cert = env.get("PIP_CERT") or settings.get("cert")
            if cert and "SSL_CERT_FILE" not in env:
                env["SSL_CERT_FILE"] = cert
            timeout = env.get("PIP_DEFAULT_TIMEOUT") or env.get("PIP_TIMEOUT") or settings.get("timeout")
            if timeout and "UV_HTTP_TIMEOUT" not in env:
                env["UV_HTTP_TIMEOUT"] = timeout
            sys.stderr.write("pip install with uv: pip " + " ".join(args) + "\n")
            sys.stderr.flush()
            os.execve(uv, [uv, *uv_args[:2], "--python", venv_python, *uv_args[2:]], env)
    os.execve(server_python, [server_python, "-m", "pip", "--python", venv_python, *args], env)


if __name__ == "__main__":
    main(sys.argv)
