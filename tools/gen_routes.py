"""Derive the server's route table from Appwrite's official OpenAPI specs.

Run: ``python tools/gen_routes.py [SPEC_DIR]`` (default ``../shared/appwrite-spec``). Writes
``src/quixotic/server/data/routes.json``: for every operation its method, path, operationId, scope,
success status and typed parameters. Only structured data is kept (no descriptions), so the
server's request parsing follows the spec without shipping the spec itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "quixotic" / "server" / "data" / "routes.json"
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
                }
            )
    return ops


def main() -> None:
    spec_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "appwrite-spec"
    server = json.loads((spec_dir / "open-api3-1.8.x-server.json").read_text())
    console = json.loads((spec_dir / "open-api3-1.8.x-console.json").read_text())
    ops = _operations(server, lambda _p: True)
    ops += _operations(console, lambda p: p.startswith(CONSOLE_PREFIXES))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": server["info"]["version"], "operations": ops}
    OUT.write_text(json.dumps(doc, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(ops)} operations to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
