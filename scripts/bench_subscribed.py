"""Parts ``subscribed`` and ``aged`` of `bench_gateway` (issue 11's targets for bidders who are
subscribed to the auction they bid on), against a real ``auctionactors serve``. The clients are
plain connections (`harness.Wire`) that decode every frame they receive and apply nothing, so
that what is measured is the server.

- ``subscribed``: 10 suppliers, each subscribed (protocol 2) to the auction they bid on, closed
  loop (each sends its next bid when the ``ok`` of its last one is in) for ``--seconds``: acked
  bids/s, the rate of the first and the last 10 s (a fifth of the run when shorter), and the
  same 10 clients against a bare ``websockets`` echo server (each sends a frame like a bid and
  waits for its echo): the ratio.
- ``aged``: an auction with ``--aged-bids`` bids (seeded by `seeding.seed_long`) and a fresh one
  of the same shape, each with its buyer, both suppliers and the admin subscribed (protocol 2):
  the largest update frame a bid sends to any of them, and the server's CPU time per bid (bids
  one at a time), aged against fresh.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import harness
import seeding
from harness import Child, Figures, Server, Wire

from auctionactors.domain.money import format_amount
from auctionactors.domain.parties import Role
from auctionactors.domain.timestamps import SECOND, format_instant

SUPPLIERS = 10
now = time.monotonic


class Frames:
    """What one or more connections received: update frames, their bytes, the largest of a
    bid's (a subscription's first, with the view, is not one), the last seq by auction."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.largest = 0
        self.seq: dict[str, int] = {}
        self.arrived = asyncio.Event()

    def __call__(self, data: Any, frame: dict[str, Any]) -> None:
        if frame["type"] != "update":
            return
        self.count += 1
        self.bytes += len(data)
        if frame["events"] and "view" not in frame:
            self.largest = max(self.largest, len(data))
        self.seq[frame["auction_id"]] = frame["seq"]
        self.arrived.set()

    async def until(self, auction_id: str, seq: int) -> None:
        """Until the update of ``seq`` (or a later one) of ``auction_id`` is in."""
        while self.seq.get(auction_id, 0) < seq:
            self.arrived.clear()
            await self.arrived.wait()


async def new_auction(url: str, admin: str, buyer_id: str, suppliers: list[str]) -> str:
    client = await Wire.open(url, admin)
    eta = format_instant(int(time.time() * SECOND) + 3 * 86_400 * SECOND)
    reply = await client.request(
        "create_auction",
        buyer=buyer_id,
        auction={
            "kind": "spot",
            "port": "Rotterdam",
            "suppliers": suppliers,
            "scheduled_start": format_instant(int(time.time() * SECOND)),
            "duration_s": 24 * 3600,
            "products": [
                {"vessel": {"name": "MV Bench", "imo": "9300001"}, "fuel": f, "quantity_mt": 1000,
                 "eta": eta}
                for f in ("VLSFO 0.5%", "MGO 0.1%")
            ],
        },
    )  # fmt: skip
    await client.close()
    return str(reply["auction_id"])


async def closed_loop(
    clients: list[Wire], seconds: float, bid: Any, expect: str | None = "ok"
) -> tuple[list[float], float]:
    """Each client sends ``bid(i, k)`` (its k-th: a request type and fields) and waits for
    the reply, again and again for ``seconds``: the reply times from the start, and the run's
    length."""
    acked: list[float] = []
    t0 = now()
    stop = t0 + seconds

    async def loop(i: int, client: Wire) -> None:
        k = 0
        while now() < stop:
            type_, fields = bid(i, k)
            await client.request(type_, expect=expect, **fields)
            acked.append(now() - t0)
            k += 1

    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    return acked, now() - t0


def window_rates(acked: list[float], elapsed: float) -> tuple[float, float, float]:
    """Acked per second over the whole run, its first and its last window (10 s, or a fifth
    of a run shorter than 50 s)."""
    window = min(10.0, elapsed / 5)
    first = sum(1 for t in acked if t < window) / window
    last = sum(1 for t in acked if t >= elapsed - window) / window
    return len(acked) / elapsed, first, last


# --- the baseline: a bare websockets echo server ------------------------------------------------


async def _echo_server(conn: Any) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=None) as server:
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: done.done() or done.set_result(None))
        await done


def echo_main(conn: Any, loop: str) -> None:
    harness.run_on(loop, _echo_server(conn))


