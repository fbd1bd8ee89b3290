"""Cluster benchmarks (issue 14): what a hop through a non-owner node costs, and what 1, 2 and 3
nodes on one PostgreSQL database do on this machine.

    .venv/bin/python scripts/bench_cluster.py [--runs 3] [--bids 300] [--seconds 5]

- **forwarding**: one supplier connected to the owner of an auction and one connected to another
  node bid in turn, one at a time (request, then reply): the p50 of each, and the difference
  (target: a non-owner adds <= 2 ms p50). Same run, same auction, same load.
- **throughput**: with 1, 2 and 3 nodes (fresh database each), ``--clients`` suppliers per node
  bid as fast as replies come on ``--auctions`` open auctions for ``--seconds``: acknowledged
  bids per second, all nodes together. On this 2-core machine the nodes, PostgreSQL and the
  clients share the two cores: the CPU the nodes and the clients' process used meanwhile (in
  cores) is printed beside it, so what is left of the two is PostgreSQL's and the machine's.

Each part runs ``--runs`` times; the table prints min/median/max of the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from harness import Figures, Server, percentile, pg_cluster

from auctionactors.client import Client, ClientError
from auctionactors.cluster.partitions import PARTITIONS, partition_of
from auctionactors.domain.parties import Role
from auctionactors.domain.timestamps import format_instant
from auctionactors.store.base import NewUser


def people(suppliers: int) -> dict[str, tuple[str, Role, str]]:
    found: dict[str, tuple[str, Role, str]] = {
        "admin": ("Bench Platform", "admin", "Ada"),
        "buyer": ("Bench Shipping", "buyer", "Bea"),
    }
    return found | {f"s{i}": (f"Bench Fuels {i}", "supplier", f"S{i}") for i in range(suppliers)}


def terms(suppliers: list[str]) -> dict[str, Any]:
    return {
        "port": "Rotterdam", "suppliers": suppliers, "duration_s": 7200, "soft_close_s": 0,
        "scheduled_start": format_instant(time.time_ns() // 1000),
        "products": [{"vessel": {"name": "MV Bench", "imo": "9300001"}, "fuel": "VLSFO 0.5%",
                      "quantity_mt": 1500, "eta": "2030-01-01T00:00:00Z"}],
    }  # fmt: skip


async def create(url: str, users: dict[str, NewUser], count: int) -> list[str]:
    suppliers = [u.company_id for k, u in users.items() if k.startswith("s")]
    async with Client(url, users["admin"].token, reconnect=False) as admin:
        return [
            str((await admin.request("create_auction", buyer=users["buyer"].company_id,
                                     auction=terms(suppliers)))["auction_id"])
            for _ in range(count)
        ]  # fmt: skip


async def owner_of(url: str, auction_id: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchval(
            "SELECT owner FROM cluster_partitions WHERE partition = $1",
            partition_of(auction_id, PARTITIONS),
        )
    finally:
        await conn.close()
    return str(row)


class Amounts:
    """Decreasing amounts per (supplier, auction): every bid improves on the supplier's last."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str], int] = {}

    def next(self, supplier: str, auction_id: str) -> str:
        cents = self._next.get((supplier, auction_id), 5_000_000)
        self._next[(supplier, auction_id)] = cents - 25
        return f"{cents / 100:.2f}"


async def timed_bid(client: Client, supplier: str, auction_id: str, amounts: Amounts) -> float:
    started = time.perf_counter()
    amount = amounts.next(supplier, auction_id)
    await client.request(
        "place_bids", auction_id=auction_id, bids=[{"product_id": "p1", "amount": amount}]
    )
    return (time.perf_counter() - started) * 1000


