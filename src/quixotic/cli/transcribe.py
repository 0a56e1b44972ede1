"""``quixotic transcribe``: parses and prints; the work is in :mod:`quixotic.commands.transcribe`.

Progress goes to stderr (rich); stdout gets the transcript and the credits left, or with ``--json`` exactly
one JSON object and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from quixotic.cli.options import ROOT, err
from quixotic.commands import transcribe as commands


def transcribe_command(
    audio_file: Path = typer.Argument(..., help="The audio file (wav, mp3, m4a, ogg, opus, webm or flac)."),
    env: str = typer.Option(..., "--env", help="Environment to run in, e.g. local."),
    user: str = typer.Option(
        None, "--user", help="User to transcribe for (pays the credits). Default on local: local-user."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (and nothing else) on stdout."),
    root: Path = ROOT,
) -> None:
    """Upload AUDIO_FILE, transcribe it with the environment's transcribe function, print the text."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def show(step: commands.Progress) -> None:
        if step.stage == "upload":
            if "upload" not in tasks:
                tasks["upload"] = bar.add_task(f"uploading {audio_file.name}", total=1.0)
            bar.update(tasks["upload"], completed=step.fraction)
        elif step.stage == "transcribe":
            if "transcribe" not in tasks:
                tasks["transcribe"] = bar.add_task("transcribing", total=None)
            bar.update(tasks["transcribe"], description=f"transcribing ({step.status})")
        elif step.stage == "user":
            err.print(step.status, highlight=False)

    with bar:
        result = commands.transcribe(root, env, audio_file, user, progress=show)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    typer.echo(result.text)
    left = "unknown" if result.credits_left is None else f"{result.credits_left:g}"
    typer.echo(
        f"\n{result.duration_seconds:.1f} s of audio, {_credits(result.credits_charged)} charged, "
        f"credits left: {left} (transcription {result.transcription_id})"
    )


def _credits(amount: float) -> str:
    return f"{amount:g} credit{'' if amount == 1 else 's'}"


def register(app: typer.Typer) -> None:
    app.command("transcribe")(transcribe_command)
