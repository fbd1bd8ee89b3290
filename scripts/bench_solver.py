"""Best-overall benchmark: the runtime's solver (HiGHS off the loop) against today's domain search.

The worst case for the best-overall search is every supplier refusing a split, each on its own
set of products: many groups to combine, no single to fall back on. For 12 products x 60
suppliers, 20 x 18 (where today's search takes seconds) and 20 x 100 (the limits of an
auction), and for eight shapes of such books (random sets of 1 to `products` products; single
products and sets of 1 or 2, the worst for today's search, whose disjoint unions reach every set
of products; pairs; sets of 3 and of 4: exact covers; sets of 4 to 6, alone and with one
supplier splitting on every product: the hardest found for the MILP),
it builds real auction states through `decide`/`evolve`, then times, per computation of the
solutions:

* **today**: `solutions.compute(state)` (the pure dynamic programme), on the event loop; it is
  skipped when its work bound (`combination.work`) exceeds `--max-work` steps, and the bound is
  printed instead;
* **solver**: `await runtime.solver.solutions(state)` (the MILP in the solver thread when the
  problem is big), with a ticker task on the loop that records the loop's longest stall (the
  largest lateness of a 1 ms sleep) while the solves run.

Every figure is min / median / max over 3 instances (seeds) of the shape; the solver's answer is
checked against today's wherever today's ran (same key). Targets, printed, never asserted: at
12 x 60, <= 50 ms per computation and a loop stall <= 50 ms.

Then, through the runtime (``--actors`` alone): the same 12 x 60 books placed with real commands
on a `Supervisor` (memory store, manual clock) with the gateway's `Hub` and one subscribed
connection, and a second, small auction. Once the book is built, its last bids are placed while
a task keeps asking the small auction (one bid after another): per big command, the time to its
reply (solve, append, publish); the small auction's slowest reply meanwhile; and the loop's
longest stall. It uses only what the runtime had before the actor kept the solutions, so the
same script measures the code before that (run it with that checkout first on ``PYTHONPATH``).

Run ``.venv/bin/python scripts/bench_solver.py`` (10 to 30 s) or ``--quick`` (12 x 60 only).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import platform
import random
import statistics
import sys
import time
from typing import Any

import msgspec

from auctionactors.domain import combination
from auctionactors.domain.commands import AnyCommand, BidRequest, CreateAuction, PlaceBids
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.solutions import Solutions, compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND
from auctionactors.gateway.hub import Hub, Peer
from auctionactors.runtime import solver
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor, SupervisorConfig
from auctionactors.store.base import Principal
from auctionactors.store.memory import MemoryEventStore

T0 = 1_900_000_000 * SECOND
ADMIN = Caller("u-admin", "platform", "admin")
SIZES = ((12, 60), (20, 18), (20, 100))
SHAPES = ("1..n", "1", "1..2", "2", "3", "4", "4..6", "4..6+s")
TARGET_MS = 50.0


def build(products: int, suppliers: int, shape: str, seed: int) -> AuctionState:
    """An open auction where every supplier bids all-or-nothing on its own set of products."""
    state = None
    for i, command in enumerate(commands(products, suppliers, shape, seed)):
        for event in decide(state, command, T0 + i * SECOND):  # as the supplier's index
            state = evolve(state, event)
    assert state is not None
    return state


def commands(products: int, suppliers: int, shape: str, seed: int) -> list[AnyCommand]:
    """The creation of the auction, then each supplier's bids (`build`)."""
    rng = random.Random(seed)
    terms = AuctionTerms(
        port="Rotterdam",
        buyer=Party("buyer", "Buyer"),
        suppliers=tuple(Party(f"s{i}", f"Supplier {i}") for i in range(suppliers)),
        scheduled_start=T0,
        duration_s=10 * 3600,
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
    out: list[AnyCommand] = [CreateAuction(by=ADMIN, auction_id="bench", terms=terms)]
    ids = [f"p{n + 1}" for n in range(products)]
    splitter = shape.endswith("+s")  # the last supplier splits, on every product
    shape = shape.removesuffix("+s")
    low, _, high = shape.partition("..")
    top = products if high == "n" else int(high or low)
    if sum(math.comb(products, k) for k in range(int(low), top + 1)) < suppliers:
        raise ValueError(f"fewer than {suppliers} sets of {shape} of {products} products")
    seen: set[frozenset[str]] = set()
    for i in range(suppliers):
        split = splitter and i == suppliers - 1
        mine = frozenset(ids if split else rng.sample(ids, _size(shape, products, rng)))
        while mine in seen:
            mine = frozenset(rng.sample(ids, _size(shape, products, rng)))
        seen.add(mine)
        command = PlaceBids(
            by=Caller(f"u-s{i}", f"s{i}", "supplier"),
            bids=tuple(
                BidRequest(product_id=p, amount=25 * rng.randint(2200, 2700), allow_split=split)
                for p in sorted(mine)
            ),
        )
        out.append(command)
    return out


def _size(shape: str, products: int, rng: random.Random) -> int:
    low, _, high = shape.partition("..")
    return rng.randint(int(low), products if high == "n" else int(high or low))


async def stall_while(work: asyncio.Future[Any]) -> float:
    """The loop's longest stall (seconds) while ``work`` runs: the lateness of 1 ms sleeps."""
    worst = 0.0
    while not work.done():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - before - 0.001)
    return worst


