"""Live fuzzing: hostile frames against a real ``auctionactors serve`` process.

    .venv/bin/python scripts/fuzz_server.py                  # 100 000 frames (a few minutes)
    .venv/bin/python scripts/fuzz_server.py --quick          # 2 000 frames (seconds)
    .venv/bin/python scripts/fuzz_server.py --frames 500000 --seed 7

A fresh store gets an admin, a buyer, two invited suppliers (S1, S2) and an outsider: a supplier
whose company is invited nowhere. The admin opens an auction (S1, S2 invited) and S1 bids. Then:

- **outsider connections** (several, on the outsider's token) send mutated valid requests of
  every type (fields dropped, retyped, oversized, nested, unicode, huge and NaN-like numbers,
  ``as_user`` set to other users), random JSON, random text, binary frames, deeply nested
  frames, frames over the 64 KiB limit (closed 1009), invalid UTF-8 (closed 1007), second
  hellos, and floods (rate limited; some without reading: closed 1013 when the outbox fills).
  Whenever the server closes one, it reconnects. **Nothing they send may be stored.**
- **S1's connection** sends mutated supplier commands one at a time and notes each ``ok``: the
  events stored afterwards must be exactly those of acknowledged commands (each run of events
  ending at an acknowledged seq has the types that command may cause).
- **the door**: connections that send garbage before the hello, bad and huge tokens, too many
  connections on one token (4429) and, in a full run, no hello at all (4408).

Afterwards: the server process is alive and answers ``/healthz``; ``operator_status`` shows
no connection and no task left behind; ``auctionactors verify --json`` before and after
differ by exactly S1's acknowledged events; the server's log shows no traceback and no
``internal`` reply was sent; the resident memory (``/proc/PID/status``) sampled before, during
and after is printed. Exit status 0 when every check holds, 1 otherwise. ``--json`` prints the
summary as one JSON line at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import PLATFORM, Server, cli_json, curve, report, serve_fresh, workdir
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from auctionactors.store.base import NewUser

MAX_FRAME = 64 * 1024
WINDOW = 48  # requests in flight per connection before the sender waits for replies
REPLY_WAIT_S = 15.0
FLOOD_SHARE = 0.25  # at most this share of the frames is sent in floods
RATE = 2000  # serve --rate: high enough to parse most frames, low enough for floods to trip it

# Event types each supplier command may cause (S1's acknowledged commands).
MAY_CAUSE = {
    "place_bids": {"bid_placed", "auto_bid_placed", "auto_bid_triggered", "duration_extended",
                   "rsvp_given"},
    "revoke_bid": {"bids_revoked", "auto_bid_triggered", "duration_extended"},
    "submit_barge": {"barge_submitted"},
    "unsubmit_barge": {"barge_unsubmitted"},
    "post_comment": {"comment_posted"},
    "delete_comment": {"comment_deleted"},
    "rsvp": {"rsvp_given"},
}  # fmt: skip
COMMANDS = {
    "create_auction", "update_auction", "start_auction", "cancel_auction", "place_bids",
    "revoke_bid", "select_solution", "submit_barge", "unsubmit_barge", "approve_barge",
    "reject_barge", "post_comment", "delete_comment", "rsvp", "invite_observer",
    "uninvite_observer",
}  # fmt: skip

NAN_LIKE = [
    "NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e999999999", "-1e999999999",
    "1e-999999999", "0x10", " 2.25", "2,25", "1_000", "²", "١٢٣", "", "-", ".", "1.", "+1",
    "0.001", "2.2500000000000000000000000000001", "9" * 400, "-0", "null", "[]", "\u0000",
    "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2026-11-27",
]  # fmt: skip
HUGE = [10**18, -(10**18), 2**63, -(2**63) - 1, 2**64, 10**100, 10**1000, 1e308, -1e308, 5e-324,
        -0.0, 0.1, -1.75, 1e16, -1, float("nan"), float("inf")]  # fmt: skip
UNICODE = ["\u202e", "\ufeff", "\U0010ffff", "\u0000", "é", "日本", "\U0001f600", "\ud800"]


# --- frames ---------------------------------------------------------------------------------


@dataclass
class Context:
    url: str
    auction_id: str
    users: dict[str, NewUser]
    bid_id: str
    eta: str

    def templates(self, supplier_only: bool = False) -> list[dict[str, Any]]:
        a, u = self.auction_id, self.users
        supplier = [
            {"type": "place_bids", "auction_id": a,
             "bids": [{"product_id": "p1", "amount": "1.75", "min_amount": "1.00"}]},
            {"type": "place_bids", "auction_id": a, "traded": True,
             "bids": [{"product_id": "p1", "amount": 2.5, "allow_split": False, "comment": "c"}]},
            {"type": "revoke_bid", "auction_id": a, "product_id": "p1"},
            {"type": "submit_barge", "auction_id": a, "barge": {"name": "B1", "imo": "9100001"}},
            {"type": "unsubmit_barge", "auction_id": a, "imo": "9100001"},
            {"type": "post_comment", "auction_id": a, "text": "hello"},
            {"type": "delete_comment", "auction_id": a, "comment_id": f"{a}:c4"},
            {"type": "rsvp", "auction_id": a, "response": "maybe"},
            {"type": "get_view", "auction_id": a},
            {"type": "subscribe", "auction_id": a, "since": 1},
            {"type": "unsubscribe", "auction_id": a},
            {"type": "list_auctions", "status": ["open"]},
        ]  # fmt: skip
        if supplier_only:
            return supplier
        auction = {
            "kind": "spot", "port": "Rotterdam", "scheduled_start": None,
            "suppliers": [u["s1"].company_id],
            "products": [{"vessel": {"name": "MV X", "imo": "1"}, "fuel": "VLSFO",
                          "quantity_mt": 1, "eta": self.eta}],
        }  # fmt: skip
        return [
            *supplier,
            {"type": "subscribe_all"},
            {"type": "get_events", "auction_id": a, "since": 0, "limit": 10},
            {"type": "operator_status"},
            {"type": "operator_revive", "auction_id": a},
            {"type": "create_auction", "auction": auction, "buyer": u["buyer"].company_id},
            {"type": "update_auction", "auction_id": a, "changes": {"port": "Antwerp"}},
            {"type": "start_auction", "auction_id": a},
            {"type": "cancel_auction", "auction_id": a},
            {"type": "select_solution", "auction_id": a, "bid_ids": [self.bid_id]},
            {"type": "select_solution", "auction_id": a, "solution": "best_overall"},
            {"type": "approve_barge", "auction_id": a, "imo": "9100001",
             "supplier_id": u["s1"].company_id},
            {"type": "reject_barge", "auction_id": a, "imo": "9100001",
             "supplier_id": u["s1"].company_id},
            {"type": "invite_observer", "auction_id": a, "company_id": u["outsider"].company_id},
            {"type": "uninvite_observer", "auction_id": a, "company_id": "c-x"},
        ]  # fmt: skip

    def other_users(self) -> list[str]:
        return [u.user_id for u in self.users.values()]


def leaf(rng: random.Random) -> Any:
    pick = rng.randrange(9)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.3 else rng.randint(-5, 5)
    if pick == 3:
        return rng.uniform(-1e6, 1e6) if rng.random() < 0.7 else rng.choice(HUGE)
    if pick == 4:
        return text(rng, rng.randint(0, 24))
    if pick == 5:
        return rng.choice(NAN_LIKE)
    if pick == 6:
        return rng.choice(HUGE)
    if pick == 7:
        return rng.choice(UNICODE) * rng.randint(1, 40)
    return f"{rng.randint(-1000, 1000) * rng.choice([1, 0.25, 0.01, 0.001]):.{rng.randint(0, 4)}f}"


def text(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        c = rng.randint(0, 0x10FFFF) if rng.random() < 0.3 else rng.randint(32, 126)
        out.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "?")  # raw surrogates: not UTF-8
    return "".join(out)


def value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.55:
        return leaf(rng)
    if rng.random() < 0.5:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {text(rng, rng.randint(0, 6)): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(doc, dict):
        for key, v in doc.items():
            found += _paths(v, (*path, key))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*path, i))
    return found


def mutate(rng: random.Random, doc: dict[str, Any], ctx: Context, rounds: int) -> Any:
    """Drop, retype, add, duplicate or wrap fields of ``doc`` (a copy)."""
    out: Any = json.loads(json.dumps(doc))
    for _ in range(rounds):
        paths = _paths(out)
        path = rng.choice(paths)
        if not path:
            continue
        parent: Any = out
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        op = rng.randrange(7)
        if op == 0:
            del parent[key]
        elif op == 1:
            parent[key] = value(rng)
        elif op == 2 and isinstance(parent, dict):
            parent[text(rng, rng.randint(1, 10))] = value(rng)
        elif op == 3 and isinstance(parent, list):
            parent.extend([parent[key]] * rng.randint(1, 30))
        elif op == 4:
            parent[key] = [parent[key]] if rng.random() < 0.5 else {"v": parent[key]}
        elif op == 5:
            parent[key] = rng.choice(UNICODE) * rng.randint(100, 3000)  # oversized, unicode
        elif op == 6 and isinstance(out, dict):
            out["as_user"] = rng.choice([*ctx.other_users(), value(rng)])  # act as another
    return out


def request_frame(rng: random.Random, ctx: Context, rid: int, supplier_only: bool) -> str:
    doc = dict(rng.choice(ctx.templates(supplier_only)))
    doc["id"] = rid if rng.random() < 0.9 else leaf(rng)
    if rng.random() < 0.85:
        doc = mutate(rng, doc, ctx, rng.randint(1, 3))
    return json.dumps(doc, allow_nan=True)


# --- statistics -----------------------------------------------------------------------------


@dataclass
class Stats:
    frames: int
    sent: Counter[str] = field(default_factory=Counter)  # by kind of frame
    replies: Counter[str] = field(default_factory=Counter)  # ok / error code / other types
    closes: Counter[str] = field(default_factory=Counter)  # close code (or reason) per close
    door: Counter[str] = field(default_factory=Counter)  # outcomes at the hello
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (t, frames, MiB)
    stalls: int = 0
    started: float = field(default_factory=time.monotonic)

    def total(self) -> int:
        return sum(self.sent.values())

    def take(self, n: int = 1) -> int:
        """Frames still to send, after reserving ``n``: <= 0 means stop."""
        return self.frames - self.total() - n + 1


def close_code(ws: ClientConnection) -> str:
    rcvd = ws.protocol.close_rcvd
    return str(rcvd.code) if rcvd is not None else "none (dropped)"


class Conn:
    """One fuzzing connection: a reader counting replies, a window of requests in flight."""

    def __init__(self, ws: ClientConnection, stats: Stats) -> None:
        self.ws = ws
        self.stats = stats
        self.in_flight = 0
        self.moved = asyncio.Event()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                try:
                    frame = json.loads(data)
                except ValueError:
                    self.stats.replies["unparseable"] += 1
                    continue
                kind = frame.get("type") if isinstance(frame, dict) else None
                if kind == "error":
                    self.stats.replies[str(frame.get("code"))] += 1
                    self.in_flight -= 1
                elif kind == "ok":
                    self.stats.replies["ok"] += 1
                    self.in_flight -= 1
                else:
                    self.stats.replies[str(kind)] += 1
                self.moved.set()
        except ConnectionClosed:
            pass
        self.moved.set()

    async def send(self, data: str | bytes, kind: str, text: bool | None = None) -> None:
        self.stats.sent[kind] += 1
        self.in_flight += 1
        await self.ws.send(data, text=text)
        while self.in_flight > WINDOW and not self.reader.done():
            self.moved.clear()
            try:
                await asyncio.wait_for(self.moved.wait(), REPLY_WAIT_S)
            except TimeoutError:
                self.stats.stalls += 1
                raise

    async def drain(self) -> None:
        """Wait for the replies to everything sent (or the connection's end)."""
        deadline = time.monotonic() + REPLY_WAIT_S
        while self.in_flight > 0 and not self.reader.done() and time.monotonic() < deadline:
            self.moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.moved.wait(), 1.0)

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def open_conn(ctx: Context, token: str, stats: Stats, **kwargs: Any) -> Conn | None:
    try:
        ws = await connect(ctx.url, open_timeout=10, compression=None, max_size=None, **kwargs)
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        stats.closes[f"connect failed: {type(exc).__name__}"] += 1
        await asyncio.sleep(0.2)
        return None
    await ws.send(json.dumps({"type": "hello", "token": token}))
    try:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    except ConnectionClosed:
        stats.closes[close_code(ws)] += 1
        return None
    stats.replies[str(welcome.get("type"))] += 1
    return Conn(ws, stats)


