"""Derive the console routes the local server answers from Appwrite's console OpenAPI spec.

Run: ``python tools/gen_console_routes.py [SPEC_DIR]`` (default ``../shared/appwrite-spec``). Writes
``src/quixotic/server/data/routes-console.json`` in ``routes.json``'s shape (``tools/gen_routes.py``
derives both the same way): every console-spec operation under ``/console``, ``/projects`` and
``/proxy``, the console surface the official CLI calls. ``quixotic.server.console.routes`` puts them
after the server spec's table, so a route both specs list keeps the server spec's definition.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gen_routes import ROOT, _operations

OUT = ROOT / "src" / "quixotic" / "server" / "data" / "routes-console.json"
PREFIXES = ("/console/", "/projects", "/proxy/")


def main() -> None:
    spec_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "appwrite-spec"
    console = json.loads((spec_dir / "open-api3-1.8.x-console.json").read_text())
    ops = _operations(console, lambda p: p.startswith(PREFIXES))
    doc = {"version": console["info"]["version"], "operations": ops}
    OUT.write_text(json.dumps(doc, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(ops)} operations to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
