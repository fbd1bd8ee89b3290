"""Gateway benchmark: bids over WebSocket, updates fanned out to watchers, against a bare broadcast.

Run ``.venv/bin/python scripts/bench_gateway.py`` (about 1.5 minutes on 2 cores, both loops) or
with ``--quick`` (under a minute); ``--loops asyncio``, ``--watchers 1000`` for one part,
``--profile PATH`` to run the server under cProfile. Every process is separate, on loopback, with
the file-descriptor limit raised to its hard limit (inherited by every child):

- the **server**: ``python -m auctionactors serve --db TMP --port 0`` with its per-connection
  limits raised (``--rate``, ``--outbox``, ``--max-connections-per-token``), once on asyncio's
  loop and once on uvloop when it is installed (``--loop``);
- the **bidders** (this process, `auctionactors.client.Client`): 10 auctions x 5 suppliers, one
  connection per (auction, supplier), plain bids on 2 products; their ack is the ``ok``. Every
  run opens 10 fresh auctions, so that the views (which grow with the bids) start the same;
- the **watchers**: 4 processes holding 10, 100 then 1000 connections, each authenticated as one
  of the 5 supplier companies (one token per company) and subscribed with ``subscribe_all``, so
  every watcher receives every bid's update (the view of its company: a few KB);
- the **baseline**: a bare ``websockets.asyncio.server`` process calling ``broadcast`` with as
  many messages per watcher as the run delivered, of the run's mean frame size, to the same
  number of watcher connections, on the same loop: all at once (burst) or at the bid rate.

The watchers are a minimal receive-only WebSocket client (an `asyncio.Protocol` parsing frames
itself) so that both servers face the same cheap receivers and the receivers are not what is
measured. Latency is measured on one clock (``time.monotonic``, system-wide on Linux): a bid's
update latency is from the bidder sending it to a watcher receiving the update with the seq the
bid's ``ok`` announced; ``ack`` is send to ``ok``. Runs: *paced* (100 bids/s at 100 watchers,
20 bids/s at 1000 watchers; latency) and *burst* (bids as fast as 50 connections one request at a
time can go; fan-out throughput = frames delivered / time from the first bid to the last frame).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    EVENT_LOOP,
    Column,
    Server,
    Table,
    add_users,
    connected,
    now_us,
    percentile,
    ratio,
    workdir,
)

from auctionactors.client import Client
from auctionactors.domain.money import format_amount
from auctionactors.domain.parties import Role
from auctionactors.domain.timestamps import SECOND, format_instant

AUCTIONS = 10
SUPPLIERS = 5
WATCHER_PROCS = 4
HEADER = re.compile(rb'\{"type":"update","auction_id":"([^"]*)","seq":(\d+)')
Mono = Callable[[], float]
now: Mono = time.monotonic


def _run(main: Coroutine[Any, Any, Any]) -> Any:
    """Clients run on uvloop when it is installed (the same for every server measured)."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _client_loop() -> str:
    try:
        importlib.import_module("uvloop")
    except ImportError:
        return "asyncio"
    return "uvloop"


def _loop_run(main: Coroutine[Any, Any, Any], loop: str) -> Any:
    if loop == "uvloop":
        return importlib.import_module("uvloop").run(main)
    return asyncio.run(main)


def _commit_p99(server: Server) -> float:
    """The server's own figure for durable commits (its last 1000), from ``/metrics``: what an
    ack waits for at least, whatever the fan-out does."""
    p99 = server.metric('auctionactors_store_commit_latency_seconds{quantile="0.99"}')
    return float("nan") if p99 is None else p99


# --- the watchers: a minimal receive-only WebSocket client --------------------------------------


