"""docs/workflow.md and docs/runbook.md stay true: every command in their bash blocks runs, in order, through the
real command line against the session's local server, and exits as the doc says.

The docs speak of ``dev`` and ``prod``; here those are two environments of a small test site (one table, one
bucket, one function: tests/deploy_project.py), each on a fresh project of the local server through
``QUIXOTIC_<ENV>_ENDPOINT``/``_API_KEY``, ``prod`` protected as the real one is. A command ends with
``# exits N: why`` when N is its expected status (0 otherwise) and with ``# not run by the docs test: why`` when it
cannot run here (git, GitHub, hours of watching); any other command that is not ``quixotic ...`` fails the test.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_project import ENV_CONFIG, SECRET, files
from support.server import LocalServer
from support.site import REPO, Site, cli, write

DOCS = ("workflow.md", "runbook.md")
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
EXITS = re.compile(r"#\s*exits (\d+):")
SKIP = "# not run by the docs test:"
PROD_PROTECTION = {"requireConfirmation": True, "refuseDestructive": True, "backupBeforeMigrations": True}


@dataclass(frozen=True)
class Command:
    line: str
    args: list[str]
    expected: int
    skipped: bool


def commands(doc: Path) -> list[Command]:
    """The doc's bash commands in order (continued lines joined), with their expected exit and skip mark."""
    found: list[Command] = []
    for block in BLOCK.findall(doc.read_text()):
        for line in re.sub(r"\s*\\\n\s*", " ", block).splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            args = shlex.split(line, comments=True)
            exits = EXITS.search(line)
            found.append(Command(line.strip(), args, int(exits.group(1)) if exits else 0, SKIP in line))
    return found


def docs_site(root: Path, server: LocalServer) -> Site:
    """The test project with ``dev`` and ``prod`` on fresh projects of ``server`` (``prod`` protected)."""
    site = Site.create(root, server)
    site.add_env("dev", secrets={"API_TOKEN": SECRET}, **ENV_CONFIG)
    prod = {**ENV_CONFIG, "protection": PROD_PROTECTION}
    creds = site.add_env("prod", secrets={"API_TOKEN": SECRET}, **prod)
    for relative, data in files(creds.project_id).items():
        write(root / relative, data)
    (root / "backups").mkdir()
    return site


@pytest.mark.parametrize("name", DOCS)
def test_every_command_in_the_doc_runs_as_it_says(name: str, server: LocalServer, tmp_path: Path) -> None:
    listed = commands(REPO / "docs" / name)
    runnable = [c for c in listed if not c.skipped]
    assert runnable, f"docs/{name} shows no command the test can run"
    site = docs_site(tmp_path / "site", server)
    for command in runnable:
        assert command.args[0] == "quixotic", (
            f"docs/{name}: `{command.line}` is not a quixotic command; mark it `{SKIP} <why>` if it cannot run here"
        )
        result = cli(*command.args[1:], "--root", str(site.root), env=site.environ, cwd=site.root, timeout=120)
        assert result.returncode == command.expected, (
            f"docs/{name}: `{command.line}` exited {result.returncode}, the doc says {command.expected}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def test_the_parser_reads_exits_skips_and_continuations(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n```bash\n# a comment\nquixotic plan dev   # exits 2: changes\n"
        'quixotic freeze start prod \\\n    --reason "a window"\n'
        "git push origin main   # not run by the docs test: GitHub\n```\n```python\nnot = 'bash'\n```\n"
    )
    assert commands(doc) == [
        Command("quixotic plan dev   # exits 2: changes", ["quixotic", "plan", "dev"], 2, False),
        Command(
            'quixotic freeze start prod --reason "a window"',
            ["quixotic", "freeze", "start", "prod", "--reason", "a window"],
            0,
            False,
        ),
        Command(
            "git push origin main   # not run by the docs test: GitHub", ["git", "push", "origin", "main"], 0, True
        ),
    ]
