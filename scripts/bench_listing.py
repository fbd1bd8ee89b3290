"""Part ``listing`` of `bench_gateway` (issue 11's target: 100k auctions, a ``list_auctions``
page in <= 50 ms), against a real ``auctionactors serve`` on a store seeded by `seeding` (1 in
``--open-every`` auctions open, the rest finished). The admin (who sees every auction) asks for
the first page ``--first-pages`` times, then walks every page following ``next_cursor``; each
request's time from sent to reply, on a plain connection in protocol 2.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import harness
import msgspec
import seeding
from harness import Figures, Server, Wire, percentile


async def pages(url: str, token: str, firsts: int) -> tuple[list[float], list[float], int, int]:
    """Latencies (ms) of ``firsts`` first pages and of every later page; auctions listed,
    bytes of a first page."""
    wire = await Wire.open(url, token)
    first: list[float] = []
    for _ in range(firsts):
        t = time.perf_counter()
        reply = await wire.request("list_auctions")
        first.append((time.perf_counter() - t) * 1000)
    size = len(msgspec.json.encode(reply))
    later: list[float] = []
    listed = len(reply["auctions"])
    cursor = reply["next_cursor"]
    while cursor is not None:
        t = time.perf_counter()
        reply = await wire.request("list_auctions", cursor=cursor)
        later.append((time.perf_counter() - t) * 1000)
        listed += len(reply["auctions"])
        cursor = reply["next_cursor"]
    await wire.close()
    return first, later, listed, size


def part_listing(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    db = tmp / "listing.db"
    meta: dict[str, Any] = seeding.seeded_copy(
        db, harness.REPO, harness.PYTHON, args.auctions, args.open_every
    )
    server = Server(db, tmp / "listing.log", *harness.SERVE_OPTIONS, timeout_s=1800)
    n = args.auctions
    try:
        for run in range(args.runs):
            print(f"  run {run + 1}: {args.first_pages} first pages, then every page", flush=True)
            first, later, listed, size = asyncio.run(
                pages(server.url, meta["tokens"]["admin"], args.first_pages)
            )
            if listed != n:
                print(f"  PROBLEM: the pages listed {listed} auctions of {n}", flush=True)
            figs.add("list_first_p50", f"{n} auctions: list_auctions first page p50",
                     percentile(first, 50), "ms", "<= 50")  # fmt: skip
            figs.add("list_first_p99", "  first page p99", percentile(first, 99), "ms", "<= 50")
            figs.add("list_later_p50", f"  later pages (cursor) p50, {len(later)} pages",
                     percentile(later, 50), "ms", "<= 50")  # fmt: skip
            figs.add("list_later_p99", "  later pages p99", percentile(later, 99), "ms", "<= 50")
            figs.add("list_bytes", "  a page's reply", size / 1024, "KB")
    finally:
        server.stop()


PARTS = {"listing": part_listing}
