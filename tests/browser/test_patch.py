"""The page's JSON Patch applier (``static/patch.js``), run in the browser on the same cases as
the Python client's (the RFC's examples, patches that must fail) and on a few hundred random
documents and operations: the page and the Python client agree on every one, and neither ever
changes the document it was given."""

from __future__ import annotations

import copy
import random
from typing import TYPE_CHECKING, Any

from auctionactors.client.patch import PatchError, apply
from tests.client.test_patch import FAILING, RFC_EXAMPLES

from .conftest import Site

if TYPE_CHECKING:
    from playwright.async_api import Browser

RUN = """async (cases) => {
  const { applyPatch } = await import("/static/patch.js");
  return cases.map(([doc, ops]) => {
    const before = JSON.stringify(doc);
    let out;
    try { out = { result: applyPatch(doc, ops) }; } catch (e) { out = { error: e.name }; }
    out.unchanged = JSON.stringify(doc) === before;
    return out;
  });
}"""


def _doc(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.3:
        return [_doc(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 3 and roll < 0.6:
        return {rng.choice(["a", "b", "c/", "~d"]): _doc(rng, depth + 1) for _ in range(3)}
    return rng.choice([None, 0, 1, -2, "x", "", "y~/"])


def _paths(doc: Any, prefix: str = "") -> list[str]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, prefix + "/" + key.replace("~", "~0").replace("/", "~1"))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, f"{prefix}/{i}")
    return out


def random_cases(n: int, seed: int = 11) -> list[tuple[Any, list[dict[str, Any]]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        doc = _doc(rng)
        paths = [*_paths(doc), "/zz", "/0", "/-", "/a/-"]
        ops = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice(["add", "remove", "replace", "move", "copy", "test"])
            op: dict[str, Any] = {"op": name, "path": rng.choice(paths)}
            if name in ("add", "replace", "test"):
                op["value"] = _doc(rng, 2)
            if name in ("move", "copy"):
                op["from"] = rng.choice(paths)
            ops.append(op)
        cases.append((doc, ops))
    return cases


def python_outcome(doc: Any, ops: Any) -> dict[str, Any]:
    before = copy.deepcopy(doc)
    try:
        out: dict[str, Any] = {"result": apply(doc, ops)}
    except PatchError:
        out = {"error": "PatchError"}
    out["unchanged"] = doc == before
    return out


async def test_the_page_applies_patches_as_the_python_client_does(
    site: Site, browser: Browser
) -> None:
    cases: list[tuple[Any, Any]] = [(d, o) for d, o, _ in RFC_EXAMPLES]
    cases += [(d, o) for d, o in FAILING]
    cases += random_cases(400)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(site.url)
    got: list[dict[str, Any]] = await page.evaluate(RUN, cases)
    await context.close()
    expected = [python_outcome(d, o) for d, o in cases]
    assert all(e["unchanged"] for e in expected)
    for case, mine, theirs in zip(cases, got, expected, strict=True):
        assert mine == theirs, case
    failures = sum("error" in e for e in expected)
    assert 50 < failures < len(cases) - 50  # the random cases exercise both outcomes


DESYNC = """async () => {
  const { Model } = await import("/static/model.js");
  const model = new Model();
  const desyncs = [];
  model.addEventListener("desync", (e) => desyncs.push(e.detail.since));
  const view = (seq, amount) => ({ seq, products: [{ bids: [{ amount }] }] });
  const patch = (seq, amount) => ({
    type: "update", auction_id: "a1", seq, events: [],
    patch: [{ op: "replace", path: "/seq", value: seq },
            { op: "replace", path: "/products/0/bids/0/amount", value: amount }],
  });
  const shown = [];
  shown.push(model.apply({ type: "update", auction_id: "a1", seq: 3, events: [],
                           view: view(3, "2.00") }));
  const bad = patch(4, "1.75");
  bad.patch.push({ op: "remove", path: "/nope" });
  shown.push(model.apply(bad));                 // does not apply: resubscribe once
  shown.push(model.apply(patch(5, "1.50")));    // on its way already: dropped, no second one
  shown.push(model.apply({ type: "update", auction_id: "a1", seq: 5, events: [],
                           view: view(5, "1.50") }));
  shown.push(model.apply(patch(6, "1.25")));    // patches apply again
  return { shown, desyncs, amount: model.get("a1").view.products[0].bids[0].amount };
}"""


async def test_the_page_resubscribes_once_for_a_patch_that_does_not_apply(
    site: Site, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(site.url)
    got = await page.evaluate(DESYNC)
    await context.close()
    assert got == {"shown": [True, False, False, True, True], "desyncs": [3], "amount": "1.25"}
