"""Parsing ``templates/checks.json``: what the evidence commands may send to each function.

Kept out of ``appwrite.json`` on purpose (the official CLI rejects keys it does not know). Per function:

- ``smoke``: one request ``validate`` sends, with the status it must answer, JSON keys its body must hold
  and a latency budget;
- ``parity``: the requests ``parity`` may replay to two environments, only when the function is declared
  ``replaySafe`` (replaying a request to a function that writes would write twice), and JSON paths to
  ignore besides ids and timestamps.

The file is optional: without it no function has a smoke request and none may be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from quixotic.config.fields import Field, Loc, as_list, as_object, check_keys, choice, flag, integer, read_fields, text
from quixotic.config.jsonfile import read_json
from quixotic.config.problems import Problems, did_you_mean, listing
from quixotic.config.resources import ProjectSpec

CHECKS_FILE: Final = Path("templates/checks.json")
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


@dataclass(frozen=True)
class Request:
    """One request to a function's execution endpoint."""

    method: str = "GET"
    path: str = "/"
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Smoke:
    request: Request
    status: int = 200
    keys: tuple[str, ...] = ()
    budget_ms: int = 5000


@dataclass(frozen=True)
class Parity:
    replay_safe: bool = False
    requests: tuple[Request, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionChecks:
    smoke: Smoke | None = None
    parity: Parity = field(default_factory=Parity)


@dataclass(frozen=True)
class Checks:
    functions: Mapping[str, FunctionChecks] = field(default_factory=dict)

    def of(self, function_id: str) -> FunctionChecks:
        return self.functions.get(function_id) or FunctionChecks()


REQUEST_FIELDS: Final[Mapping[str, Field]] = {
    "method": Field("method", choice(METHODS), "GET"),
    "path": Field("path", text(allow_empty=False), "/"),
    "body": Field("body", lambda v: v, ""),
    "headers": Field("headers", lambda v: v, {}),
}
SMOKE_KEYS: Final = ("request", "status", "keys", "budgetMs")
PARITY_KEYS: Final = ("replaySafe", "requests", "ignore")


def _request(data: object, loc: Loc, problems: Problems) -> Request | None:
    values = read_fields(data, loc, REQUEST_FIELDS, problems)
    if values is None:
        return None
    body, headers = values["body"], values["headers"]
    if not isinstance(body, str):
        problems.add(str(loc.at("body")), "expected a string (the raw request body; JSON goes in as text)")
        return None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        problems.add(str(loc.at("headers")), "expected an object of header name -> string value")
        return None
    return Request(str(values["method"]), str(values["path"]), body, tuple(sorted(headers.items())))


def _strings(value: object, loc: Loc, problems: Problems) -> tuple[str, ...]:
    items = as_list(value, loc, problems)
    if not all(isinstance(i, str) and i for i in items):
        problems.add(str(loc), "expected a list of non-empty strings")
        return ()
    return tuple(items)


def _smoke(data: object, loc: Loc, problems: Problems) -> Smoke | None:
    obj = as_object(data, loc, problems)
    if obj is None:
        return None
    check_keys(obj, loc, SMOKE_KEYS, problems)
    request = _request(obj.get("request", {}), loc.at("request"), problems)
    try:
        status = int(integer(100, 599)(obj.get("status", 200)))  # type: ignore[call-overload]
        budget = int(integer(1, 900_000)(obj.get("budgetMs", 5000)))  # type: ignore[call-overload]
    except ValueError as exc:
        problems.add(str(loc), str(exc))
        return None
    keys = _strings(obj.get("keys", []), loc.at("keys"), problems)
    return Smoke(request, status, keys, budget) if request is not None else None


def _parity(data: object, loc: Loc, problems: Problems) -> Parity:
    obj = as_object(data, loc, problems)
    if obj is None:
        return Parity()
    check_keys(obj, loc, PARITY_KEYS, problems)
    try:
        safe = bool(flag(obj.get("replaySafe", False)))
    except ValueError as exc:
        problems.add(str(loc.at("replaySafe")), str(exc))
        safe = False
    requests = []
    for index, item in enumerate(as_list(obj.get("requests", []), loc.at("requests"), problems)):
        request = _request(item, loc.item("requests", index), problems)
        if request is not None:
            requests.append(request)
    if requests and not safe:
        problems.add(str(loc), "declares parity requests but not replaySafe: true; replaying a request to a "
                     "function that writes would write twice (declare it replay-safe only if it does not)")  # fmt: skip
    return Parity(safe, tuple(requests), _strings(obj.get("ignore", []), loc.at("ignore"), problems))


def parse_checks(data: object, file: str, project: ProjectSpec, problems: Problems) -> Checks:
    """The declared checks; unknown functions and malformed requests go to ``problems``."""
    loc = Loc(file)
    top = as_object(data, loc, problems)
    if top is None:
        return Checks()
    check_keys(top, loc, ("description", "functions"), problems)
    functions = as_object(top.get("functions", {}), loc.at("functions"), problems) or {}
    known = [f.id for f in project.functions]
    out: dict[str, FunctionChecks] = {}
    for function_id, spec in functions.items():
        at = loc.at("functions").at(function_id)
        if function_id not in known:
            problems.add(str(at), f"no function '{function_id}' in appwrite.json{did_you_mean(function_id, known)}; "
                         f"known: {listing(known)}")  # fmt: skip
            continue
        obj = as_object(spec, at, problems)
        if obj is None:
            continue
        check_keys(obj, at, ("smoke", "parity"), problems)
        smoke = _smoke(obj["smoke"], at.at("smoke"), problems) if "smoke" in obj else None
        out[function_id] = FunctionChecks(smoke, _parity(obj.get("parity", {}), at.at("parity"), problems))
    return Checks(out)


def load_checks(root: Path, project: ProjectSpec) -> Checks:
    """``templates/checks.json`` of the project under ``root`` (none declared when the file is absent)."""
    if not (root / CHECKS_FILE).is_file():
        return Checks()
    problems = Problems()
    data: Any = read_json(root, CHECKS_FILE, problems)
    checks = parse_checks(data, CHECKS_FILE.as_posix(), project, problems) if data is not None else Checks()
    problems.raise_if_any(f"{CHECKS_FILE.as_posix()} is invalid")
    return checks