# --- the fuzzers ----------------------------------------------------------------------------


async def outsider(n: int, ctx: Context, stats: Stats, seed: int) -> None:
    """Hostile frames of every kind on the outsider's token, reconnecting after each close."""
    rng = random.Random(seed * 1000 + n)
    token = ctx.users["outsider"].token
    rid = 0
    while stats.take() > 0:
        conn = await open_conn(ctx, token, stats)
        if conn is None:
            continue
        try:
            while stats.take() > 0:
                rid += 1
                roll = rng.random()
                flooded = stats.sent["flood"] + stats.sent["flood, unread"]
                if roll >= 0.969 and flooded >= stats.frames * FLOOD_SHARE:
                    roll = rng.random() * 0.62  # enough floods: a mutated request instead
                if roll < 0.62:
                    await conn.send(request_frame(rng, ctx, rid, False), "mutated request")
                elif roll < 0.70:
                    await conn.send(json.dumps(value(rng), allow_nan=True), "random json")
                elif roll < 0.75:
                    await conn.send(text(rng, rng.randint(0, 200)), "random text")
                elif roll < 0.80:
                    await conn.send(rng.randbytes(rng.randint(0, 300)), "binary", text=False)
                elif roll < 0.83:
                    inner = json.dumps({"type": "get_view", "id": rid, "auction_id": "x"})
                    frame = nested(rng.choice([100, 1000, 10_000, 30_000]), inner)
                    await conn.send(frame, "deeply nested")
                elif roll < 0.86:
                    long_id = rng.choice(UNICODE) * rng.randint(5000, 16000)
                    big = {"type": rng.choice(["get_view", "x" * 50]), "id": rid,
                           "auction_id": long_id}  # fmt: skip
                    await conn.send(json.dumps(big)[: MAX_FRAME - 16], "large (under the limit)")
                elif roll < 0.90:
                    hello = {"type": "hello", "token": ctx.users["admin"].token, "id": rid}
                    await conn.send(json.dumps(hello), "second hello")
                elif roll < 0.955:
                    await conn.send(json.dumps({"type": "list_auctions", "id": rid}), "valid read")
                elif roll < 0.962:
                    await conn.send("x" * (MAX_FRAME + rng.randint(1, 4096)), "oversized")
                    await conn.reader
                    break
                elif roll < 0.969:
                    await conn.send(b'{"type": "\xff\xfe"}', "invalid utf-8", text=True)
                    await conn.reader
                    break
                elif roll < 0.985:
                    await flood(rng, conn, ctx, rid)
                else:
                    await flood_unread(rng, ctx, token, stats)
            await conn.drain()
        except (ConnectionClosed, TimeoutError):
            pass
        if not conn.reader.done():
            await conn.close()
        stats.closes[close_code(conn.ws)] += 1


