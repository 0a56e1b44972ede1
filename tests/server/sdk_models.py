"""Validate JSON responses with an official SDK's own models; run with that SDK's interpreter.

    <venv>/bin/python tests/server/sdk_models.py < cases.jsonl

Each stdin line is ``{"label": ..., "model": "RowList", "body": {...}}``. Every case is parsed with
``appwrite.models.<model>.model_validate`` (the SDK's pydantic model, the parse the SDK itself does on
each response). One JSON object goes to stdout: the SDK's version and the failures, ``{label: error}``.
Standard library plus the SDK only: this file does not import quixotic.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata


def main() -> int:
    import appwrite.models as models

    failures: dict[str, str] = {}
    checked = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        cls = getattr(models, case["model"], None)
        if cls is None:
            failures[case["label"]] = f"the SDK has no model {case['model']}"
            continue
        try:
            cls.model_validate(case["body"])
        except Exception as exc:  # pydantic's ValidationError, or anything the model's validators raise
            failures[case["label"]] = f"{type(exc).__name__}: {exc}"
        checked += 1
    json.dump({"sdk": metadata.version("appwrite"), "checked": checked, "failures": failures}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
