"""CLI of `quixotic local platform`: the web hostnames and app IDs a local project lets in from a browser or app."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from quixotic.cli.options import AS_JSON, DATA, out
from quixotic.server import platforms
from quixotic.server.origins import PLATFORM_TYPES

PROJECT = typer.Option(..., "--project", help="Project ID.")


def register(local_app: typer.Typer) -> None:
    platform_app = typer.Typer(no_args_is_help=True, help="Platforms (web hostnames, app IDs) of local projects.")
    local_app.add_typer(platform_app, name="platform")

    @platform_app.command("add")
    def add(
        project: str = PROJECT,
        platform_type: str = typer.Option("web", "--type", help=f"One of: {', '.join(PLATFORM_TYPES)}."),
        hostname: str = typer.Option("", "--hostname", help="A web platform's host (app.example.com, *.example.com)."),
        key: str = typer.Option("", "--key", help="A native platform's bundle or package ID (com.example.app)."),
        name: str = typer.Option("", "--name", help="A name to know it by (defaults to the hostname or key)."),
        data: Path = DATA,
        as_json: bool = AS_JSON,
    ) -> None:
        """Let a browser origin (web) or an app (android, apple-ios, flutter-*, ...) call PROJECT without a key."""
        record = platforms.add(data, project, platform_type, name, hostname, key)
        if as_json:
            out.print_json(json.dumps(record.as_json()))
        else:
            out.print(f"added {escape(record.type)} platform {escape(record.name)} ({record.id}) to {escape(project)}")

    @platform_app.command("list")
    def listing(project: str = PROJECT, data: Path = DATA, as_json: bool = AS_JSON) -> None:
        """The platforms of PROJECT (localhost is always let in)."""
        records = platforms.listing(data, project)
        if as_json:
            out.print_json(json.dumps([r.as_json() for r in records]))
            return
        table = Table(title=f"platforms of {escape(project)} (localhost is always allowed)")
        for column in ("id", "type", "name", "hostname", "key"):
            table.add_column(column)
        for r in records:
            table.add_row(r.id, escape(r.type), escape(r.name), escape(r.hostname), escape(r.key))
        out.print(table)

    @platform_app.command("remove")
    def remove(
        platform_id: str = typer.Argument(..., help="The platform's ID (see `list`)."),
        project: str = PROJECT,
        data: Path = DATA,
    ) -> None:
        """Stop letting a platform's origin in."""
        record = platforms.remove(data, project, platform_id)
        out.print(f"removed {escape(record.type)} platform {escape(record.name)} ({record.id}) from {escape(project)}")