async def flood(rng: random.Random, conn: Conn, ctx: Context, rid: int) -> None:
    """A burst of requests without waiting: the rate limit answers ``rate_limited``."""
    n = min(rng.randint(200, 2500), conn.stats.frames // 20, max(0, conn.stats.take(0)))
    frame = json.dumps({"type": "get_view", "id": rid, "auction_id": ctx.auction_id})
    for _ in range(n):
        conn.stats.sent["flood"] += 1
        conn.in_flight += 1
        await conn.ws.send(frame)
    await conn.drain()


async def flood_unread(rng: random.Random, ctx: Context, token: str, stats: Stats) -> None:
    """Large replies requested and not read (until the end): the outbox fills up and the server
    closes 1013, or the socket buffers absorb them all and the replies are read afterwards."""
    try:
        ws = await connect(ctx.url, open_timeout=10, compression=None, max_size=None, max_queue=1)
    except (OSError, InvalidHandshake, TimeoutError):
        return
    await ws.send(json.dumps({"type": "hello", "token": token}))
    n = min(rng.randint(100, 1500), stats.frames // 20, max(0, stats.take(0)))
    echo = "y" * 30_000  # echoed in every reply: the id
    try:
        for i in range(n):
            stats.sent["flood, unread"] += 1
            await ws.send(json.dumps({"type": "list_auctions", "id": f"{echo}{i}"}))
        await asyncio.sleep(0.5)
        while True:  # now read: what was queued, then the close
            frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            stats.replies[f"{frame.get('code', frame.get('type'))} (unread flood)"] += 1
    except (ConnectionClosed, TimeoutError):
        pass
    await ws.close()
    stats.closes[f"{close_code(ws)} (unread flood)"] += 1


async def supplier(ctx: Context, stats: Stats, share: int, seed: int) -> list[tuple[str, int]]:
    """S1's mutated commands, one at a time; returns (type, seq) of every acknowledged one."""
    rng = random.Random(seed * 1000 + 999)
    acked: list[tuple[str, int]] = []
    sent = 0
    while sent < share and stats.take() > 0:
        try:
            ws = await connect(ctx.url, open_timeout=10, compression=None, max_size=None)
        except (OSError, InvalidHandshake, TimeoutError):
            await asyncio.sleep(0.2)
            continue
        await ws.send(json.dumps({"type": "hello", "token": ctx.users["s1"].token}))
        try:
            await ws.recv()
            while sent < share and stats.take() > 0:
                sent += 1
                text_ = request_frame(rng, ctx, sent, True)
                stats.sent["S1 mutated command"] += 1
                await ws.send(text_)
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_WAIT_S))
                    if frame.get("type") in ("ok", "error"):
                        break
                    stats.replies[f"S1 {frame.get('type')}"] += 1
                code = "ok" if frame["type"] == "ok" else str(frame.get("code"))
                stats.replies[f"S1 {code}"] += 1
                doc = json.loads(text_)
                if code == "ok" and doc.get("type") in COMMANDS:
                    acked.append((doc["type"], int(frame["seq"])))
        except ConnectionClosed:
            stats.closes[f"{close_code(ws)} (S1)"] += 1
        except TimeoutError:
            stats.stalls += 1
        await ws.close()
    return acked