def _client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (the mask is zeros: valid, and the payload stays as it is)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class Watcher(asyncio.Protocol):
    """One watcher connection: handshake, hello (and ``subscribe_all``), then count the frames
    and record (auction_id, seq, time received) of each update."""

    def __init__(self, host: str, port: int, token: str, subscribe: bool) -> None:
        self.request = (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.hello = json.dumps({"type": "hello", "token": token}).encode()
        self.subscribe = subscribe
        self.transport: asyncio.Transport | None = None
        self.http = True
        self.setup: list[bytes] | None = []  # frames before streaming (welcome, ok)
        self.ready = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.frames = 0
        self.bytes = 0
        self.first = 0.0
        self.last = 0.0
        self.samples: list[tuple[bytes, int, float]] = []
        self.closed = False

    def reset(self) -> None:
        self.frames = self.bytes = 0
        self.first = self.last = 0.0
        self.samples = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is not a subclass)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during setup"))

    def data_received(self, data: bytes) -> None:
        t = now()
        buf = self.buf + data if self.buf else data
        if self.http:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(buf[:200].decode(errors="replace"))
            self.http = False
            buf = buf[end + 4 :]
            assert self.transport is not None
            self.transport.write(_client_frame(self.hello))
            if not self.subscribe:
                self.setup = None
                self.ready.set_result(None)
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            hdr = 2
            if b1 == 126:
                if n - pos < 4:
                    break
                b1, hdr = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif b1 == 127:
                if n - pos < 10:
                    break
                b1, hdr = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + hdr + b1
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode in (0, 1, 2):
                self._message(buf, pos + hdr, end, t)
            elif opcode == 9 and self.transport is not None:  # ping: pong
                self.transport.write(_client_frame(buf[pos + hdr : end], 0xA))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
            pos = end
        self.buf = buf[pos:] if pos < n else b""

    def _message(self, buf: bytes, start: int, end: int, t: float) -> None:
        if self.setup is not None:
            self._setup(json.loads(buf[start:end]))
            return
        if not self.frames:
            self.first = t
        self.frames += 1
        self.bytes += end - start
        self.last = t
        match = HEADER.match(buf, start, min(end, start + 120))
        if match is not None:
            self.samples.append((match[1], int(match[2]), t))

    def _setup(self, frame: dict[str, Any]) -> None:
        assert self.transport is not None
        if frame.get("type") == "welcome":
            self.transport.write(_client_frame(b'{"type":"subscribe_all","id":1}'))
        elif frame.get("type") == "ok":
            self.setup = None
            self.ready.set_result(None)
        elif frame.get("type") == "error" or frame.get("type") != "update":
            self.ready.set_exception(ConnectionError(str(frame)))


class WatcherProcess:
    """The watchers of one process, driven by commands over a pipe."""

    def __init__(self) -> None:
        self.conns: dict[str, list[Watcher]] = {"ours": [], "bare": []}

    async def connect(
        self, kind: str, host: str, port: int, tokens: list[str], count: int, first: int = 0
    ) -> int:
        """Open ``count`` more connections, the i-th with token ``first + i`` (round robin)."""
        loop = asyncio.get_running_loop()
        for start in range(0, count, 25):
            batch = []
            for i in range(start, min(count, start + 25)):
                token = tokens[(first + i) % len(tokens)]
                _, w = await loop.create_connection(
                    lambda t=token: Watcher(host, port, t, kind == "ours"), host, port
                )
                batch.append(w)
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in batch)), 30)
            self.conns[kind].extend(batch)
        return len(self.conns[kind])

    async def quiet(self, kind: str, quiet_s: float) -> int:
        """Wait until no frame has arrived for ``quiet_s`` (the setup's updates are in)."""
        while True:
            last = max((w.last for w in self.conns[kind]), default=0.0)
            if now() - last >= quiet_s:
                return sum(w.frames for w in self.conns[kind])
            await asyncio.sleep(quiet_s / 4)

    async def expect(self, kind: str, frames: int, timeout_s: float) -> int:
        """Wait until every connection has ``frames`` frames; returns the fewest received."""
        deadline = now() + timeout_s
        while True:
            fewest = min((w.frames for w in self.conns[kind]), default=frames)
            if fewest >= frames or now() > deadline:
                return fewest
            await asyncio.sleep(0.02)

    def reset(self, kind: str) -> None:
        for w in self.conns[kind]:
            w.reset()

    def collect(self, kind: str) -> dict[str, Any]:
        conns = [w for w in self.conns[kind] if w.frames]
        samples: list[tuple[str, int, float]] = []
        for w in conns:
            samples.extend((a.decode(), s, t) for a, s, t in w.samples)
        return {
            "frames": sum(w.frames for w in conns),
            "bytes": sum(w.bytes for w in conns),
            "first": min((w.first for w in conns), default=0.0),
            "last": max((w.last for w in conns), default=0.0),
            "closed": sum(w.closed for w in self.conns[kind]),
            "samples": samples,
        }

    def close(self, kind: str) -> None:
        for w in self.conns[kind]:
            if w.transport is not None:
                w.transport.abort()
        self.conns[kind] = []