async def echo_rate(port: int, clients: int, seconds: float) -> float:
    """``clients`` connections to the echo server, each sending a frame like a bid and waiting
    for its echo, closed loop: echoes/s."""
    from websockets.asyncio.client import connect

    wires = [
        Wire(await connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None))
        for _ in range(clients)
    ]

    def bid(i: int, k: int) -> tuple[str, dict[str, Any]]:
        amount = format_amount(10**8 - 25 * (k * clients + i))
        return "place_bids", {"auction_id": "a-0123456789ab",
                              "bids": [{"product_id": "p1", "amount": amount}]}  # fmt: skip

    acked, elapsed = await closed_loop(wires, seconds, bid, expect="place_bids")
    for w in wires:
        await w.close()
    return len(acked) / elapsed


# --- subscribed -------------------------------------------------------------------------------


def _bid(auction_id: str, start: int) -> Any:
    def bid(i: int, k: int) -> tuple[str, dict[str, Any]]:
        amount = format_amount(max(start - 25 * (k * SUPPLIERS + i), 25))
        product = "p1" if k % 2 == 0 else "p2"
        return "place_bids", {"auction_id": auction_id,
                              "bids": [{"product_id": product, "amount": amount}]}  # fmt: skip

    return bid


async def _subscribed_run(
    server: Server, users: dict[str, Any], seconds: float, protocol: int, subscribe: bool = True
) -> tuple[list[float], float, Frames, list[tuple[float, float]]]:
    """One run: acked times, the run's length, what the bidders received, and the server's
    CPU time sampled every 0.25 s (seconds from the start, CPU seconds). Not ``subscribe``d:
    the command path alone, for reference."""
    url = server.url
    suppliers = [users[f"s{i}"].company_id for i in range(SUPPLIERS)]
    auction = await new_auction(url, users["admin"].token, users["buyer"].company_id, suppliers)
    frames = Frames()
    clients = [
        await Wire.open(url, users[f"s{i}"].token, protocol, frames) for i in range(SUPPLIERS)
    ]
    for c in clients if subscribe else ():
        await c.request("subscribe", auction_id=auction)
    cpu: list[tuple[float, float]] = []

    async def sample() -> None:
        t0 = now()
        while True:
            cpu.append((now() - t0, server.cpu_seconds()))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    acked, elapsed = await closed_loop(clients, seconds, _bid(auction, 10**8))
    sampler.cancel()
    cpu.append((elapsed, server.cpu_seconds()))
    for c in clients:
        await c.close()
    return acked, elapsed, frames, cpu


def cpu_between(cpu: list[tuple[float, float]], start: float, end: float) -> float:
    """The server's CPU seconds between two times of a run, from the samples nearest them."""

    def at(t: float) -> float:
        return min(cpu, key=lambda sample: abs(sample[0] - t))[1]

    return at(end) - at(start)


