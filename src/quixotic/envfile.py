"""Git-ignored ``environments/.env.<env>`` files: ``NAME=value`` lines that hold secrets and API keys.

A module of its own (no SQLite, no server) so that both ``quixotic.local`` and the pure
``quixotic.config`` can read them.
"""

from __future__ import annotations

from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` pairs of ``path`` (blank lines, ``#`` comments and surrounding quotes dropped); {} if absent."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def write_env_value(path: Path, name: str, value: str) -> None:
    """Set ``name=value`` in a git-ignored env file, keeping its other lines; readable by the owner only."""
    lines = []
    try:
        lines = [ln for ln in path.read_text().splitlines() if not ln.strip().startswith(name + "=")]
    except OSError:
        pass
    lines.append(f"{name}={value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