async def door(ctx: Context, stats: Stats, share: int, seed: int) -> None:
    """The hello: garbage first, bad tokens, huge tokens, binary hellos."""
    rng = random.Random(seed * 1000 + 998)
    good = ctx.users["outsider"].token
    for _ in range(share):
        if stats.take() <= 0:
            return
        try:
            ws = await connect(ctx.url, open_timeout=10, compression=None, max_size=None)
        except (OSError, InvalidHandshake, TimeoutError):
            stats.door["connect failed"] += 1
            continue
        try:
            for _ in range(rng.randint(0, 3)):  # noise before the hello: refused, not fatal
                stats.sent["before hello"] += 1
                await ws.send(request_frame(rng, ctx, 1, False))
                await asyncio.wait_for(ws.recv(), REPLY_WAIT_S)
            roll = rng.random()
            if roll < 0.3:
                token = good
            elif roll < 0.6:
                token = text(rng, rng.randint(0, 60))
            elif roll < 0.7:
                token = good[:-1] + ("A" if good[-1] != "A" else "B")
            elif roll < 0.8:
                token = "t" * 60_000
            else:
                token = good.upper()
            stats.sent["hello"] += 1
            await ws.send(json.dumps({"type": "hello", "token": token}))
            frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_WAIT_S))
            stats.door[f"{frame.get('type')} ({'good' if token == good else 'bad'} token)"] += 1
        except ConnectionClosed:
            good_or_bad = "good" if token == good else "bad"
            stats.door[f"closed {close_code(ws)} ({good_or_bad} token)"] += 1
        except TimeoutError:
            stats.stalls += 1
        await ws.close()


