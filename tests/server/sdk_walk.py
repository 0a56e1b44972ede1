"""Call every method of an installed ``appwrite`` SDK's services against a server; print what each answered.

Run by ``tests/server/test_new_routes.py`` with the python of another SDK line's environment (``.sdk/27``,
``.sdk/22``), so it imports only that SDK and the standard library:
``python sdk_walk.py ENDPOINT PROJECT KEY SERVICE...`` where SERVICE is ``module:Class[:method_prefix_or_suffix]``.

Every required argument gets a value of its annotated type, every ID a fresh one, so calls address resources
that do not exist (or create harmless new ones); optional arguments stay unset. Prints JSON: one
``{"call", "code", "type"}`` per method (``code`` 0 when the call succeeded or failed on the client side).
"""

from __future__ import annotations

import enum
import importlib
import inspect
import itertools
import json
import sys
import typing
import uuid
import warnings
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile

_counter = itertools.count()
_RUN = uuid.uuid4().hex[:8]  # a walk's IDs differ from any earlier walk's in the same project


def _value(name: str, annotation: Any) -> Any:
    """A value of the parameter's type; IDs and strings unique per call."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Union and args:
        return _value(name, args[0])
    if annotation is InputFile:
        return InputFile.from_bytes(b"walk", "walk.txt")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    if annotation is bool:
        return True
    if annotation in (int, float):
        return 1
    if origin in (list, typing.List):  # noqa: UP006 - the SDK annotates with typing.List
        return []
    if origin in (dict, typing.Dict) or annotation is dict:  # noqa: UP006
        return {}
    return f"w{_RUN}{next(_counter)}"


def walk(client: Client, spec: str) -> list[dict[str, Any]]:
    module_name, class_name, *only = spec.split(":")
    cls = getattr(importlib.import_module(f"appwrite.services.{module_name}"), class_name)
    service = cls(client)
    hints_of = typing.get_type_hints
    out: list[dict[str, Any]] = []
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or (only and only[0] not in name):
            continue
        hints = hints_of(fn)
        kwargs = {
            p.name: _value(p.name, hints.get(p.name, str))
            for p in inspect.signature(fn).parameters.values()
            if p.name != "self" and p.default is inspect.Parameter.empty
        }
        code, kind = 0, ""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(service, name)(**kwargs)
        except AppwriteException as exc:
            code, kind = int(exc.code or 0), str(exc.type or "")
        except Exception as exc:  # the client's own refusal, or a model that did not parse: not the route
            kind = f"client:{type(exc).__name__}"
        out.append({"call": f"{module_name}.{name}", "code": code, "type": kind})
    return out


def main() -> None:
    endpoint, project, key, *services = sys.argv[1:]
    client = Client().set_endpoint(endpoint).set_project(project).set_key(key)
    results = [row for spec in services for row in walk(client, spec)]
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
