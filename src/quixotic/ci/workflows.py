"""The GitHub workflows of the team's branch model, as text: which branch deploys where, with what.

``develop`` deploys DEV, ``main`` and ``hotfix/**`` deploy PROD, a manual run either; pull requests get
one plan comment; rollback runs by hand in the deploy's concurrency group. :func:`render_workflows` is
pure: settings in, ``{relative path: text}`` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from quixotic.ci.comment import MARKER
from quixotic.ci.fill import fill, template
from quixotic.ci.pins import PINS
from quixotic.ci.stamp import stamp
from quixotic.config.layout import ENV_NAME_RE, ENV_NAME_RULE, env_prefix
from quixotic.errors import UsageError

WORKFLOWS_DIR: Final = ".github/workflows"
PROVIDERS: Final = ("github",)
PLAN_ENVIRONMENT: Final = "quixotic-plan"  # the GitHub environment of the pull requests' read-only keys
_BRANCH: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_DURATION: Final = re.compile(r"^\d+[smh]$")
_PYTHON: Final = re.compile(r"^3\.\d{1,2}$")


@dataclass(frozen=True)
class WorkflowSettings:
    """What the workflows are rendered for; :meth:`check` says what is wrong and how to fix it."""

    dev: str = "dev"
    prod: str = "prod"
    dev_branch: str = "develop"
    prod_branch: str = "main"
    hotfix_prefix: str = "hotfix/"
    python: str = "3.11"
    install: str = "python -m pip install ."
    monitor_for: str = "30m"
    monitor_window: str = "5m"

    def check(self) -> None:
        problems: list[str] = []
        for option, env in (("--dev", self.dev), ("--prod", self.prod)):
            if not ENV_NAME_RE.match(env):
                problems.append(f"{option} {env!r} is not an environment name ({ENV_NAME_RULE})")
        if self.dev == self.prod:
            problems.append(f"--dev and --prod are both {self.dev!r}: name two environments")
        for option, branch in (("--dev-branch", self.dev_branch), ("--prod-branch", self.prod_branch)):
            problems += filter(None, [branch_problem(option, branch)])
        if self.dev_branch == self.prod_branch:
            problems.append(f"--dev-branch and --prod-branch are both {self.dev_branch!r}: one branch per environment")
        prefix = self.hotfix_prefix.rstrip("/")
        if not _BRANCH.match(prefix) or self.hotfix_prefix != prefix + "/":
            problems.append(
                f"--hotfix-prefix {self.hotfix_prefix!r} must be a branch prefix ending in '/', e.g. hotfix/"
            )
        elif self.dev_branch.startswith(self.hotfix_prefix):
            problems.append(f"--dev-branch {self.dev_branch!r} starts with the hotfix prefix: it would deploy PROD")
        problems += setup_problems(self.python, self.install)
        for option, duration in (("--monitor-for", self.monitor_for), ("--monitor-window", self.monitor_window)):
            if not _DURATION.match(duration):
                problems.append(f"{option} {duration!r} should be a duration like 30m, 90s or 2h")
        if problems:
            raise UsageError("cannot render the workflows:\n" + "\n".join(f"  - {p}" for p in problems))

    def monitor_minutes(self) -> int:
        """Minutes the PROD deploy job may run: the watch plus time to deploy and validate."""
        number, unit = int(self.monitor_for[:-1]), self.monitor_for[-1]
        return -(-number * {"s": 1, "m": 60, "h": 3600}[unit] // 60) + 30


def setup_problems(python: str, install: str) -> list[str]:
    """What is wrong with the options every job's setup steps are made of."""
    problems = []
    if not _PYTHON.match(python):
        problems.append(f"--python {python!r} should be a version like 3.11")
    if not install.strip() or "\n" in install or "${{" in install:
        problems.append("--install must be one shell command line without ${{ }} expressions")
    return problems


def branch_problem(option: str, branch: str) -> str | None:
    if _BRANCH.match(branch):
        return None
    return f"{option} {branch!r} is not a plain branch name (letters, digits, . _ - and /)"


def setup_steps(python: str, install: str) -> str:
    """The steps every job starts with: check out (no credentials kept), Python, quixotic."""
    values = {"checkout": PINS["checkout"].uses(), "setup_python": PINS["setup_python"].uses()}
    return fill(template("github/setup_steps.yml"), {**values, "python": python, "install": install}).rstrip("\n")


def render_workflows(settings: WorkflowSettings, provider: str = "github") -> dict[str, str]:
    """``{".github/workflows/<name>.yml": text}`` for every workflow, each stamped."""
    if provider not in PROVIDERS:
        raise UsageError(f"unknown CI provider {provider!r}; known: {', '.join(PROVIDERS)}")
    settings.check()
    base = {
        "dev": settings.dev,
        "prod": settings.prod,
        "DEV": env_prefix(settings.dev),
        "PROD": env_prefix(settings.prod),
        "dev_branch": settings.dev_branch,
        "prod_branch": settings.prod_branch,
        "hotfix_prefix": settings.hotfix_prefix,
        "hotfix_glob": settings.hotfix_prefix + "**",
        "marker": MARKER,
        "plan_env": PLAN_ENVIRONMENT,
        "monitor_for": settings.monitor_for,
        "monitor_window": settings.monitor_window,
    }
    setup = setup_steps(settings.python, settings.install)

    def per_env(name: str, env: str, **extra: str) -> str:
        return fill(template(name), {**base, "env": env, "ENV": env_prefix(env), "setup_steps": setup, **extra})

    deploy_jobs = "".join(
        per_env(
            "github/deploy_job.yml",
            env,
            timeout=str(settings.monitor_minutes() if env == settings.prod else 30),
            deploy_step=per_env(f"github/deploy_step_{'prod' if env == settings.prod else 'plain'}.yml", env).rstrip(),
        )
        for env in (settings.dev, settings.prod)
    )
    rollback_jobs = "\n".join(per_env("github/rollback_job.yml", env) for env in (settings.dev, settings.prod))
    files = {
        "deploy.yml": fill(template("github/deploy.yml"), {**base, "deploy_jobs": deploy_jobs.rstrip("\n")}),
        "plan.yml": fill(template("github/plan.yml"), {**base, "setup_steps": setup}),
        "rollback.yml": fill(template("github/rollback.yml"), {**base, "rollback_jobs": rollback_jobs.rstrip("\n")}),
    }
    return {f"{WORKFLOWS_DIR}/{name}": stamp(text.rstrip("\n") + "\n") for name, text in files.items()}
