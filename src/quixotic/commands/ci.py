"""CI verbs: ``ci init`` (write the workflows), ``ci comment`` (the pull-request plan comment),
``ci check-plan`` (the plan is the one reviewed), ``ci check-target`` (the CI variables name the
configured project), ``ci flutter`` and ``ci flutter-check``, and ``freeze start/status/end`` (the feature
freeze recorded in the target). Each returns or raises; no printing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from quixotic.ci.comment import check_reviewed, render_comment, reviewed_digest
from quixotic.ci.files import FileAction, plan_files
from quixotic.ci.flutter import FlutterSettings, render_flutter, scan_build, unsafe_defines
from quixotic.ci.workflows import WorkflowSettings, render_workflows
from quixotic.config import Environment, list_environments, load_environment
from quixotic.config.freeze_file import FeatureFreeze
from quixotic.config.layout import secret_var
from quixotic.errors import PlanError, QuixoticError, UsageError
from quixotic.plan.freeze import active, frozen_changes
from quixotic.plan.plan import Plan
from quixotic.target import Target, connect
from quixotic.target import freeze as target_freeze
from quixotic.target.provenance import who


@dataclass(frozen=True)
class WriteResult:
    """What a generating verb did: one action per file; nothing is written when any file is refused."""

    root: Path
    actions: tuple[FileAction, ...]
    written: bool

    @property
    def refused(self) -> tuple[FileAction, ...]:
        return tuple(a for a in self.actions if a.verdict == "refuse")

    def check(self) -> None:
        """Raise when hand-edited files kept the others from being written."""
        if self.refused:
            paths = ", ".join(a.path for a in self.refused)
            raise UsageError(
                f"{len(self.refused)} file(s) were edited by hand since they were generated: {paths}. Nothing was "
                "written. Review the diff above, then pass --force to overwrite them (or keep your edits)"
            )


def _environment(root: Path, env: str) -> Environment:
    """The environment's configuration, secrets not needed (none is read for generating files)."""
    return load_environment(root, env, environ={}, require_secrets=False)


def _write(root: Path, wanted: Mapping[str, str], *, force: bool, dry_run: bool) -> WriteResult:
    current = {path: _read(root / path) for path in wanted}
    actions = tuple(plan_files(wanted, current, force=force))
    if dry_run or any(a.verdict == "refuse" for a in actions):
        return WriteResult(root, actions, False)
    for action in actions:
        if action.writes:
            target = root / action.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(action.text, encoding="utf-8")
    return WriteResult(root, actions, True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}; move it away or fix its permissions") from exc


def init(
    root: Path,
    settings: WorkflowSettings | None = None,
    *,
    provider: str = "github",
    force: bool = False,
    dry_run: bool = False,
    yes: bool = False,
) -> WriteResult:
    """Render the workflows into ``root/.github/workflows``; files edited by hand are kept unless ``force``."""
    settings = settings or WorkflowSettings()
    wanted = render_workflows(settings, provider)  # checks the settings and the provider first
    dev, prod = _environment(root, settings.dev), _environment(root, settings.prod)
    if dev.project_id == prod.project_id and dev.endpoint == prod.endpoint and not yes:
        raise UsageError(
            f"environments {dev.name!r} and {prod.name!r} name the same project ({prod.project_id} at "
            f"{prod.endpoint}): both {settings.dev_branch!r} and {settings.prod_branch!r} would deploy PROD. Give "
            f"{dev.name!r} its own project, or pass --yes if that is what you want"
        )
    return _write(root, wanted, force=force, dry_run=dry_run)


def _read_plan(path: Path) -> Plan:
    try:
        return Plan.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc}; make it with `quixotic plan ENV --out FILE`") from exc


def comment(
    root: Path,
    plans: Mapping[str, Path],
    today: dt.date | None = None,
    freezes: Mapping[str, FeatureFreeze | None] | None = None,
) -> str:
    """The pull-request comment for ``{env: plan file}``, with what each environment's freeze would refuse:
    ``freezes[env]``, the freeze in force read from the target (``freeze_status``), else the one the
    environment file declares."""
    if not plans:
        raise UsageError("give at least one plan: --plan ENV=FILE")
    today = today or dt.date.today()
    loaded = {env: _read_plan(path) for env, path in plans.items()}
    notes: dict[str, list[str]] = {}
    for env, plan in loaded.items():
        given = freezes or {}
        freeze = active(given[env], today) if env in given else active(_environment(root, env).freeze, today)
        if freeze is not None:
            refused = frozen_changes(plan)
            notes[env] = [f"**{env} is under a {freeze.describe()}.**"] + (
                [f"The deploy will refuse {len(refused)} change(s):"] + [f"- `{r}`" for r in refused]
                if refused
                else ["Every change here is allowed during the freeze."]
            )
    return render_comment(loaded, notes)


def check_plan(env: str, plan_path: Path, *, comment_text: str | None = None, digest: str | None = None) -> Plan:
    """The plan in ``plan_path``, when it is the plan reviewed for ``env`` (in the comment, or ``digest``), or
    when it is empty (someone deployed it already: there is nothing to apply, reviewed or not)."""
    if (comment_text is None) == (digest is None):
        raise UsageError("give the reviewed plan either as --comment FILE or as --digest SHA256, not both")
    plan = _read_plan(plan_path)
    if plan.environment != env:
        raise PlanError(f"{plan_path} is a plan for {plan.environment!r}, not {env!r}: plan {env!r} and pass that file")
    if plan.is_empty:  # nothing will be applied, so nothing can differ from what was reviewed
        return plan
    check_reviewed(plan, digest if digest is not None else reviewed_digest(comment_text or "", env))
    return plan


