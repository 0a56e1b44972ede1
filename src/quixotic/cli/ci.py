"""CLI of `quixotic ci` (init, comment, check-plan, check-target, flutter, flutter-check) and `quixotic freeze`
(start, status, end). Parses, calls, prints (diffs on stderr before anything is overwritten)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from quixotic.ci.flutter import FlutterSettings
from quixotic.ci.workflows import WorkflowSettings
from quixotic.cli.options import ENV, ROOT, err, out
from quixotic.commands import ci as cmd
from quixotic.config.freeze_file import FeatureFreeze
from quixotic.errors import UsageError
from quixotic.target import connect

ci_app = typer.Typer(no_args_is_help=True, help="Generated CI/CD workflows, the plan comment, the Flutter config.")
FORCE = typer.Option(False, "--force", help="Overwrite files edited by hand (their diff is shown first).")
DRY_RUN = typer.Option(False, "--dry-run", help="Show what would change; write nothing (exit 2 when out of date).")
STYLE = {"create": "green", "update": "cyan", "overwrite": "yellow", "refuse": "red", "unchanged": "dim"}


def show(result: cmd.WriteResult, dry_run: bool) -> None:
    """Each file's verdict, the diffs first (on stderr), then raise or exit as the result says."""
    for action in result.actions:
        if action.diff:
            for line in action.diff.splitlines():
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
                err.print(f"[{style}]{escape(line)}[/]" if style else escape(line))
    for action in result.actions:
        verb = (
            action.verdict if result.written or action.verdict in ("refuse", "unchanged") else f"would {action.verdict}"
        )
        out.print(f"[{STYLE[action.verdict]}]{verb:>16}[/] {escape(action.path)}")
    result.check()
    if dry_run and any(a.writes for a in result.actions):
        raise typer.Exit(2)


def parse_plans(pairs: list[str]) -> dict[str, Path]:
    plans: dict[str, Path] = {}
    for pair in pairs:
        env, sep, file = pair.partition("=")
        if not sep or not env or not file:
            raise UsageError(f"--plan {pair!r} should be ENV=FILE, e.g. --plan prod=plan-prod.json")
        if env in plans:
            raise UsageError(f"--plan names {env!r} twice: give one plan per environment")
        plans[env] = Path(file)
    return plans


def register(app: typer.Typer) -> None:
    @ci_app.command("init")
    def init_command(
        provider: str = typer.Option("github", "--provider", help="CI provider (github)."),
        dev: str = typer.Option("dev", "--dev", help="Environment the dev branch deploys."),
        prod: str = typer.Option("prod", "--prod", help="Environment the prod branch and hotfixes deploy."),
        dev_branch: str = typer.Option("develop", "--dev-branch", help="Branch that deploys --dev."),
        prod_branch: str = typer.Option("main", "--prod-branch", help="Branch that deploys --prod."),
        hotfix_prefix: str = typer.Option(
            "hotfix/", "--hotfix-prefix", help="Branches that deploy --prod as hotfixes."
        ),
        python: str = typer.Option("3.11", "--python", help="Python version of the jobs."),
        install: str = typer.Option("python -m pip install .", "--install", help="Command that installs quixotic."),
        monitor_for: str = typer.Option("30m", "--monitor-for", help="How long to watch PROD after a deploy."),
        force: bool = FORCE,
        dry_run: bool = DRY_RUN,
        yes: bool = typer.Option(False, "--yes", help="Accept DEV and PROD naming the same project."),
        root: Path = ROOT,
    ) -> None:
        """Write .github/workflows/ (deploy, plan, rollback) from the templates; hand edits need --force."""
        settings = WorkflowSettings(dev, prod, dev_branch, prod_branch, hotfix_prefix, python, install, monitor_for)
        show(cmd.init(root, settings, provider=provider, force=force, dry_run=dry_run, yes=yes), dry_run)

    @ci_app.command("comment")
    def comment_command(
        plans: list[str] = typer.Option(..., "--plan", help="ENV=FILE, a plan saved by `quixotic plan ENV --out`."),
        out_file: Path = typer.Option(None, "--out", help="Write the comment here (default: stdout)."),
        root: Path = ROOT,
    ) -> None:
        """The pull-request plan comment (its hidden marker finds it again; its digests gate the deploy)."""
        given = parse_plans(plans)
        freezes, unread = cmd.target_freezes(root, list(given))
        for env, why in unread.items():
            err.print(f"[yellow]{env}: the freeze recorded in the target was not read ({escape(why)}); the comment "
                      f"shows the freeze environments/{env}.json declares[/]")  # fmt: skip
        text = cmd.comment(root, given, freezes=freezes)
        if out_file is None:
            typer.echo(text)
        else:
            out_file.write_text(text, encoding="utf-8")
            err.print(f"comment written to {out_file}")

    @ci_app.command("check-plan")
    def check_plan_command(
        env: str = ENV,
        plan_path: Path = typer.Option(..., "--plan", help="The plan made now (`quixotic plan ENV --out`)."),
        comment_file: Path = typer.Option(None, "--comment", help="The pull request's plan comment."),
        digest: str = typer.Option(None, "--digest", help="The reviewed plan's digest."),
        root: Path = ROOT,
    ) -> None:
        """Exit 0 when the plan is the one reviewed; else say what changed and exit 1."""
        text = None
        if comment_file is not None:
            try:
                text = comment_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot read the comment {comment_file}: {exc}") from exc
        plan = cmd.check_plan(env, plan_path, comment_text=text, digest=digest)
        if plan.is_empty:
            out.print(f"{env}: nothing to deploy (the project already matches the configuration)")
        else:
            out.print(f"{env}: the plan is the one reviewed (digest {plan.digest()}, {len(plan.changes)} change(s))")

    @ci_app.command("check-target")
    def check_target_command(env: str = ENV, root: Path = ROOT) -> None:
        """Refuse when QUIXOTIC_<ENV>_PROJECT_ID (a CI variable) names another project than environments/ENV.json."""
        configured = cmd.check_target(root, env)
        out.print(f"{env}: project {configured.project_id} at {configured.endpoint}")

    @ci_app.command("flutter")
    def flutter_command(
        out_dir: Path = typer.Option(Path("."), "--out", help="The Flutter app's folder (with pubspec.yaml)."),
        release: str = typer.Option("prod", "--release", help="The only environment of release builds."),
        debug: str = typer.Option("dev", "--debug", help="Where debug and profile builds start."),
        branch: str = typer.Option("main", "--branch", help="The app's branch the release guard runs on."),
        python: str = typer.Option("3.11", "--python", help="Python version of the release guard job."),
        install: str = typer.Option(
            "python -m pip install quixotic", "--install", help="Command that installs quixotic in the app's CI."
        ),
        force: bool = FORCE,
        dry_run: bool = DRY_RUN,
        root: Path = ROOT,
    ) -> None:
        """Write config/appwrite/<env>.json, lib/config/app_config.dart, .vscode/launch.json and the release guard
        workflow into the app."""
        settings = FlutterSettings(release, debug, branch, python, install)
        show(cmd.flutter(root, out_dir, settings, force=force, dry_run=dry_run), dry_run)

    @ci_app.command("flutter-check")
    def flutter_check_command(
        app_dir: Path = typer.Option(Path("."), "--app", help="The Flutter app's folder."),
        release: str = typer.Option("prod", "--release", help="The only environment of release builds."),
        build: Path = typer.Option(None, "--build", help="A release build's output folder to search."),
    ) -> None:
        """Fail when the release defines or a release build hold another environment's host or project id."""
        result = cmd.flutter_check(app_dir, release=release, build=build)
        result.check()
        out.print(f"release build config is {release} only ({result.files} build file(s) searched)")

    # The words, `quixotic flutter config|check`, for the same two commands.
    flutter_app = typer.Typer(no_args_is_help=True, help="The Flutter app's environments (also `quixotic ci flutter`).")
    flutter_app.command("config")(flutter_command)
    flutter_app.command("check")(flutter_check_command)
    app.add_typer(ci_app, name="ci")
    app.add_typer(flutter_app, name="flutter")
    app.add_typer(freeze_app, name="freeze")


