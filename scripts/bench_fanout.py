"""Parts ``burst`` and ``latency`` of `bench_gateway`: bids over WebSocket, updates fanned out to
watchers, against a bare ``websockets`` broadcast in the same run. Every process is separate, on
loopback, with the file-descriptor limit raised to its hard limit (inherited by every child):

- the **server**: ``python -m auctionactors serve --db TMP --port 0`` with its per-connection
  limits raised (``--rate``, ``--outbox``, ``--max-connections-per-token``), on asyncio's loop
  or on uvloop (``--loop``);
- the **bidders** (this process, `auctionactors.client.Client`): 10 auctions x 5 suppliers, one
  connection per (auction, supplier), plain bids on 2 products; their ack is the ``ok``. Every
  run opens 10 fresh auctions, so that the views (which grow with the bids) start the same;
- the **watchers**: 4 processes holding 10, 100 then 1000 connections, each authenticated as one
  of the 5 supplier companies (one token per company), speaking protocol 2 (patches) or 1 (whole
  views) and subscribed with ``subscribe_all``, so every watcher receives every bid's update;
- the **baseline**: a bare ``websockets.asyncio.server`` process calling ``broadcast`` with as
  many messages per watcher as the run delivered, of the run's mean frame size, to the same
  number of watcher connections, on the same loop: all at once (burst) or at the bid rate.

The watchers (`fanout_peers`) are a minimal receive-only WebSocket client, so that both
servers face the same cheap receivers and the receivers are not what is measured; every frame
counts, whatever it carries. Latency is measured on one clock
(``time.monotonic``, system-wide on Linux): a bid's update latency is from the bidder sending it
to a watcher receiving the update with the seq the bid's ``ok`` announced; ``ack`` is send to
``ok``. Runs: *paced* (``latency``: 100 bids/s at 100 watchers, 20 bids/s at 1000 watchers) and
*burst* (bids as fast as 50 connections one request at a time can go; fan-out throughput =
frames delivered / time from the first bid to the last frame).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
from fanout_peers import bare_main, watcher_main
from harness import (
    EVENT_LOOP,
    Child,
    Column,
    Figures,
    Server,
    Table,
    add_users,
    connected,
    now_us,
    percentile,
    ratio,
)

from auctionactors.client import Client
from auctionactors.domain.money import format_amount
from auctionactors.domain.parties import Role
from auctionactors.domain.timestamps import SECOND, format_instant

AUCTIONS = 10
SUPPLIERS = 5
WATCHER_PROCS = 4
now = time.monotonic


def _commit_p99(server: Server) -> float:
    """The server's own figure for durable commits (since it started, estimated from its
    histogram's buckets), from ``/metrics``: what an ack waits for at least, whatever the
    fan-out does."""
    p99 = server.quantile("auctionactors_store_commit_latency_seconds", 0.99)
    return float("nan") if p99 is None else p99


# --- the coordinator --------------------------------------------------------------------------


@dataclass
class Config:
    watchers: tuple[int, ...] = (10, 100, 1000)
    burst_bids: dict[int, int] = field(default_factory=lambda: {10: 1500, 100: 1500, 1000: 300})
    paced: dict[int, tuple[float, float]] = field(  # watchers -> (bids/s, seconds)
        default_factory=lambda: {100: (100.0, 5.0), 1000: (20.0, 8.0)}
    )

    @classmethod
    def quick(cls) -> Config:
        return cls(
            (10, 100, 1000), {10: 200, 100: 200, 1000: 50}, {100: (100.0, 1.5), 1000: (20.0, 2.0)}
        )


@dataclass
class Row:
    loop: str
    protocol: int
    watchers: int
    run: str
    bids: int = 0
    bids_per_s: float = 0.0
    ack: list[float] = field(default_factory=list)
    update: list[float] = field(default_factory=list)
    frames: int = 0
    frames_per_s: float = 0.0
    frame_bytes: float = 0.0
    lost: int = 0
    bare_per_s: float = 0.0
    bare: list[float] = field(default_factory=list)
    bare_lost: int = 0
    server_cpu_s: float = 0.0  # the server process's CPU time during the run (all threads)
    commit_p99: float = float("nan")  # the store's commit latency, p99 of its recent commits


class Bench:
    """One server on one loop, its watchers speaking one protocol, the bare broadcast server on
    the same loop; watcher connections added to both with `watch`, runs measured with `measure`."""

    def __init__(self, loop: str, protocol: int, folder: Path, profile: str | None) -> None:
        self.loop = loop
        self.protocol = protocol
        self.profile = profile
        self.folder = folder
        self.tokens: dict[str, str] = {}
        self.companies: dict[str, str] = {}
        self.bidders: list[Client] = []  # per auction, one per supplier
        self.watchers: list[Child] = []
        self.auction_round = 0
        self.connects: list[tuple[int, float, float]] = []  # (watchers, seconds: ours, bare)

    # --- set-up -------------------------------------------------------------------------------

    async def seed(self, path: Path) -> None:
        names: dict[str, Role] = {"Platform": "admin", "Buyer": "buyer"}
        names |= {f"Supplier {i}": "supplier" for i in range(SUPPLIERS)}
        people = {name: (name, role, f"{name} user") for name, role in names.items()}
        for name, user in (await add_users(path, people)).items():
            self.tokens[name] = user.token
            self.companies[name] = user.company_id

    def start_server(self, path: Path) -> Server:
        profile = []
        if self.profile is not None:  # the server under cProfile, its stats written at exit
            profile = ["-m", "cProfile", "-o", f"{self.profile}.{self.loop}.p{self.protocol}"]
        server = Server(
            path, self.folder / f"serve-{self.loop}-p{self.protocol}.log", "--loop", self.loop,
            "--rate", "1000000", "--outbox", "1000000", "--max-connections-per-token", "100000",
            # its watcher processes connect 25 at a time each
            "--max-unauthenticated-per-address", "100000",
            python=profile, timeout_s=30,
        )  # fmt: skip
        loop = server.expect(EVENT_LOOP, 30)
        assert loop == self.loop, loop
        return server

    async def new_auctions(self, admin: Client) -> list[tuple[str, list[str]]]:
        """Fresh auctions for each run, so that every run's views start the same size."""
        self.auction_round += 1
        start = format_instant(now_us())
        eta = format_instant(now_us() + 3 * 86_400 * SECOND)
        made = []
        for i in range(AUCTIONS):
            reply = await admin.request(
                "create_auction",
                buyer=self.companies["Buyer"],
                auction={
                    "kind": "spot",
                    "port": f"Port {self.auction_round}-{i}",
                    "suppliers": [self.companies[f"Supplier {s}"] for s in range(SUPPLIERS)],
                    "scheduled_start": start,
                    "duration_s": 3600,
                    "products": [
                        {
                            "vessel": {"name": "MV Bench", "imo": "9300001"},
                            "fuel": fuel,
                            "quantity_mt": 1000,
                            "eta": eta,
                        }
                        for fuel in ("VLSFO 0.5%", "MGO 0.1%")
                    ],
                },
            )
            made.append((reply["auction_id"], list(reply["product_ids"])))
        return made

    async def watchers_call(self, *command: Any) -> list[Any]:
        return list(await asyncio.gather(*(w.call(*command) for w in self.watchers)))

    async def grow(self, kind: str, host: str, port: int, tokens: list[str], total: int) -> None:
        """Open watcher connections until there are ``total``, spread over the processes."""
        have = await self.watchers_call("connect", kind, host, port, tokens, 0)
        todo = total - sum(have)
        procs = len(self.watchers)
        share = [todo // procs + (i < todo % procs) for i in range(procs)]
        firsts = [sum(have) + sum(share[:i]) for i in range(procs)]  # tokens evenly overall
        await asyncio.gather(
            *(
                w.call("connect", kind, host, port, tokens, n, first)
                for w, n, first in zip(self.watchers, share, firsts, strict=True)
                if n > 0
            )
        )

    # --- runs -----------------------------------------------------------------------------------

    async def bid_run(
        self, auctions: list[tuple[str, list[str]]], bids: int, rate: float | None
    ) -> tuple[dict[tuple[str, int], float], list[float], float, float]:
        """Place ``bids`` bids (paced at ``rate``/s, or as fast as possible); returns the send
        time of each acknowledged bid by (auction_id, seq), ack latencies, first send, last ack."""
        sent: dict[tuple[str, int], float] = {}
        acks: list[float] = []
        amounts = [100_000] * len(self.bidders)
        last_ack = 0.0

        async def one(i: int, k: int) -> None:
            nonlocal last_ack
            client = self.bidders[i]
            auction_id, products = auctions[i // SUPPLIERS]
            amounts[i] -= 25
            bid = {"product_id": products[k % len(products)], "amount": format_amount(amounts[i])}
            t = now()
            reply = await client.request("place_bids", auction_id=auction_id, bids=[bid])
            done = now()
            acks.append(done - t)
            sent[(auction_id, reply["seq"])] = t
            last_ack = max(last_ack, done)

        t0 = now()
        if rate is None:

            async def closed_loop(i: int, count: int) -> None:
                for k in range(count):
                    await one(i, k)

            n = len(self.bidders)
            await asyncio.gather(*(closed_loop(i, bids // n + (i < bids % n)) for i in range(n)))
        else:
            tasks = []
            for k in range(bids):
                delay = t0 + k / rate - now()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(
                    asyncio.create_task(one(k % len(self.bidders), k // len(self.bidders)))
                )
            await asyncio.gather(*tasks)
        return sent, acks, t0, last_ack

    async def ours(
        self, server: Server, admin: Client, row: Row, bids: int, rate: float | None
    ) -> None:
        auctions = await self.new_auctions(admin)
        await self.watchers_call("quiet", "ours", 0.3)
        await self.watchers_call("reset", "ours")
        cpu0 = server.cpu_seconds()
        sent, acks, t0, last_ack = await self.bid_run(auctions, bids, rate)
        expected = len(sent)
        await self.watchers_call("expect", "ours", expected, 60.0)
        row.server_cpu_s = server.cpu_seconds() - cpu0
        row.commit_p99 = await asyncio.to_thread(_commit_p99, server)
        parts = await self.watchers_call("collect", "ours")
        frames = sum(p["frames"] for p in parts)
        last = max(p["last"] for p in parts)
        row.bids = expected
        row.bids_per_s = expected / (last_ack - t0)
        row.ack = acks
        row.update = [t - sent[(a, s)] for p in parts for a, s, t in p["samples"] if (a, s) in sent]
        row.frames = frames
        row.frames_per_s = frames / (last - t0)
        row.frame_bytes = sum(p["bytes"] for p in parts) / max(frames, 1)
        row.lost = row.watchers * expected - frames

    async def bare(self, control: Any, row: Row, rate: float | None) -> None:
        per_watcher = row.bids
        size = round(row.frame_bytes)
        await self.watchers_call("reset", "bare")
        cmd: dict[str, Any] = {
            "cmd": "burst" if rate is None else "paced",
            "count": per_watcher,
            "size": size,
        }
        if rate is not None:
            cmd["rate"] = rate
        await control.send(json.dumps(cmd))
        reply = json.loads(await control.recv())
        await self.watchers_call("expect", "bare", per_watcher, 60.0)
        parts = await self.watchers_call("collect", "bare")
        frames = sum(p["frames"] for p in parts)
        last = max(p["last"] for p in parts)
        sent = {int(k): v for k, v in reply["sent"].items()}
        row.bare_per_s = frames / (last - reply["t0"])
        row.bare = [t - sent[s] for p in parts for _, s, t in p["samples"] if s in sent]
        row.bare_lost = row.watchers * per_watcher - frames

    async def measure(self, server: Server, watchers: int, bids: int, rate: float | None) -> Row:
        name = "burst" if rate is None else f"paced {rate:g}/s"
        row = Row(self.loop, self.protocol, watchers, name)
        await self.ours(server, self.admin, row, bids, rate)
        await self.bare(self.control, row, rate)
        print_row(row)
        return row

    async def watch(self, n: int) -> None:
        """Watcher connections on both servers until there are ``n`` on each."""
        supplier_tokens = [self.tokens[f"Supplier {s}"] for s in range(SUPPLIERS)]
        t = now()
        await self.grow("ours", "127.0.0.1", self.server.port, supplier_tokens, n)
        ours_s = now() - t
        t = now()
        await self.grow("bare", "127.0.0.1", self.bare_port, ["-"], n)
        self.connects.append((n, ours_s, now() - t))
        for _ in range(100):  # the bare server counts a watcher once its hello is in
            await self.control.send(json.dumps({"cmd": "count"}))
            if json.loads(await self.control.recv())["watchers"] == n:
                break
            await asyncio.sleep(0.05)

    async def session(self, work: Callable[[Bench], Any]) -> None:
        """Set up, ``await work(self)``, tear down."""
        from websockets.asyncio.client import connect

        db = self.folder / f"bench-{self.loop}-p{self.protocol}.db"
        await self.seed(db)
        self.server = server = await asyncio.to_thread(self.start_server, db)
        bare_child = Child(bare_main, self.loop)
        self.bare_port = await bare_child.recv()
        self.watchers = [Child(watcher_main, self.protocol) for _ in range(WATCHER_PROCS)]
        self.admin = await connected(server.url, self.tokens["Platform"], request_timeout_s=60)
        for _ in range(AUCTIONS):
            for s in range(SUPPLIERS):
                token = self.tokens[f"Supplier {s}"]
                self.bidders.append(await connected(server.url, token, request_timeout_s=60))
        url = f"ws://127.0.0.1:{self.bare_port}/"
        self.control = await connect(url, compression=None, max_size=None)
        await self.control.send(json.dumps({"type": "control"}))
        try:
            await work(self)
        finally:
            await self.control.close()
            for client in self.bidders:
                await client.close()
            await self.admin.close()
            for child in self.watchers:
                child.stop()
            bare_child.stop()
            code = await asyncio.to_thread(server.stop, 3600)
            if code != 0:
                print(f"  (the server exited with status {code})")
            print(f"  {self.loop}, protocol {self.protocol}: watchers connected in "
                  + ", ".join(f"to {n}: {o:.1f} s (bare {b:.1f} s)" for n, o, b in self.connects),
                  flush=True)  # fmt: skip


# --- output -----------------------------------------------------------------------------------

ROWS = Table(
    Column("loop", 8, left=True, lead="  "), Column("p", 2), Column("watch", 6),
    Column("run", 12, left=True, lead=" "), Column("bids", 6), Column("bids/s", 8, ".0f"),
    Column("ack p50", 9), Column("p99", 7), Column("upd p50", 9), Column("p99", 7),
    Column("frames/s", 10, ".0f"), Column("KB", 5, ".1f"), Column("cpu/bid", 8, ".2f"),
    Column("commit", 7, ".1f"), Column("bare/s", 9, ".0f", lead=" |"), Column("p50", 7),
    Column("p99", 7), Column("ratio", 7, ".2f"),
    sep="",
)  # fmt: skip


def _ms(samples: list[float], q: int) -> str:
    return f"{percentile(samples, q) * 1000:.1f}" if samples else "-"


def print_row(row: Row) -> None:
    line = ROWS.row(
        row.loop, row.protocol, row.watchers, row.run, row.bids, row.bids_per_s,
        _ms(row.ack, 50), _ms(row.ack, 99), _ms(row.update, 50), _ms(row.update, 99),
        row.frames_per_s, row.frame_bytes / 1000,
        row.server_cpu_s / max(row.bids, 1) * 1000, row.commit_p99 * 1000,
        row.bare_per_s, _ms(row.bare, 50), _ms(row.bare, 99),
        ratio(row.frames_per_s, row.bare_per_s),
    )  # fmt: skip
    if row.lost or row.bare_lost:
        line += f"  (missing frames: ours {row.lost}, bare {row.bare_lost})"
    print(line, flush=True)


def explain() -> None:
    print("  latencies in ms; frames/s = update frames delivered to all watchers per second; KB =")
    print("  mean update frame; cpu/bid = the server's CPU time per bid (ms, all threads); commit")
    print("  = the store's durable commit p99 (its histogram, /metrics); bare = websockets")
    print("  broadcast of as many frames of the same size to as many watchers; p = protocol")
    print(ROWS.head(), flush=True)


# --- the parts --------------------------------------------------------------------------------


def config(args: argparse.Namespace) -> Config:
    cfg = Config.quick() if args.quick else Config()
    cfg.watchers = tuple(args.watchers)
    return cfg


def part_burst(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    """Burst fan-out on the first of ``--loops``: watchers on protocol 2, then 1 (reference)."""
    cfg = config(args)
    loop = args.loops[0]
    explain()

    async def work(bench: Bench) -> None:
        p = bench.protocol
        for n in cfg.watchers:
            await bench.watch(n)
            for _ in range(args.runs):
                row = await bench.measure(bench.server, n, cfg.burst_bids.get(n, 300), None)
                name = f"burst fan-out, {n} watchers, protocol {p}: frames/s"
                figs.add(f"burst_{p}_{n}", name, row.frames_per_s, "/s")
                figs.add(f"burst_{p}_{n}_bare", "  bare broadcast", row.bare_per_s, "/s")
                figs.add(f"burst_{p}_{n}_ratio", "  / bare broadcast",
                         ratio(row.frames_per_s, row.bare_per_s), "x",
                         ">= 0.5" if p == 2 else "(reference)")  # fmt: skip
                figs.add(f"burst_{p}_{n}_kb", "  mean update frame", row.frame_bytes / 1000, "KB")

    for protocol in (2, 1):
        harness.fast_run(Bench(loop, protocol, tmp, args.profile).session(work))


def part_latency(figs: Figures, tmp: Path, args: argparse.Namespace) -> None:
    """Update latency at a steady bid rate, watchers on protocol 2, on each of ``--loops``."""
    cfg = config(args)
    explain()

    async def work(bench: Bench) -> None:
        for n in cfg.watchers:
            if n not in cfg.paced:
                continue
            await bench.watch(n)
            rate, seconds = cfg.paced[n]
            for _ in range(args.runs):
                row = await bench.measure(bench.server, n, round(rate * seconds), rate)
                ours, bare = percentile(row.update, 99), percentile(row.bare, 99)
                key = f"lat_{bench.loop}_{n}"
                figs.add(key, f"{bench.loop}, {n} watchers x {rate:g} bids/s: update p99",
                         ours * 1000, "ms")  # fmt: skip
                figs.add(f"{key}_bare", "  bare broadcast p99", bare * 1000, "ms")
                figs.add(f"{key}_over", "  update p99 - bare p99", (ours - bare) * 1000, "ms",
                         "<= 10")  # fmt: skip
                figs.add(f"{key}_ack", "  ack p99", percentile(row.ack, 99) * 1000, "ms")

    for loop in args.loops:
        harness.fast_run(Bench(loop, 2, tmp, args.profile).session(work))


PARTS = {"burst": part_burst, "latency": part_latency}