async def too_many(ctx: Context, stats: Stats) -> None:
    """20 connections more on the outsider's token (at most 16 at once): the last are 4429."""
    opened: list[ClientConnection] = []
    for _ in range(20):
        ws = await connect(ctx.url, open_timeout=10, compression=None)
        await ws.send(json.dumps({"type": "hello", "token": ctx.users["outsider"].token}))
        stats.sent["hello (over the cap)"] += 1
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_WAIT_S))
            stats.door[f"{frame.get('type')} (over the cap)"] += 1
            opened.append(ws)
        except ConnectionClosed:
            stats.door[f"closed {close_code(ws)} (over the cap)"] += 1
    for ws in opened:
        await ws.close()


async def silent(ctx: Context, stats: Stats) -> None:
    """A connection that never says hello: closed 4408 after 10 s."""
    async with connect(ctx.url, open_timeout=10, compression=None) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 15)
        except ConnectionClosed:
            pass
        except TimeoutError:
            stats.door["silent: still open after 15 s"] += 1
            return
        stats.door[f"closed {close_code(ws)} (no hello)"] += 1


async def sample_rss(server: Server, stats: Stats, every_s: float) -> None:
    last_print = 0.0
    while True:
        t = time.monotonic() - stats.started
        if server.alive:
            stats.rss.append((t, stats.total(), server.rss_mb()))
        if t - last_print >= 5:
            last_print = t
            rate = stats.total() / t if t else 0
            print(f"  {t:6.1f} s  frames {stats.total():>7}/{stats.frames}  "
                  f"({rate:,.0f}/s)  rss {stats.rss[-1][2]:.1f} MiB", flush=True)  # fmt: skip
        await asyncio.sleep(every_s)


