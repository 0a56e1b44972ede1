"""`quixotic parity OLD NEW`: the same requests to two environments, and where NEW answers differently.

Requests come from a JSON-lines file (``{"function", "method", "path", "headers", "body"}``) or, by default,
each function's declared parity requests (``templates/checks.json``). Only functions declared
``replaySafe`` may be replayed: each request is sent to OLD twice and to NEW once.
"""

from __future__ import annotations

import json
from pathlib import Path

from quixotic.commands.execute import Executed, execute
from quixotic.commands.records import record
from quixotic.config.checks_file import Checks, Request, load_checks
from quixotic.errors import UsageError
from quixotic.evidence.parity import Answer, ParityReport
from quixotic.target import Target


def read_requests(path: Path) -> list[tuple[str, Request]]:
    """The requests of a JSON-lines file; every bad line is named."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read the requests file {path}: {exc}") from exc
    out, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("function"), str):
                raise ValueError('expected an object with a "function"')
            headers = item.get("headers") or {}
            if not isinstance(headers, dict):
                raise ValueError('"headers" must be an object')
            request = Request(
                str(item.get("method") or "GET").upper(),
                str(item.get("path") or "/"),
                str(item.get("body") or ""),
                tuple(sorted((str(k), str(v)) for k, v in headers.items())),
            )
            out.append((item["function"], request))  # fmt: skip
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise UsageError(f"the requests file {path} has {len(problems)} bad line(s):\n  " + "\n  ".join(problems))
    return out


def _declared(checks: Checks, functions: list[str]) -> list[tuple[str, Request]]:
    return [(f, r) for f in functions for r in checks.of(f).parity.requests if checks.of(f).parity.replay_safe]


def _answer(done: Executed) -> Answer:
    return Answer(done.status, done.json if done.json is not None else {"error": done.error})


def parity(
    old: Target, new: Target, *, requests: list[tuple[str, Request]] | None = None, keep: bool = True
) -> ParityReport:
    """Replay ``requests`` (default: the declared ones) and report the differences of NEW from OLD; the report
    is recorded in both environments' tool state (evidence for ``preflight``) unless ``keep`` is False."""
    checks = load_checks(new.root, new.env.project)
    functions = [f.id for f in new.env.project.functions]
    chosen = _declared(checks, functions) if requests is None else requests
    unknown = sorted({f for f, _ in chosen if f not in functions})
    unsafe = sorted({f for f, _ in chosen if f in functions and not checks.of(f).parity.replay_safe})
    if unknown or unsafe:
        raise UsageError(
            "; ".join(
                ([f"no function {', '.join(unknown)} in appwrite.json"] if unknown else [])
                + ([f"{', '.join(unsafe)} not declared replaySafe in templates/checks.json (a replay could write "
                    "twice): declare it only if its requests change nothing"] if unsafe else [])
            )
        )  # fmt: skip
    if not chosen:
        raise UsageError("nothing to replay: declare parity requests in templates/checks.json or give --requests")
    report = ParityReport(old.env.name, new.env.name)
    for function_id, request in chosen:
        label = f"{function_id} {request.method} {request.path}"
        first, again = execute(old, function_id, request), execute(old, function_id, request)
        report.add(label, _answer(first), _answer(again), _answer(execute(new, function_id, request)),
                   checks.of(function_id).parity.ignore)  # fmt: skip
    if keep:
        record([old, new], "parity", new.env.name, "PASS" if report.same else "FAIL", report.to_json())
    return report