async def forwarding(url: str, servers: dict[str, Server], users: dict[str, NewUser],
                     bids: int) -> tuple[float, float]:  # fmt: skip
    """p50 ms of bids through the owner and through a non-owner, interleaved."""
    (auction_id,) = await create(servers["n1"].url, users, 1)
    owner = await owner_of(url, auction_id)
    other = next(n for n in servers if n != owner)
    amounts = Amounts()
    near_s, far_s = users["s0"], users["s1"]
    async with (
        Client(servers[owner].url, near_s.token, reconnect=False) as near,
        Client(servers[other].url, far_s.token, reconnect=False) as far,
    ):
        for _ in range(20):  # warm both paths (the node link opens on first use)
            await timed_bid(near, "s0", auction_id, amounts)
            await timed_bid(far, "s1", auction_id, amounts)
        owned: list[float] = []
        forwarded: list[float] = []
        rng = random.Random(7)
        for _ in range(bids):  # in turn, in a random order each time (no bias from the order)
            if rng.random() < 0.5:
                owned.append(await timed_bid(near, "s0", auction_id, amounts))
                forwarded.append(await timed_bid(far, "s1", auction_id, amounts))
            else:
                forwarded.append(await timed_bid(far, "s1", auction_id, amounts))
                owned.append(await timed_bid(near, "s0", auction_id, amounts))
    return percentile(owned, 50), percentile(forwarded, 50)


async def throughput(servers: dict[str, Server], users: dict[str, NewUser], auctions: int,
                     clients: int, seconds: float) -> tuple[float, float, float]:  # fmt: skip
    """Acknowledged bids/s, and the CPU the nodes and this (the clients') process used meanwhile,
    in cores (1.0 = one core busy the whole time)."""
    ids = await create(next(iter(servers.values())).url, users, auctions)
    suppliers = [k for k in users if k.startswith("s")]
    amounts = Amounts()
    acked = 0
    stop = time.perf_counter() + seconds
    rng = random.Random(1)

    async def run(url: str, supplier: str) -> None:
        nonlocal acked
        async with Client(url, users[supplier].token, reconnect=False) as client:
            while time.perf_counter() < stop:
                try:
                    await timed_bid(client, supplier, rng.choice(ids), amounts)
                    acked += 1
                except ClientError:
                    pass

    pairs = zip(itertools.cycle([s.url for s in servers.values()]), suppliers, strict=False)
    nodes_cpu = sum(s.cpu_seconds() for s in servers.values())
    own_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(run(u, s) for u, s in itertools.islice(pairs, clients * len(servers))))
    took = time.perf_counter() - started
    nodes_cpu = sum(s.cpu_seconds() for s in servers.values()) - nodes_cpu
    return acked / took, nodes_cpu / took, (time.process_time() - own_cpu) / took


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--bids", type=int, default=300)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--auctions", type=int, default=8)
    p.add_argument("--clients", type=int, default=16, help="bidding clients per node")
    args = p.parse_args(argv)
    figures = Figures()
    suppliers = max(2, args.clients * 3)
    figures.section("bids through a non-owner node (2 nodes)")
    for run in range(args.runs):
        print(f"forwarding, run {run + 1}", flush=True)
        with pg_cluster("bench_cluster", people(suppliers), 2) as cluster:
            owned, forwarded = asyncio.run(
                forwarding(cluster.url, cluster.nodes, cluster.users, args.bids)
            )
        figures.add("owner", "bid through the owner, p50", owned, "ms")
        figures.add("forwarded", "bid through a non-owner, p50", forwarded, "ms")
        figures.add("added", "added by the hop, p50", forwarded - owned, "ms", "<= 2")
    figures.section(f"throughput, {args.clients} clients per node, {args.auctions} auctions")
    for count in (1, 2, 3):
        for run in range(args.runs):
            print(f"throughput with {count} nodes, run {run + 1}", flush=True)
            with pg_cluster("bench_cluster", people(suppliers), count) as cluster:
                rate, nodes_cpu, clients_cpu = asyncio.run(
                    throughput(cluster.nodes, cluster.users, args.auctions, args.clients,
                               args.seconds)
                )  # fmt: skip
            figures.add(f"tp{count}", f"acknowledged bids/s, {count} node(s)", rate, "/s")
            figures.add(f"cpu{count}", f"  CPU of the nodes, {count} node(s)", nodes_cpu, "cores")
            figures.add(f"client{count}", "  CPU of the clients' process", clients_cpu, "cores")
    figures.ratio("2 nodes / 1 node", "tp2", "tp1")
    figures.ratio("3 nodes / 1 node", "tp3", "tp1")
    figures.print()
    return 0 if all(figures.verdicts()) else 1


if __name__ == "__main__":
    sys.exit(main())