def check_target(root: Path, env: str, environ: Mapping[str, str] | None = None) -> Environment:
    """Refuse when CI's ``QUIXOTIC_<ENV>_PROJECT_ID`` variable names another project than the configuration."""
    environ = os.environ if environ is None else environ
    configured = _environment(root, env)
    variable = secret_var(env, "PROJECT_ID")
    given = environ.get(variable, "").strip()
    if given and given != configured.project_id:
        raise UsageError(
            f"the CI variable {variable} is {given!r} but environments/{env}.json names project "
            f"{configured.project_id!r}: fix the variable of the {env!r} environment (or the file)"
        )
    return configured


def flutter(
    root: Path, out: Path, settings: FlutterSettings | None = None, *, force: bool = False, dry_run: bool = False
) -> WriteResult:
    """Write the Flutter app's environment files into ``out`` (a Flutter project: it has a pubspec.yaml)."""
    settings = settings or FlutterSettings()
    if not (out / "pubspec.yaml").is_file() and not force:
        raise UsageError(
            f"{out} is not a Flutter project (it has no pubspec.yaml): pass the app's folder with --out, "
            "or --force to write there anyway"
        )
    envs = [_environment(root, name) for name in list_environments(root)]
    return _write(out, render_flutter(envs, settings), force=force, dry_run=dry_run)


@dataclass(frozen=True)
class FlutterCheck:
    files: int
    findings: tuple[str, ...]

    def check(self) -> None:
        if self.findings:
            lines = "\n".join(f"  - {f}" for f in self.findings)
            raise UsageError(
                f"the release build could reach a non-release environment:\n{lines}\n"
                "Build it with --dart-define-from-file=config/appwrite/<release>.json only"
            )


def flutter_check(app: Path, *, release: str = "prod", build: Path | None = None) -> FlutterCheck:
    """Check the app's release defines (``config/appwrite/<release>.json``) and, with ``build``, every file of a
    release build, for the endpoints and project ids of other environments."""
    folder = app / "config" / "appwrite"
    defines: dict[str, dict[str, object]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {path}: {exc}; run `quixotic ci flutter` again") from exc
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a JSON object of dart defines; run `quixotic ci flutter` again")
        defines[path.stem] = data
    if release not in defines:
        raise UsageError(f"{folder} has no {release}.json: run `quixotic ci flutter --out {app}` first")
    findings = list(unsafe_defines(defines, release))
    count = 0
    if build is not None:
        if not build.is_dir():
            raise UsageError(f"{build} is not a folder: pass the release build's output (e.g. build/app/outputs)")
        blobs = {}
        for path in sorted(p for p in build.rglob("*") if p.is_file()):
            blobs[str(path.relative_to(build))] = path.read_bytes()
        count = len(blobs)
        findings += scan_build(blobs, defines, release)
    return FlutterCheck(count, tuple(findings))


# --- the feature freeze, recorded in the target (quixotic.target.freeze) --------------------------------


@dataclass(frozen=True)
class FreezeStatus:
    """An environment's freezes: the one recorded in its target, the one its file declares, which is in force."""

    recorded: FeatureFreeze | None
    declared: FeatureFreeze | None
    in_force: FeatureFreeze | None


def freeze_start(target: Target, reason: str, *, start: str | None = None, until: str | None = None) -> FeatureFreeze:
    """Start a feature freeze of the target's environment, recorded in the target: it holds at once for every
    deploy and migration of the environment, from any laptop or CI run."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return target_freeze.start(target, reason, start=start, until=until, by=who(), at=at)


def freeze_end(target: Target) -> FreezeStatus:
    """End the freeze recorded in the target; what was ended (``recorded``) and what still holds (a freeze the
    environment file declares ends when the file no longer declares it)."""
    ended = target_freeze.end(target)
    today = dt.date.today()
    return FreezeStatus(ended, target.env.freeze, active(target.env.freeze, today))


def target_freezes(
    root: Path, envs: Sequence[str], today: dt.date | None = None
) -> tuple[dict[str, FeatureFreeze | None], dict[str, str]]:
    """The freeze in force in each environment's target (for ``comment``), and why a target could not be read
    (no key in this run, say): the comment then shows what the environment file declares."""
    today = today or dt.date.today()
    found: dict[str, FeatureFreeze | None] = {}
    unread: dict[str, str] = {}
    for env in envs:
        try:
            found[env] = target_freeze.in_force(connect(root, env), today)
        except QuixoticError as exc:
            unread[env] = str(exc)
    return found, unread


def freeze_status(target: Target, today: dt.date | None = None) -> FreezeStatus:
    """The target's recorded freeze, the file's declared one and the one in force ``today``."""
    today = today or dt.date.today()
    recorded = target_freeze.recorded(target)
    return FreezeStatus(recorded, target.env.freeze, target_freeze.in_force(target, today))
