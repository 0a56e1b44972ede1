"""The route table, read from the data derived from Appwrite's OpenAPI spec (``tools/gen_routes.py``).

Parameter names, types, required fields, defaults, scopes and success codes come from the spec, so
handlers only hold behaviour. Parsing turns the SDK's encodings (JSON body, flattened query string,
stringified multipart fields) into typed Python values and raises ``general_argument_invalid`` with
Appwrite's wording when a parameter is missing or of the wrong type.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import validation


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path | query | body
    type: str  # string | integer | number | boolean | array | object
    required: bool = False
    default: Any = None
    has_default: bool = False
    items: str = "string"
    format: str = ""
    enum: tuple[str, ...] = ()
    nullable: bool = False  # a required parameter that may be sent as null (e.g. a column's `default`)


@dataclass(frozen=True)
class Operation:
    id: str  # the operation the server runs: its handler, response model and transaction staging key on it
    method: str
    path: str
    tag: str
    scopes: tuple[str, ...]  # any one of them grants access
    type: str
    status: int
    consumes: str
    produces: str
    params: tuple[Param, ...]
    pattern: re.Pattern[str] = field(compare=False, repr=False)
    literal_weight: tuple[int, ...] = field(compare=False, repr=False)
    appwrite_id: str = ""  # Appwrite's ID for this route: ``id``, except for a route served as another operation
    since: str = ""  # the Appwrite version that documents the route (``tools/routes_added.json`` for newer ones)
    body_cap: int = validation.MAX_BODY  # the most bytes its request body may hold (``body_cap``)


# Parameters of newer formats than the 1.8 spec's, for the operations the server implements: the
# native shape, which ``formats`` lifts older requests to (its V21 and V25 request steps).
_FUNCTION_PARAMS = [
    {"in": "body", "name": "buildSpecification", "type": "string"},
    {"in": "body", "name": "runtimeSpecification", "type": "string"},
    {"in": "body", "name": "deploymentRetention", "type": "integer"},
    {"in": "body", "name": "providerBranches", "type": "array"},
    {"in": "body", "name": "providerPaths", "type": "array"},
]
_ADDED_PARAMS: dict[str, list[dict[str, Any]]] = {
    "functionsCreate": _FUNCTION_PARAMS,
    "functionsUpdate": _FUNCTION_PARAMS,
    "functionsCreateVariable": [{"in": "body", "name": "variableId", "type": "string", "required": True}],
    "projectCreateVariable": [{"in": "body", "name": "variableId", "type": "string", "required": True}],
}
_REMOVED_PARAMS: dict[str, set[str]] = {"functionsCreate": {"specification"}, "functionsUpdate": {"specification"}}


def _native(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    op_id = raw["id"]
    if op_id not in _ADDED_PARAMS and op_id not in _REMOVED_PARAMS:
        return raw
    removed = _REMOVED_PARAMS.get(op_id, set())
    kept = [p for p in raw["params"] if p["name"] not in removed]
    return {**raw, "params": [*kept, *_ADDED_PARAMS.get(op_id, [])]}


def _compile(raw: Mapping[str, Any]) -> Operation:
    segments = raw["path"].strip("/").split("/")
    regex = "".join(f"/(?P<{s[1:-1]}>[^/]+)" if s.startswith("{") else "/" + re.escape(s) for s in segments)
    weight = tuple(0 if s.startswith("{") else 1 for s in segments)
    params = tuple(
        Param(
            name=p["name"],
            where=p["in"],
            type=p["type"],
            required=bool(p.get("required")),
            default=p.get("default"),
            has_default="default" in p,
            items=p.get("items", "string"),
            format=p.get("format", ""),
            enum=tuple(p.get("enum", ())),
            nullable=bool(p.get("nullable")),
        )
        for p in raw["params"]
    )
    op_id = raw.get("servedAs") or raw["id"]
    return Operation(
        id=op_id,
        method=raw["method"],
        path=raw["path"],
        tag=raw["tag"],
        scopes=tuple(raw["scope"]) if isinstance(raw["scope"], list) else (raw["scope"],),
        type=raw["type"],
        status=raw["status"],
        consumes=raw["consumes"],
        produces=raw["produces"],
        params=params,
        appwrite_id=raw["id"],
        since=raw.get("since", ""),
        body_cap=body_cap(op_id, raw["consumes"], params),
        pattern=re.compile(f"^{regex}$"),
        literal_weight=weight,
    )


# JSON's widest form of one character of a string: ``\\uXXXX`` (a pair of them for two characters above U+FFFF).
_ESCAPED = 6


def body_cap(op_id: str, consumes: str, params: Iterable[Param]) -> int:
    """The most bytes a request body of this route may hold, enforced while it is read (``validation``'s
    module doc): an upload one chunk plus its fields, a JSON body twice the most its bounded parameters
    can weigh (at least ``MIN_JSON_CAP``), and Appwrite's request size where any parameter is unbounded."""
    if "multipart/form-data" in consumes:
        return validation.UPLOAD_CHUNK + validation.MULTIPART_OVERHEAD
    most = 2
    for param in params:
        if param.where != "body":
            continue
        weight = _param_weight(op_id, param)
        if weight is None:
            return validation.MAX_BODY
        most += len(param.name) + 4 + weight
    return min(validation.MAX_BODY, max(validation.MIN_JSON_CAP, 2 * most))


