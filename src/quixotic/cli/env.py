"""``quixotic env``: the environments of the project (parses and prints; the work is in quixotic.commands.env)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from quixotic.cli.backup import clone_command
from quixotic.cli.options import AS_JSON, ENV, ROOT
from quixotic.commands import env as commands

env_app = typer.Typer(no_args_is_help=True, help="Environments: list, show, create and render them.")
PROTECTION_LABELS = {
    "requireConfirmation": "confirmation required",
    "refuseDestructive": "destructive changes refused",
    "backupBeforeMigrations": "backup before migrations",
}


@env_app.command("list")
def list_command(root: Path = ROOT) -> None:
    """List the environments, each with its project and endpoint, or what is wrong with it."""
    rows = commands.list_environments(root)
    if not rows:
        typer.echo(f"no environments in {root / 'environments'}")
        return
    table = []
    for r in rows:
        if r.problems:
            noun = "problem" if r.problems == 1 else "problems"
            table.append((r.name, f"invalid: {r.problems} {noun} (see quixotic env show {r.name})", "", ""))
            continue
        note = f"protection: {r.protection}"
        if r.missing_secrets:
            note += f"; secrets to set: {', '.join(r.missing_secrets)}"
        table.append((r.name, r.project_id or "", r.endpoint or "", note))
    for line in _table(("environment", "project", "endpoint", ""), table):
        typer.echo(line)


@env_app.command("show")
def show_command(
    env: str = ENV,
    as_json: bool = AS_JSON,
    root: Path = ROOT,
) -> None:
    """Show the resolved configuration of ENV: every value with where it came from; secrets redacted."""
    data = commands.show(root, env)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for line in _show_lines(data):
        typer.echo(line)


@env_app.command("create")
def create_command(
    new: str = typer.Argument(..., help="Name of the new environment, e.g. staging."),
    from_env: str = typer.Option(..., "--from", help="Environment to copy."),
    project_id: str = typer.Option(..., "--project-id", help="Appwrite project of the new environment."),
    sets: list[str] = typer.Option(
        [], "--set", help="KEY=VALUE: a variable, endpoint, projectName, protection.X, buckets.ID.X, functions.ID.X."
    ),
    root: Path = ROOT,
) -> None:
    """Create environments/NEW.json from another environment (checked before it is written)."""
    created = commands.create(root, new, from_env, project_id, sets)
    typer.echo(f"created {created.path} (project {created.environment.project_id})")
    for var in created.environment.missing_secrets:
        typer.echo(f"still to set: {var} (process environment or {created.environment.secrets_file})")


@env_app.command("render")
def render_command(
    env: str = ENV,
    out: Path = typer.Option(None, "--out", help="Where to write (default environments/appwrite.ENV.json)."),
    root: Path = ROOT,
) -> None:
    """Write ENV as a complete official Appwrite CLI file (no variables, so no secrets)."""
    typer.echo(f"wrote {commands.render(root, env, out)}")


def _show_lines(data: dict[str, Any]) -> list[str]:
    api_key = data["apiKey"]
    protected = [label for key, label in PROTECTION_LABELS.items() if data["protection"][key]]
    lines = [
        f"environment  {data['environment']}" + (f"  ({data['description']})" if data["description"] else ""),
        f"project      {data['projectId']}  ({data['projectName']})",
        f"endpoint     {data['endpoint']}",
        f"api key      {'set' if api_key['set'] else 'not set'} ({api_key['variable']})",
        f"protection   {', '.join(protected) if protected else 'none'}",
        "",
    ]
    rows = [
        (
            str(name),
            "(not set)" if v["value"] is None else str(v["value"]),
            str(v["source"] or ("required secret" if v["required"] else "-")),
            "* (project)" if v["functions"] == "*" else ", ".join(v["functions"]),
        )
        for name, v in data["variables"].items()
    ]
    lines += _table(("variable", "value", "source", "receives"), rows)
    if data["settings"]:
        lines.append("")
        lines += _table(
            ("setting", "value", "source"),
            [(k, json.dumps(v["value"]), v["source"]) for k, v in data["settings"].items()],
        )
    lines.append("")
    for kind in ("databases", "tables", "buckets", "functions"):
        lines.append(f"{kind:<12} {', '.join(data[kind]) or '-'}")
    return lines


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


env_app.command("clone")(clone_command)


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env")
