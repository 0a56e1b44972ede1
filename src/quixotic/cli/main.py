"""Entry point of the ``quixotic`` command."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer
from rich.markup import escape

from quixotic.cli import (
    backup,
    bench,
    ci,
    deploy,
    env,
    migrate,
    monitor,
    parity,
    platform,
    preflight,
    report,
    transcribe,
    validate,
)
from quixotic.cli.options import DATA, ROOT, err, say
from quixotic.errors import QuixoticError, UsageError
from quixotic.localstate import write_server_state
from quixotic.server import admin

app = typer.Typer(no_args_is_help=True, add_completion=False, help="QuixoticWhisper backend toolkit.")
local_app = typer.Typer(no_args_is_help=True, help="The embedded local Appwrite-compatible server's data.")
project_app = typer.Typer(no_args_is_help=True, help="Projects of the local server.")
key_app = typer.Typer(no_args_is_help=True, help="API keys of the local server.")
app.add_typer(local_app, name="local")
local_app.add_typer(project_app, name="project")
local_app.add_typer(key_app, name="key")
platform.register(local_app)
for module in (deploy, backup, env, migrate, transcribe, validate, monitor, parity, bench, preflight, report, ci):
    module.register(app)


@app.command()
def server(
    host: str = typer.Option(admin.DEFAULT_HOST, help="Address to listen on."),
    port: int = typer.Option(admin.DEFAULT_PORT, help="Port to listen on."),
    data: Path = DATA,
    log_level: str = typer.Option("warning", help="uvicorn log level."),
    storage_limit: int = typer.Option(
        None, help="Largest file a bucket may allow, in bytes (Appwrite's _APP_STORAGE_LIMIT; default 30000000)."
    ),
    appwrite_version: str = typer.Option(
        None, "--appwrite-version", help="The Appwrite version to emulate: 1.8.1, 1.9.6 or 2.5.0 (default: newest)."
    ),
) -> None:
    """Serve the Appwrite REST API under /v1 from DATA (SQLite + files)."""
    import os

    from quixotic.server.app import create_app, serve

    environ = dict(os.environ)
    if storage_limit is not None:
        environ["_APP_STORAGE_LIMIT"] = str(storage_limit)
    if appwrite_version is not None:
        environ["QUIXOTIC_APPWRITE_VERSION"] = appwrite_version
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        application = create_app(data, f"http://{host}:{port}/v1", environ)
    except ValueError as exc:  # a setting the server cannot use (an unknown Appwrite version, ...)
        raise UsageError(str(exc)) from exc
    write_server_state(data, host, port)
    err.print(f"quixotic server: http://{host}:{port}/v1 (data in {data})")
    # Realtime frames go out uncompressed, as Appwrite's (Swoole's websocket_compression is off): deflating each
    # event again for every subscriber was most of a fan-out's cost.
    serve(application, host, port, log_level, ws_per_message_deflate=False)


@project_app.command("create")
def project_create(
    project_id: str = typer.Argument(..., help="Project ID."),
    name: str = typer.Option(None, help="Project name (defaults to the ID)."),
    data: Path = DATA,
) -> None:
    """Create a project and an API key with every scope; print {projectId, apiKey, endpoint}."""
    creds = admin.create_project(data, project_id, name)
    typer.echo(json.dumps(creds.as_json()))


@key_app.command("create")
def key_create(
    project: str = typer.Option(..., "--project", help="Project ID."),
    scopes: str = typer.Option(..., "--scopes", help="Comma-separated scopes, e.g. rows.read,rows.write."),
    name: str = typer.Option("quixotic", help="Key name."),
    data: Path = DATA,
) -> None:
    """Create an API key limited to SCOPES; print {projectId, apiKey, endpoint, scopes}."""
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    secret = admin.create_key(data, project, wanted, name)
    out = {"projectId": project, "apiKey": secret, "endpoint": admin.endpoint_of(data), "scopes": wanted}
    typer.echo(json.dumps(out))


@local_app.command("doctor")
def local_doctor(
    data: Path = DATA,
    fix: bool = typer.Option(False, "--fix", help="Move what cannot be served to the quarantine table."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Find rows, users and prefs stored by older versions that the server cannot serve; --fix quarantines them."""
    from quixotic.server import doctor

    report = doctor.examine(data, fix=fix)
    if as_json:
        out = {"checked": report.checked, "fixed": report.fixed, "findings": [f.as_json() for f in report.findings]}
        typer.echo(json.dumps(out))
    else:
        for line in doctor.describe(report):
            typer.echo(line)
    if report.findings and not report.fixed:
        raise typer.Exit(1)


@app.command()
def up(
    host: str = typer.Option(admin.DEFAULT_HOST, help="Address for the local server."),
    port: int = typer.Option(admin.DEFAULT_PORT, help="Port for the local server."),
    data: Path = DATA,
    root: Path = ROOT,
    check: bool = typer.Option(True, help="Check that every function answers after the deploy."),
) -> None:
    """Start the local server if needed, create the local project and key, deploy, check the functions."""
    from quixotic.commands.up import up as run_up

    report = run_up(root, host, port, data, progress=say, check_functions=check)
    server = report.server
    state = "started" if server.started else "already running"
    deployed = (
        "nothing to change" if report.deploy.release_id is None
        else f"{report.deploy.applied} change(s), release {report.deploy.release_id}"
    )  # fmt: skip
    typer.echo(f"server    {server.endpoint} ({state}; log {server.log_file})")
    typer.echo(f"project   {server.project_id}")
    typer.echo(f"api key   in {server.key_file} as {admin.KEY_VAR}")
    typer.echo(f"deploy    {deployed} in {report.deploy.seconds:.1f} s")
    if report.migrations is not None:
        applied = [o.name for o in report.migrations.outcomes]
        typer.echo(f"migrate   {', '.join(applied) if applied else 'nothing pending'}")
    if report.validation is not None:
        warned = [f.check for f in report.validation.findings if f.status != "PASS"]
        typer.echo(f"validate  {report.validation.verdict}" + (f" ({', '.join(warned)})" if warned else ""))
    failing = report.failing()
    for function_id, status in report.functions.items():
        typer.echo(f"function  {function_id}: answers ({status})" if function_id not in failing else
                   f"function  {function_id}: FAILED ({status})")  # fmt: skip
    report.check()


@app.command()
def down(data: Path = DATA) -> None:
    """Stop the embedded local server."""
    typer.echo("stopped" if admin.down(data) else "no local server was running")


def main() -> None:
    try:
        app()
    except QuixoticError as exc:
        err.print("[bold red]error:[/]", escape(exc.message), highlight=False, soft_wrap=True)
        sys.exit(1)
