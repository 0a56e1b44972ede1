"""A pytest plugin that runs the conformance suite (written against 15.x's dicts) on a newer SDK line.

``.ci/run`` loads it in ``.sdk/toolkit-27`` (``python -m pytest -p support.newest_sdk tests/server``). Every
answer still goes through the line's own pydantic model first, so a response the newest SDK cannot parse
fails the test; the test then gets the JSON the server sent, as 15.x hands it over. Requests are the newest
line's own: its paths, parameter encodings and ``X-Appwrite-Response-Format``. The one enum the suite imports
that the line renamed (``IndexType``, per service since 22.x) is aliased; Health, gone from 22.x on, is not
(``.ci/run`` leaves its module out). The tests that hold 1.8.0's shapes or 15.x's signatures are skipped, each
with its reason (``pytest -ra`` lists them).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

import appwrite.service
import pytest

# Tests of the suite that check what only 15.x or the 1.8.0 format has (node id -> why).
OLDEST_LINE_ONLY = {
    "tests/server/test_tablesdb.py::test_row_crud_and_shape": "asserts 1.8.0's integer $sequence (a string from 1.9.0)",
    "tests/server/test_functions.py::test_sync_and_async_executions": "asserts 1.8.0's functionId (2.0.0: resourceId)",
    "tests/server/test_functions.py::test_variables_precedence_and_secrets": "reads 15.x's Client._global_headers",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        why = OLDEST_LINE_ONLY.get(item.nodeid)
        if why is not None:
            item.add_marker(pytest.mark.skip(reason=f"on the oldest line only: {why}"))


def _parse_then_keep_json(self: Any, response: Any, model: Any = None) -> Any:
    """The line's parse (which raises on an answer its model rejects), then the answer itself."""
    _PARSE(self, response, model=model)
    return response


def _keeping_json(with_data: Any) -> Any:
    """A row or document model's ``with_data`` (rows parse through it, not ``_parse_response``), kept likewise."""

    def parse(data: Any, model_type: Any = dict) -> Any:
        with_data(data, model_type)
        return data

    return staticmethod(parse)


_PARSE = getattr(appwrite.service.Service, "_parse_response", None)
if _PARSE is not None:  # 17.x and later: models; older lines hand over the JSON anyway
    import appwrite.models

    appwrite.service.Service._parse_response = _parse_then_keep_json  # type: ignore[attr-defined]
    for _name in dir(appwrite.models):
        _model = getattr(appwrite.models, _name)
        if isinstance(_model, type) and "with_data" in vars(_model):
            _model.with_data = _keeping_json(_model.with_data)

if importlib.util.find_spec("appwrite.enums.index_type") is None:
    from appwrite.enums.tables_db_index_type import TablesDBIndexType  # the same values as the legacy API's

    _alias = types.ModuleType("appwrite.enums.index_type")
    _alias.IndexType = TablesDBIndexType  # type: ignore[attr-defined]
    sys.modules[_alias.__name__] = _alias