# --- setup and checks -----------------------------------------------------------------------


async def admin_request(url: str, token: str, type_: str, **fields: Any) -> dict[str, Any]:
    async with connect(url, open_timeout=10, compression=None, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": type_, "id": 1, **fields}))
        while True:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("id") == 1:
                if frame["type"] != "ok":
                    raise RuntimeError(f"{type_}: {frame}")
                return frame


async def setup(url: str, users: dict[str, NewUser]) -> Context:
    now = time.time()
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    eta = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86_400 * 3))
    auction = {
        "kind": "spot", "port": "Rotterdam", "scheduled_start": start, "duration_s": 86_400,
        "suppliers": [users["s1"].company_id, users["s2"].company_id],
        "products": [{"vessel": {"name": "MV Aurora", "imo": "9300001"}, "fuel": "VLSFO",
                      "quantity_mt": 1500, "eta": eta}],
    }  # fmt: skip
    created = await admin_request(
        url, users["admin"].token, "create_auction",
        buyer=users["buyer"].company_id, auction=auction,
    )  # fmt: skip
    auction_id = str(created["auction_id"])
    bid = await admin_request(
        url, users["s1"].token, "place_bids", auction_id=auction_id,
        bids=[{"product_id": "p1", "amount": "500.00"}],
    )  # fmt: skip
    await admin_request(
        url, users["s2"].token, "place_bids", auction_id=auction_id,
        bids=[{"product_id": "p1", "amount": "520.00", "min_amount": "400.00"}],
    )  # fmt: skip
    return Context(url, auction_id, users, bid["bid_ids"][0], eta)


