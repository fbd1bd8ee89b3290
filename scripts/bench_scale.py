"""The figures of issue 10's targets ("Runtime at scale"): a store of many auctions served by a
real ``auctionactors serve``, the memory of passivated open auctions, one hot auction in process,
replay from a snapshot. Each figure is min/median/max of ``--runs`` runs, and ratios are taken
against a baseline measured in the same run; nothing is asserted (the targets are printed beside
the figures).

    .venv/bin/python scripts/bench_scale.py                        # 100k auctions: minutes
    .venv/bin/python scripts/bench_scale.py --auctions 2000 --passivated 1000 --replay-events 5000
    .venv/bin/python scripts/bench_scale.py --only stored,passivated --repo /tmp/old

Parts (``--only``): ``stored`` N auctions, 99% final, 1% open with deadlines hours away: time to
``/healthz`` (against an empty store), the first acknowledged bid on a random open auction after
it, RSS after start-up and after one ``get_view`` on every auction, SIGTERM to exit, the wall time
of ``auctionactors auctions``; ``passivated`` 10k open idle auctions: RSS after start-up and after
touching them all and waiting for passivation (``serve --passivate-after`` if it has it), less an
empty store's, per auction; ``hot`` 30 callers bidding on one auction through `Supervisor.ask`,
against the group-commit ceiling (30 appenders straight to the store) and the same callers spread
over 30 auctions; ``replay`` of a 100k-event auction from its snapshot and from seq 1 (the
measurement of ``bench_store.py``).

``--repo PATH`` runs the server and the command line (``stored``, ``passivated``) with another
checkout's code (``PATH/.venv/bin/python -m auctionactors``; its databases are seeded by it too):
the "before" figures. ``hot`` and ``replay`` run in this process: for another checkout's code,
run this script with that checkout's interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import msgspec
import seeding
from bench_store import ADMIN, Config, bench_terms, run_appenders, section_replay
from harness import Figures, Server, connected, ratio, run_module, workdir

from auctionactors.client import ClientError
from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.parties import Caller, Party
from auctionactors.errors import DomainError
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.sqlite import SqliteEventStore

PARTS = ("stored", "passivated", "hot", "replay")
MiB = 1024 * 1024
# A server has settled (what it started in the background is done) when it uses under 4% of a
# CPU for this many seconds.
SETTLE_S = 0.5


# --- a server on a seeded store ---------------------------------------------------------------


def seeded(tmp: Path, name: str, auctions: int, open_every: int) -> tuple[Path, dict[str, Any]]:
    db = tmp / f"{name}.db"
    meta = seeding.seeded_copy(db, harness.REPO, harness.PYTHON, auctions, open_every)
    return db, meta


def start(db: Path, tmp: Path, *options: str) -> tuple[Server, float]:
    """A server on ``db``; the seconds from its spawn to its first ``/healthz`` 200."""
    server = Server(db, tmp / f"{db.stem}.log", *harness.SERVE_OPTIONS, *options, timeout_s=1800)
    while True:
        try:
            if server.healthz()[0] == 200:
                break
        except OSError:
            time.sleep(0.005)
    return server, (harness.now_us() - server.lifetime.started) / 1e6


async def first_bid(url: str, token: str, auction_id: str) -> float:
    """Seconds to connect as a supplier and have one bid acknowledged."""
    start = time.perf_counter()
    client = await connected(url, token, reconnect=False)
    bid = {"product_id": "p1", "amount": "500.00"}
    await client.request("place_bids", auction_id=auction_id, bids=[bid])
    took = time.perf_counter() - start
    await client.close()
    return took


async def touch_all(url: str, token: str, ids: list[str], connections: int = 4) -> float:
    """One ``get_view`` on each of ``ids`` over a few connections, 32 in flight on each; seconds."""
    clients = [await connected(url, token, reconnect=False) for _ in range(connections)]
    queue = iter(ids)
    start = time.perf_counter()

    failed: list[str] = []

    async def worker(client: Any) -> None:
        for auction_id in queue:
            try:
                await client.request("get_view", auction_id=auction_id)
            except ClientError as exc:
                failed.append(f"{auction_id}: {exc}")

    await asyncio.gather(*(worker(c) for c in clients for _ in range(32)))
    took = time.perf_counter() - start
    if failed:
        print(f"  PROBLEM: {len(failed)} get_view failed, e.g. {failed[0]}", flush=True)
    for c in clients:
        await c.close()
    return took


def stop(server: Server) -> float:
    start = time.perf_counter()
    server.stop(timeout_s=600)
    return time.perf_counter() - start


def part_stored(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    n = args.auctions
    for run in range(args.runs):
        print(f"  run {run + 1}: empty store, then {n} auctions", flush=True)
        db, _ = seeded(tmp, "empty", 0, 100)
        server, took = start(db, tmp)
        figs.add("empty_healthz", "empty store: spawn to /healthz", took, "s")
        server.settle(SETTLE_S)
        figs.add("empty_rss", "empty store: RSS after start-up", server.rss_mb(), "MiB")
        figs.add("empty_sigterm", "empty store: SIGTERM to exit", stop(server), "s")
        db, meta = seeded(tmp, "stored", n, args.open_every)
        server, took = start(db, tmp)
        figs.add("healthz", f"{n} auctions: spawn to /healthz", took, "s", "<= 1 s, <= 2x empty")
        target = random.choice(meta["open"])
        try:
            took = asyncio.run(first_bid(server.url, meta["tokens"]["s1"], target))
            figs.add("bid", "then first acked bid on a random open auction", took * 1000, "ms",
                     "<= 50 ms")  # fmt: skip
        except ClientError as exc:  # the code under test may be half made: say it, go on
            print(f"  PROBLEM: the first bid on {target} failed: {exc}", flush=True)
        server.settle(SETTLE_S)
        figs.add("rss", "RSS after start-up", server.rss_mb(), "MiB", "<= 150 MiB")
        ids = [seeding.auction_id(i) for i in range(n)]
        took = asyncio.run(touch_all(server.url, meta["tokens"]["admin"], ids))
        figs.add("touch", "one get_view on every auction (4 connections)", took, "s")
        server.settle(SETTLE_S)
        figs.add("rss_touched", "RSS after touching every auction", server.rss_mb(), "MiB",
                 "<= 250 MiB")  # fmt: skip
        figs.add("sigterm", "SIGTERM to exit", stop(server), "s", "<= 1 s")
        took, out = run_module("auctions", "--db", str(db))
        figs.add("auctions", "`auctionactors auctions` wall time", took, "s", "<= 1 s")
        assert len(out.splitlines()) > n, "auctions listed fewer rows than stored"
        db.unlink()
    figs.ratio("spawn to /healthz: N auctions / empty store", "healthz", "empty_healthz", "<= 2")


def part_passivated(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    n = args.passivated
    _, help_text = run_module("serve", "--help")
    after = args.passivate_after if "--passivate-after" in help_text else None
    options = ("--passivate-after", str(after)) if after is not None else ()
    print(f"  serve --passivate-after: {after if after is not None else 'not an option'}")
    for run in range(args.runs):
        print(f"  run {run + 1}: empty store, then {n} open auctions", flush=True)
        db, _ = seeded(tmp, "empty", 0, 100)
        server, _ = start(db, tmp, *options)
        server.settle(SETTLE_S)
        empty = server.rss_mb()
        figs.add("p_empty_rss", "empty store: RSS after start-up", empty, "MiB")
        stop(server)
        db, meta = seeded(tmp, "open", n, 1)
        server, _ = start(db, tmp, *options)
        server.settle(SETTLE_S)
        rss = server.rss_mb()
        figs.add("p_rss", f"{n} open auctions: RSS after start-up", rss, "MiB")
        figs.add("p_start_bytes", "  per auction, less the empty store", (rss - empty) * MiB / n,
                 "B")  # fmt: skip
        asyncio.run(touch_all(server.url, meta["tokens"]["admin"], meta["open"]))
        if after is not None:
            time.sleep(after)  # each actor ends after that long idle; settle waits for it
        server.settle(SETTLE_S)
        rss = server.rss_mb()
        figs.add("p_touched", "RSS after touching all, passivation waited for", rss, "MiB")
        _, status = run_module("status", "--url", server.url, "--token", meta["tokens"]["admin"],
                               "--json")  # fmt: skip
        print(f"    actors then: {json.loads(status)['actors']}", flush=True)
        figs.add("p_bytes", "  per auction, less the empty store", (rss - empty) * MiB / n, "B",
                 "<= 1,024")  # fmt: skip
        stop(server)
        db.unlink()


# --- one hot auction, in process --------------------------------------------------------------


def supplier(k: int) -> Caller:
    return Caller(f"u-s{k}", f"c-s{k}", "supplier")


async def callers_run(
    folder: Path, auctions: int, callers: int, seconds: float
) -> tuple[float, float, float, int]:
    """``callers`` closed-loop bidders (each its own supplier) on ``auctions`` auctions through
    `Supervisor.ask` for ``seconds``: acked commands/s, appends per commit, commands per append
    (a batch; 1 on code that does not batch), refusals."""
    async with await SqliteEventStore.open(folder / f"callers-{auctions}.db") as store:
        supervisor = Supervisor(store, SystemClock())
        await supervisor.start()
        now = SystemClock().now()
        parties = tuple(Party(supplier(k).company_id, f"Supplier {k}") for k in range(callers))
        terms = msgspec.structs.replace(bench_terms(now), suppliers=parties)
        ids = [(await supervisor.create_auction(ADMIN, terms)).fields["auction_id"]
               for _ in range(auctions)]  # fmt: skip
        appends, commits = store.stats.appends, store.stats.commits
        runtime = supervisor.stats
        writes, written = getattr(runtime, "commits", 0), getattr(runtime, "committed", 0)
        acked = refused = 0
        end = time.perf_counter() + seconds

        async def caller(k: int) -> None:
            nonlocal acked, refused
            amount = 10_000_000
            while time.perf_counter() < end:
                amount -= 25
                bid = PlaceBids(by=supplier(k), bids=(BidRequest(product_id="p1", amount=amount),))
                try:
                    await supervisor.ask(ids[k % auctions], bid)
                    acked += 1
                except DomainError:
                    refused += 1

        start = time.perf_counter()
        await asyncio.gather(*(caller(k) for k in range(callers)))
        rate = acked / (time.perf_counter() - start)
        batch = (store.stats.appends - appends) / max(1, store.stats.commits - commits)
        writes = getattr(runtime, "commits", 0) - writes
        per_write = (getattr(runtime, "committed", 0) - written) / writes if writes else 1.0
        await supervisor.stop()
    return rate, batch, per_write, refused


async def ceiling_run(folder: Path, appenders: int, each: int) -> tuple[float, float]:
    """``appenders`` tasks appending one event at a time, each to its own stream, straight to
    the store (what group commit allows at best): appends/s, appends per commit."""
    async with await SqliteEventStore.open(folder / "ceiling.db") as store:
        rate, _ = await run_appenders(store, appenders, each)
        return rate, store.stats.appends / max(1, store.stats.commits)


def part_hot(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    c = args.callers
    for run in range(args.runs):
        print(f"  run {run + 1}: ceiling, one auction, {c} auctions", flush=True)
        folder = tmp / f"hot-{run}"
        folder.mkdir()
        rate, batch = asyncio.run(ceiling_run(folder, c, args.ceiling_appends))
        figs.add("ceiling", f"ceiling: {c} appenders on own streams, store only", rate, "/s")
        figs.add("ceiling_batch", "  appends per commit", batch, "")
        for key, auctions in (("hot", 1), ("spread", c)):
            rate, batch, per_write, refused = asyncio.run(
                callers_run(folder, auctions, c, args.hot_seconds)
            )
            where = "one auction" if auctions == 1 else f"{auctions} auctions"
            figs.add(key, f"{c} callers on {where} (Supervisor.ask)", rate, "cmds/s")
            figs.add(f"{key}_batch", "  appends per commit", batch, "")
            figs.add(f"{key}_per_write", "  commands per append (batch)", per_write, "")
            figs.add(f"{key}_refused", "  refused (DomainError)", refused, "")
    figs.ratio("one hot auction / group-commit ceiling", "hot", "ceiling", ">= 0.5")
    figs.ratio(f"{c} auctions / group-commit ceiling", "spread", "ceiling")
    figs.ratio(f"one hot auction / {c} auctions", "hot", "spread")
    if args.hot_before:
        figs.ratios.append(("one hot auction / --hot-before (the code before)",
                            ratio(figs.median("hot"), args.hot_before), ">= 10"))  # fmt: skip


def part_replay(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    """bench_store's replay section (it rebuilds 3 times each way)."""
    results: dict[str, Any] = {}
    asyncio.run(section_replay(results, tmp, Config(replay_events=args.replay_events)))
    for key, name, target in (
        ("replay_seq_1", "replay from seq 1", ""),
        ("replay_snapshot", "replay from its snapshot", "<= 20 ms, >= 20x faster"),
        ("replay_snapshot_999", "replay from its snapshot + 999 events", ""),
    ):
        for sample in results[key].samples:
            figs.add(
                key, f"{args.replay_events}-event auction: {name}", sample * 1000, "ms", target
            )
    figs.ratio("replay from seq 1 / from its snapshot", "replay_seq_1", "replay_snapshot", ">= 20")


