"""The client's JSON Patch applier (RFC 6902), copy-on-write: checked on the RFC's examples, on
failures (which change nothing), on sharing, and against the ``jsonpatch`` library on random
documents and patches."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.client.patch import PatchError, apply

RFC_EXAMPLES: list[tuple[Any, list[dict[str, Any]], Any]] = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ({"/": 9}, [{"op": "replace", "path": "/~1", "value": 1}], {"/": 1}),
    ({"a": {"b": [1]}}, [{"op": "copy", "from": "/a/b", "path": "/c"}],
     {"a": {"b": [1]}, "c": [1]}),
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "ops", "expected"), RFC_EXAMPLES)
def test_the_rfc_examples(doc: Any, ops: list[dict[str, Any]], expected: Any) -> None:
    before = copy.deepcopy(doc)
    assert apply(doc, ops) == expected
    assert doc == before  # never in place


FAILING: list[tuple[Any, list[dict[str, Any]]]] = [
    ({"foo": "bar"}, [{"op": "test", "path": "/baz", "value": "qux"}]),
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}]),
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}]),
    ({"foo": "bar"}, [{"op": "remove", "path": "/baz"}]),
    ({"foo": "bar"}, [{"op": "replace", "path": "/baz", "value": 1}]),
    ({"foo": [1]}, [{"op": "add", "path": "/foo/2", "value": 1}]),
    ({"foo": [1]}, [{"op": "remove", "path": "/foo/1"}]),
    ({"foo": [1, 2]}, [{"op": "remove", "path": "/foo/01"}]),
    ({"foo": [1, 2]}, [{"op": "remove", "path": "/foo/-"}]),
    ({"foo": [1]}, [{"op": "replace", "path": "/foo/x", "value": 1}]),
    ({"foo": 1}, [{"op": "test", "path": "/foo", "value": True}]),
    ({"foo": {"a": 1}}, [{"op": "move", "from": "/foo", "path": "/foo/a/b"}]),
    ({"foo": 1}, [{"op": "frobnicate", "path": "/foo"}]),
    ({"foo": 1}, [{"op": "add", "path": "foo", "value": 1}]),
    ({"foo": 1}, [{"op": "add", "path": "/bar"}]),
    ({"foo": 1}, [{"op": "copy", "from": "/nope", "path": "/bar"}]),
    ({"foo": "s"}, [{"op": "add", "path": "/foo/0", "value": 1}]),
    ({"foo": 1}, [["add", "/foo", 1]]),
    ({"foo": 1}, {"op": "add"}),
]


@pytest.mark.parametrize(("doc", "ops"), FAILING)
def test_a_patch_that_does_not_apply_raises_and_changes_nothing(doc: Any, ops: Any) -> None:
    before = copy.deepcopy(doc)
    ops = (
        ops if not isinstance(ops, list) else [{"op": "replace", "path": "/foo", "value": 0}, *ops]
    )
    with pytest.raises(PatchError):
        apply(doc, ops)
    assert doc == before


def test_only_the_path_of_a_change_is_copied() -> None:
    view = {
        "seq": 1,
        "products": [{"product_id": "p1", "bids": [{"a": 1}]}, {"product_id": "p2", "bids": []}],
        "solutions": {"best_overall": {"bid_ids": ["x"]}},
    }
    ops = [
        {"op": "replace", "path": "/seq", "value": 2},
        {"op": "add", "path": "/products/1/bids/0", "value": {"a": 2}},
        {"op": "replace", "path": "/products/1/bids/0/a", "value": 3},
    ]
    new = apply(view, ops)
    assert new["products"][1]["bids"] == [{"a": 3}] and view["products"][1]["bids"] == []
    assert new["products"][0] is view["products"][0]  # untouched: shared
    assert new["solutions"] is view["solutions"]
    assert ops[1]["value"] == {"a": 2}  # the patch's own values are not changed either


json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text("abc/~", max_size=3)
json_docs = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text("ab/~", max_size=2), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_docs, json_docs)
def test_the_diff_of_two_documents_applies_as_jsonpatch_applies_it(a: Any, b: Any) -> None:
    ops = jsonpatch.make_patch(a, b).patch
    before = copy.deepcopy(a)
    assert apply(a, ops) == b == jsonpatch.apply_patch(a, ops)
    assert a == before


def _paths(doc: Any, prefix: str = "") -> list[str]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            token = key.replace("~", "~0").replace("/", "~1")
            out += _paths(value, f"{prefix}/{token}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, f"{prefix}/{i}")
    return out


@st.composite
def doc_and_ops(draw: st.DrawFn) -> tuple[Any, list[dict[str, Any]]]:
    doc = draw(json_docs)
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]))
        path = draw(st.sampled_from([*_paths(doc), "/zz", "/0", "/-"]))
        op: dict[str, Any] = {"op": name, "path": path}
        if name in ("add", "replace", "test"):
            op["value"] = draw(json_scalars.filter(lambda v: not isinstance(v, bool)))
        if name in ("move", "copy"):
            op["from"] = draw(st.sampled_from(_paths(doc)))
        ops.append(op)
    return doc, ops


@settings(max_examples=500, deadline=None)
@given(doc_and_ops())
def test_random_operations_apply_or_fail_as_jsonpatch_does(case: tuple[Any, list[Any]]) -> None:
    doc, ops = case
    before = copy.deepcopy(doc)
    try:
        expected = jsonpatch.apply_patch(doc, ops)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError):
        with pytest.raises(PatchError):
            apply(doc, ops)
    else:
        assert apply(doc, ops) == expected
    assert doc == before
