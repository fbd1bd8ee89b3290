"""Domain benchmark: the cost of one bid in the pure domain, as the book and the field grow.

For 1, 6 and 12 products x 5, 10 and 30 suppliers it measures, per bid on a realistic open
auction, the time to decide it and fold its events (``decide`` + ``evolve``: validation, the
auto-bids it triggers, the soft close) and the time to recompute the solutions
(``solutions.compute``: best overall under ``allow_split``, best single supplier, by supplier),
which every view after the bid needs. The book: every supplier has a live bid on its products,
one in four bids by auto-bid, one supplier in three does not allow a split, and one in two of
those bids on only part of the products (so that the best-overall search has groups to combine).

A second, *fragmented* book is the hard case for the best-overall search: every supplier refuses
a split and bids on one or two of 12 products only, so there are many groups to combine; it is
printed for information (growth in suppliers), not held to the 1 ms target.

Run ``.venv/bin/python scripts/bench_domain.py`` (about half a minute) or with ``--quick``
(seconds). The target: decide + recompute under 1 ms per bid at 6 products x 10 suppliers, and
growth in suppliers no worse than polynomial (the log-log slope of the time against the number
of suppliers is printed: 1 = linear, 2 = quadratic). Absolute figures describe this machine
only, so every row is also printed as a ratio to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass

from harness import Column, Table, ratio

from auctionactors.domain.commands import BidRequest, CreateAuction, PlaceBids
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.solutions import compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND

PRODUCTS = (1, 6, 12)
SUPPLIERS = (5, 10, 30)
TARGET_US = 1000.0  # decide + recompute, per bid, at 6 products x 10 suppliers
TARGET_AT = (6, 10)
MAX_SLOPE = 3.0  # growth in suppliers at most cubic counts as polynomial here
T0 = 1_900_000_000 * SECOND
ADMIN = Caller("u-admin", "platform", "admin")


@dataclass
class Row:
    products: int
    suppliers: int
    decide_us: float
    compute_us: float
    total_us: float
    triggered: float  # auto-bid re-entries per bid


def supplier(i: int) -> Caller:
    return Caller(f"u-s{i}", f"s{i}", "supplier")


def non_split(book: str, i: int) -> bool:
    return book == "fragmented" or i % 3 == 0


def build(products: int, suppliers: int, rng: random.Random, book: str) -> AuctionState:
    """An open auction where every supplier has bid: its products, its split flag, some
    auto-bids; amounts around 600.00 USD/MT on a 0.25 tick."""
    terms = AuctionTerms(
        port="Rotterdam",
        buyer=Party("buyer", "Buyer"),
        suppliers=tuple(Party(f"s{i}", f"Supplier {i}") for i in range(suppliers)),
        scheduled_start=T0,
        duration_s=10 * 3600,  # long enough that the benchmark never reaches the end
        products=tuple(
            ProductSpec(
                vessel=Vessel(f"Vessel {n}", f"{9_300_000 + n}"),
                fuel="VLSFO",
                quantity_mt=500 + 100 * n,
                eta=T0 + 24 * 3600 * SECOND,
            )
            for n in range(products)
        ),
    )
    now = T0
    state = None
    for event in decide(None, CreateAuction(by=ADMIN, auction_id="bench", terms=terms), now):
        state = evolve(state, event)
    assert state is not None and state.status == "open"
    ids = list(state.products)
    for i in range(suppliers):
        mine = ids
        if book == "fragmented":
            mine = sorted(rng.sample(ids, rng.randint(1, min(2, len(ids)))))
        elif non_split(book, i) and i % 2 == 1 and len(ids) > 1:
            mine = sorted(rng.sample(ids, rng.randint(1, len(ids) - 1)))
        now += SECOND
        command = _request(supplier(i), mine, rng, allow_split=not non_split(book, i))
        state = _apply(state, command, now)
    return state


def _request(
    caller: Caller, product_ids: list[str], rng: random.Random, *, allow_split: bool
) -> PlaceBids:
    bids = []
    for product_id in product_ids:
        amount = 25 * rng.randint(2200, 2600)  # 550.00 .. 650.00
        floor = amount - 25 * rng.randint(40, 200) if rng.random() < 0.25 else None
        bids.append(
            BidRequest(
                product_id=product_id, amount=amount, min_amount=floor, allow_split=allow_split
            )
        )
    return PlaceBids(by=caller, bids=tuple(bids))


def _apply(state: AuctionState, command: PlaceBids, now: int) -> AuctionState:
    for event in decide(state, command, now):
        state = evolve(state, event)
    return state


def measure(
    products: int, suppliers: int, bids: int, book: str = "realistic", seed: int = 7
) -> Row:
    rng = random.Random(seed)
    state = build(products, suppliers, rng, book)
    ids = list(state.products)
    # The bids to time, prepared beforehand: a supplier re-bids one product it already bid on
    # (same split flag), sometimes as an auto-bid.
    commands = []
    for n in range(bids):
        i = n % suppliers
        caller = supplier(i)
        mine = [p for p in ids if caller.company_id in state.live.get(p, {})]
        request = _request(caller, [mine[n % len(mine)]], rng, allow_split=not non_split(book, i))
        commands.append(request)
    now = T0 + 3600 * SECOND
    decide_ns: list[int] = []
    compute_ns: list[int] = []
    triggered = 0
    gc.collect()
    gc.disable()
    try:
        for command in commands:
            now += 1000  # a millisecond apart
            t0 = time.perf_counter_ns()
            events = decide(state, command, now)
            for event in events:
                state = evolve(state, event)
            t1 = time.perf_counter_ns()
            compute(state)
            t2 = time.perf_counter_ns()
            decide_ns.append(t1 - t0)
            compute_ns.append(t2 - t1)
            triggered += sum(1 for e in events if type(e).__name__ == "AutoBidTriggered")
    finally:
        gc.enable()
    d = statistics.median(decide_ns) / 1000
    c = statistics.median(compute_ns) / 1000
    total = statistics.median(a + b for a, b in zip(decide_ns, compute_ns, strict=True)) / 1000
    return Row(products, suppliers, d, c, total, triggered / bids)


ROWS = Table(
    Column("products", 8), Column("suppliers", 9), Column("decide+evolve", 14, ".1f", unit=" us"),
    Column("solutions", 10, ".1f", unit=" us"), Column("both", 9, ".1f", unit=" us"),
    Column("x baseline", 10, ".1f", unit="x"), Column("re-entries", 10, ".2f"),
)  # fmt: skip


def slope(a: Row, b: Row) -> float:
    """The log-log slope of the total time between two supplier counts."""
    return math.log(b.total_us / a.total_us) / math.log(b.suppliers / a.suppliers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' run")
    parser.add_argument("--bids", type=int, help="bids timed per configuration")
    args = parser.parse_args(argv)
    bids = args.bids or (150 if args.quick else 1500)
    print(f"Python {sys.version.split()[0]} on {platform.machine()}, {bids} bids per row, medians")
    rows = {(p, s): measure(p, s, bids) for p in PRODUCTS for s in SUPPLIERS}
    base = rows[(PRODUCTS[0], SUPPLIERS[0])]
    print()
    header = ROWS.head()
    print(header)
    print("-" * len(header))
    for row in rows.values():
        print(ROWS.row(row.products, row.suppliers, row.decide_us, row.compute_us, row.total_us,
                       ratio(row.total_us, base.total_us), row.triggered))  # fmt: skip
    print(f"(baseline: {PRODUCTS[0]} product x {SUPPLIERS[0]} suppliers; re-entries: auto-bids")
    print(" triggered per bid)")
    print()
    print("growth in suppliers (both): ratio 10/5, 30/10, and the log-log slope 10 -> 30")
    worst = 0.0
    for p in PRODUCTS:
        r5, r10, r30 = (rows[(p, s)] for s in SUPPLIERS)
        k = slope(r10, r30)
        worst = max(worst, k)
        print(
            f"  {p:>2} products: {ratio(r10.total_us, r5.total_us):5.2f}x  "
            f"{ratio(r30.total_us, r10.total_us):5.2f}x  slope {k:4.2f}"
        )
    print()
    print("fragmented book (every supplier non-split on 1-2 of 12 products), solutions only:")
    frag = [measure(12, s, max(bids // 5, 20), "fragmented") for s in (*SUPPLIERS, 60)]
    for row in frag:
        print(f"  {row.suppliers:>2} suppliers: {row.compute_us:>9.1f} us")
    print(
        "  slope 10 -> 30: "
        f"{math.log(frag[2].compute_us / frag[1].compute_us) / math.log(3):.2f}, 30 -> 60: "
        f"{math.log(frag[3].compute_us / frag[2].compute_us) / math.log(2):.2f}"
    )
    at = rows[TARGET_AT]
    fast = at.total_us < TARGET_US
    polynomial = worst <= MAX_SLOPE
    print()
    print(
        f"target: {at.total_us:.0f} us per bid at {TARGET_AT[0]} products x {TARGET_AT[1]} "
        f"suppliers (< {TARGET_US:.0f} us): {'OK' if fast else 'FAILED'}"
    )
    print(
        f"target: growth in suppliers, worst slope {worst:.2f} (<= {MAX_SLOPE:.0f}, polynomial): "
        f"{'OK' if polynomial else 'FAILED'}"
    )
    return 0 if fast and polynomial else 1


if __name__ == "__main__":
    raise SystemExit(main())