PART: dict[str, Callable[[Figures, Path, argparse.Namespace], None]] = {
    "stored": part_stored, "passivated": part_passivated, "hot": part_hot, "replay": part_replay,
}  # fmt: skip


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PARTS), help=f"parts, comma-separated: {PARTS}")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--auctions", type=int, default=100_000, help="stored: auctions in the store")
    p.add_argument("--open-every", type=int, default=100, help="stored: 1 in N is open")
    p.add_argument("--passivated", type=int, default=10_000, help="passivated: open auctions")
    p.add_argument("--passivate-after", type=float, default=0.2, help="passivated: seconds")
    p.add_argument("--callers", type=int, default=30, help="hot: concurrent callers")
    p.add_argument("--hot-seconds", type=float, default=3.0, help="hot: seconds of bidding")
    p.add_argument("--hot-before", type=float, help="hot: cmds/s on one auction before, measured "
                   "by this script on the older code (prints the ratio)")  # fmt: skip
    p.add_argument("--ceiling-appends", type=int, default=300, help="hot: appends per appender")
    p.add_argument("--replay-events", type=int, default=100_000, help="replay: events")
    p.add_argument("--repo", type=Path, default=harness.REPO, help="the checkout whose server runs")
    args = p.parse_args(argv)
    args.only = args.only.split(",")
    unknown = set(args.only) - set(PARTS)
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    harness.use_checkout(args.repo)
    head = os.popen(f"git -C {harness.REPO} rev-parse --short HEAD").read().strip()
    print(f"bench_scale: server and CLI of {harness.REPO} ({head}), {harness.PYTHON}; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}", flush=True)  # fmt: skip
    figs = Figures()
    with workdir("bench-scale-") as tmp:
        for part in args.only:
            print(f"-- {part}", flush=True)
            started = time.perf_counter()
            PART[part](figs, tmp, args)
            print(f"  {part} done in {time.perf_counter() - started:.1f} s", flush=True)
    figs.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
