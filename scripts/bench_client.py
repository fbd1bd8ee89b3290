"""Client benchmark: what applying one protocol-2 patch costs the Python client.

A buyer's and a supplier's view of an open auction (6 products x 10 suppliers, every supplier
bidding, as ``bench_domain.py`` builds it), bounded as in protocol 2 (no ``history``, no
``server_time``). For each of a few hundred bids, the patch from the view before the bid to the
view after it (made by diffing with ``jsonpatch.make_patch``: the server makes its patches from
the parts a command touched, of about the same size). Then, per patch, medians of:

- ``auctionactors.client.patch.apply``: the client's copy-on-write applier (every update keeps its
  own view, unchanged subtrees shared);
- ``jsonpatch`` in place, plus the copy of the view each update needs so that an update already
  handed out keeps the view as it was at its seq (a msgspec round trip, the cheapest deep copy);
- ``jsonpatch`` in place alone (a single shared view: not enough for the client, for reference);
- ``jsonpatch`` not in place (it deep-copies the view).

Run ``.venv/bin/python scripts/bench_client.py`` (seconds; needs ``jsonpatch``, a test
dependency). Figures describe this machine only; the ratios to the client's applier are the point.
The budget: at the issue's target of 1,680 bids/s with 10 subscribed bidders in one process,
that process applies 16,800 patches/s, so one patch must cost well under 60 us.
"""

from __future__ import annotations

import argparse
import copy
import gc
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jsonpatch  # type: ignore[import-untyped]
import msgspec
from bench_domain import _apply, _request, build, non_split, supplier

from auctionactors.client.patch import apply
from auctionactors.domain.access import Viewer
from auctionactors.domain.views import view
from auctionactors.gateway import protocol

PRODUCTS, SUPPLIERS = 6, 10


def bounded(doc: dict[str, Any]) -> dict[str, Any]:
    """The view as protocol 2 sends it: public (strings), no history, no server_time."""
    public: dict[str, Any] = msgspec.json.decode(protocol.update("a", 0, [], doc))["view"]
    public.pop("server_time", None)
    for product in public["products"]:
        product.pop("history", None)
    return public


def frames(viewer: Viewer, bids: int, seed: int = 7) -> list[tuple[dict[str, Any], list[Any]]]:
    """(view before, patch) for ``bids`` consecutive bids."""
    rng = random.Random(seed)
    state = build(PRODUCTS, SUPPLIERS, rng, "realistic")
    ids = list(state.products)
    now = state.seq * 1_000_000
    out = []
    before = view(state, viewer, now)
    assert before is not None
    for n in range(bids):
        i = n % SUPPLIERS
        caller = supplier(i)
        mine = [p for p in ids if caller.company_id in state.live.get(p, {})]
        command = _request(caller, [mine[n % len(mine)]], rng, allow_split=not non_split("", i))
        state = _apply(state, command, now + n)
        after = view(state, viewer, now + n)
        assert after is not None
        old, new = bounded(before), bounded(after)
        out.append((old, jsonpatch.make_patch(old, new).patch))
        before = after
    return out


def timed(run: Callable[[dict[str, Any], list[Any]], Any], cases: list[Any]) -> float:
    """Median microseconds of ``run(view, patch)`` over the cases (each on a fresh copy)."""
    times = []
    gc.disable()
    try:
        for doc, patch in cases:
            doc = copy.deepcopy(doc)
            t0 = time.perf_counter_ns()
            run(doc, patch)
            times.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    return statistics.median(times) / 1000


def snapshot(doc: dict[str, Any], patch: list[Any]) -> Any:
    jsonpatch.apply_patch(doc, patch, in_place=True)
    return msgspec.json.decode(msgspec.json.encode(doc))


MEASURES: dict[str, Callable[[dict[str, Any], list[Any]], Any]] = {
    "client.patch.apply (copy-on-write)": apply,
    "jsonpatch in place + copy per update": snapshot,
    "jsonpatch in place, shared view": lambda d, p: jsonpatch.apply_patch(d, p, in_place=True),
    "jsonpatch not in place": lambda d, p: jsonpatch.apply_patch(d, p),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=int, default=300, help="patches per receiver")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]} on {platform.machine()}, "
          f"{PRODUCTS} products x {SUPPLIERS} suppliers, {args.bids} bids, medians")  # fmt: skip
    for name, viewer in (
        ("buyer", Viewer("buyer", "buyer")),
        ("supplier", Viewer("s3", "supplier")),
    ):
        cases = frames(viewer, args.bids)
        for doc, patch in cases[:20]:  # the applier is right before it is timed
            assert apply(doc, patch) == jsonpatch.apply_patch(doc, patch)
        view_b = statistics.median(len(msgspec.json.encode(d)) for d, _ in cases)
        patch_b = statistics.median(len(msgspec.json.encode(p)) for _, p in cases)
        ops = statistics.median(len(p) for _, p in cases)
        print(f"\n{name}: view {view_b:.0f} B, patch {patch_b:.0f} B ({ops:.0f} operations)")
        base = timed(apply, cases)
        for label, run in MEASURES.items():
            us = timed(run, cases)
            print(f"  {label:<38} {us:8.1f} us  {us / base:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
