"""The environment that builds and workers run with: theirs only, never the server's.

A function must not see the server's variables (API keys, data paths), so processes start from an empty
environment plus ``PATH`` (the deployment's venv first), ``HOME`` and ``LANG``, plus what the caller gives.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

_INSTALLER_NAMES = (
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)


def server_path() -> str:
    """The server's PATH without its own virtual environment (whose scripts a function has no business seeing)."""
    own: set[str] = set()
    if sys.prefix != sys.base_prefix:
        own.add(os.path.realpath(os.path.join(sys.prefix, "bin")))
    if os.environ.get("VIRTUAL_ENV"):
        own.add(os.path.realpath(os.path.join(os.environ["VIRTUAL_ENV"], "bin")))
    entries = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) not in own]
    return os.pathsep.join(entries) or os.defpath.lstrip(os.pathsep)


def isolated_env(venv_dir: Path, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """PATH (venv/bin first), HOME, LANG and VIRTUAL_ENV, then ``extra`` (which may override HOME and LANG)."""
    given = dict(extra or {})
    tail = given.pop("PATH", "") or server_path()
    env = {"HOME": str(home), "LANG": os.environ.get("LANG") or "C.UTF-8"}
    env.update(given)
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{tail}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    return env


def installer_env() -> dict[str, str]:
    """The server's package-installer settings (``PIP_*``, proxies, CA bundles, the user's pip.conf).

    Builds get a fresh HOME, so a mirror or proxy configured for the server's user would be lost; pass this as
    ``env`` to ``build_deployment`` to let ``pip install`` work where the server's own pip works. Opt-in, since
    an index URL may carry credentials.
    """
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    for name in _INSTALLER_NAMES:
        for variant in (name, name.upper(), name.lower()):
            if variant in os.environ:
                env[variant] = os.environ[variant]
    if "PIP_CONFIG_FILE" not in env:
        config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        for candidate in (config_home / "pip" / "pip.conf", Path.home() / ".pip" / "pip.conf"):
            if candidate.is_file():
                env["PIP_CONFIG_FILE"] = str(candidate)
                break
    return env
