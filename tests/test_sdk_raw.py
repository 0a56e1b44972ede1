"""quixotic.sdk.raw on literals: a list page cut into its items' own texts, a bulk answer's count."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quixotic.sdk.raw import ListPage, RawJson, reply_total, split_list


def _raw(value: Any, **dumps: Any) -> RawJson:
    return RawJson(json.dumps(value, **dumps).encode())


def _lines(block: bytes) -> list[Any]:
    """NDJSON lines as a restore reads them (split at b"\\n" only: U+0085 or U+2028 in a string is no break)."""
    assert block.endswith(b"\n") or not block
    return [json.loads(line) for line in block.split(b"\n")[:-1]]


def _check(page: ListPage, rows: list[dict[str, Any]]) -> None:
    assert page.items == rows
    assert page.lines is not None
    assert _lines(page.lines) == rows


def test_a_compact_page_keeps_each_row_as_sent() -> None:
    body = b'{"total":2,"rows":[{"$id":"a","n":1},{"$id":"b","s":"x, ]}"}]}'
    page = split_list(RawJson(body), "rows")
    assert page.lines == b'{"$id":"a","n":1}\n{"$id":"b","s":"x, ]}"}\n'  # the server's bytes, not re-encoded
    assert page.fields == {"total": 2}
    assert page.items == [{"$id": "a", "n": 1}, {"$id": "b", "s": "x, ]}"}]


def test_spaces_between_tokens_and_the_list_anywhere_in_the_object() -> None:
    rows = [{"$id": "a", "t": 'é "q" \\n'}, {"$id": "b", "nested": {"rows": [1, 2]}}]
    for body in (
        _raw({"rows": rows, "total": 2}),
        _raw({"total": 2, "rows": rows}, separators=(" , ", " : ")),
        RawJson(b"  { \"total\" : 2 , \"rows\" : [ " + json.dumps(rows[0]).encode() + b" ,\t"
                + json.dumps(rows[1]).encode() + b" ] }  "),
    ):  # fmt: skip
        page = split_list(body, "rows")
        _check(page, rows)
        assert page.fields == {"total": 2}


def test_a_pretty_printed_answer_has_its_rows_but_no_lines() -> None:
    rows = [{"$id": "a"}, {"$id": "b"}]
    page = split_list(_raw({"total": 2, "rows": rows}, indent=2), "rows")
    assert page.items == rows and page.lines is None


def test_an_empty_page() -> None:
    page = split_list(RawJson(b'{"total":0,"rows":[]}'), "rows")
    assert page.items == [] and page.lines == b""
    assert split_list(RawJson(b'{"rows":[ ]}'), "rows").items == []


def test_an_answer_the_sdk_parsed_already_is_taken_as_it_is() -> None:
    page = split_list({"total": 1, "rows": [{"$id": "a"}]}, "rows")
    assert page == ListPage([{"$id": "a"}], None, {"total": 1})


@pytest.mark.parametrize(
    "body",
    [
        b'{"total":1}',  # no list
        b'{"rows":{"$id":"a"}}',  # not a list
        b'{"rows":[1,2]}',  # items that are no rows
        b'{"rows":[{"$id":"a"},',  # cut short
        b'{"rows":[{"$id":"a"} {"$id":"b"}]}',  # a missing comma
        b"[]",
        b"",
        b"not json",
    ],
)
def test_what_is_no_page_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a list of rows"):
        split_list(RawJson(body), "rows")


def test_a_parsed_answer_without_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="not a list of documents"):
        split_list({"total": 0}, "documents")


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(
    rows=st.lists(st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=4), max_size=6),
    ascii_only=st.booleans(),
    spaced=st.booleans(),
)
def test_any_page_splits_into_its_rows(rows: list[dict[str, Any]], ascii_only: bool, spaced: bool) -> None:
    separators = (", ", ": ") if spaced else (",", ":")
    page = split_list(_raw({"total": len(rows), "rows": rows}, ensure_ascii=ascii_only, separators=separators), "rows")
    assert page.items == json.loads(json.dumps(rows))
    assert page.lines is not None
    assert _lines(page.lines) == page.items


def test_the_count_of_a_bulk_answer() -> None:
    assert reply_total(RawJson(b'{"total":3,"rows":[{"$id":"a"}]}')) == 3  # read from the first bytes
    assert reply_total(RawJson(b'{"rows":[],"total":0}')) == 0  # parsed when it comes later
    assert reply_total({"total": 7, "rows": []}) == 7
    for bad in (RawJson(b'{"rows":[]}'), RawJson(b"{oops"), {"total": True}, {"total": "3"}, []):
        with pytest.raises(ValueError):
            reply_total(bad)


def test_what_the_quick_cut_cannot_trust_is_cut_item_by_item() -> None:
    """A page parsed whole is cut where its items meet (``},{``); where an item holds that itself (in a string,
    in a nested list of objects) or the page has another shape, the scanner cuts it, with the same result."""
    tricky = [
        [{"$id": "a", "s": "x},{y"}, {"$id": "b"}],
        [{"$id": "a", "refs": [{"$id": "r1"}, {"$id": "r2"}]}, {"$id": "b", "refs": []}],
        [{"$id": "a", "s": "}"}, {"$id": "b", "s": "{"}],
        [{"$id": "only"}],
    ]
    for rows in tricky:
        for value in ({"total": len(rows), "rows": rows}, {"rows": rows}, {"rows": rows, "total": len(rows)}):
            page = split_list(_raw(value, separators=(",", ":")), "rows")
            _check(page, rows)
            assert page.fields == {k: v for k, v in value.items() if k != "rows"}


def test_a_page_with_a_field_after_its_list_keeps_the_field_and_cuts_right() -> None:
    body = b'{"total":1,"rows":[{"$id":"a"}],"extra":[{"x":1}]}'
    page = split_list(RawJson(body), "rows")
    _check(page, [{"$id": "a"}])
    assert page.fields == {"total": 1, "extra": [{"x": 1}]}


def test_an_item_that_is_no_object_is_refused_on_either_path() -> None:
    for body in (b'{"total":2,"rows":[{"$id":"a"},3]}', b'{"total":1,"rows":[3]}'):
        with pytest.raises(ValueError, match="not a list of rows"):
            split_list(RawJson(body), "rows")
