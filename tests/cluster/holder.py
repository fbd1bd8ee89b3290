"""A cluster node as a real process for the ownership tests: ``python -m tests.cluster.holder
DSN NODE_ID``. It holds its share of partitions and keeps appending probe rows (one a partition
it holds, every few ms) through the fence, as the store's appends do. It prints one JSON line
per change: ``held`` (its partitions and epochs), ``lost``, ``fenced``."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from auctionactors.cluster import membership
from auctionactors.cluster.fence import PartitionFence
from auctionactors.cluster.ownership import Ownership, OwnershipConfig
from auctionactors.cluster.partitions import partition_of
from auctionactors.errors import Fenced

CONFIG = OwnershipConfig(lease_s=1.0, tick_s=0.1, partitions=12, retry_s=0.1)


def stream_in(partition: int, count: int) -> str:
    """A stream id that hashes into ``partition``."""
    return next(s for i in range(10_000) if partition_of(s := f"a-{i}", count) == partition)


async def eventually(check: Callable[[], Awaitable[object]], every_s: float = 0.02) -> None:
    """Poll ``check`` until it returns something true: for what only a query shows (another
    session waiting on a lock, another process's rows); bound it with ``asyncio.timeout``."""
    for _ in itertools.count():
        if await check():
            return
        await asyncio.sleep(every_s)


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


class Printing:
    async def acquired(self, epochs: dict[int, int]) -> None:
        return None

    async def releasing(self, partitions: frozenset[int]) -> None:
        return None

    def lost(self, partitions: frozenset[int]) -> None:
        say(event="lost", partitions=sorted(partitions))


async def main(dsn: str, node_id: str) -> None:
    node = Ownership(dsn, node_id, f"ws://127.0.0.1/{node_id}", listener=Printing(), config=CONFIG)
    fence = PartitionFence(node)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=1,
        server_settings={"application_name": membership.application_name(node_id)},
    )
    await node.start()
    last: dict[int, int] = {}
    while True:
        if node.held != last:
            last = dict(node.held)
            say(event="held", epochs={str(p): e for p, e in sorted(last.items())})
        for partition, epoch in list(node.held.items()):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await fence.check(conn, [stream_in(partition, node.count)])
                    await conn.execute(
                        "INSERT INTO probe (node, partition, epoch) VALUES ($1, $2, $3)",
                        node_id,
                        partition,
                        epoch,
                    )
            except Fenced as exc:
                say(event="fenced", error=str(exc))
            except Exception as exc:  # a terminated session fails in many ways (asyncpg's own too)
                say(event="failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
