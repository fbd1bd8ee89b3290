"""Part ``subscribe_all`` of `bench_gateway` (issue 11's target: "100k auctions: an admin's
``subscribe_all`` (default statuses, 1k open) delivers every update in <= 1 s, never closed 1013
while reading at any steady pace"), against a real ``auctionactors serve`` on a seeded store
(`seeding`: 1 in ``--open-every`` auctions open, the rest finished). Measured in each run, each
on a fresh connection of the admin:

- ``p2 fast``: protocol 2, default statuses, read as fast as possible: seconds from the request
  to the last initial update (every one of ``count``, each auction exactly once);
- ``p1 fast``: protocol 1 (every auction): the same, and the bytes; meanwhile another
  connection loops ``get_view`` on an open auction: its latency (the loop is not held up);
- ``p2 slow`` / ``p1 slow``: read at a steady ``--pace`` MB/s (protocol 1: for
  ``--slow-seconds`` at most): whether the server closed the connection (1013), and the pace
  achieved.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import harness
import msgspec
import seeding
from harness import Figures, Server, hello, percentile
from websockets.exceptions import ConnectionClosed

MB = 1_000_000


class Outcome:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.bytes = 0
        self.expected = 0
        self.updates: Counter[str] = Counter()
        self.close_code: int | None = None

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.updates.values() if n > 1)


async def subscribe_all(
    url: str,
    token: str,
    protocol: int,
    pace_mb_s: float | None = None,
    window_s: float | None = None,
) -> Outcome:
    """One connection's ``subscribe_all``, read until every initial update is in (or
    ``window_s`` has passed), at ``pace_mb_s`` (None: as fast as possible)."""
    out = Outcome()
    ws = await hello(url, token, protocol, max_queue=4 if pace_mb_s else 16)
    start = time.perf_counter()
    await ws.send('{"type":"subscribe_all","id":1}')
    try:
        while out.expected == 0 or len(out.updates) < out.expected:
            data = await ws.recv()
            out.bytes += len(data)
            frame = msgspec.json.decode(data)
            if frame["type"] == "ok":
                out.expected = frame["count"] if protocol >= 2 else len(frame["auctions"])
                if out.expected == 0:
                    break
            elif frame["type"] == "update":
                out.updates[frame["auction_id"]] += 1
            elif frame["type"] == "error":
                raise RuntimeError(f"subscribe_all refused: {frame}")
            elapsed = time.perf_counter() - start
            if window_s is not None and elapsed > window_s:
                break
            if pace_mb_s:
                ahead = out.bytes / (pace_mb_s * MB) - elapsed
                if ahead > 0:
                    await asyncio.sleep(ahead)
    except ConnectionClosed as exc:
        out.close_code = exc.rcvd.code if exc.rcvd is not None else None
    out.seconds = time.perf_counter() - start
    await ws.close()
    return out


async def get_views(url: str, token: str, auction_id: str, stop: asyncio.Event) -> list[float]:
    """``get_view`` on one auction in a loop until ``stop``: each one's latency in ms."""
    ws = await hello(url, token, 1)
    samples: list[float] = []
    n = 0
    while not stop.is_set():
        n += 1
        start = time.perf_counter()
        await ws.send(f'{{"type":"get_view","id":{n},"auction_id":"{auction_id}"}}')
        reply = msgspec.json.decode(await ws.recv())
        assert reply["type"] == "ok", reply
        samples.append((time.perf_counter() - start) * 1000)
    await ws.close()
    return samples


async def p1_with_get_view(url: str, meta: dict[str, Any]) -> tuple[Outcome, list[float]]:
    stop = asyncio.Event()
    probe = asyncio.create_task(get_views(url, meta["tokens"]["buyer"], meta["open"][0], stop))
    try:
        outcome = await subscribe_all(url, meta["tokens"]["admin"], 1)
    finally:
        stop.set()
    return outcome, await probe


def describe(name: str, outcome: Outcome) -> str:
    problems = []
    if outcome.close_code is not None:
        problems.append(f"CLOSED {outcome.close_code}")
    if outcome.duplicates:
        problems.append(f"{outcome.duplicates} DUPLICATES")
    got = len(outcome.updates)
    return (
        f"  {name}: {got}/{outcome.expected} initial updates, {outcome.bytes / MB:.1f} MB in "
        f"{outcome.seconds:.2f} s ({outcome.bytes / MB / outcome.seconds:.2f} MB/s)"
        + ("; " + ", ".join(problems) if problems else "")
    )


def part_subscribe_all(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    db = tmp / "subscribe_all.db"
    meta = seeding.seeded_copy(db, harness.REPO, harness.PYTHON, args.auctions, args.open_every)
    server = Server(db, tmp / "subscribe_all.log", *harness.SERVE_OPTIONS, timeout_s=1800)
    url, admin, n = server.url, meta["tokens"]["admin"], args.auctions
    try:
        for run in range(args.runs):
            print(f"  run {run + 1}", flush=True)
            fast2 = asyncio.run(subscribe_all(url, admin, 2))
            print(describe("p2 fast", fast2), flush=True)
            fast1, views = asyncio.run(p1_with_get_view(url, meta))
            print(describe("p1 fast", fast1), flush=True)
            slow2 = asyncio.run(subscribe_all(url, admin, 2, args.pace))
            print(describe(f"p2 slow ({args.pace} MB/s)", slow2), flush=True)
            slow1 = asyncio.run(subscribe_all(url, admin, 1, args.pace, args.slow_seconds))
            print(describe(f"p1 slow ({args.pace} MB/s, {args.slow_seconds:g} s)", slow1))
            missing = sum(o.expected - len(o.updates) for o in (fast2, fast1, slow2))
            wrong = missing + sum(o.duplicates for o in (fast2, fast1, slow2, slow1))
            closed = sum(o.close_code is not None for o in (fast2, fast1, slow2, slow1))
            figs.add("all_p2", f"{n} auctions: p2 subscribe_all, default statuses "
                     f"({fast2.expected})", fast2.seconds, "s", "<= 1")  # fmt: skip
            figs.add("all_closed", f"  connections closed (1013), of 4 (2 at {args.pace:g} MB/s)",
                     closed, "", "== 0")  # fmt: skip
            figs.add("all_wrong", "  initial updates missing or duplicated", wrong, "", "== 0")
            figs.add("all_p2_slow", f"  p2 read at {args.pace:g} MB/s: pace achieved",
                     slow2.bytes / MB / slow2.seconds, "MB/s")  # fmt: skip
            figs.add("all_p1", f"  p1 subscribe_all (every auction, {fast1.expected})",
                     fast1.seconds, "s")  # fmt: skip
            figs.add("all_p1_mb", "  p1 subscribe_all: bytes", fast1.bytes / MB, "MB")
            figs.add("all_p1_view", "  another client's get_view p99 meanwhile",
                     percentile(views, 99), "ms")  # fmt: skip
        for line in server.trouble():
            print(f"  PROBLEM: server log: {line}", flush=True)
    finally:
        server.stop()


PARTS = {"subscribe_all": part_subscribe_all}