async def _watcher_loop(conn: multiprocessing.connection.Connection) -> None:
    loop = asyncio.get_running_loop()
    proc = WatcherProcess()
    commands: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        try:
            os.set_blocking(conn.fileno(), True)  # (uvloop's add_reader made it non-blocking)
            commands.put_nowait(conn.recv())
        except EOFError:  # the coordinator is gone
            loop.remove_reader(conn.fileno())
            commands.put_nowait(("exit",))

    loop.add_reader(conn.fileno(), readable)
    while True:
        name, *args = await commands.get()
        if name == "exit":
            return
        try:
            method = getattr(proc, name)
            result = method(*args)
            if asyncio.iscoroutine(result):
                result = await result
            conn.send(("ok", result))
        except Exception as exc:  # reported to the coordinator, which stops
            conn.send(("error", repr(exc)))


def watcher_main(conn: multiprocessing.connection.Connection) -> None:
    _run(_watcher_loop(conn))


# --- the baseline: a bare websockets broadcast server -------------------------------------------


def _bare_message(seq: int, size: int) -> bytes:
    head = b'{"type":"update","auction_id":"bare","seq":%d,"pad":"' % seq
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


async def _bare_server(conn: multiprocessing.connection.Connection) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    watchers: set[ServerConnection] = set()

    async def control(ws: ServerConnection, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd["cmd"] == "count":
            return {"watchers": len(watchers)}
        count, size = cmd["count"], cmd["size"]
        messages = [_bare_message(seq, size) for seq in range(1, count + 1)]
        targets = list(watchers)
        if cmd["cmd"] == "burst":
            t0 = now()
            for message in messages:
                broadcast(targets, message, text=True)
            return {"t0": t0, "sent": {}}
        interval = 1 / cmd["rate"]
        t0 = now() + 0.05
        sent: dict[int, float] = {}
        for seq, message in enumerate(messages, 1):
            delay = t0 + (seq - 1) * interval - now()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[seq] = now()
            broadcast(targets, message, text=True)
        return {"t0": t0, "sent": sent}

    async def handler(ws: ServerConnection) -> None:
        first = json.loads(await ws.recv())
        if first.get("type") != "control":
            watchers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                watchers.discard(ws)
            return
        async for raw in ws:
            await ws.send(json.dumps(await control(ws, json.loads(raw))))

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: done.done() or done.set_result(None))
        await done


def bare_main(conn: multiprocessing.connection.Connection, loop: str) -> None:
    _loop_run(_bare_server(conn), loop)


# --- the coordinator --------------------------------------------------------------------------