async def all_events(ctx: Context) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = await admin_request(
            ctx.url, ctx.users["admin"].token, "get_events",
            auction_id=ctx.auction_id, since=len(events), limit=10_000,
        )  # fmt: skip
        events += page["events"]
        if not page["events"]:
            return events


def attribute(
    events: list[dict[str, Any]], baseline: int, acked: list[tuple[str, int]], s1_user: str
) -> list[str]:
    """Problems with the events stored after ``baseline``: each must belong to the acknowledged
    S1 command whose seq closes its run, be of a type that command may cause, be S1's (or
    the clock's, for auto-bids it triggered)."""
    problems: list[str] = []
    ends = sorted({seq for _, seq in acked})
    kinds: dict[int, str] = {}
    for command, seq in acked:  # in order: a later ok with the same seq stored nothing
        kinds.setdefault(seq, command)
    highest = max([baseline, *ends])
    if len(events) != highest:
        problems.append(f"{len(events)} events stored, the last acknowledged seq is {highest}")
    for event in events[baseline:]:
        seq = event["seq"]
        closing = next((end for end in ends if end >= seq), None)
        if closing is None:
            problems.append(f"seq {seq} ({event['type']}) after every acknowledged command")
            continue
        command = kinds[closing]
        if event["type"] not in MAY_CAUSE.get(command, set()):
            problems.append(f"seq {seq}: {event['type']} inside the run of {command} ({closing})")
        by = event.get("by")
        if by is not None and by.get("user_id") != s1_user:
            problems.append(f"seq {seq}: by {by}, not S1")
    return problems


