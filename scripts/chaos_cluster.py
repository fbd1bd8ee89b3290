"""Node chaos: three ``serve`` nodes on one PostgreSQL database, bidders and watchers on all
three, and rounds of SIGKILL of a random node under load (issue 14, "Done when").

    .venv/bin/python scripts/chaos_cluster.py --rounds 20 --seed 1

It makes a fresh database on the PostgreSQL server of ``$AUCTIONACTORS_TEST_PG`` (default the
local one, trust authentication: `harness.postgres_database`) and drops it at the end (``--keep``
keeps it). Each round:
bidders (one client per supplier and node) bid with idempotency keys on a few open auctions
through their node, and one watcher per node (the buyer) follows every auction; after a while
a random node is SIGKILLed. A bidder whose node died (or that is answered ``unavailable`` /
``timeout``) sends the same command, with the same key, through another node; a watcher
reconnects to another node and resumes each auction with ``since``. Right after the kill a
prober sends a keyed bid on every auction the dead node owned through a survivor: the time
until each is acknowledged is that auction's failover time. An auction whose start falls one
second after the kill checks that deadlines passed during the failover are acted on at their
time. The dead node is started again (same node id) and the load paused for the checks:

- **acks**: every acknowledged bid is in the log of its auction, once, at or before its seq;
- **verify**: ``auctionactors verify`` is clean (gapless seqs, intact hash chains: no fork);
- **views**: every auction's live view on every node (``get_view``, the buyer) equals
  ``auctionactors replay --as BUYER`` at the same seq;
- **since**: every watcher saw each auction's events exactly once, contiguous, across
  reconnections to other nodes;
- **deadlines**: the auction scheduled to start during the failover started at or after its
  scheduled time and within the failover target of it, and closes at its scheduled start plus
  its duration (no extra time);
- **failover**: every auction of the dead node answered within 5 s (p50/p99 printed).

Exit status 0 when every check of every round passed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from chaos import Probe, compare
from harness import Cluster, Server, percentile, pg_cluster, run_cli

from auctionactors.client import Client, ClientError
from auctionactors.cluster.partitions import PARTITIONS, partition_of
from auctionactors.domain.events import AuctionStarted, BidPlaced
from auctionactors.domain.parties import Role
from auctionactors.domain.timestamps import format_instant
from auctionactors.store.base import NewUser
from auctionactors.store.codec import decode_event
from auctionactors.store.postgres import PostgresEventStore

FAILOVER_TARGET_S = 5.0
DURATION_S = 600  # of the auction that starts during a failover
RETRY = ("unavailable", "timeout", "connection_lost", "closed", "rate_limited")


def now_us() -> int:
    return time.time_ns() // 1000


def spot(suppliers: list[str], start_us: int, duration_s: int) -> dict[str, Any]:
    return {
        "port": "Rotterdam", "suppliers": suppliers, "scheduled_start": format_instant(start_us),
        "duration_s": duration_s, "soft_close_s": 0,
        "products": [{"vessel": {"name": "MV Chaos", "imo": "9300001"}, "fuel": "VLSFO 0.5%",
                      "quantity_mt": 1500, "eta": "2030-01-01T00:00:00Z"}],
    }  # fmt: skip


@dataclass
class Ack:
    auction_id: str
    seq: int
    bid_ids: list[str]


@dataclass
class World:
    cluster: Cluster  # its nodes by id, its database's URL
    rng: random.Random
    admin: NewUser
    buyer: NewUser
    suppliers: list[NewUser]
    auctions: list[str] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    failovers: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    running: asyncio.Event = field(default_factory=asyncio.Event)
    keys: int = 0

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def nodes(self) -> dict[str, Server]:
        return self.cluster.nodes

    def alive(self) -> list[str]:
        return [n for n, s in self.nodes.items() if s.alive]

    def key(self) -> str:
        self.keys += 1
        return f"chaos-{self.keys}"


async def ask(world: World, token: str, node: str, kind: str, **fields: Any) -> dict[str, Any]:
    """Send through ``node``; on a dead node or an unknown outcome, the same command with the
    same key through another live node, until acknowledged or refused by the domain."""
    client: Client | None = None
    try:
        for _ in range(200):
            if not world.nodes[node].alive:
                node = world.rng.choice(world.alive())
            try:
                if client is None:
                    client = Client(world.nodes[node].url, token, reconnect=False,
                                    request_timeout_s=10, retry_attempts=1)  # fmt: skip
                    await client.connect()
                return await client.request(kind, **fields)
            except ClientError as exc:
                if exc.code not in RETRY:
                    raise
                if client is not None:
                    await client.close()
                client = None
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{kind} never answered")
    finally:
        if client is not None:
            await client.close()


async def bidder(world: World, supplier: NewUser, node: str, amounts: dict[str, float]) -> None:
    while True:
        await world.running.wait()
        auction_id = world.rng.choice(world.auctions)
        amount = round(world.rng.uniform(1, 200) * 4) / 4
        try:
            reply = await ask(world, supplier.token, node, "place_bids", auction_id=auction_id,
                              bids=[{"product_id": "p1", "amount": f"{amount:.2f}"}],
                              key=world.key())  # fmt: skip
        except ClientError:
            continue  # refused by the domain: nothing to check
        world.acks.append(Ack(auction_id, int(reply["seq"]), list(reply["bid_ids"])))
        amounts[auction_id] = amount


class Watcher:
    """The buyer on one node, following every auction; after its node dies, on another one,
    resuming each auction with ``since``. Checks every event arrives once, in order."""

    def __init__(self, world: World, node: str) -> None:
        self.world = world
        self.node = node
        self.seen: dict[str, int] = {}
        self.gaps: list[str] = []
        self.client: Client | None = None

    async def run(self) -> None:
        while True:
            try:
                self.client = Client(self.world.nodes[self.node].url, self.world.buyer.token,
                                     reconnect=False)  # fmt: skip
                await self.client.connect()
                for auction_id in self.world.auctions:
                    await self.client.subscribe(auction_id, self.seen.get(auction_id))
                while True:
                    self._take(await self.client.next_update())
            except (ClientError, OSError):
                if self.client is not None:
                    await self.client.close()
                await asyncio.sleep(0.1)
                alive = self.world.alive()
                if self.node not in alive and alive:
                    self.node = self.world.rng.choice(alive)

    def _take(self, update: dict[str, Any]) -> None:
        auction_id = update.get("auction_id")
        if auction_id is None or update.get("type") != "update":
            return
        last = self.seen.get(auction_id)
        for event in update.get("events", []):
            seq = int(event["seq"])
            if last is not None and seq != last + 1:
                self.gaps.append(f"{auction_id}: seq {seq} after {last} on {self.node}")
            last = seq
        if last is None:
            last = int(update["seq"])
        self.seen[auction_id] = last


async def owners(url: str) -> dict[int, str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT partition, owner FROM cluster_partitions")
    finally:
        await conn.close()
    return {r["partition"]: r["owner"] for r in rows if r["owner"]}


async def probe(world: World, auction_id: str, node: str, killed_us: int) -> float:
    supplier = world.suppliers[0]
    await ask(world, supplier.token, node, "place_bids", auction_id=auction_id,
              bids=[{"product_id": "p1", "amount": "250.00"}], key=world.key())  # fmt: skip
    return (now_us() - killed_us) / 1e6


async def check(world: World, watchers: list[Watcher], deadline_auction: tuple[str, int]) -> None:
    problems = world.problems
    async with await PostgresEventStore.open(world.url, read_only=True) as store:
        logs = {a: [decode_event(e) for e in await store.read_stream(a)] for a in world.auctions}
        started = [decode_event(e) for e in await store.read_stream(deadline_auction[0])]
    for ack in world.acks:
        events = logs[ack.auction_id]
        placed = [e.bid_id for e in events[: ack.seq] if isinstance(e, BidPlaced)]
        for bid_id in ack.bid_ids:
            if (found := placed.count(bid_id)) != 1:
                problems.append(f"acked bid {bid_id} of {ack.auction_id} found {found} times")
    # The command line runs its own event loop: in a thread (the load is paused meanwhile).
    code, _, err = await asyncio.to_thread(run_cli, "verify", "--db", world.url)
    if code != 0:
        problems.append(f"verify failed: {err.strip()}")
    for name in world.alive():
        async with Client(world.nodes[name].url, world.buyer.token, reconnect=False,
                          protocol=1) as client:  # fmt: skip
            for auction_id in world.auctions:
                reply = await client.request("get_view", auction_id=auction_id)
                live = Probe(auction_id, world.buyer.company_id, int(reply["seq"]), reply["view"])
                problem = await asyncio.to_thread(compare, world.url, live)  # type: ignore[arg-type]
                if problem:
                    problems.append(f"{auction_id} on {name}: {problem}")
    for watcher in watchers:
        problems += watcher.gaps
        watcher.gaps.clear()
    start_event = next((e for e in started if isinstance(e, AuctionStarted)), None)
    auction_id, start_us = deadline_auction
    if start_event is None:
        problems.append(f"{auction_id}: not started (scheduled during the failover)")
    else:
        late_s = (start_event.at - start_us) / 1e6
        if not 0 <= late_s <= FAILOVER_TARGET_S:
            problems.append(f"{auction_id}: started {late_s:.3f} s after its scheduled start")
        if start_event.closes_at != start_us + DURATION_S * 1_000_000:
            problems.append(f"{auction_id}: closes at {start_event.closes_at}: extra time")


async def chaos(world: World, rounds: int, load_s: float) -> int:
    suppliers = [s.company_id for s in world.suppliers]
    buyer = world.buyer.company_id
    for creator in ("n1", "n2", "n3", "n1", "n2", "n3"):  # created where they are owned
        terms = spot(suppliers, now_us(), 7200)
        reply = await ask(world, world.admin.token, creator, "create_auction", buyer=buyer,
                          auction=terms)  # fmt: skip
        world.auctions.append(str(reply["auction_id"]))
    watchers = [Watcher(world, n) for n in ("n1", "n2", "n3")]
    amounts: dict[str, float] = {}
    tasks = [asyncio.create_task(w.run()) for w in watchers]
    tasks += [asyncio.create_task(bidder(world, s, n, amounts))
              for s in world.suppliers for n in ("n1", "n2", "n3")]  # fmt: skip
    try:
        for number in range(1, rounds + 1):
            victim = world.rng.choice(world.alive())
            start_us = now_us() + round((load_s + 1) * 1e6)  # a second after the kill
            terms = spot(suppliers, start_us, DURATION_S)
            reply = await ask(world, world.admin.token, victim, "create_auction", buyer=buyer,
                              auction=terms)  # fmt: skip
            deadline_auction = (str(reply["auction_id"]), start_us)  # the victim's
            world.running.set()
            await asyncio.sleep(load_s)
            owned = await owners(world.url)
            killed_us = now_us()
            world.nodes[victim].kill()
            theirs = [a for a in world.auctions if owned.get(partition_of(a, PARTITIONS)) == victim]
            survivor = world.rng.choice(world.alive())
            times = await asyncio.gather(*(probe(world, a, survivor, killed_us) for a in theirs))
            world.failovers += times
            world.cluster.start(victim)
            await world.cluster.settled()
            world.running.clear()
            await asyncio.sleep(1.0)  # let the watchers take the last updates
            before = len(world.problems)
            await check(world, watchers, deadline_auction)
            slow = [t for t in times if t > FAILOVER_TARGET_S]
            if slow:
                world.problems.append(f"round {number}: failover over 5 s: {slow}")
            print(f"round {number}: killed {victim} ({len(theirs)} auctions, failover "
                  f"{max(times, default=0):.2f} s max), {len(world.acks)} acks so far, "
                  f"{len(world.problems) - before} problems", flush=True)  # fmt: skip
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for problem in world.problems:
        print(f"PROBLEM: {problem}")
    if world.failovers:
        p50, p99 = percentile(world.failovers, 50), percentile(world.failovers, 99)
        print(f"failover over {len(world.failovers)} auctions: p50 {p50:.2f} s, p99 {p99:.2f} s "
              f"(target <= {FAILOVER_TARGET_S:g} s)")  # fmt: skip
    print(f"{len(world.acks)} bids acknowledged, {rounds} rounds, {len(world.problems)} problems")
    return 0 if not world.problems else 1


def people(suppliers: int) -> dict[str, tuple[str, Role, str]]:
    found: dict[str, tuple[str, Role, str]] = {
        "admin": ("Chaos Platform", "admin", "Ada"),
        "buyer": ("Chaos Shipping", "buyer", "Bea"),
    }
    return found | {f"s{i}": (f"Chaos Fuels {i}", "supplier", f"Sam {i}")
                    for i in range(1, suppliers + 1)}  # fmt: skip


def setup(args: argparse.Namespace, cluster: Cluster) -> World:
    users = dict(cluster.users)
    admin, buyer = users.pop("admin"), users.pop("buyer")
    return World(cluster, random.Random(args.seed), admin, buyer, list(users.values()))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--suppliers", type=int, default=2, help="bidders per node")
    p.add_argument("--load", type=float, default=3.0, help="seconds of load before each kill")
    p.add_argument("--lease", type=float, default=3.0)
    p.add_argument("--keep", action="store_true", help="keep the database")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = ("--lease", str(args.lease), "--max-unauthenticated-per-address", "1000")
    with pg_cluster("chaos_cluster", people(args.suppliers), 3, *options, keep=args.keep) as c:
        return asyncio.run(chaos(setup(args, c), args.rounds, args.load))


if __name__ == "__main__":
    sys.exit(main())
