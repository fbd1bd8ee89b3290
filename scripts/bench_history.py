"""Part ``history`` of `bench_gateway` (issue 11's target "History pulled as fast as possible"):
while pullers read a 100k-event auction's history as fast as they can, another client's
``get_view`` of a small auction keeps its p99 <= 20 ms.

A real ``auctionactors serve`` on a store seeded by `seeding.seed_long` (a ``--events``-event
open auction, bids of two suppliers, and a small one). Pullers run in another process (their
decoding does not share the prober's loop), each on its own connection, as a supplier would:
``subscribe`` with ``since=0`` (history frames, then the update) and ``unsubscribe``, again and
again, or ``get_events`` pages from 0 following ``next_since`` (as the buyer). The prober sends
``get_view`` ``--rate`` times a second on schedule for ``--history-seconds`` and records each
one's time from when it was due to its reply (so a stall counts for every request it delays).
Every client speaks protocol 2 (bounded views), then all again protocol 1; ``alone`` (no
puller) is the baseline.
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
from harness import Child, Figures, Server, hello, percentile
from seeding import LONG, SMALL
from websockets.asyncio.client import ClientConnection

MODES = ("alone", "subscribe", "get_events")


# --- the pullers (another process) ------------------------------------------------------------


async def _subscribe_loop(ws: ClientConnection, stop: float, counts: list[int]) -> None:
    n = 0
    while time.monotonic() < stop:
        n += 1
        await ws.send(f'{{"type":"subscribe","id":{n},"auction_id":"{LONG}","since":0}}')
        while True:
            frame = await ws.recv(decode=False)
            counts[0] += len(frame)
            if frame.startswith(b'{"type":"update"'):
                break
        n += 1
        await ws.send(f'{{"type":"unsubscribe","id":{n},"auction_id":"{LONG}"}}')
        while not (await ws.recv(decode=False)).startswith(b'{"type":"ok"'):
            pass
        counts[1] += 1


async def _get_events_loop(ws: ClientConnection, stop: float, counts: list[int]) -> None:
    n = 0
    while time.monotonic() < stop:
        since: int | None = 0
        while since is not None and time.monotonic() < stop:
            n += 1
            await ws.send(f'{{"type":"get_events","id":{n},"auction_id":"{LONG}","since":{since}}}')
            frame = await ws.recv(decode=False)
            counts[0] += len(frame)
            reply = msgspec.json.decode(frame)
            since = reply.get("next_since", _next_since(reply))
        counts[1] += 1


def _next_since(reply: dict[str, Any]) -> int | None:
    """Paging without ``next_since`` (code from before protocol 1.1, `--repo`)."""
    events = reply.get("events") or []
    return events[-1]["seq"] if len(events) == 1000 else None


async def _pull(
    url: str, token: str, mode: str, connections: int, seconds: float, protocol: int
) -> list[int]:
    socks = [await hello(url, token, protocol, max_queue=4) for _ in range(connections)]
    stop = time.monotonic() + seconds
    loop = _subscribe_loop if mode == "subscribe" else _get_events_loop
    counts = [0, 0]  # bytes received, whole histories read
    await asyncio.gather(*(loop(ws, stop, counts) for ws in socks))
    for ws in socks:
        await ws.close()
    return counts


def puller_main(
    conn: Any, url: str, token: str, mode: str, connections: int, s: float, protocol: int
) -> None:
    conn.send(asyncio.run(_pull(url, token, mode, connections, s, protocol)))


# --- the prober -------------------------------------------------------------------------------


async def probe(url: str, token: str, seconds: float, rate: float, protocol: int) -> list[float]:
    """``get_view`` of the small auction sent ``rate`` times a second, on schedule whatever the
    replies do; each one's latency is from the time it was due to its reply, in ms (a stall of
    the server delays every request due during it: none is left out of the figures)."""
    ws = await hello(url, token, protocol, max_queue=4)
    interval = 1 / rate
    count = int(seconds * rate)
    due: list[float] = []

    async def send() -> None:
        start = time.perf_counter()
        for n in range(count):
            at = start + n * interval
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due.append(at)
            await ws.send(f'{{"type":"get_view","id":{n},"auction_id":"{SMALL}"}}')

    sender = asyncio.create_task(send())
    samples = []
    for n in range(count):
        await ws.recv(decode=False)  # replies come in order on one connection
        samples.append((time.perf_counter() - due[n]) * 1000)
    await sender
    await ws.close()
    return samples


async def one_run(
    url: str, users: dict[str, Any], mode: str, protocol: int, args: argparse.Namespace
) -> tuple[list[float], list[int]]:
    """The prober's latencies (ms) while ``mode``'s pullers pull; what they pulled (bytes,
    whole histories)."""
    pullers = None
    if mode != "alone":
        token = users["s1" if mode == "subscribe" else "buyer"].token
        pullers = Child(puller_main, url, token, mode, args.connections,
                        pulling_s(args), protocol)  # fmt: skip
        await asyncio.sleep(0.5)  # the pullers are connected and pulling before the probe starts
    try:
        token = users["buyer"].token
        samples = await probe(url, token, args.history_seconds, args.rate, protocol)
        counts = [0, 0] if pullers is None else await pullers.recv()
    finally:
        if pullers is not None:
            pullers.stop()
    return samples, counts


def pulling_s(args: argparse.Namespace) -> float:
    """How long the pullers pull: from before the probe starts until after it ends."""
    return args.history_seconds + min(1.0, args.history_seconds)


# --- protocol 1's whole view, in one go and in pieces (in this process) -----------------------


async def whole_turns(db: Path, users: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """For the long auction's buyer and supplier s1: the CPU time (ms) of protocol 1's whole
    view in one go (`views.view` and the encoding of ``get_view``'s answer: one turn of the
    event loop, as before), and of the longest turn of the loop while the same answer is
    rendered in pieces (`gateway.whole`). CPU time of this thread: the machine's load does not
    count (the ``get_view`` latencies above are wall time)."""
    from auctionactors.domain.access import Viewer
    from auctionactors.domain.solutions import compute
    from auctionactors.domain.views import view
    from auctionactors.gateway import protocol
    from auctionactors.runtime.replay import rebuild
    from auctionactors.store.sqlite import SqliteEventStore

    async with await SqliteEventStore.open(db) as store:
        state = await rebuild(store, LONG)
    assert state is not None
    state.history()  # decoded once, as in a loaded actor
    solutions, now = compute(state), time.time_ns() // 1000
    out = {}
    for key, role in (("buyer", "buyer"), ("s1", "supplier")):
        viewer = Viewer(users[key].company_id, role)
        started = time.thread_time()
        protocol.ok(1, {"seq": state.seq, "view": view(state, viewer, now, solutions)})
        at_once = time.thread_time() - started
        longest = await _longest_turn(state, viewer, now, solutions)
        out[key] = (at_once * 1000, longest * 1000)
    return out


async def _longest_turn(state: Any, viewer: Any, now: int, solutions: Any) -> float:
    """The CPU time (s) of the longest turn of the event loop while ``viewer``'s ``get_view``
    answer is taken (`WholeView.of`, as in the actor) and rendered in pieces."""
    from auctionactors.domain.whole import WholeView
    from auctionactors.gateway import protocol, whole

    turns: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.thread_time()
        while not done.is_set():
            await asyncio.sleep(0)
            turns.append(time.thread_time() - last)
            last = time.thread_time()

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    found = WholeView.of(state, viewer, now, solutions)
    assert found is not None
    seq = found.seq
    await whole.encoded(found, lambda doc: protocol.ok(1, {"seq": seq, "view": doc}))
    done.set()
    await ticking
    return max(turns)


def part_history(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    db = tmp / "history.db"
    started = time.perf_counter()
    users = asyncio.run(seeding.seed_long(db, args.events))
    print(f"  seeded {args.events} events in {time.perf_counter() - started:.1f} s", flush=True)
    server = Server(db, tmp / "history.log", *harness.SERVE_OPTIONS)
    pulled_s = pulling_s(args)
    try:
        for protocol in (2, 1):
            for mode in MODES:
                for run in range(args.runs):
                    print(f"  run {run + 1}: protocol {protocol}, {mode}", flush=True)
                    samples, (pulled, _) = asyncio.run(
                        one_run(server.url, users, mode, protocol, args)
                    )
                    key, target = f"history_{protocol}_{mode}", "" if mode == "alone" else "<= 20"
                    name = {
                        "alone": f"protocol {protocol}: get_view p99, alone",
                        "subscribe": f"  while {args.connections} connections subscribe since=0",
                        "get_events": f"  while {args.connections} connections loop get_events",
                    }[mode]
                    figs.add(key, name, percentile(samples, 99), "ms", target)
                    if mode != "alone":
                        figs.add(f"{key}_mb", "    pulled", pulled / 1e6 / pulled_s, "MB/s")
        for _ in range(args.runs):
            for who, (at_once, longest) in asyncio.run(whole_turns(db, users)).items():
                key = f"history_whole_{who}"
                figs.add(key, f"protocol 1 whole view ({who}): CPU at once", at_once, "ms")
                figs.add(f"{key}_turn", "  in pieces: the longest loop turn", longest, "ms")
        for who in ("buyer", "s1"):
            key = f"history_whole_{who}"
            figs.ratio(f"whole view ({who}): longest turn in pieces / at once", f"{key}_turn", key)
        for line in server.trouble():
            print(f"  PROBLEM: server log: {line}", flush=True)
    finally:
        server.stop()


PARTS = {"history": part_history}
