"""Response formats: one native model, lowered to the format a request names, as Appwrite does it.

Handlers build every model in the newest shape the server implements. A request names its format in
``X-Appwrite-Response-Format`` (no header, or one that does not parse: the emulated version's own); a
format newer than the emulated version is served as that version, with Appwrite's warning.

Appwrite's filters are steps named after the version they lower from (``V21`` applies below 1.9.0,
``V27`` below 2.0.0, ...). Response steps run newest first, each rewriting the named models and every
item of their lists in place (handlers hand over fresh dicts, so nothing is copied); request steps run
oldest first, lifting an old SDK's parameters one step newer before they are bound. The chain for a
format is worked out once and cached, so a request pays one dict lookup when nothing applies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

Version = tuple[int, int, int]
ModelFilter = Callable[[dict[str, Any]], None]
ParamFilter = Callable[[dict[str, Any]], None]

# The list model of each model, and the key holding its items. ``column``/``attribute`` stand for every
# column*/attribute* model (a list holds several kinds).
_LISTS: Final = {
    "row": ("rowList", "rows"),
    "document": ("documentList", "documents"),
    "function": ("functionList", "functions"),
    "user": ("userList", "users"),
    "execution": ("executionList", "executions"),
    "database": ("databaseList", "databases"),
    "table": ("tableList", "tables"),
    "collection": ("collectionList", "collections"),
    "column": ("columnList", "columns"),
    "attribute": ("attributeList", "attributes"),
    "columnIndex": ("columnIndexList", "indexes"),
    "index": ("indexList", "indexes"),
    "bucket": ("bucketList", "buckets"),
    "variable": ("variableList", "variables"),
}
# The models of operations the 1.8.x spec has no model for: routes added after it, and the column (attribute)
# reads, which the spec answers with a union of every column model.
_MODELS_AFTER_SPEC: Final = {
    "usersUpdateImpersonator": "user",
    "tablesDBCreateBigIntColumn": "column",
    "tablesDBUpdateBigIntColumn": "column",
    "databasesCreateBigIntAttribute": "attribute",
    "databasesUpdateBigIntAttribute": "attribute",
    "tablesDBGetColumn": "column",
    "databasesGetAttribute": "attribute",
}


def parse(text: str | None) -> Version | None:
    """``"1.9.5"`` -> ``(1, 9, 5)``; None for a missing or malformed value (``"2"``, ``"1.x"``, ``""``)."""
    if not text:
        return None
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
        return None  # 9 digits: a long digit string is malformed, never parsed
    return int(parts[0]), int(parts[1]), int(parts[2])


# --- response steps -------------------------------------------------------------------------------


def sequence_to_int(doc: dict[str, Any]) -> None:
    """V21: ``$sequence`` is an int below 1.9.0 (a non-numeric value becomes 0), nested rows included."""
    seq = doc.get("$sequence")
    if isinstance(seq, str):
        doc["$sequence"] = int(seq) if seq.isascii() and seq.isdigit() else 0
    for value in doc.values():
        if isinstance(value, dict):
            if "$sequence" in value:
                sequence_to_int(value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                if isinstance(item, dict) and "$sequence" in item:
                    sequence_to_int(item)


def _function_specification(doc: dict[str, Any]) -> None:
    """V21: one ``specification`` (the build's) below 1.9.0."""
    doc["specification"] = doc.pop("buildSpecification", "")
    doc.pop("runtimeSpecification", None)


def _without(*keys: str) -> ModelFilter:
    """A filter that drops fields a later format added (absent, not null, before it)."""

    def drop(doc: dict[str, Any]) -> None:
        for key in keys:
            doc.pop(key, None)

    return drop


_user_impersonator: Final = _without("impersonator", "impersonatorUserId")  # V21: none below 1.9.0
_drop_description: Final = _without("description")  # 2.5.0: databases, tables, columns, indexes, variables


def _table_description(doc: dict[str, Any]) -> None:
    """2.5.0's ``description``, on a table (collection) and on the columns and indexes it holds."""
    doc.pop("description", None)
    for key in ("columns", "attributes", "indexes"):
        for item in doc.get(key) or ():
            if isinstance(item, dict):
                item.pop("description", None)


def _function_v25(doc: dict[str, Any]) -> None:
    """2.5.0's ``description``, ``interval`` and ``emailEnabled`` on a function, and the description of each of its
    variables."""
    for key in ("description", "interval", "emailEnabled"):
        doc.pop(key, None)
    for item in doc.get("vars") or ():
        if isinstance(item, dict):
            item.pop("description", None)


def _execution_function_id(doc: dict[str, Any]) -> None:
    """V27: ``resourceId`` is ``functionId`` below 2.0.0, and there is no ``resourceType``."""
    doc["functionId"] = doc.pop("resourceId", "")
    doc.pop("resourceType", None)


# --- request steps --------------------------------------------------------------------------------


def _lift_specification(params: dict[str, Any]) -> None:
    """V21: a 1.8 ``specification`` is both the build's and the runtime's."""
    if "specification" in params:
        spec = params.pop("specification")
        params.setdefault("buildSpecification", spec)
        params.setdefault("runtimeSpecification", spec)


def _fill_variable_id(params: dict[str, Any]) -> None:
    """V25: ``variableId`` became a parameter in 1.9.4; older SDKs get a unique one."""
    params.setdefault("variableId", "unique()")


@dataclass(frozen=True)
class Step:
    below: Version  # applies when the format is older than this
    responses: Mapping[str, ModelFilter]  # model name -> filter
    requests: Mapping[str, ParamFilter]  # operation id -> filter


# Newest first, as Appwrite adds its response filters. Steps with nothing in the services served
# (V22-V24, V26: projects, webhooks, teams, keys) are left out.
_DESCRIBED: Final[dict[str, ModelFilter]] = {
    "database": _drop_description,
    "table": _table_description,
    "collection": _table_description,
    "columnIndex": _drop_description,
    "index": _drop_description,
    "column": _drop_description,
    "attribute": _drop_description,
}

STEPS: Final = (
    # 2.5.0 (Cloud; no filter of Appwrite's repository): the fields its models add, absent before.
    Step(
        (2, 5, 0),
        {
            **_DESCRIBED,
            "bucket": _without("description", "stripMetadata"),
            "user": _without("passwordPwned"),
            "function": _function_v25,
            "variable": _drop_description,
        },
        {},
    ),
    Step((2, 0, 0), {"execution": _execution_function_id}, {}),  # V27
    Step((1, 9, 4), {}, {"functionsCreateVariable": _fill_variable_id}),  # V25
    Step(
        (1, 9, 0),
        {
            "row": sequence_to_int,
            "document": sequence_to_int,
            "function": _function_specification,
            "user": _user_impersonator,
        },
        {
            "functionsCreate": _lift_specification,
            "functionsUpdate": _lift_specification,
            "projectCreateVariable": _fill_variable_id,
        },
    ),  # V21
)


@dataclass(frozen=True)
class Chain:
    """What one format needs: per model (and list model) the response filters, per operation the request ones."""

    responses: Mapping[str, tuple[ModelFilter, ...]]
    requests: Mapping[str, tuple[ParamFilter, ...]]


def chain(fmt: Version) -> Chain:
    """The filters for ``fmt``: the steps it is older than, which (STEPS newest first) are a prefix of STEPS,
    so the cache holds at most one chain per step whatever versions requests name."""
    return _chain(sum(1 for step in STEPS if fmt < step.below))


@cache
def _chain(applying: int) -> Chain:
    steps = STEPS[:applying]
    responses: dict[str, list[ModelFilter]] = {}
    requests: dict[str, list[ParamFilter]] = {}
    for step in steps:  # newest first: lowered one step at a time
        for name, fn in step.responses.items():
            responses.setdefault(name, []).append(fn)
    for step in reversed(steps):  # oldest first: lifted one step at a time
        for op_id, fn in step.requests.items():
            requests.setdefault(op_id, []).append(fn)
    return Chain({k: tuple(v) for k, v in responses.items()}, {k: tuple(v) for k, v in requests.items()})


@cache
def response_models() -> Mapping[str, str]:
    """Operation id -> the model it answers with (from the 1.8.x server spec, then ``_MODELS_AFTER_SPEC``);
    every column*/attribute* model is one, ``column``/``attribute``, as the steps lower them alike."""
    text = resources.files("quixotic.server").joinpath("data/response_models.json").read_text()
    models: dict[str, str] = {**json.loads(text)["models"], **_MODELS_AFTER_SPEC}
    return {op_id: _one_column_model(name) for op_id, name in models.items()}


def _one_column_model(name: str) -> str:
    if name.endswith("List") or name == "columnIndex" or not name.startswith(("column", "attribute")):
        return name
    return "column" if name.startswith("column") else "attribute"


@cache
def _list_models() -> Mapping[str, tuple[str, str]]:
    return {list_name: (model, key) for model, (list_name, key) in _LISTS.items()}


def lower(fmt: Version, op_id: str, body: Any) -> Any:
    """``body`` (the native model ``op_id`` answers with) in format ``fmt``; changed in place."""
    filters = chain(fmt).responses
    if not filters or not isinstance(body, dict):
        return body
    name = response_models().get(op_id)
    if name is None:
        return body
    fns = filters.get(name)
    if fns is not None:
        for fn in fns:
            fn(body)
        return body
    listed = _list_models().get(name)
    if listed is not None:
        fns = filters.get(listed[0])
        items = body.get(listed[1])
        if fns is not None and isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    for fn in fns:
                        fn(item)
    return body


def lift(fmt: Version, op_id: str, params: dict[str, Any]) -> None:
    """Lift an older SDK's request parameters for ``op_id`` to the native shape, in place."""
    fns = chain(fmt).requests.get(op_id)
    if fns:
        for fn in fns:
            fn(params)


def warning(fmt_text: str, version: str) -> str:
    """Appwrite's ``X-Appwrite-Warning`` for a request naming a format newer than the server."""
    return (
        f"The current SDK is built for Appwrite {fmt_text}. However, the current Appwrite server version is "
        f"{version}. Please downgrade your SDK to match the Appwrite version: https://appwrite.io/docs/sdks"
    )