async def fuzz(args: argparse.Namespace, server: Server, ctx: Context) -> dict[str, Any]:
    stats = Stats(args.frames)
    status_before = await admin_request(ctx.url, ctx.users["admin"].token, "operator_status")
    sampler = asyncio.get_running_loop().create_task(sample_rss(server, stats, 0.25))
    rss_before = server.rss_mb()
    supplier_share = args.frames // 10
    door_share = max(20, args.frames // 200)
    tasks: list[asyncio.Task[Any]] = []
    loop = asyncio.get_running_loop()
    s1 = loop.create_task(supplier(ctx, stats, supplier_share, args.seed))
    tasks.append(loop.create_task(door(ctx, stats, door_share, args.seed)))
    tasks.append(loop.create_task(too_many(ctx, stats)))
    if not args.quick:
        tasks += [loop.create_task(silent(ctx, stats)) for _ in range(2)]
    tasks += [loop.create_task(outsider(i, ctx, stats, args.seed)) for i in range(args.connections)]
    acked = await s1
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - stats.started
    await asyncio.sleep(1.0)  # let the server finish closing what we closed
    status = await admin_request(ctx.url, ctx.users["admin"].token, "operator_status")
    rss_after = server.rss_mb()
    sampler.cancel()
    return {
        "stats": stats,
        "acked": acked,
        "elapsed_s": elapsed,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "status": status,
        "status_before": status_before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2 000 frames, fewer connections")
    parser.add_argument("--connections", type=int, default=8, help="outsider connections")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-rss-mb", type=float, default=400.0, help="fail above this")
    parser.add_argument("--json", action="store_true", help="a JSON summary as the last line")
    args = parser.parse_args()
    if args.quick:
        args.frames = min(args.frames, 2000)
        args.connections = min(args.connections, 3)
    with workdir("fuzz-server-") as tmp:
        return run(args, tmp)


def run(args: argparse.Namespace, tmp: Path) -> int:
    people = {**PLATFORM, "s1": ("Baltic Bunkers", "supplier", "Sam"),
              "s2": ("North Sea Fuels", "supplier", "Sue"),
              "outsider": ("Outsider Oil", "supplier", "Olly")}  # fmt: skip
    server, users = serve_fresh(tmp, people, "--rate", str(RATE))
    db = server.db
    print(f"server pid {server.pid} on {server.url}; fuzzing {args.frames} frames, seed "
          f"{args.seed}, {args.connections} outsider connections", flush=True)  # fmt: skip
    try:
        ctx = asyncio.run(setup(server.url, users))
        before = cli_json("verify", "--db", str(db))
        baseline = len(asyncio.run(all_events(ctx)))
        result = asyncio.run(fuzz(args, server, ctx))
        alive = server.alive
        health = server.healthz() if alive else (0, {})
        events = asyncio.run(all_events(ctx))
    finally:
        exit_status = server.stop()
    after = cli_json("verify", "--db", str(db))
    stats: Stats = result["stats"]
    problems = attribute(events, baseline, result["acked"], users["s1"].user_id)
    trouble = server.trouble()
    status = result["status"]
    rss = [r for _, _, r in stats.rss]
    checks = {
        "server alive after the fuzz": alive,
        "/healthz answers 200 ok": health[0] == 200 and health[1].get("status") == "ok",
        "stops cleanly on SIGTERM (exit 0)": exit_status == 0,
        "no traceback or failure in the server log": not trouble,
        "no internal error replied": stats.replies["internal"] + stats.replies["S1 internal"] == 0,
        "verify ok before and after": not before["problems"] and not after["problems"],
        "no new stream (auction)": after["streams"] == before["streams"],
        "only S1's acknowledged events stored": not problems
        and after["events"] - before["events"] == len(events) - baseline,
        "no connection left behind (only the checker's)": status["connections"] == 1,
        "no task left behind": status["tasks"] <= result["status_before"]["tasks"],
        f"peak RSS under {args.max_rss_mb:.0f} MiB": max(rss, default=0) < args.max_rss_mb,
    }
    summary = {
        "frames": stats.total(),
        "elapsed_s": round(result["elapsed_s"], 1),
        "sent": dict(stats.sent.most_common()),
        "replies": dict(stats.replies.most_common()),
        "closes": dict(stats.closes.most_common()),
        "door": dict(stats.door.most_common()),
        "stalls": stats.stalls,
        "s1_acknowledged": len(result["acked"]),
        "events": {"before": before["events"], "after": after["events"]},
        "rss_mb": {
            "before": round(result["rss_before"], 1),
            "peak": round(max(rss), 1),
            "after": round(result["rss_after"], 1),
        },
        "tasks": {"before": result["status_before"]["tasks"], "after": status["tasks"]},
        "problems": problems[:20] + trouble[:20],
        "checks": checks,
    }
    print(f"\nframes sent: {stats.total()} in {result['elapsed_s']:.1f} s "
          f"({stats.total() / result['elapsed_s']:,.0f}/s)")  # fmt: skip
    for title, counter in (("sent", stats.sent), ("replies", stats.replies),
                           ("closes", stats.closes), ("door", stats.door)):  # fmt: skip
        print(f"{title}:")
        for key, count in counter.most_common():
            print(f"  {count:>8}  {key}")
    print(f"S1: {len(result['acked'])} commands acknowledged; events {before['events']} -> "
          f"{after['events']} (+{after['events'] - before['events']})")  # fmt: skip
    print(f"RSS MiB: before {result['rss_before']:.1f}, peak {max(rss):.1f}, after "
          f"{result['rss_after']:.1f}; curve: {curve(rss)}")  # fmt: skip
    print(f"operator_status: {status['connections']} connections after; asyncio tasks "
          f"{result['status_before']['tasks']} before, {status['tasks']} after")  # fmt: skip
    return report(checks, problems[:20] + trouble[:20], summary if args.json else None)


if __name__ == "__main__":
    sys.exit(main())
