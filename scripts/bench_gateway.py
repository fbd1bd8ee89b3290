"""Issue 11's targets ("The wire at scale"), each figure min/median/max of ``--runs`` runs beside
its target, with ratios against baselines measured in the same run; nothing is asserted (the
table says ``ok`` or ``MISSED`` for the median of each figure that has a target).

    .venv/bin/python scripts/bench_gateway.py                      # every part, 3 runs: ~14 min
    .venv/bin/python scripts/bench_gateway.py --quick              # every part, small: ~1.5 min
    .venv/bin/python scripts/bench_gateway.py --only burst,latency --runs 1 --watchers 100

Parts (``--only``), each in its module, all on `harness` (servers, clients, tables, figures):

- ``subscribed`` (`bench_subscribed`): 10 bidders subscribed to the auction they bid on, closed
  loop over the wire, protocol 2, for ``--seconds`` (60): acked bids/s against a bare
  ``websockets`` echo server with the same 10 clients, and the last 10 s against the first;
- ``aged`` (`bench_subscribed`): an auction with ``--aged-bids`` (100k) bids: the largest update
  frame a bid sends to a receiver, and the server's CPU time per bid against a fresh auction's;
- ``listing`` (`bench_listing`): ``--auctions`` (100k) auctions: ``list_auctions`` first pages
  and every later page (cursors), p50/p99;
- ``subscribe_all`` (`bench_subscribe_all`): the admin's ``subscribe_all`` on those auctions
  (protocol 2, default statuses: every initial update in <= 1 s), read slowly too (never closed
  1013), and protocol 1 for reference;
- ``history`` (`bench_history`): another client's ``get_view`` p99 while connections pull a
  ``--events`` (100k) event auction's history, protocol 2 then 1, against no puller;
- ``burst`` (`bench_fanout`): burst fan-out to 10, 100, 1000 watchers against a bare
  ``websockets`` broadcast, watchers on protocol 2, then 1 for reference;
- ``latency`` (`bench_fanout`): update p99 against the bare broadcast's at 100 watchers x 100
  bids/s and 1000 x 20 bids/s, on each of ``--loops`` (asyncio and uvloop).

``--repo PATH`` serves with another checkout's code (for the figures before a change).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_fanout
import bench_history
import bench_listing
import bench_subscribe_all
import bench_subscribed
import harness
from harness import Figures, workdir

Part = Callable[[Figures, Path, argparse.Namespace], None]
PARTS: dict[str, Part] = {
    **bench_subscribed.PARTS, **bench_listing.PARTS, **bench_subscribe_all.PARTS,
    **bench_history.PARTS, **bench_fanout.PARTS,
}  # fmt: skip
ORDER = ("subscribed", "aged", "listing", "subscribe_all", "history", "burst", "latency")
assert set(ORDER) == set(PARTS)

# Options whose default depends on --quick: (full, quick).
SIZES: dict[str, tuple[Any, Any]] = {
    "seconds": (60.0, 3.0),
    "aged_bids": (100_000, 5_000),
    "aged_sample": (500, 100),
    "auctions": (100_000, 2_000),
    "first_pages": (100, 20),
    "slow_seconds": (10.0, 1.0),
    "events": (100_000, 5_000),
    "history_seconds": (5.0, 1.0),
    "watchers": ("10,100,1000", "10,100,1000"),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(ORDER), help=f"parts, comma-separated: {ORDER}")
    p.add_argument("--runs", type=int, default=None, help="runs of each part (3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="every part small, one run: ~1.5 min")
    p.add_argument("--seconds", type=float, help="subscribed: seconds of bidding (60)")
    p.add_argument("--aged-bids", type=int, help="aged: bids of the aged auction (100k)")
    p.add_argument("--aged-sample", type=int, help="aged: bids measured on each auction (500)")
    p.add_argument("--auctions", type=int, help="listing, subscribe_all: auctions (100k)")
    p.add_argument(
        "--open-every", type=int, default=100, help="listing, subscribe_all: 1 in N open"
    )
    p.add_argument("--first-pages", type=int, help="listing: first pages asked for (100)")
    p.add_argument("--pace", type=float, default=1.0, help="subscribe_all: slow reader, MB/s")
    p.add_argument("--slow-seconds", type=float, help="subscribe_all: p1 slow reader window (10)")
    p.add_argument("--events", type=int, help="history: events of the long auction (100k)")
    p.add_argument("--history-seconds", type=float, help="history: probe time per run (5)")
    p.add_argument("--connections", type=int, default=3, help="history: pulling connections")
    p.add_argument("--rate", type=float, default=200.0, help="history: get_view requests/s")
    p.add_argument("--watchers", help="burst, latency: watcher counts (10,100,1000)")
    p.add_argument(
        "--loops",
        default="auto",
        help="latency: server loops (asyncio,uvloop if installed); burst: the first",
    )
    p.add_argument(
        "--profile",
        metavar="PATH",
        help="burst, latency: the server under cProfile, stats to PATH.LOOP.pN",
    )
    p.add_argument("--repo", type=Path, default=harness.REPO, help="the checkout whose server runs")
    args = p.parse_args(argv)  # fmt: skip
    args.only = [part for part in args.only.split(",") if part]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.watchers = [int(n) for n in str(args.watchers).split(",")]
    if args.loops == "auto":
        args.loops = ["asyncio", "uvloop"] if harness.has_uvloop() else ["asyncio"]
    else:
        args.loops = args.loops.split(",")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    harness.use_checkout(args.repo)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    head = subprocess.run(["git", "-C", str(harness.REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    print(f"bench_gateway: server of {harness.REPO} ({head}); {os.cpu_count()} CPUs; fd limit "
          f"{hard}; Python {sys.version.split()[0]}; load average {_load()}; parts "
          f"{','.join(args.only)}; {args.runs} run(s) each", flush=True)  # fmt: skip
    figs = Figures()
    with workdir("bench-gateway-") as tmp:
        for part in ORDER:
            if part not in args.only:
                continue
            print(f"-- {part}", flush=True)
            figs.section(part)
            started = time.perf_counter()
            folder = tmp / part
            folder.mkdir()
            PARTS[part](figs, folder, args)
            print(f"  {part} done in {time.perf_counter() - started:.1f} s; load average "
                  f"{_load()}", flush=True)  # fmt: skip
    figs.print()
    verdicts = figs.verdicts()
    print(f"\n{verdicts.count(True)} of {len(verdicts)} targets met (on the median of "
          f"{args.runs} run(s)); load average at the end {_load()}")  # fmt: skip
    return 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