freeze_app = typer.Typer(
    no_args_is_help=True,
    help="The feature freeze of an environment, recorded in its target: every deploy and migration sees it at once.",
)


def _describe(freeze: FeatureFreeze) -> str:
    return escape(freeze.describe())


@freeze_app.command("start")
def freeze_start_command(
    env: str = ENV,
    reason: str = typer.Option(..., "--reason", help="Why (shown in every refusal and recorded on releases)."),
    start: str = typer.Option(None, "--from", help="First day of the freeze, YYYY-MM-DD (default: now)."),
    until: str = typer.Option(None, "--until", help="Last day of the freeze, YYYY-MM-DD (default: until ended)."),
    root: Path = ROOT,
) -> None:
    """Start a feature freeze: new functions, schema changes and new variables are refused while it holds."""
    freeze = cmd.freeze_start(connect(root, env), reason, start=start, until=until)
    out.print(f"{env}: {_describe(freeze)}, recorded in the target: every deploy and migration of {env} sees it")


@freeze_app.command("status")
def freeze_status_command(env: str = ENV, root: Path = ROOT) -> None:
    """The freeze recorded in the target (and one the environment file declares); exit 0: in force, 3: none."""
    status = cmd.freeze_status(connect(root, env))
    if status.recorded is None and status.declared is None:
        out.print(f"{env}: no feature freeze")
    for freeze, where in (
        (status.recorded, "recorded in the target"),
        (status.declared, f"in environments/{env}.json"),
    ):
        if freeze is not None:
            state = "in force" if status.in_force == freeze else "not in force today"
            out.print(f"{env}: {_describe(freeze)} ({where}): {state}")
    raise typer.Exit(0 if status.in_force is not None else 3)


@freeze_app.command("end")
def freeze_end_command(env: str = ENV, root: Path = ROOT) -> None:
    """End the feature freeze recorded in the target."""
    status = cmd.freeze_end(connect(root, env))
    out.print(f"{env}: " + ("no feature freeze was recorded" if status.recorded is None
                            else f"ended the {_describe(status.recorded)}"))  # fmt: skip
    if status.in_force is not None:
        out.print(f"[yellow]{env}: environments/{env}.json still declares a {_describe(status.in_force)}: remove "
                  "it there (and commit) to end it[/]")  # fmt: skip
