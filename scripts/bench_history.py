"""Fair sharing while history is pulled (issue 11's target "History pulled as fast as
possible"): while pullers read a 100k-event auction's history as fast as they can, another
client's ``get_view`` of a small auction keeps its p99 <= 20 ms.

A real ``auctionactors serve`` on a store seeded here: users, a 100k-event open auction (bids of
two suppliers, written straight to the store with its final snapshot and catalog row, as the
actor would) and a small one. Pullers run in another process (their decoding does not share
the prober's loop), each on its own connection, as a supplier would: ``subscribe`` with
``since=0`` (history frames, then the update) and ``unsubscribe``, again and again, or
``get_events`` pages from 0 following ``next_since`` (as the buyer). The prober sends
``get_view`` ``--rate`` times a second on schedule for ``--seconds`` and records each one's time
from when it was due to its reply (so a stall counts for every request it delays). Each mode
runs ``--runs`` times; figures are min/median/max over the runs (nothing asserted).

    .venv/bin/python scripts/bench_history.py                   # 100k events, 3 runs of 5 s
    .venv/bin/python scripts/bench_history.py --events 20000 --runs 1 --seconds 2
    .venv/bin/python scripts/bench_history.py --protocol 2     # bounded views, once merged
    .venv/bin/python scripts/bench_history.py --repo ../main   # the server of another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import harness
import msgspec
from harness import Column, Server, Table, percentile, spread, workdir
from websockets.asyncio.client import ClientConnection, connect

from auctionactors.domain.commands import BidRequest, CreateAuction, PlaceBids
from auctionactors.domain.decide import decide
from auctionactors.domain.events import Event
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND
from auctionactors.store.codec import catalog_entry, encode_event, encode_snapshot
from auctionactors.store.sqlite import SqliteEventStore

PEOPLE: dict[str, tuple[str, Any, str]] = {
    **harness.PLATFORM,
    "s1": ("Baltic Bunkers", "supplier", "Sam"),
    "s2": ("North Sea Fuels", "supplier", "Sue"),
}
SERVE_OPTIONS = ("--rate", "1000000", "--max-connections-per-token", "64")
LONG, SMALL = "a-longhistory", "a-smallone"
BATCH = 5000  # events per append while seeding
MODES = ("alone", "subscribe", "get_events")


# --- seeding ----------------------------------------------------------------------------------


def _terms(users: dict[str, Any], now: int) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=Party(users["buyer"].company_id, "Aegean Shipping"),
        suppliers=tuple(Party(users[k].company_id, PEOPLE[k][0]) for k in ("s1", "s2")),
        scheduled_start=now,
        duration_s=30 * 86_400,
        products=(
            ProductSpec(
                vessel=Vessel("MV Aurora", "9300001"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=now + 40 * 86_400 * SECOND,
            ),
        ),
    )


async def _auction(
    store: SqliteEventStore, users: dict[str, Any], auction_id: str, events: int
) -> None:
    """An open auction of s1 and s2 with about ``events`` events (alternate bids)."""
    now = harness.now_us()
    admin = Caller(users["admin"].user_id, users["admin"].company_id, "admin")
    bidders = [Caller(users[k].user_id, users[k].company_id, "supplier") for k in ("s1", "s2")]
    pending: list[Event] = decide(
        None, CreateAuction(by=admin, auction_id=auction_id, terms=_terms(users, now)), now
    )
    state: AuctionState | None = None
    for event in pending:
        state = evolve(state, event)
    assert state is not None
    stored, i = 0, 0
    while True:
        last = state.seq >= events
        if pending and (last or len(pending) >= BATCH):
            await store.append(
                auction_id,
                stored,
                [encode_event(e) for e in pending],
                snapshot=encode_snapshot(state) if last else None,
                catalog=catalog_entry(state),
            )
            stored, pending = state.seq, []
        if last:
            return
        bid = BidRequest(product_id="p1", amount=60_000 - (i % 2000) * 25)
        for event in decide(state, PlaceBids(by=bidders[i % 2], bids=(bid,)), now):
            state = evolve(state, event)
            pending.append(event)
        i += 1


async def seed(db: Path, events: int) -> dict[str, Any]:
    users = await harness.add_users(db, PEOPLE)
    async with await SqliteEventStore.open(db, durable=False) as store:
        await _auction(store, users, LONG, events)
        await _auction(store, users, SMALL, 10)
    return {k: u.token for k, u in users.items()}


# --- the pullers (another process) ------------------------------------------------------------


PROTOCOL = 1  # what the clients ask for in their hello (`--protocol`)


async def _hello(url: str, token: str) -> ClientConnection:
    ws = await connect(url, compression=None, max_size=None, max_queue=4)
    hello = {"type": "hello", "token": token, "protocol": PROTOCOL}
    await ws.send(msgspec.json.encode(hello).decode())
    await ws.recv()
    return ws


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


async def _pull(url: str, token: str, mode: str, connections: int, seconds: float) -> list[int]:
    socks = [await _hello(url, token) for _ in range(connections)]
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
    global PROTOCOL
    PROTOCOL = protocol
    conn.send(asyncio.run(_pull(url, token, mode, connections, s)))


# --- the prober -------------------------------------------------------------------------------


async def probe(url: str, token: str, seconds: float, rate: float) -> list[float]:
    """``get_view`` of the small auction sent ``rate`` times a second, on schedule whatever the
    replies do; each one's latency is from the time it was due to its reply, in ms (a stall of
    the server delays every request due during it: none is left out of the figures)."""
    ws = await _hello(url, token)
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


def one_run(
    url: str, tokens: dict[str, str], mode: str, args: argparse.Namespace
) -> tuple[list[float], list[int]]:
    proc = None
    if mode != "alone":
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(
            target=puller_main,
            args=(
                child,
                url,
                tokens["s1" if mode == "subscribe" else "buyer"],
                mode,
                args.connections,
                args.seconds + 1.0,
                PROTOCOL,
            ),
        )
        proc.start()
        time.sleep(0.5)  # the pullers are connected and pulling before the probe starts
    samples = asyncio.run(probe(url, tokens["buyer"], args.seconds, args.rate))
    counts = [0, 0]
    if proc is not None:
        counts = parent.recv()
        proc.join()
    return samples, counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=100_000, help="events of the long auction")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="probe time per run")
    p.add_argument("--connections", type=int, default=3, help="pulling connections")
    p.add_argument("--rate", type=float, default=200.0, help="get_view requests per second")
    p.add_argument("--modes", default=",".join(MODES), help=f"some of {','.join(MODES)}")
    p.add_argument("--protocol", type=int, default=1, help="asked for in every hello")
    p.add_argument("--repo", type=Path, help="serve with another checkout's code (before)")
    args = p.parse_args(argv)
    if args.repo is not None:
        harness.use_checkout(args.repo)
    global PROTOCOL
    PROTOCOL = args.protocol
    modes = [m for m in args.modes.split(",") if m]
    with workdir("bench-history-") as tmp:
        db = tmp / "history.db"
        start = time.perf_counter()
        tokens = asyncio.run(seed(db, args.events))
        print(f"seeded {args.events} events in {time.perf_counter() - start:.1f} s", flush=True)
        server = Server(db, tmp / "server.log", *SERVE_OPTIONS)
        try:
            results = {
                m: [one_run(server.url, tokens, m, args) for _ in range(args.runs)] for m in modes
            }
        finally:
            server.stop()
        trouble = server.trouble()
    table = Table(
        Column("puller", 11, left=True),
        Column("get_view p50 ms", 22),
        Column("get_view p99 ms", 22),
        Column("max ms", 8),
        Column("pulled MB/s", 20),
        Column("histories", 10),
    )
    print(
        f"\nget_view of a small auction while {args.connections} connections pull a "
        f"{args.events}-event history (min/median/max of {args.runs} runs of {args.seconds:g} s;"
        " target p99 <= 20 ms)"
    )
    print(table.head())
    for mode, runs in results.items():
        p50 = spread([percentile(s, 50) for s, _ in runs])
        p99 = spread([percentile(s, 99) for s, _ in runs])
        worst = max(max(s) for s, _ in runs)
        rate = spread([c[0] / 1e6 / (args.seconds + 1.0) for _, c in runs])
        histories = sum(c[1] for _, c in runs)
        print(table.row(mode, _three(p50), _three(p99), f"{worst:.1f}", _three(rate), histories))
    if trouble:
        print("\nserver log trouble:", *trouble[:5], sep="\n  ")
    return 0


def _three(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
