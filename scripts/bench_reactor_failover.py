"""Reactor failover in cluster mode: two ``serve`` nodes on one PostgreSQL database with
``--webhook``; the node running the webhook reactor is SIGKILLed.

Per run (``--runs``, default 3; min/median/max): the delivery latency while the leader is alive
(an auction created through the other node, after a first one to warm up, to its first
webhook: the same-run baseline), the
time from the kill until the survivor holds the reactor (``cluster_roles``), and the time from
the kill until the first webhook of an auction created right after it arrives. Run
``.venv/bin/python scripts/bench_reactor_failover.py [--lease 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from harness import REPO, Figures, add_pg_users, cluster_settled, node, postgres_database, workdir

sys.path.insert(0, str(REPO))  # the tests' webhook receiver and auction terms
from tests.faults.serving import Users, create, instant_in
from tests.receivers import HookSink


async def leader_of(url: str, name: str, among: set[str], timeout_s: float = 60.0) -> str:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            owner = await conn.fetchval("SELECT owner FROM cluster_roles WHERE name = $1", name)
            if owner in among:
                return str(owner)
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    raise RuntimeError(f"no node among {sorted(among)} took {name!r}")


def arrived(hook: HookSink, auction_id: str) -> bool:
    return any(h.body["auction_id"] == auction_id for h in list(hook.hooks))


def one_run(
    url: str, folder: Path, run: int, users: Users, hook: HookSink, lease: float
) -> dict[str, float]:
    name = f"webhook {hook.url}"
    options = ("--lease", str(lease), "--webhook", hook.url, "--webhook-secret", hook.secret)
    nodes = {n: node(url, folder, n, *options) for n in (f"r{run}a", f"r{run}b")}
    try:
        asyncio.run(cluster_settled(url, 2))
        leader = asyncio.run(leader_of(url, name, set(nodes)))
        other = next(n for n in nodes if n != leader)
        start = instant_in(3600, int(time.time() * 1e6))
        warm = asyncio.run(create(nodes[other].url, users, start))  # first connections, caches
        hook.wait_until(lambda: arrived(hook, warm), timeout=60)
        t0 = time.monotonic()
        auction_id = asyncio.run(create(nodes[other].url, users, start))
        hook.wait_until(lambda: arrived(hook, auction_id), timeout=60)
        baseline = time.monotonic() - t0
        nodes[leader].kill()
        killed = time.monotonic()
        auction_id = asyncio.run(create(nodes[other].url, users, start))
        asyncio.run(leader_of(url, name, {other}))
        taken = time.monotonic() - killed
        hook.wait_until(lambda: arrived(hook, auction_id), timeout=60)
        delivered = time.monotonic() - killed
    finally:
        for server in nodes.values():
            if server.alive:
                server.stop()
    return {"baseline": baseline * 1000, "taken": taken * 1000, "delivered": delivered * 1000}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--lease", type=float, default=2.0)
    args = p.parse_args(argv)
    figures = Figures()
    figures.section("webhook reactor, 2 nodes, SIGKILL of the node running it")
    hook = HookSink().up()
    try:
        with workdir("bench-reactor-failover-") as folder, postgres_database("aa_rfail") as url:
            people = {
                "admin": ("Platform", "admin", "Ada"),
                "buyer": ("Aegean Shipping", "buyer", "Bea"),
                "s1": ("Baltic Bunkers", "supplier", "Sam"),
                "s2": ("North Sea Fuels", "supplier", "Sue"),
            }
            made = asyncio.run(add_pg_users(url, people))  # type: ignore[arg-type]
            users = Users(made["admin"], made["buyer"], made["s1"], made["s2"])
            for run in range(args.runs):
                print(f"run {run + 1} of {args.runs}", flush=True)
                got = one_run(url, folder, run, users, hook, args.lease)
                figures.add(
                    "base", "event to webhook, leader alive (baseline)", got["baseline"], "ms"
                )
                figures.add("taken", "kill to the survivor holding the reactor", got["taken"], "ms")
                figures.add(
                    "delivered",
                    "kill to the first webhook of an event after it",
                    got["delivered"],
                    "ms",
                )
    finally:
        hook.close()
    figures.ratio("kill to first webhook / baseline delivery", "delivered", "base")
    figures.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
