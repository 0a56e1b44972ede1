"""`quixotic up`: the main job on the embedded default.

Starts the local server if it is not running, makes sure the local project and its key exist (the
key goes to the git-ignored ``environments/.env.local``) and has the platforms ``environments/local.json``
declares (so the app's origin is let in), deploys the project to ``local``, applies
pending migrations, checks that every function answers and ends with ``validate local``. The functions
are packaged once, for the deploy and the validation both, and checked through ``commands.execute``
(the one place that says what an answer is). Safe to run again: a second run finds nothing to deploy and
nothing to migrate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from quixotic.commands import deploy as deploy_cmd
from quixotic.commands import migrate
from quixotic.commands.execute import Executed, execute
from quixotic.commands.validate import validate
from quixotic.config.checks_file import Request
from quixotic.config.layout import secret_var, secrets_file
from quixotic.deploy.desired import target_desired
from quixotic.errors import PlanError
from quixotic.evidence.findings import Validation
from quixotic.server import admin, platforms
from quixotic.target import connect

ENV = "local"
HEALTH = Request("GET", "/health")  # what each function is asked after the deploy


@dataclass
class UpReport:
    server: admin.UpResult
    deploy: deploy_cmd.DeployResult
    checks: dict[str, Executed] = field(default_factory=dict)  # function id -> its check's execution
    migrations: migrate.RunResult | None = None
    validation: Validation | None = None
    platforms: list[platforms.PlatformRecord] = field(default_factory=list)  # registered by this run

    @property
    def functions(self) -> dict[str, int]:
        """Function id -> HTTP status of its check (0: it did not run)."""
        return {f: e.status for f, e in self.checks.items()}

    def failing(self) -> dict[str, int]:
        """The functions whose check did not answer (``Executed.ok`` says what answering is)."""
        return {f: e.status for f, e in self.checks.items() if not e.ok}

    def check(self) -> None:
        """Raise when a function did not answer after the deploy."""
        failing = self.failing()
        if failing:
            raise PlanError(f"functions did not answer: {', '.join(failing)}; see their executions' errors")
        if self.validation is not None and self.validation.exit_code != 0:
            failed = [f.check for f in self.validation.findings if f.status == "FAIL"]
            raise PlanError(f"local does not validate ({', '.join(failed)}): run `quixotic validate local`")


def up(
    root: Path,
    host: str = admin.DEFAULT_HOST,
    port: int = admin.DEFAULT_PORT,
    data_dir: Path | None = None,
    progress: deploy_cmd.Progress | None = None,
    check_functions: bool = True,
) -> UpReport:
    """Server, project and key, deploy, pending migrations, a check that every function answers, validate."""
    say = progress or (lambda _m: None)
    data = data_dir if data_dir is not None else root / ".quixotic" / "local"
    server = admin.up(data, host, port, env_file=root / secrets_file(ENV))
    say(f"local server at {server.endpoint}")
    environ = {**os.environ, secret_var(ENV, "ENDPOINT"): server.endpoint}
    environ.pop(secret_var(ENV, "API_KEY"), None)  # the key of *this* server is in .env.local
    target = connect(root, ENV, environ)
    report_platforms = platforms.ensure(
        data, target.env.project_id, [(p.type, p.hostname, p.key, p.name) for p in target.env.platforms]
    )
    for added in report_platforms:
        say(f"registered the {added.type} platform {added.name} (its origin may call local without a key)")
    desired = target_desired(target)  # the functions packaged once: the deploy and the validation use them
    result = deploy_cmd.deploy(target, yes=True, allow_destructive=False, progress=say, desired=desired)
    report = UpReport(server, result, platforms=report_platforms)
    if check_functions:
        for function in target.env.project.functions:
            say(f"checking that {function.id} answers")
            report.checks[function.id] = execute(target, function.id, HEALTH)
    if (root / "migrations").is_dir():
        report.migrations = migrate.up(target, yes=True, progress=say)
    say("validating local")
    report.validation = validate(target, desired=desired)
    return report