class Child:
    """A child process with a command pipe: ``await child.call(name, *args)``."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(theirs, *args), daemon=True)
        self.proc.start()
        theirs.close()

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        loop.add_reader(self.conn.fileno(), lambda: future.done() or future.set_result(None))
        try:
            await future
        finally:
            loop.remove_reader(self.conn.fileno())
        os.set_blocking(self.conn.fileno(), True)  # (uvloop's add_reader made it non-blocking)
        return self.conn.recv()

    async def call(self, *command: Any) -> Any:
        self.conn.send(command)
        status, result = await self.recv()
        if status != "ok":
            raise RuntimeError(f"{command[0]} failed in a child: {result}")
        return result

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("exit",))
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


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
            (10, 100, 1000), {10: 300, 100: 300, 1000: 100}, {100: (100.0, 2.0), 1000: (20.0, 3.0)}
        )


@dataclass
class Row:
    loop: str
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
    def __init__(self, loop: str, cfg: Config, folder: Path, profile: str | None = None) -> None:
        self.loop = loop
        self.profile = profile
        self.cfg = cfg
        self.folder = folder
        self.rows: list[Row] = []
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
            profile = ["-m", "cProfile", "-o", f"{self.profile}.{self.loop}"]
        server = Server(
            path, self.folder / f"serve-{self.loop}.log", "--loop", self.loop,
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

    async def run(self) -> None:
        from websockets.asyncio.client import connect

        db = self.folder / f"bench-{self.loop}.db"
        await self.seed(db)
        server = await asyncio.to_thread(self.start_server, db)
        url, host, port = server.url, "127.0.0.1", server.port
        bare_child = Child(bare_main, self.loop)
        bare_port = await bare_child.recv()
        self.watchers = [Child(watcher_main) for _ in range(WATCHER_PROCS)]
        admin = await connected(url, self.tokens["Platform"], request_timeout_s=60)
        for _ in range(AUCTIONS):
            for s in range(SUPPLIERS):
                token = self.tokens[f"Supplier {s}"]
                self.bidders.append(await connected(url, token, request_timeout_s=60))
        supplier_tokens = [self.tokens[f"Supplier {s}"] for s in range(SUPPLIERS)]
        control = await connect(f"ws://{host}:{bare_port}/", compression=None, max_size=None)
        await control.send(json.dumps({"type": "control"}))
        try:
            for n in self.cfg.watchers:
                t = now()
                await self.grow("ours", host, port, supplier_tokens, n)
                ours_s = now() - t
                t = now()
                await self.grow("bare", host, bare_port, ["-"], n)
                self.connects.append((n, ours_s, now() - t))
                for _ in range(100):  # the bare server counts a watcher once its hello is in
                    await control.send(json.dumps({"cmd": "count"}))
                    if json.loads(await control.recv())["watchers"] == n:
                        break
                    await asyncio.sleep(0.05)
                runs: list[tuple[str, int, float | None]] = []
                if n in self.cfg.paced:
                    rate, seconds = self.cfg.paced[n]
                    runs.append((f"paced {rate:g}/s", round(rate * seconds), rate))
                runs.append(("burst", self.cfg.burst_bids.get(n, min(1500, 300_000 // n)), None))
                for name, bids, rate in runs:
                    row = Row(self.loop, n, name)
                    await self.ours(server, admin, row, bids, rate)
                    await self.bare(control, row, rate)
                    self.rows.append(row)
                    print_row(row)
        finally:
            await control.close()
            for client in self.bidders:
                await client.close()
            await admin.close()
            for child in self.watchers:
                child.stop()
            bare_child.stop()
            code = await asyncio.to_thread(server.stop, 3600)
            if code != 0:
                print(f"  (the server exited with status {code})")


# --- output -----------------------------------------------------------------------------------

ROWS = Table(
    Column("loop", 8, left=True), Column("watch", 6), Column("run", 12, left=True, lead=" "),
    Column("bids", 6), Column("bids/s", 8, ".0f"), Column("ack p50", 9), Column("p99", 7),
    Column("upd p50", 9), Column("p99", 7), Column("frames/s", 10, ".0f"), Column("KB", 5, ".1f"),
    Column("cpu/bid", 8, ".2f"), Column("commit", 7, ".1f"),
    Column("bare/s", 9, ".0f", lead=" |"), Column("p50", 7), Column("p99", 7),
    Column("ratio", 7, ".2f"),
    sep="",
)  # fmt: skip


def _ms(samples: list[float], q: int) -> str:
    return f"{percentile(samples, q) * 1000:.1f}" if samples else "-"


def print_row(row: Row) -> None:
    line = ROWS.row(
        row.loop, row.watchers, row.run, row.bids, row.bids_per_s,
        _ms(row.ack, 50), _ms(row.ack, 99), _ms(row.update, 50), _ms(row.update, 99),
        row.frames_per_s, row.frame_bytes / 1000,
        row.server_cpu_s / max(row.bids, 1) * 1000, row.commit_p99 * 1000,
        row.bare_per_s, _ms(row.bare, 50), _ms(row.bare, 99),
        ratio(row.frames_per_s, row.bare_per_s),
    )  # fmt: skip
    if row.lost or row.bare_lost:
        line += f"  (missing frames: ours {row.lost}, bare {row.bare_lost})"
    print(line, flush=True)


def verdicts(rows: list[Row]) -> None:
    print()
    for row in rows:
        if row.run == "burst":
            fan_out = ratio(row.frames_per_s, row.bare_per_s)
            ok = "ok" if fan_out >= 0.5 else "MISSED"
            if fan_out < 0.5 and row.watchers < 100:
                ok += (
                    f" (bound by the command path, {row.bids_per_s:.0f} bids/s: a durable commit"
                    f" and {SUPPLIERS} renders per bid for {row.watchers} frames)"
                )
            print(
                f"{row.loop:<8} burst fan-out at {row.watchers:>4} watchers: {fan_out:.2f} x bare"
                f" broadcast (target >= 0.5): {ok}"
            )
    for row in rows:
        target = {100: 10.0, 1000: 50.0}.get(row.watchers)
        if row.run.startswith("paced") and target is not None:
            p99 = percentile(row.update, 99) * 1000
            ok = "ok" if p99 < target else "MISSED"
            print(
                f"{row.loop:<8} {row.run} at {row.watchers:>4} watchers: update p99 {p99:.1f} ms"
                f" (target < {target:g} ms): {ok}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (seconds)")
    parser.add_argument(
        "--loops",
        default="auto",
        help="server loops to measure: asyncio,uvloop (default: both if uvloop is installed)",
    )
    parser.add_argument(
        "--watchers", default=None, help="watcher counts to run, e.g. 1000 (default 10,100,1000)"
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="PATH",
        help="run the server under cProfile; stats go to PATH.asyncio, PATH.uvloop",
    )
    args = parser.parse_args(argv)
    cfg = Config.quick() if args.quick else Config()
    if args.watchers:
        cfg.watchers = tuple(int(n) for n in args.watchers.split(","))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    if args.loops == "auto":
        try:
            importlib.import_module("uvloop")
            loops = ["asyncio", "uvloop"]
        except ImportError:
            loops = ["asyncio"]
    else:
        loops = args.loops.split(",")
    print(
        f"gateway benchmark: {AUCTIONS} auctions x {SUPPLIERS} suppliers bidding; watchers in"
        f" {WATCHER_PROCS} processes; {os.cpu_count()} CPUs; fd limit {hard}; clients on"
        f" {_client_loop()}"
    )
    print("latencies in ms; frames/s = update frames delivered to all watchers per second;")
    print("KB = mean update frame; cpu/bid = the server's CPU time per bid (ms, all threads);")
    print("commit = the store's durable commit latency p99 (its last 1000 commits, /metrics);")
    print("bare = websockets broadcast of as many frames of the same size to as many watchers\n")
    print(ROWS.head(), flush=True)
    rows: list[Row] = []
    setup: list[str] = []
    with workdir("bench-gateway-") as tmp:
        for loop in loops:
            bench = Bench(loop, cfg, tmp, args.profile)
            _run(bench.run())
            rows.extend(bench.rows)
            setup.append(
                f"{loop:<8} watchers connected (hello, subscribe_all) in: "
                + ", ".join(f"to {n}: {o:.1f} s (bare {b:.1f} s)" for n, o, b in bench.connects)
            )
    print()
    print("\n".join(setup))
    verdicts(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