def _param_weight(op_id: str, param: Param) -> int | None:
    """The most bytes one parameter's valid JSON value takes; None when its limits leave it unbounded."""
    if param.type == "string":
        return 2 + _ESCAPED * validation.text_limit(op_id, param.name, param.format)
    if param.type in ("integer", "number", "boolean"):
        return validation.MAX_NUMBER_CHARS
    if param.type == "array" and param.items == "string":
        items = validation.ARRAY_LIMITS.get(param.name, validation.MAX_ARRAY)
        return 2 + items * (3 + _ESCAPED * validation.element_limit(param.name))
    if param.type == "object" and param.name in validation.ASSOC_PARAMS:
        return 2 + _ESCAPED * validation.MAX_ASSOC
    return None  # rows' and documents' data, arrays of objects: only the request size bounds them


class _Node:
    """A position in a route trie: where each next path segment leads, and the route that ends here."""

    __slots__ = ("literals", "op", "param")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None  # a ``{name}`` segment, any non-empty text without a slash (names vary)
        self.op: Operation | None = None  # the route that ends here, the first of those that would


class RouteTable:
    """Matches (method, path) to an operation; literal segments win over parameters.

    The winner is the one a scan of the method's routes sorted by ``literal_weight`` (stable, so spec
    order breaks ties) would take, each pattern matched whole. The table finds it in a trie per method
    and segment count instead: at each segment a literal child is tried before the parameter child, so
    the first route found has the highest weight, and a leaf keeps the first route that ends there.
    ``by_id`` holds each operation's first route (the spec's, where a newer path serves it too).
    """

    def __init__(self, operations: Iterable[Mapping[str, Any]]) -> None:
        by_method: dict[str, list[Operation]] = {}
        self.by_id: dict[str, Operation] = {}
        self.operations: tuple[Operation, ...] = tuple(_compile(raw) for raw in operations)
        for op in self.operations:
            by_method.setdefault(op.method, []).append(op)
            self.by_id.setdefault(op.id, op)
        self._roots: dict[tuple[str, int], _Node] = {}
        self._names: dict[int, tuple[str, ...]] = {}  # id(op) -> its parameter segments' names, in order
        for method, ops in by_method.items():
            for op in sorted(ops, key=lambda o: o.literal_weight, reverse=True):
                self._add(method, op)
        self._record: OpRecord | None = None

    def _add(self, method: str, op: Operation) -> None:
        segments = op.path.strip("/").split("/")
        node = self._roots.setdefault((method, len(segments)), _Node())
        for segment in segments:
            if segment.startswith("{"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        if node.op is None:
            node.op = op
            self._names[id(op)] = tuple(s[1:-1] for s in segments if s.startswith("{"))

    def recording(self, path: str) -> RouteTable:
        """This table, noting each Appwrite operation ID it matches in the file at ``path`` (none when empty).

        ``tools/coverage.py`` sets ``QUIXOTIC_RECORD_OPS`` for a test run and reads the file back, so
        "exercised by tests" is what the servers the tests started were asked for.
        """
        if not path:
            return self
        table = copy.copy(self)
        table._record = OpRecord(Path(path))
        return table

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        if not path.startswith("/"):
            return None
        segments = path[1:].split("/")
        root = self._roots.get((method.upper(), len(segments)))
        if root is None:
            return None
        values: list[str] = []
        op = _walk(root, segments, 0, values)
        if op is None:
            return None
        if self._record is not None:
            self._record.note(op.appwrite_id)
        return op, dict(zip(self._names[id(op)], values, strict=True))


def _walk(node: _Node, segments: list[str], at: int, values: list[str]) -> Operation | None:
    """The first route under ``node`` that ``segments[at:]`` reach, literal children first; ``values``
    gets the parameter segments on the way to it."""
    if at == len(segments):
        return node.op
    segment = segments[at]
    child = node.literals.get(segment)
    if child is not None:
        found = _walk(child, segments, at + 1, values)
        if found is not None:
            return found
    if node.param is not None and segment:
        values.append(segment)
        found = _walk(node.param, segments, at + 1, values)
        if found is not None:
            return found
        values.pop()
    return None


class OpRecord:
    """Appends each operation ID once per process to a file many server processes may share."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def note(self, op_id: str) -> None:
        if op_id in self._seen:
            return
        with self._lock:
            if op_id in self._seen:
                return
            self._seen.add(op_id)
            # One short write to a file opened for appending lands whole, whichever process wrote last.
            with self.path.open("a", encoding="utf-8") as out:
                out.write(op_id + "\n")


@cache
def route_table() -> RouteTable:
    text = resources.files("quixotic.server").joinpath("data/routes.json").read_text()
    doc = json.loads(text)
    return RouteTable([_native(raw) for raw in doc["operations"]])


# --- request decoding ---------------------------------------------------------------------------

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def unflatten(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Rebuild nested values from ``a[0]=x&a[1]=y`` / ``a[]=x`` / ``o[k]=v`` encodings."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY_RE.match(key)
        if not m:
            out[key] = value
            continue
        name, rest = m.group(1), m.group(2)
        if not rest:
            out[name] = value
            continue
        parts = re.findall(r"\[([^\[\]]*)\]", rest)
        if len(parts) > validation.MAX_DEPTH:
            raise validation.invalid(name, f"a key may hold at most {validation.MAX_DEPTH} [brackets]")
        node: Any = out
        node_key: Any = name
        for part in parts:
            container = node.get(node_key) if isinstance(node, dict) else None
            if container is None:
                container = {}
                node[node_key] = container
            node, node_key = container, (part if part != "" else f"\x00{len(container)}")
        if isinstance(node, dict):
            node[node_key] = value
    return {k: _listify(v) for k, v in out.items()}


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        if keys and all(k.startswith("\x00") or k.isdigit() for k in keys):
            ordered = sorted(keys, key=lambda k: int(k.lstrip("\x00")))
            return [_listify(value[k]) for k in ordered]
        return {k: _listify(v) for k, v in value.items()}
    return value


_invalid = validation.invalid


def _coerce(param: Param, value: Any, from_text: bool) -> Any:
    kind = param.type
    name = param.name
    if kind == "string":
        if isinstance(value, str):
            if param.enum and value not in param.enum:
                raise _invalid(name, f"Value must be one of ({', '.join(param.enum)})")
            return value
        if param.format == "binary":
            return value
        raise _invalid(name, "Value must be a valid string")
    if kind == "integer":
        if isinstance(value, bool):
            raise _invalid(name, "Value must be a valid integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and from_text and len(value.strip()) <= validation.MAX_NUMBER_CHARS:
            try:
                return int(value)
            except ValueError:
                pass
        raise _invalid(name, "Value must be a valid integer")
    if kind == "number":
        if isinstance(value, bool):
            raise _invalid(name, "Value must be a valid number")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str) and from_text and len(value.strip()) <= validation.MAX_NUMBER_CHARS:
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                return int(number) if number.is_integer() and "." not in value else number
        raise _invalid(name, "Value must be a valid number")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and from_text and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise _invalid(name, "Value must be a valid boolean")
    if kind == "array":
        if isinstance(value, str) and from_text:
            value = [value]
        if not isinstance(value, list):
            raise _invalid(name, "Value must be a valid array")
        if param.items == "string":
            for item in value:
                if not isinstance(item, str):
                    raise _invalid(name, "Value must be a valid array of strings")
        return value
    if kind == "object":
        if isinstance(value, str):
            value = validation.loads(value, f"the `{name}` param")
        if not isinstance(value, dict | list):
            raise _invalid(name, "Value must be a valid object")
        return value
    return value


def bind(
    op: Operation,
    path_params: Mapping[str, str],
    query: Mapping[str, Any],
    body: Mapping[str, Any],
    body_is_text: bool,
) -> dict[str, Any]:
    """Typed parameters for ``op``; missing optional ones get the spec's default (or ``None``).

    The values given are checked first, so a value over a limit is named even when another, required
    parameter is missing too.
    """
    out: dict[str, Any] = {}
    missing: list[tuple[Param, Mapping[str, Any]]] = []
    for param in op.params:
        if param.where == "path":
            text = path_params.get(param.name, "")
            if param.name.endswith("Id"):
                out[param.name] = validation.check_path_id(text, param.name)
            else:
                out[param.name] = validation.check_path_text(text, param.name)
            continue
        if param.where == "query":
            source, from_text = query, True
        else:
            source, from_text = body, body_is_text
        value = source.get(param.name)
        if value is None:
            missing.append((param, source))
            continue
        if isinstance(value, validation.Refused):
            raise _invalid(param.name, value.why)
        out[param.name] = _limited(op, param, _coerce(param, value, from_text))
    for param, source in missing:
        if param.required and not (param.nullable and param.name in source):
            raise ApiError("general_argument_invalid", f'Param "{param.name}" is not optional.')
        out[param.name] = param.default if param.has_default else None
    return {param.name: out[param.name] for param in op.params}


def _limited(op: Operation, param: Param, value: Any) -> Any:
    """``value`` held to the input limits of ``validation`` for its name and type."""
    if param.type == "string" and isinstance(value, str):
        return validation.check_text(value, param.name, validation.text_limit(op.id, param.name, param.format))
    if param.type == "integer":
        return validation.check_integer(value, param.name, param.format)
    if param.type == "number":
        return validation.check_number(value, param.name)
    if param.type == "array":
        return validation.check_array(value, param.name)
    if param.type == "object":
        return validation.check_object(value, param.name)
    return value
