"""Derive the server's route table from Appwrite's official OpenAPI specs.

Run: ``python tools/gen_routes.py [--check] [SPEC_DIR]`` (default ``../shared/appwrite-spec``). Writes
``src/quixotic/server/data/routes.json``: for every operation its method, path, operationId, scope,
success status and typed parameters. Only structured data is kept (no descriptions), so the
server's request parsing follows the spec without shipping the spec itself.

The 1.8.1 spec is the newest whose file we have; the routes newer SDKs call beyond it (renamed paths,
methods added up to 2.5) come from the hand-kept ``tools/routes_added.json`` and are appended with
their ``since`` (the spec's own operations get the spec's version), and so do the parameters newer SDKs send
to routes already listed (its ``params``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "quixotic" / "server" / "data" / "routes.json"
ADDED = ROOT / "tools" / "routes_added.json"
# What routes.json keeps of an added route (its ``source`` and ``sdk`` notes stay in the hand-kept file).
ADDED_KEYS = ("id", "servedAs", "method", "path", "tag", "scope", "type", "status", "consumes", "produces", "params")
# Console-only operations the local server also serves to API keys (project variables).
CONSOLE_PREFIXES = ("/project/variables",)


def _param(name: str, schema: dict[str, Any], where: str, required: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": where, "type": schema.get("type", "string")}
    if required:
        out["required"] = True
    if "default" in schema:
        out["default"] = schema["default"]
    if schema.get("format"):
        out["format"] = schema["format"]
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if schema.get("type") == "array":
        out["items"] = (schema.get("items") or {}).get("type", "string")
    if schema.get("x-nullable"):
        out["nullable"] = True
    if schema.get("x-upload-id"):
        out["uploadId"] = True
    return out


def _operations(spec: dict[str, Any], keep: Any) -> list[dict[str, Any]]:
    since = spec["info"]["version"]
    ops: list[dict[str, Any]] = []
    for path, methods in spec["paths"].items():
        if not keep(path):
            continue
        for method, op in methods.items():
            meta = op.get("x-appwrite", {})
            params = [
                _param(p["name"], p.get("schema", {}), p["in"], bool(p.get("required")))
                for p in op.get("parameters", [])
            ]
            consumes = "application/json"
            for content_type, body in op.get("requestBody", {}).get("content", {}).items():
                consumes = content_type
                schema = body.get("schema", {})
                required = set(schema.get("required", []))
                for name, prop in schema.get("properties", {}).items():
                    params.append(_param(name, prop, "body", name in required))
            codes = sorted(int(c) for c in op.get("responses", {}) if c.isdigit())
            status = next((c for c in codes if 200 <= c < 300), 200)
            produces = "application/json"
            for content_type in op.get("responses", {}).get(str(status), {}).get("content", {}):
                produces = content_type
            ops.append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "tag": (op.get("tags") or ["?"])[0],
                    "scope": meta.get("scope", ""),
                    "type": meta.get("type", ""),
                    "status": status,
                    "consumes": consumes,
                    "produces": produces,
                    "params": params,
                    "since": since,
                }
            )
    return ops


def _added(known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hand-kept routes, checked against the spec's: a new path, and a ``servedAs`` that exists."""
    ids = {op["id"] for op in known}
    routes = {(op["method"], op["path"]) for op in known}
    out: list[dict[str, Any]] = []
    for raw in json.loads(ADDED.read_text())["operations"]:
        where = f"{ADDED.name}: {raw['id']} ({raw['method']} {raw['path']})"
        if (raw["method"], raw["path"]) in routes:
            raise SystemExit(f"{where}: the spec already has this route; remove it from {ADDED.name}")
        if raw.get("servedAs") and raw["servedAs"] not in ids:
            raise SystemExit(f"{where}: servedAs {raw['servedAs']!r} is no operation of the spec")
        routes.add((raw["method"], raw["path"]))
        out.append({**{k: raw[k] for k in ADDED_KEYS if k in raw}, "since": raw["since"]})
    return out


def _with_added_params(ops: list[dict[str, Any]]) -> None:
    """Append the hand-kept ``params`` (parameters newer SDKs send to routes already listed) to each operation
    whose id fully matches one of their patterns; a pattern matching nothing, or a parameter an operation
    already has, is a mistake in the hand-kept file."""
    for entry in json.loads(ADDED.read_text()).get("params", []):
        param, patterns = entry["param"], [re.compile(p) for p in entry["operations"]]
        for pattern in patterns:
            matched = [op for op in ops if pattern.fullmatch(op["id"])]
            if not matched:
                raise SystemExit(f"{ADDED.name}: param {param['name']!r}: {pattern.pattern!r} matches no operation")
            for op in matched:
                if any(p["name"] == param["name"] for p in op["params"]):
                    raise SystemExit(f"{ADDED.name}: {op['id']} already has the param {param['name']!r}")
                op["params"].append(dict(param))


def main() -> None:
    args = sys.argv[1:]
    check = "--check" in args  # exit 1 when routes.json is not what its sources give (a test runs this)
    args = [a for a in args if a != "--check"]
    spec_dir = Path(args[0]) if args else ROOT.parent / "shared" / "appwrite-spec"
    server = json.loads((spec_dir / "open-api3-1.8.x-server.json").read_text())
    console = json.loads((spec_dir / "open-api3-1.8.x-console.json").read_text())
    ops = _operations(server, lambda _p: True)
    ops += _operations(console, lambda p: p.startswith(CONSOLE_PREFIXES))
    ops += _added(ops)
    _with_added_params(ops)
    doc = {"version": server["info"]["version"], "operations": ops}
    text = json.dumps(doc, indent=0, sort_keys=True) + "\n"
    if check:
        if not OUT.is_file() or OUT.read_text() != text:
            raise SystemExit(f"{OUT.relative_to(ROOT)} is stale: run python tools/gen_routes.py")
        print(f"{OUT.relative_to(ROOT)} is up to date ({len(ops)} operations)")
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {len(ops)} operations to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
