"""PostgreSQL group commit against one transaction per event, in the same run (issue 14: target
group commit >= 10x).

``.venv/bin/python scripts/bench_postgres.py`` (about a minute; ``--quick``: seconds). Each run
gives each mode a fresh database on the server at 127.0.0.1:5432 (``scripts/setup-postgres.sh``;
``--admin-url`` for another) and drives it the way the actors do: ``--writers`` concurrent
writers (one per stream, as one per auction), each appending one event at a time and waiting for
its acknowledgement (durable: PostgreSQL's default ``synchronous_commit = on``). With group
commit the appends that queue while a batch commits go in the next one; without it, every
append is its own transaction and commit. Figures: events/s and the acknowledgement latency,
min/median/max of ``--runs`` runs (3), and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from harness import PG_ADMIN_URL, Figures, percentile, postgres_database

from auctionactors.store.base import NewEvent
from auctionactors.store.postgres import PostgresEventStore

# A bid as the domain encodes it is about this size.
EVENT = NewEvent("bid_placed", b'{"type":"bid_placed","amount":"612.25"}'.ljust(200))


async def drive(url: str, *, group_commit: bool, writers: int, each: int) -> tuple[float, float]:
    """Events per second and the median acknowledgement latency (ms) of one mode."""
    latencies: list[float] = []

    async def writer(store: PostgresEventStore, stream_id: str) -> None:
        for seq in range(each):
            start = time.perf_counter()
            await store.append(stream_id, seq, [EVENT])
            latencies.append(time.perf_counter() - start)

    async with await PostgresEventStore.open(url, group_commit=group_commit) as store:
        start = time.perf_counter()
        await asyncio.gather(*(writer(store, f"a-{i}") for i in range(writers)))
        took = time.perf_counter() - start
        stats = store.stats
        assert stats.events == writers * each, stats
        if not group_commit:
            assert stats.commits == stats.appends, stats
        assert await store.check() == []
    return writers * each / took, percentile(latencies, 50) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=100, help="concurrent streams")
    parser.add_argument("--each", type=int, default=30, help="appends per writer")
    parser.add_argument("--quick", action="store_true", help="a few seconds, to try it")
    parser.add_argument("--admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.writers, args.each = 1, 20, 5
    print(
        f"{args.runs} runs; {args.writers} writers x {args.each} appends of one event, "
        "each waiting for its acknowledgement",
        flush=True,
    )
    figures = Figures()
    figures.section(f"{args.writers} concurrent writers, one event per append")
    for run in range(1, args.runs + 1):
        print(f"run {run}", flush=True)
        for group_commit, key in ((True, "group"), (False, "single")):
            with postgres_database("bench_pg", args.admin_url) as url:
                rate, p50 = asyncio.run(
                    drive(url, group_commit=group_commit, writers=args.writers, each=args.each)
                )
            label = "group commit (one transaction per batch)" if group_commit else (
                "one transaction per event")  # fmt: skip
            figures.add(key, f"{label}: events/s", rate, "ev/s")
            figures.add(f"{key}-p50", f"{label}: ack p50", p50, "ms")
    figures.ratio("group commit / one transaction per event (events/s)", "group", "single", ">= 10")
    figures.print()
    return 0 if all(figures.verdicts()) else 1


if __name__ == "__main__":
    sys.exit(main())
