"""Storage benchmark: durable appends with and without group commit, reads, and a peer library.

Run ``.venv/bin/python scripts/bench_store.py`` (about a minute) or with ``--quick`` (seconds).
Everything runs on real SQLite files in a temporary directory, and every figure is printed next
to a baseline measured in the same run, because absolute numbers only describe this machine.

Sections are plain functions that add `Figure`s to one results dict; to add one (say, replay of
a 100k-event stream through decode + fold, or end to end through the actors), write a function
with the same signature and call it from `main`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import Column, Table, percentile, ratio, workdir

from auctionactors.domain.commands import BidRequest, CreateAuction, PlaceBids
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import NewEvent, chain_hash
from auctionactors.store.codec import (
    decode_event,
    decode_snapshot,
    encode_event,
    encode_snapshot,
)
from auctionactors.store.sqlite import SqliteEventStore

# A bid as the domain encodes it is about this size.
PAYLOAD = (b'{"type":"bid_placed","bidder":"c-5f1e0c2ab3d44e10","price":"612.25"' + b" " * 140)[
    :200
]
EVENT = NewEvent("bid_placed", PAYLOAD)


@dataclass
class Figure:
    """One measured figure: a rate (per second) and, for appends, ack latency percentiles."""

    section: str
    name: str
    rate: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    note: str = ""
    samples: tuple[float, ...] = ()  # seconds of each repeated run, where there are several


@dataclass
class Config:
    """How much work each section does; ``--quick`` shrinks everything."""

    baseline_events: int = 10_000
    appenders: dict[int, int] = field(  # concurrent appenders -> appends each
        default_factory=lambda: {1: 10_000, 10: 3000, 100: 1500, 1000: 200}
    )
    read_stream_events: int = 100_000
    es_saves: int = 10_000
    es_rebuild_events: int = 10_000
    replay_events: int = 100_000
    actor_runs: dict[int, int] = field(  # concurrent auctions -> bids each
        default_factory=lambda: {1: 3000, 10: 1000, 100: 200, 1000: 30}
    )

    @classmethod
    def quick(cls) -> Config:
        return cls(
            400, {1: 400, 10: 100, 100: 40, 1000: 8}, 20_000, 300, 2000, 10_000, {1: 200, 100: 10}
        )


Results = dict[str, Figure]
Section = Callable[[Results, Path, Config], Awaitable[None]]


async def run_appenders(
    store: SqliteEventStore, appenders: int, each: int
) -> tuple[float, list[float]]:
    """``appenders`` tasks, each appending one event at a time to its own stream.

    Returns events/s and each append's ack latency (call to return), in seconds.
    """
    latencies: list[float] = []
    clock = time.perf_counter

    async def appender(i: int) -> None:
        stream_id = f"auction-{i:05}"
        for seq in range(each):
            start = clock()
            await store.append(stream_id, seq, [EVENT])
            latencies.append(clock() - start)

    start = clock()
    await asyncio.gather(*(appender(i) for i in range(appenders)))
    return appenders * each / (clock() - start), latencies


async def measure_appends(
    results: Results, key: str, name: str, path: Path, appenders: int, each: int, **open_args: bool
) -> None:
    async with await SqliteEventStore.open(path, **open_args) as store:
        rate, latencies = await run_appenders(store, appenders, each)
        stats = store.stats
    batch = stats.appends / max(stats.commits, 1)
    results[key] = Figure(
        "appends",
        name,
        rate,
        "events/s",
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        f"{stats.commits} commits, {batch:.1f} appends/commit",
    )


async def section_appends(results: Results, workdir: Path, cfg: Config) -> None:
    """Durable appends: one commit per event (baseline) vs group commit at rising concurrency."""
    await measure_appends(results, "warm-up", "warm-up", workdir / "warmup.db", 10, 50)
    del results["warm-up"]
    await measure_appends(
        results,
        "baseline",
        "1 event per commit (group_commit=False), 1 appender",
        workdir / "baseline.db",
        1,
        cfg.baseline_events,
        group_commit=False,
    )
    for appenders, each in cfg.appenders.items():
        await measure_appends(
            results,
            f"group@{appenders}",
            f"group commit, {appenders} concurrent appenders",
            workdir / f"group{appenders}.db",
            appenders,
            each,
        )
    await measure_appends(
        results,
        "group@100-nosync",
        "group commit, 100 appenders, durable=False (reference)",
        workdir / "nosync.db",
        100,
        cfg.appenders[100],
        durable=False,
    )


async def section_bare_sqlite(results: Results, workdir: Path, cfg: Config) -> None:
    """The ceiling: sqlite3 alone, same rows and hashes, 100 rows per durable commit, no asyncio."""
    conn = sqlite3.connect(workdir / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL, hash BLOB NOT NULL,"
        " UNIQUE (stream_id, seq))"
    )
    batches = max(1, 100 * cfg.appenders[100] // 100)
    heads = {f"s{i}": b"\0" * 32 for i in range(100)}
    start = time.perf_counter()
    for seq in range(1, batches + 1):
        rows = []
        for stream_id, prev in heads.items():
            heads[stream_id] = h = chain_hash(prev, stream_id, seq, EVENT.type, EVENT.data)
            rows.append((stream_id, seq, EVENT.type, EVENT.data, h))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO events (stream_id, seq, type, data, hash) VALUES (?,?,?,?,?)", rows
        )
        conn.execute("COMMIT")
    rate = batches * 100 / (time.perf_counter() - start)
    conn.close()
    results["bare"] = Figure(
        "appends", "bare sqlite3, 100 events per commit (ceiling)", rate, "events/s"
    )


async def section_reads(results: Results, workdir: Path, cfg: Config) -> None:
    """read_stream of one long stream: what a replay pays before decoding (best of 3)."""
    n = cfg.read_stream_events
    async with await SqliteEventStore.open(workdir / "reads.db", durable=False) as store:
        for seq in range(0, n, 1000):
            await store.append("long", seq, [EVENT] * min(1000, n - seq))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            events = await store.read_stream("long")
            best = min(best, time.perf_counter() - start)
        assert len(events) == n
    results["read_stream"] = Figure(
        "reads",
        f"read_stream of a {n}-event stream",
        n / best,
        "events/s",
        note=f"{best * 1000:.0f} ms",
    )


async def section_eventsourcing(results: Results, workdir: Path, cfg: Config) -> None:
    """The peer: the `eventsourcing` library on SQLite (its own WAL file, default sync = FULL)."""
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError:
        print(
            "eventsourcing not installed (pip install -e '.[bench]'); skipping the peer",
            file=sys.stderr,
        )
        return

    class Auction(Aggregate):  # type: ignore[misc]
        @event("Opened")
        def __init__(self, name: str) -> None:
            self.name = name
            self.bids = 0

        @event("BidPlaced")
        def place_bid(self, price: str) -> None:
            self.bids += 1
            self.price = price

    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(workdir / "es.db")}
    app = Application(env=env)
    auction = Auction("saves")
    app.save(auction)
    start = time.perf_counter()
    for i in range(cfg.es_saves):
        auction.place_bid(f"{600 + i % 100}.25")
        app.save(auction)
    rate = cfg.es_saves / (time.perf_counter() - start)
    results["es_saves"] = Figure(
        "peer", "eventsourcing: 1 event per save, 1 writer", rate, "saves/s"
    )

    n = cfg.es_rebuild_events
    long = Auction("rebuild")
    for i in range(n - 1):
        long.place_bid(f"{600 + i % 100}.25")
        if i % 1000 == 999:
            app.save(long)
    app.save(long)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        rebuilt = app.repository.get(long.id)
        best = min(best, time.perf_counter() - start)
    assert rebuilt.bids == n - 1
    results["es_rebuild"] = Figure(
        "peer",
        f"eventsourcing: rebuild a {n}-event aggregate",
        n / best,
        "events/s",
        note=f"{best * 1000:.0f} ms",
    )
    app.close()


ADMIN = Caller("u-admin", "c-admin", "admin")
SUPPLIERS = [Caller(f"u-s{i}", f"c-s{i}", "supplier") for i in range(1, 4)]


def bench_terms(now: int) -> AuctionTerms:
    """An auction that starts at once (an admin's start 'now') and stays open for a day."""
    return AuctionTerms(
        port="Rotterdam",
        buyer=Party("c-buyer", "Buyer Co"),
        suppliers=tuple(Party(c.company_id, f"Supplier {c.company_id}") for c in SUPPLIERS),
        scheduled_start=now,
        duration_s=86_400,
        products=(
            ProductSpec(
                vessel=Vessel("MV Aurora", "9300001"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=now + 86_400 * SECOND,
            ),
        ),
    )


def bid_command(i: int) -> PlaceBids:
    """The i-th bid of a stream: suppliers take turns, prices on the tick grid."""
    return PlaceBids(
        by=SUPPLIERS[i % len(SUPPLIERS)],
        bids=(BidRequest(product_id="p1", amount=60_000 - (i % 2000) * 25),),
    )


async def section_replay(results: Results, workdir: Path, cfg: Config) -> None:
    # Imported here: bench_scale's other parts run on older checkouts, which lack it.
    from auctionactors.store.codec import canonical

    """Replay of one long auction: read + decode + fold (what a restart does), and decode + fold
    alone, for a stream of real domain events written through the actor."""
    n = cfg.replay_events
    clock = SystemClock()
    async with await SqliteEventStore.open(workdir / "replay.db", durable=False) as store:
        now = clock.now()
        create = CreateAuction(by=ADMIN, auction_id="a-long", terms=bench_terms(now))
        opening = decide(None, create, now)
        state = None
        for event in opening:
            state = evolve(state, event)
        assert state is not None
        pending = [encode_event(e) for e in opening]
        seq = 0
        i = 0
        while state.seq < n:
            for event in decide(state, bid_command(i), now + i):
                state = evolve(state, event)
                pending.append(encode_event(event))
            i += 1
            if len(pending) >= 5000 or state.seq >= n:
                # The last append carries the snapshot of the final state, as the actor does.
                last = state.seq >= n
                start = time.perf_counter()
                snapshot = encode_snapshot(state) if last else None
                encoding_s = time.perf_counter() - start
                await store.append("a-long", seq, pending, snapshot=snapshot)
                seq += len(pending)
                pending = []
        total = state.seq
        best_rebuild = best_fold = float("inf")
        from_seq_1: list[float] = []
        for _ in range(3):
            start = time.perf_counter()
            rebuilt = await rebuild(store, "a-long", use_snapshot=False)
            took = time.perf_counter() - start
            from_seq_1.append(took)
            best_rebuild = min(best_rebuild, took)
            stored = await store.read_stream("a-long")
            start = time.perf_counter()
            folded = None
            for record in stored:
                folded = evolve(folded, decode_event(record))
            best_fold = min(best_fold, time.perf_counter() - start)
        assert rebuilt is not None and folded is not None
        assert canonical(rebuilt) == canonical(state)
        from_snapshot = await timed_rebuilds(store, "a-long", state)
        start = time.perf_counter()
        stored_snapshot = await store.latest_snapshot("a-long")
        read_s = time.perf_counter() - start
        assert stored_snapshot is not None
        start = time.perf_counter()
        loaded = decode_snapshot("a-long", stored_snapshot)
        decode_s = time.perf_counter() - start
        # The bid history stays encoded until a protocol-1 view (or an error path) asks for it.
        start = time.perf_counter()
        assert len(loaded.history()) == len(state.history())
        history_s = time.perf_counter() - start
        # The worst case with snapshots every 1000 events: 999 more after the snapshot.
        j = i
        while state.seq < total + 999:
            for event in decide(state, bid_command(j), now + j):
                state = evolve(state, event)
                pending.append(encode_event(event))
            j += 1
        await store.append("a-long", seq, pending)
        after_999 = await timed_rebuilds(store, "a-long", state)
        size = len(encode_snapshot(state).data)
    costs = (encoding_s, read_s, decode_s, history_s, size)
    results["replay"] = Figure(
        "replay",
        f"rebuild a {total}-event auction: read + decode + fold",
        total / best_rebuild,
        "events/s",
        note=f"{best_rebuild * 1000:.0f} ms (target < 500 ms for 100k)",
    )
    results["fold"] = Figure(
        "replay",
        f"decode + fold only, {total} events",
        total / best_fold,
        "events/s",
        note=f"{best_fold * 1000:.0f} ms",
    )
    snapshot_figures(results, total, from_seq_1, from_snapshot, after_999, costs)


async def timed_rebuilds(
    store: SqliteEventStore, stream_id: str, state: AuctionState
) -> list[float]:
    """Three rebuilds (from the stream's snapshot), each checked byte for byte."""
    from auctionactors.store.codec import canonical

    times = []
    for _ in range(3):
        start = time.perf_counter()
        rebuilt = await rebuild(store, stream_id)
        times.append(time.perf_counter() - start)
        assert canonical(rebuilt) == canonical(state)
    return times


def snapshot_figures(
    results: Results,
    total: int,
    from_seq_1: list[float],
    from_snapshot: list[float],
    after_999: list[float],
    costs: tuple[float, float, float, float, int],
) -> None:
    """Rebuilds from seq 1 and from the snapshot (min/median/max of 3, ratio of the medians),
    and what a snapshot costs: its encoding on the loop, its read, its decoding."""
    encoding_s, read_s, decode_s, history_s, size = costs

    def spread(times: list[float]) -> str:
        low, mid, high = sorted(times)
        return f"min/median/max {low * 1000:.1f}/{mid * 1000:.1f}/{high * 1000:.1f} ms"

    seq_1 = statistics.median(from_seq_1)
    results["replay_seq_1"] = Figure(
        "snapshots",
        f"rebuild a {total}-event auction from seq 1",
        total / seq_1,
        "events/s",
        note=spread(from_seq_1),
        samples=tuple(from_seq_1),
    )
    for key, name, times in (
        ("replay_snapshot", "from its snapshot at the last seq", from_snapshot),
        ("replay_snapshot_999", "from its snapshot + 999 events after it", after_999),
    ):
        mid = statistics.median(times)
        results[key] = Figure(
            "snapshots",
            f"rebuild the same auction {name}",
            total / mid,
            "events/s",
            note=f"{spread(times)}, {seq_1 / mid:.1f}x faster (target <= 20 ms, >= 20x)",
            samples=tuple(times),
        )
    results["snapshot_encode"] = Figure(
        "snapshots",
        f"encode the snapshot of a {total}-bid state (on the event loop)",
        1 / encoding_s,
        "per s",
        note=f"{encoding_s * 1000:.1f} ms, {size / 1e6:.1f} MB",
    )
    results["snapshot_load"] = Figure(
        "snapshots",
        "of a snapshot's rebuild: read the row / decode the state",
        1 / (read_s + decode_s),
        "per s",
        note=f"{read_s * 1000:.1f} ms / {decode_s * 1000:.1f} ms",
    )
    results["history_decode"] = Figure(
        "snapshots",
        f"decode the {total}-bid history of a loaded state (its first history() call)",
        1 / history_s,
        "per s",
        note=f"{history_s * 1000:.1f} ms (once, on the first protocol-1 view after a load)",
    )


async def bid_client(
    supervisor: Supervisor, auction_id: str, bids: int, latencies: list[float]
) -> None:
    """One client of one auction: ``bids`` bids, each sent once the previous one is acked."""
    for i in range(bids):
        start = time.perf_counter()
        await supervisor.ask(auction_id, bid_command(i))
        latencies.append(time.perf_counter() - start)


async def section_actors(results: Results, workdir: Path, cfg: Config) -> None:
    """End to end through the actors: decide, durable group-committed append, fold, reply. Each
    auction has one client sending bids one after another (waiting for each ok)."""
    for auctions, each in cfg.actor_runs.items():
        async with await SqliteEventStore.open(workdir / f"actors-{auctions}.db") as store:
            supervisor = Supervisor(store, SystemClock())
            await supervisor.start()
            now = SystemClock().now()
            ids = [
                (await supervisor.create_auction(ADMIN, bench_terms(now))).fields["auction_id"]
                for _ in range(auctions)
            ]
            latencies: list[float] = []

            start = time.perf_counter()
            await asyncio.gather(*(bid_client(supervisor, a, each, latencies) for a in ids))
            rate = auctions * each / (time.perf_counter() - start)
            await supervisor.stop()
        results[f"actors@{auctions}"] = Figure(
            "actors",
            f"bids through actors, {auctions} concurrent auctions",
            rate,
            "cmds/s",
            percentile(latencies, 50) * 1000,
            percentile(latencies, 99) * 1000,
        )


FIGURES = Table(
    Column("figure", 62, left=True, lead="  "), Column("rate", 12, ",.0f"),
    Column("unit", 10, left=True, lead=" "), Column("p50 ms", 8, ".2f"), Column("p99 ms", 8, ".2f"),
    Column("note", 0, left=True, lead="  "), sep="",
)  # fmt: skip


def print_table(results: Results) -> None:
    print()
    print(FIGURES.head())
    section = ""
    for fig in results.values():
        if fig.section != section:
            section = fig.section
            print(f"-- {section}")
        print(FIGURES.row(fig.name, fig.rate, fig.unit, fig.p50_ms, fig.p99_ms, fig.note))
    print()
    print("ratios")
    for label, top, bottom in (
        ("group commit @100 / one commit per event (target >= 10x)", "group@100", "baseline"),
        ("group commit @1000 / one commit per event", "group@1000", "baseline"),
        ("group commit @100 / bare sqlite3 ceiling", "group@100", "bare"),
        ("durable group @100 / non-durable group @100", "group@100", "group@100-nosync"),
        ("group commit @100 / eventsourcing saves", "group@100", "es_saves"),
        ("actors @100 / eventsourcing saves (target >= 4x)", "actors@100", "es_saves"),
        (
            "replay (read+decode+fold) / eventsourcing rebuild (target >= 5x)",
            "replay",
            "es_rebuild",
        ),
        (
            "read_stream / eventsourcing rebuild (store read vs read+fold)",
            "read_stream",
            "es_rebuild",
        ),
    ):
        if top in results and bottom in results:
            print(f"  {label:<72}{ratio(results[top].rate, results[bottom].rate):>8.1f}x")


SECTIONS: list[Section] = [
    section_appends,
    section_bare_sqlite,
    section_reads,
    section_eventsourcing,
    section_replay,
    section_actors,
]


def run(cfg: Config, sections: list[Section] = SECTIONS) -> Results:
    """Run ``sections`` in order, each on a fresh event loop, in one temporary directory."""
    results: Results = {}
    with workdir("bench-store-") as tmp:
        for section in sections:
            started = time.perf_counter()
            asyncio.run(section(results, tmp, cfg))
            took = time.perf_counter() - started
            print(f"  {section.__name__} done in {took:.1f} s", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' run")
    args = parser.parse_args(argv)
    cfg = Config.quick() if args.quick else Config()
    print(
        f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print_table(run(cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