async def solve_all(states: list[AuctionState]) -> tuple[list[float], list[Solutions]]:
    times: list[float] = []
    results: list[Solutions] = []
    for state in states:
        started = time.perf_counter()
        results.append(await solver.solutions(state))
        times.append(time.perf_counter() - started)
    return times, results


def figures(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{min(ms):7.1f} {statistics.median(ms):7.1f} {max(ms):7.1f}"


async def run(products: int, suppliers: int, shape: str, max_work: int) -> dict[str, str]:
    states = [build(products, suppliers, shape, seed) for seed in range(3)]
    problems = [combination.problem_of(s) for s in states]
    work = max(combination.work(p) for p in problems if p is not None)
    # Today's: the domain search on the loop (it blocks the loop for its whole time).
    today: list[float] = []
    expected: list[Solutions] = []
    if work <= max_work:
        for state in states:
            started = time.perf_counter()
            expected.append(compute(state))
            today.append(time.perf_counter() - started)
    await solver.best_overall(problems[0])  # type: ignore[arg-type]  # warm the thread, HiGHS
    task = asyncio.ensure_future(solve_all(states))
    stall = await stall_while(task)
    times, results = task.result()
    for got, want in zip(results, expected, strict=False):
        assert got.best_overall is not None and want.best_overall is not None
        assert got.best_overall.sort_key() == want.best_overall.sort_key(), "solver differs"
    return {
        "today": figures(today) if today else f"skipped: up to {work:.1e} steps",
        "solver": figures(times),
        "stall": f"{stall * 1000:7.1f}",
        "today_stall": f"{max(today) * 1000:7.1f}" if today else "      -",
    }


LAST = 3  # bids of the big auction timed through the runtime, per instance


async def through_actors(products: int, suppliers: int, shape: str, seed: int) -> dict[str, Any]:
    """One instance through the runtime (see the module docstring): the last bids' reply times,
    the small auction's slowest reply meanwhile, the loop's longest stall."""
    clock = ManualClock(T0)
    supervisor = Supervisor(MemoryEventStore(), clock, config=SupervisorConfig(ask_timeout_s=600))
    hub = Hub(supervisor)
    supervisor.subscribers.append(hub)
    await supervisor.start()
    try:
        create, *bids = commands(products, suppliers, shape, seed)
        assert isinstance(create, CreateAuction)
        big = (await supervisor.create_auction(ADMIN, create.terms)).fields["auction_id"]
        small_terms = msgspec.structs.replace(
            create.terms, suppliers=create.terms.suppliers[:1], products=create.terms.products[:1]
        )
        small = (await supervisor.create_auction(ADMIN, small_terms)).fields["auction_id"]
        buyer = Principal("u-buyer", "Buyer", "buyer", "Buyer", "buyer")
        peer = Peer(buyer, capacity=1_000_000)
        await hub.subscribe(peer, big, None, None)
        for command in bids[:-LAST]:
            await supervisor.ask(big, command)
        done = asyncio.Event()
        small_worst = 0.0
        small_count = 0

        async def other() -> None:  # the small auction, asked one bid after another
            nonlocal small_worst, small_count
            s0 = Caller("u-s0", "s0", "supplier")
            while not done.is_set():
                amount = 25 * (4000 - small_count)
                started = time.perf_counter()
                await supervisor.ask(
                    small, PlaceBids(by=s0, bids=(BidRequest(product_id="p1", amount=amount),))
                )
                small_worst = max(small_worst, time.perf_counter() - started)
                small_count += 1

        times: list[float] = []

        async def last() -> None:
            for command in bids[-LAST:]:
                started = time.perf_counter()
                await supervisor.ask(big, command)
                times.append(time.perf_counter() - started)
            done.set()

        other_task = asyncio.ensure_future(other())
        work = asyncio.ensure_future(last())
        stall = await stall_while(work)
        await work
        await other_task
        return {"times": times, "small": small_worst, "count": small_count, "stall": stall}
    finally:
        await supervisor.stop()


async def actors_section() -> None:
    print()
    print("through the runtime: 12 x 60, the last 3 bids of each of 3 instances; ms, min / median")
    print("/ max of the big bids' replies; worst reply of the small auction meanwhile (and how")
    print("many it got); the loop's longest stall")
    header = f"{'shape':>6} | {'big bid reply':>23} | {'small (n)':>15} | {'stall':>7}"
    print(header)
    print("-" * len(header))
    for shape in SHAPES:
        if shape == "1":
            continue  # only 12 sets of 1 of 12 products
        rows = [await through_actors(12, 60, shape, seed) for seed in range(3)]
        times = [t for r in rows for t in r["times"]]
        small = max(r["small"] for r in rows) * 1000
        count = sum(r["count"] for r in rows)
        stall = max(r["stall"] for r in rows) * 1000
        print(
            f"{shape:>6} | {figures(times):>23} | {small:7.1f} ({count:>4}) | {stall:7.1f}",
            flush=True,
        )


async def main_async(quick: bool, max_work: int) -> None:
    print(f"Python {sys.version.split()[0]} on {platform.machine()}; ms, min / median / max of 3")
    header = (
        f"{'size':>8} {'sets':>5} | {'today (loop)':>23} {'stall':>7} | "
        f"{'solver (off loop)':>23} {'stall':>7}"
    )
    print(header)
    print("-" * len(header))
    target: list[str] = []
    for products, suppliers in SIZES[:1] if quick else SIZES:
        for shape in SHAPES:
            try:
                row = await run(products, suppliers, shape, max_work)
            except ValueError:
                continue  # too few distinct sets of that shape
            print(
                f"{products:>3} x{suppliers:>3} {shape:>5} | {row['today']:>23} "
                f"{row['today_stall']} | {row['solver']:>23} {row['stall']}",
                flush=True,
            )
            if (products, suppliers) == (12, 60):
                worst = float(row["solver"].split()[-1])
                target.append(f"{shape}: {worst:.1f} ms, stall {float(row['stall']):.1f} ms")
    print()
    print(f"target at 12 x 60 (<= {TARGET_MS:.0f} ms per computation and per stall), worst:")
    for line in target:
        print(f"  {line}")
    await actors_section()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 x 60 only")
    parser.add_argument("--actors", action="store_true", help="only through the runtime")
    parser.add_argument(
        "--max-work", type=int, default=5_000_000, help="skip today's search above this bound"
    )
    args = parser.parse_args(argv)
    asyncio.run(actors_section() if args.actors else main_async(args.quick, args.max_work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
