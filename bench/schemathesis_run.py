"""Schemathesis over the server spec, against a real local server: no generated request may answer 5xx.

    .venv/bin/python bench/schemathesis_run.py [--max-examples 25] [--phases examples,coverage,fuzzing,stateful]
                                               [--include REGEX] [--workers 2]

On demand, not in CI (needs ``schemathesis`` in the venv). Starts a server with a temporary data dir
and a project with an all-scopes key, writes the 1.8 server spec cut to the operations the server
implements (its ``servers`` pointed at this server), runs ``schemathesis run`` with the
``not_a_server_error`` check, and prints: the operations covered, the generated test cases (from
schemathesis's JSON report), the 5xx answers it saw, and the server log's unhandled errors.
Exit 1 when any request answered 5xx.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from quixotic.server import admin
from quixotic.server.registry import load_all

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "appwrite-spec" / "open-api3-1.8.x-server.json"
_METHODS = {"get", "post", "put", "patch", "delete"}


def implemented_spec(source: Path, url: str, include: str) -> tuple[dict[str, Any], int]:
    """``source`` with only the operations the server has handlers for (and ``include`` matches)."""
    doc = json.loads(source.read_text())
    handlers = set(load_all())
    wanted = re.compile(include)
    kept = 0
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        ops = {
            method: op
            for method, op in item.items()
            if method in _METHODS and op.get("operationId") in handlers and wanted.search(op["operationId"])
        }
        if ops:
            paths[path] = {**{k: v for k, v in item.items() if k not in _METHODS}, **ops}
            kept += len(ops)
    doc["paths"] = paths
    doc["servers"] = [{"url": url}]
    return doc, kept


def _path_params(op: dict[str, Any]) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]


def add_links(spec: dict[str, Any]) -> int:
    """OpenAPI links for the stateful phase, inferred as Appwrite's routes are shaped: a create whose
    body names a new ``xId`` links to every route under it (same path parameters plus ``xId``), the new
    ID taken from the answer's ``$id`` and the others from the create's own path. Returns the count."""
    ops = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
           if method in _METHODS]  # fmt: skip
    added = 0
    for path, method, op in ops:
        if method not in ("post", "put"):
            continue
        body: dict[str, Any] = (op.get("requestBody") or {}).get("content", {})
        schema: dict[str, Any] = next(iter(body.values())).get("schema", {}) if body else {}
        new_ids = [name for name in schema.get("properties", {}) if name.endswith("Id")]
        own = _path_params(op)
        for new_id in new_ids[:1]:
            for other_path, _, other in ops:
                wanted = _path_params(other)
                if sorted(wanted) != sorted([*own, new_id]) or not other_path.startswith(path):
                    continue
                parameters = {f"path.{name}": f"$request.path.{name}" for name in own}
                parameters[f"path.{new_id}"] = "$response.body#/$id"
                for status, response in op.get("responses", {}).items():
                    if status.startswith("2"):
                        links = response.setdefault("links", {})
                        links[other["operationId"]] = {"operationId": other["operationId"], "parameters": parameters}
                        added += 1
    return added


def cases_of(report: Path) -> tuple[int, int]:
    """(test cases generated, responses with a 5xx status) from schemathesis's ndjson events."""
    generated = server_errors = 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        for case in (finished.get("recorder") or {}).get("cases", {}).values():
            generated += 1
            del case
        for interactions in [(finished.get("recorder") or {}).get("interactions", {})]:
            for interaction in interactions.values():
                status = ((interaction or {}).get("response") or {}).get("status_code", 0)
                server_errors += int(status >= 500)
    return generated, server_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--include", default=".", help="regex over operation IDs")
    parser.add_argument("--workers", default="2")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="qx-schemathesis-"))
    log = base / "server.log"
    proc, url = admin.spawn_server(base / "data", log_file=log)
    try:
        creds = admin.create_project(base / "data", "fuzz")
        spec, kept = implemented_spec(SPEC, url, args.include)
        links = add_links(spec)
        spec_path = base / "spec.json"
        spec_path.write_text(json.dumps(spec))
        events = base / "events.ndjson"
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", str(spec_path),
            "--url", url, "-H", f"X-Appwrite-Project: {creds.project_id}", "-H", f"X-Appwrite-Key: {creds.api_key}",
            "--checks", "not_a_server_error", "--max-examples", str(args.max_examples), "--phases", args.phases,
            "--workers", args.workers, "--continue-on-failure", "--suppress-health-check", "all",
            "--report", "ndjson", "--report-ndjson-path", str(events), "--request-timeout", "30",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        generated, server_errors = cases_of(events) if events.exists() else (0, -1)
        unhandled = log.read_text().count("unhandled error") if log.exists() else 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    summary = re.search(r"(\d+) generated", done.stdout)
    generated = int(summary.group(1)) if summary else generated  # the run's own count, where it printed one
    tail = "\n".join(done.stdout.splitlines()[-25:])
    print(tail)
    print(f"operations: {kept}  links: {links}  generated test cases: {generated}  5xx answers: {server_errors}  "
          f"unhandled errors in the server log: {unhandled}  (data in {base})")  # fmt: skip
    return 1 if server_errors or unhandled else 0


if __name__ == "__main__":
    raise SystemExit(main())