def part_subscribed(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    people: dict[str, tuple[str, Role, str]] = dict(harness.PLATFORM)
    people |= {f"s{i}": (f"Supplier {i}", "supplier", f"S{i}") for i in range(SUPPLIERS)}
    server, users = harness.serve_fresh(tmp, people, *harness.SERVE_OPTIONS)
    loop = server.expect(harness.EVENT_LOOP, 30)
    echo = Child(echo_main, loop)  # the baseline on the server's loop
    echo_s = min(args.seconds, 10.0)
    try:
        port = asyncio.run(echo.recv())
        for run in range(args.runs):
            print(f"  run {run + 1}: {SUPPLIERS} subscribed bidders for {args.seconds:g} s, then "
                  f"the echo server for {echo_s:g} s (both on {loop}), then the bidders not "
                  f"subscribed for {echo_s:g} s", flush=True)  # fmt: skip
            acked, elapsed, frames, cpu = asyncio.run(
                _subscribed_run(server, users, args.seconds, 2)
            )
            rate, first, last = window_rates(acked, elapsed)
            bare = asyncio.run(echo_rate(port, SUPPLIERS, echo_s))
            alone, alone_s, _, alone_cpu = asyncio.run(
                _subscribed_run(server, users, echo_s, 2, subscribe=False)
            )
            window = min(10.0, elapsed / 5)
            per_bid = 1000 * cpu_between(cpu, 0, elapsed) / max(len(acked), 1)
            first_cpu = 1000 * cpu_between(cpu, 0, window) / max(first * window, 1)
            last_cpu = 1000 * cpu_between(cpu, elapsed - window, elapsed) / max(last * window, 1)
            figs.add("sub_rate", f"{SUPPLIERS} subscribed bidders, protocol 2: acked bids/s", rate,
                     "/s", ">= 1,680")  # fmt: skip
            figs.add("sub_echo", f"  bare websockets echo, same {SUPPLIERS} clients", bare, "/s")
            figs.add("sub_ratio", "  bids/s / echoes/s", harness.ratio(rate, bare), "x", ">= 0.10")
            figs.add("sub_alone", f"  the same {SUPPLIERS} bidders not subscribed (reference)",
                     len(alone) / alone_s, "/s")  # fmt: skip
            figs.add("sub_alone_ratio", "    / echoes/s: the command path's own bound",
                     harness.ratio(len(alone) / alone_s, bare), "x")  # fmt: skip
            alone_ms = 1000 * cpu_between(alone_cpu, 0, alone_s) / max(len(alone), 1)
            figs.add("sub_alone_cpu", "    server CPU per bid, not subscribed", alone_ms, "ms")
            figs.add("sub_first", f"  first {window:.3g} s", first, "/s")
            figs.add("sub_last", f"  last {window:.3g} s", last, "/s")
            figs.add("sub_decay", f"  last / first {window:.3g} s (over {elapsed:.0f} s)",
                     harness.ratio(last, first), "x", ">= 0.9")  # fmt: skip
            figs.add("sub_frame", "  mean update frame", frames.bytes / max(frames.count, 1), "B")
            figs.add("sub_cpu", "  server CPU per bid", per_bid, "ms")
            figs.add("sub_cpu_first", f"    in the first {window:.3g} s", first_cpu, "ms")
            figs.add("sub_cpu_last", f"    in the last {window:.3g} s (the server's own decay)",
                     last_cpu, "ms")  # fmt: skip
    finally:
        echo.stop()
        server.stop()


# --- aged -------------------------------------------------------------------------------------


async def _bids_on(
    url: str, users: dict[str, Any], auction_id: str, bids: int, server: Server, start: int
) -> tuple[float, int]:
    """The buyer, both suppliers and the admin subscribed to ``auction_id`` (protocol 2), then
    ``bids`` bids of the suppliers in turn, one at a time, until each receiver has the last
    one's update: the server's CPU time per bid (ms), the largest update frame of a bid."""
    receivers = {k: Frames() for k in ("buyer", "s1", "s2", "admin")}
    wires = {k: await Wire.open(url, users[k].token, 2, f) for k, f in receivers.items()}
    for wire in wires.values():
        await wire.request("subscribe", auction_id=auction_id)
    await asyncio.to_thread(server.settle, 0.3)  # the actor is up, its first views sent
    cpu0 = server.cpu_seconds()
    seq = 0
    for k in range(bids):
        bid = {"product_id": "p1", "amount": format_amount(start - 25 * (k % 1000))}
        reply = await wires[f"s{1 + k % 2}"].request(
            "place_bids", auction_id=auction_id, bids=[bid]
        )
        seq = reply["seq"]
    await asyncio.wait_for(
        asyncio.gather(*(f.until(auction_id, seq) for f in receivers.values())), 60
    )
    cpu = server.cpu_seconds() - cpu0
    for wire in wires.values():
        await wire.close()
    return cpu * 1000 / bids, max(f.largest for f in receivers.values())


def part_aged(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    db = tmp / "aged.db"
    started = time.perf_counter()
    users = asyncio.run(seeding.seed_long(db, args.aged_bids))
    print(f"  seeded an auction of {args.aged_bids} events in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    server = Server(db, tmp / "aged.log", *harness.SERVE_OPTIONS, timeout_s=600)
    bids = args.aged_sample
    try:
        for run in range(args.runs):
            print(f"  run {run + 1}: {bids} bids on a fresh auction, then on the aged one",
                  flush=True)  # fmt: skip
            start = 50_000 - 25_000 * (run % 2)  # each run's bids differ from the last
            fresh_cpu, fresh_frame = asyncio.run(
                _bids_on(server.url, users, seeding.SMALL, bids, server, start)
            )
            aged_cpu, aged_frame = asyncio.run(
                _bids_on(server.url, users, seeding.LONG, bids, server, start)
            )
            n = args.aged_bids
            figs.add("aged_frame", f"{n}-bid auction: largest bid update to a receiver",
                     aged_frame / 1024, "KB", "<= 2")  # fmt: skip
            figs.add("fresh_frame", "  fresh auction: the same", fresh_frame / 1024, "KB")
            figs.add("aged_cpu", f"{n}-bid auction: server CPU per bid", aged_cpu, "ms")
            figs.add("fresh_cpu", "  fresh auction: the same", fresh_cpu, "ms")
            figs.add("aged_ratio", "  aged / fresh", harness.ratio(aged_cpu, fresh_cpu), "x",
                     "<= 1.5")  # fmt: skip
    finally:
        server.stop()


PARTS = {"subscribed": part_subscribed, "aged": part_aged}
