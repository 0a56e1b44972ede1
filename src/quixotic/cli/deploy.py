"""CLI of the deploy verbs: plan, deploy, releases, rollback, vars diff/sync. Parses, calls, prints."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from quixotic.cli.options import AS_JSON, ENV, ROOT, YES, err, out, say
from quixotic.commands import deploy as cmd
from quixotic.errors import PlanError
from quixotic.plan.plan import Plan
from quixotic.plan.render import render_text
from quixotic.target import connect

vars_app = typer.Typer(no_args_is_help=True, help="Centralized variables: a redacted diff, then a safe sync.")
# --prune-variables on plan and deploy, --prune on vars diff and sync (the flag is the parameter's name).
PRUNE = typer.Option(False, help="Also remove variables this project does not manage.")


def show_plan(plan: Plan) -> None:
    for line in render_text(plan).splitlines():
        style = ""
        stripped = line.lstrip()
        if stripped.startswith("-/+") or stripped.startswith("!"):
            style = "yellow"
        elif stripped.startswith("+"):
            style = "green"
        elif stripped.startswith("~"):
            style = "cyan"
        elif stripped.startswith("-"):
            style = "red"
        out.print(f"[{style}]{escape(line)}[/]" if style else escape(line))


def ask(plan: Plan) -> bool:
    show_plan(plan)
    return typer.confirm("Apply these changes?", default=False, err=True)


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_command(
        env: str = ENV,
        as_json: bool = AS_JSON,
        out_file: Path = typer.Option(None, "--out", help="Save the plan to this file for `deploy --plan`."),
        prune_variables: bool = PRUNE,
        root: Path = ROOT,
    ) -> None:
        """Show what deploy would change. Exit 0: nothing to do; 2: changes."""
        target = connect(root, env)
        result = cmd.plan(target, prune_variables=prune_variables)
        if out_file is not None:
            out_file.write_text(result.plan.to_json())
            err.print(f"plan saved to {out_file}")
        if as_json:
            typer.echo(result.plan.to_json())
        else:
            show_plan(result.plan)
        for refused in result.frozen:  # what the environment's feature freeze would refuse
            err.print(f"[red]frozen:[/] {escape(str(refused))}")
        raise typer.Exit(0 if result.plan.is_empty else 2)

    @app.command("deploy")
    def deploy_command(
        env: str = ENV,
        plan_path: Path = typer.Option(None, "--plan", help="Apply exactly this saved plan (refused if stale)."),
        yes: bool = YES,
        allow_destructive: bool = typer.Option(False, help="Allow changes that delete or recreate data."),
        prune_variables: bool = PRUNE,
        wait: float = typer.Option(0.0, help="Seconds to wait for another deploy of this environment to finish."),
        hotfix: str = typer.Option(None, "--hotfix", help="Record this deploy as a hotfix, with this reason."),
        override_freeze: str = typer.Option(
            None, "--override-freeze", help="Apply changes the feature freeze prohibits; the reason is recorded."
        ),
        root: Path = ROOT,
    ) -> None:
        """Apply the configuration to the environment's project and record a release."""
        target = connect(root, env)
        saved = None
        if plan_path is not None:
            try:
                saved = Plan.from_json(plan_path.read_text())
            except OSError as exc:
                raise PlanError(f"cannot read plan file {plan_path}: {exc}") from exc
        result = cmd.deploy(
            target,
            plan_file=saved,
            yes=yes,
            allow_destructive=allow_destructive,
            prune_variables=prune_variables,
            confirm=ask,
            progress=say,
            lock_wait=wait,
            hotfix=hotfix,
            override_freeze=override_freeze,
        )
        if result.release_id is None:
            out.print(f"{env}: nothing to do, the project matches the configuration ({result.seconds:.2f} s)")
            return
        out.print(f"{env}: applied {result.applied} change(s) in {result.seconds:.1f} s; release {result.release_id}")
        if result.schema_changed:
            out.print("schema changed: roll it back with migrations, not `quixotic rollback`")

    @app.command("releases")
    def releases_command(
        env: str = ENV,
        as_json: bool = AS_JSON,
        limit: int = typer.Option(20, help="How many, newest first."),
        root: Path = ROOT,
    ) -> None:
        """List the releases recorded in the environment's project."""
        records = cmd.releases(connect(root, env), limit)
        if as_json:
            typer.echo(json.dumps([r.to_json() for r in records], indent=2, sort_keys=True))
            return
        table = Table(title=f"releases of {env}")
        for column in ("release", "kind", "status", "started", "by", "commit", "changes"):
            table.add_column(column)
        for r in records:
            counts = r.record.get("counts") or {}
            changes = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n)
            if r.kind == "rollback":
                changes = f"rollback of {r.record.get('rollbackOf', '?')}" + (f": {changes}" if changes else "")
            table.add_row(
                r.id, r.kind + (" (hotfix)" if r.record.get("hotfix") else ""), r.status, r.started_at,
                str(r.record.get("createdBy", "")),
                str(r.record.get("gitCommit", ""))[:10], str(changes),
            )  # fmt: skip
        out.print(table)

    @app.command("rollback")
    def rollback_command(
        env: str = ENV,
        to: str = typer.Option(None, "--to", help="Release to return to (default: undo the latest deploy)."),
        yes: bool = YES,
        root: Path = ROOT,
    ) -> None:
        """Re-activate the previous deployments, variables and settings (no rebuild)."""
        target = connect(root, env)

        def state_of(release_id: str) -> str:
            # Without --to the latest deploy is undone: the state is the one from before it, not after it.
            return f"the state after release {release_id}" if to else f"the state before release {release_id}"

        def confirm(source: str) -> bool:
            return typer.confirm(f"Roll {env} back to {state_of(source)}?", err=True)

        result = cmd.rollback(target, to=to, yes=yes, confirm=confirm, progress=say)
        for action in result.actions:
            out.print(f"  {escape(action)}")
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}")
        out.print(
            f"{env}: rolled back to {state_of(result.restored_from)} in {result.seconds:.1f} s;"
            f" release {result.release_id}"
        )

    @vars_app.command("diff")
    def vars_diff(
        env: str = ENV,
        prune: bool = PRUNE,
        as_json: bool = AS_JSON,
        root: Path = ROOT,
    ) -> None:
        """The variables plan (secrets redacted). Exit 0: in sync; 2: changes."""
        plan = cmd.vars_plan(connect(root, env), prune=prune)
        if as_json:
            typer.echo(plan.to_json())
        else:
            show_plan(plan)
        raise typer.Exit(0 if plan.is_empty else 2)

    @vars_app.command("sync")
    def vars_sync(
        env: str = ENV,
        yes: bool = YES,
        prune: bool = PRUNE,
        root: Path = ROOT,
    ) -> None:
        """Apply the variables plan through the SDK; a second run changes nothing."""
        result = cmd.vars_sync(connect(root, env), yes=yes, prune=prune, confirm=ask, progress=say)
        if result.release_id is None:
            out.print(f"{env}: variables already in sync")
        else:
            out.print(f"{env}: {result.applied} variable change(s) applied; release {result.release_id}")

    app.add_typer(vars_app, name="vars")
