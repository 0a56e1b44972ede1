"""List the routes an installed Python ``appwrite`` SDK calls, read from its service modules' source.

Run: ``python tools/sdk_routes.py SDK_PACKAGE_DIR [SERVICE ...]``, the package folder of an installed SDK
(e.g. ``.sdk/27/lib/python3.11/site-packages/appwrite``).
Prints JSON: for each service method its HTTP method, path, request content type, parameters with the
SDK's types, which ones it requires, and the operation ID Appwrite's naming gives it (service prefix +
camel-cased method). ``tools/gen_routes.py`` does not read this: its input for routes newer than the
1.8.1 spec is the hand-kept ``data/routes-after-1.8.json``, which this output helps keep up to date,
and ``tests/server/test_new_routes.py`` walks the same methods over HTTP.

Only the source is parsed (``ast``), so the SDK need not import here.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

# The service module's name -> the prefix Appwrite's operation IDs use.
PREFIX = {"tables_db": "tablesDB", "documents_db": "documentsDB", "vectors_db": "vectorsDB"}


def operation_id(service: str, method: str) -> str:
    """``tables_db`` + ``create_big_int_column`` -> ``tablesDBCreateBigIntColumn``."""
    head = PREFIX.get(service) or service.split("_")[0] + "".join(p.title() for p in service.split("_")[1:])
    return head + "".join(part[:1].upper() + part[1:] for part in method.split("_"))


def _sdk_type(annotation: ast.expr | None) -> tuple[str, str]:
    """(type, items) in the spec's words for a parameter annotation of the SDK."""
    text = ast.unparse(annotation) if annotation is not None else "str"
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional[") : -1]
    if text.startswith("List["):
        inner = text[len("List[") : -1]
        return "array", {"str": "string", "float": "number", "int": "integer", "bool": "boolean"}.get(inner, "object")
    simple = {"str": "string", "bool": "boolean", "float": "number", "int": "integer", "InputFile": "file"}
    if text in simple:
        return simple[text], ""
    if text.startswith(("Dict[", "dict")) or text == "Any":
        return "object", ""
    return "string", ""  # an enum of the SDK: sent as its string value


def _literal_strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _method_route(service: str, fn: ast.FunctionDef) -> dict[str, Any] | None:
    path = ""
    http = ""
    consumes = "application/json"
    wire_names: list[str] = []  # api_params['wireName'] in assignment order
    required: set[str] = set()  # python names the SDK refuses to send without
    path_names: dict[str, str] = {}  # python name -> {placeholder}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "api_path":
            if isinstance(node.value, ast.Constant):
                path = str(node.value.value)
            elif isinstance(node.value, ast.Call) and node.value.args:
                placeholder = node.value.args[0]
                names = [n.id for n in ast.walk(node.value.args[1]) if isinstance(n, ast.Name)]
                if isinstance(placeholder, ast.Constant) and names:
                    path_names[names[-1]] = str(placeholder.value).strip("{}")
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0]
            if isinstance(target.value, ast.Name) and target.value.id == "api_params":
                key = target.slice
                if isinstance(key, ast.Constant):
                    wire_names.append(str(key.value))
        if isinstance(node, ast.Raise) and node.exc is not None:
            for text in _literal_strings(node.exc):
                if text.startswith("Missing required parameter"):
                    required.add(text.split('"')[1])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "call" and node.args and isinstance(node.args[0], ast.Constant):
                http = str(node.args[0].value).upper()
            elif node.func.attr == "chunked_upload":
                methods = [k.value for k in node.keywords if k.arg == "method"]
                http = str(methods[0].value).upper() if methods and isinstance(methods[0], ast.Constant) else "POST"
            if node.func.attr in ("call", "chunked_upload"):
                headers = next((a for a in node.args if isinstance(a, ast.Dict)), None)
                if headers is not None:
                    for key, value in zip(headers.keys, headers.values, strict=True):
                        named = isinstance(key, ast.Constant) and key.value == "content-type"
                        if named and isinstance(value, ast.Constant):
                            consumes = str(value.value)
    if not path or not http:
        return None
    args = {a.arg: a.annotation for a in fn.args.args if a.arg != "self"}
    # The SDK's python names are snake_case of the wire names; match them back.
    by_snake = {_snake(w): w for w in wire_names} | {"x" + w: w for w in wire_names}  # ``async`` is ``xasync``
    params: list[dict[str, Any]] = []
    for py_name, annotation in args.items():
        if py_name == "on_progress":
            continue
        kind, items = _sdk_type(annotation)
        if py_name in path_names:
            params.append({"in": "path", "name": path_names[py_name], "required": True, "type": "string"})
            continue
        wire = by_snake.get(py_name)
        if wire is None:
            continue
        param: dict[str, Any] = {"in": "query" if http == "GET" else "body", "name": wire, "type": kind}
        if kind == "file":
            param.update(type="string", format="binary")
        if items:
            param["items"] = items
        if py_name in required:
            param["required"] = True
        params.append(param)
    return {
        "id": operation_id(service, fn.name),
        "sdk": f"{service}.{fn.name}",
        "method": http,
        "path": path,
        "consumes": consumes,
        "params": params,
    }


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out.lstrip("_")


def service_routes(package: Path, service: str) -> list[dict[str, Any]]:
    """Every route the SDK's ``services/<service>.py`` calls, in source order."""
    tree = ast.parse((package / "services" / f"{service}.py").read_text())
    routes: list[dict[str, Any]] = []
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef):
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
                    route = _method_route(service, fn)
                    if route is not None:
                        routes.append(route)
    return routes


def main() -> None:
    package = Path(sys.argv[1])
    services = sys.argv[2:] or ["tables_db", "databases", "storage", "functions", "users"]
    out = {service: service_routes(package, service) for service in services}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
