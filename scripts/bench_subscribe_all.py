"""``subscribe_all`` on a big store (issue 11's target: "100k auctions: an admin's
``subscribe_all`` (default statuses, 1k open) delivers every update in <= 1 s, never closed 1013
while reading at any steady pace"), against a real ``auctionactors serve`` on a seeded store
(`seeding`: 1 in ``--open-every`` auctions open, the rest finished). Figures are min/median/max
of ``--runs``; nothing is asserted (targets are printed beside the figures).

    .venv/bin/python scripts/bench_subscribe_all.py                    # 100k auctions
    .venv/bin/python scripts/bench_subscribe_all.py --auctions 10000 --runs 1

Measured, each on a fresh connection of the admin:

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
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import harness
import msgspec
import seeding
from harness import Server, percentile, spread, workdir
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

SERVE_OPTIONS = ("--rate", "1000000", "--max-connections-per-token", "64")
MB = 1_000_000


async def opened(url: str, token: str, protocol: int, max_queue: int = 16) -> ClientConnection:
    ws = await connect(url, max_size=None, max_queue=max_queue, compression=None)
    hello: dict[str, Any] = {"type": "hello", "token": token}
    if protocol != 1:
        hello["protocol"] = protocol
    await ws.send(msgspec.json.encode(hello).decode())
    welcome = msgspec.json.decode(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    if welcome.get("protocol", 1) != protocol:
        raise RuntimeError(f"asked for protocol {protocol}, got {welcome}")
    return ws


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
    ws = await opened(url, token, protocol, max_queue=4 if pace_mb_s else 16)
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
    ws = await opened(url, token, 1)
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


def figures(label: str, samples: list[float], unit: str, target: str = "") -> None:
    lo, mid, hi = spread(samples)
    print(f"{label:<58} {lo:>9.3f} {mid:>9.3f} {hi:>9.3f} {unit:<4} {target}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--auctions", type=int, default=100_000)
    p.add_argument("--open-every", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pace", type=float, default=1.0, help="slow reader: MB/s")
    p.add_argument("--slow-seconds", type=float, default=10.0, help="p1 slow: reading window")
    p.add_argument("--repo", type=Path, default=harness.REPO, help="the checkout whose server runs")
    args = p.parse_args(argv)
    harness.use_checkout(args.repo)
    head = os.popen(f"git -C {harness.REPO} rev-parse --short HEAD").read().strip()
    print(
        f"bench_subscribe_all: server of {harness.REPO} ({head}); {args.auctions} auctions, "
        f"1 in {args.open_every} open; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
        flush=True,
    )
    results: dict[str, list[float]] = {}
    probe_ms: list[float] = []
    problems: list[str] = []
    with workdir("bench-subscribe-all-") as tmp:
        db = tmp / "seeded.db"
        meta = seeding.seeded_copy(db, harness.REPO, harness.PYTHON, args.auctions, args.open_every)
        server = Server(db, tmp / "server.log", *SERVE_OPTIONS, timeout_s=1800)
        url, admin = server.url, meta["tokens"]["admin"]
        try:
            for run in range(args.runs):
                print(f"-- run {run + 1}", flush=True)
                fast2 = asyncio.run(subscribe_all(url, admin, 2))
                print(describe("p2 fast", fast2), flush=True)
                fast1, views = asyncio.run(p1_with_get_view(url, meta))
                print(describe("p1 fast", fast1), flush=True)
                print(
                    f"  meanwhile get_view: {len(views)} calls, p50 {percentile(views, 50):.1f} "
                    f"ms, p99 {percentile(views, 99):.1f} ms, max {max(views):.1f} ms",
                    flush=True,
                )
                slow2 = asyncio.run(subscribe_all(url, admin, 2, args.pace))
                print(describe(f"p2 slow ({args.pace} MB/s)", slow2), flush=True)
                slow1 = asyncio.run(subscribe_all(url, admin, 1, args.pace, args.slow_seconds))
                print(describe(f"p1 slow ({args.pace} MB/s, {args.slow_seconds} s)", slow1))
                for name, o, complete in (
                    ("p2 fast", fast2, True),
                    ("p1 fast", fast1, True),
                    ("p2 slow", slow2, True),
                    ("p1 slow", slow1, False),
                ):
                    if o.close_code is not None or o.duplicates:
                        problems.append(f"run {run + 1} {name}: {describe(name, o).strip()}")
                    elif complete and len(o.updates) != o.expected:
                        problems.append(f"run {run + 1} {name}: missing updates")
                results.setdefault("p2_fast", []).append(fast2.seconds)
                results.setdefault("p1_fast", []).append(fast1.seconds)
                results.setdefault("p1_mb", []).append(fast1.bytes / MB)
                results.setdefault("p2_slow_pace", []).append(slow2.bytes / MB / slow2.seconds)
                results.setdefault("p1_slow_pace", []).append(slow1.bytes / MB / slow1.seconds)
                probe_ms.append(percentile(views, 99))
            trouble = server.trouble()
        finally:
            server.stop()
    print(f"\n{'figure':<58} {'min':>9} {'median':>9} {'max':>9}")
    n = args.auctions
    figures(f"p2 subscribe_all, {n} auctions, default statuses", results["p2_fast"], "s", "<= 1")
    figures(f"p1 subscribe_all, {n} auctions (all)", results["p1_fast"], "s")
    figures("p1 subscribe_all: bytes", results["p1_mb"], "MB")
    figures("another client's get_view p99 meanwhile", probe_ms, "ms")
    figures(f"p2 slow reader pace (asked {args.pace})", results["p2_slow_pace"], "MB/s")
    figures(f"p1 slow reader pace (asked {args.pace})", results["p1_slow_pace"], "MB/s")
    for line in problems + [f"server log: {t}" for t in trouble]:
        print(f"PROBLEM: {line}")
    print("never closed 1013, each initial update exactly once" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
