"""The measured figures of issue 9 ("Nothing one user sends can hurt another"), measured again:
each probe starts its own ``auctionactors serve`` on a fresh database in a temporary folder and
prints one line per figure, so that the same script gives before/after figures on two checkouts.

    .venv/bin/python scripts/probe_issue9.py                     # quick: about a minute
    .venv/bin/python scripts/probe_issue9.py --flood-s 15 --drafts-s 30 --refused 2700
    .venv/bin/python scripts/probe_issue9.py --repo /tmp/old     # the server of another checkout
    .venv/bin/python scripts/probe_issue9.py --only 1,2,14

Items (numbers of the issue): 1 out-of-range times and what they break; 2 aliases recomputed from
sha256; 3 RSS growth from unsubscribe floods; 4 tasks and RSS after refused creates; 5 bids sent in
time refused ``too_late`` under load; 6 duplicate comments after timed-out retries (holds a write
lock on the database past the 10 s ask timeout: about 15 s); 12 lenient inputs accepted; 13 drafts
made by one buyer, error replies to frames before the hello, unauthenticated connections from one
address, ``delete_comment`` after the end; 14 HTTP methods and headers, Origin with a rebound
``Host``; 15 a second subscribe with ``since``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import itertools
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import harness
from harness import Server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

WAIT_S = 30.0
DAY_S = 86_400


def iso(offset_s: float = 0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_user(db: Path, company: str, role: str, name: str) -> dict[str, str]:
    """``auctionactors user add`` run by the probed checkout (``--repo``), so that the database
    gets that checkout's schema: company_id, user_id, token."""
    out = subprocess.run(
        [sys.executable, "-m", "auctionactors", "user", "add", "--company", company,
         "--role", role, "--name", name, "--db", str(db)],
        cwd=harness.REPO, capture_output=True, text=True, timeout=60, check=True,
        env={"PYTHONPATH": str(harness.REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    user: dict[str, str] = json.loads(out.stdout)
    return user


def say(item: str, figure: str) -> None:
    print(f"[{item}] {figure}", flush=True)


# --- a world per probe ----------------------------------------------------------------------


class Conn:
    """A protocol connection: requests with ids, replies matched, other frames counted."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.others: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, token: str) -> Conn:
        ws = await connect(url, compression=None, max_size=None, open_timeout=WAIT_S)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        return cls(ws)

    async def send(self, type_: str, **fields: Any) -> str:
        rid = f"q{next(self.ids)}"
        await self.ws.send(json.dumps({"type": type_, "id": rid, **fields}))
        return rid

    async def reply(self, rid: str, wait_s: float = WAIT_S) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait_s))
            if frame.get("type") in ("ok", "error") and frame.get("id") == rid:
                return frame  # type: ignore[no-any-return]
            self.others.append(frame)

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        return await self.reply(await self.send(type_, **fields))

    async def ok(self, type_: str, **fields: Any) -> dict[str, Any]:
        frame = await self.request(type_, **fields)
        assert frame["type"] == "ok", (type_, frame)
        return frame

    async def close(self) -> None:
        await self.ws.close()


class World:
    def __init__(self, server: Server, users: dict[str, dict[str, str]]) -> None:
        self.server = server
        self.users = users
        self.conns: list[Conn] = []

    async def conn(self, who: str) -> Conn:
        conn = await Conn.open(self.server.url, self.users[who]["token"])
        self.conns.append(conn)
        return conn

    def company(self, who: str) -> str:
        return self.users[who]["company_id"]

    def auction(self, start: str | None, suppliers: list[str], **extra: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": "spot", "port": "Rotterdam", "scheduled_start": start,
            "suppliers": [self.company(s) for s in suppliers],
            "products": [{"vessel": {"name": "MV Aurora", "imo": "9300001"}, "fuel": "VLSFO",
                          "quantity_mt": 1500, "eta": iso(40 * DAY_S)}],
        }  # fmt: skip
        doc.update(extra)
        return doc

    async def status(self) -> dict[str, Any]:
        admin = await self.conn("admin")
        try:
            return await admin.ok("operator_status")
        finally:
            await admin.close()
            self.conns.remove(admin)


ROLES = {"admin": "admin", "buyer": "buyer", "observer": "observer"}


@asynccontextmanager
async def world(args: argparse.Namespace, suppliers: int = 2, *opts: str) -> AsyncIterator[World]:
    with tempfile.TemporaryDirectory(prefix="probe9-") as tmp:
        db, log = Path(tmp) / "probe.db", Path(tmp) / "serve.log"
        people = [("admin", "Platform", "admin"), ("buyer", "Aegean Shipping", "buyer"),
                  ("observer", "Port Watch", "observer")]  # fmt: skip
        people += [(f"s{i}", f"Supplier Co {i}", "supplier") for i in range(1, suppliers + 1)]
        users = {who: add_user(db, company, role, who) for who, company, role in people}
        server = Server(db, log, "--rate", "1000000", "--max-connections-per-token", "64", *opts)
        w = World(server, users)
        try:
            yield w
        finally:
            for conn in w.conns:
                with contextlib.suppress(Exception):  # closing what may be gone already
                    await asyncio.wait_for(conn.close(), 5)
            server.stop()


def cli(args: argparse.Namespace, *argv: str) -> tuple[int, bool]:
    """``auctionactors ARGV`` of the checkout under test: exit status, traceback or not."""
    out = subprocess.run(
        [sys.executable, "-m", "auctionactors", *argv], cwd=harness.REPO, capture_output=True,
        text=True, timeout=120, env={"PYTHONPATH": str(harness.REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return out.returncode, "Traceback" in out.stderr


# --- the probes -----------------------------------------------------------------------------


async def probe_1(args: argparse.Namespace) -> None:
    async with world(args) as w:
        buyer, admin = await w.conn("buyer"), await w.conn("admin")
        tries = {
            "scheduled_start 9999-12-31T23:59:59-23:59": w.auction(
                "9999-12-31T23:59:59-23:59", ["s1"]),
            "eta 0001-01-01T00:00:00+23:59": w.auction(
                iso(3600), ["s1"], products=[{"vessel": {"name": "MV A", "imo": "9300001"},
                "fuel": "VLSFO", "quantity_mt": 1, "eta": "0001-01-01T00:00:00+23:59"}]),
            "duration_s 10**12": w.auction(iso(3600), ["s1"], duration_s=10**12),
        }  # fmt: skip
        acked: list[str] = []
        for name, doc in tries.items():
            reply = await buyer.request("create_auction", auction=doc)
            say("1", f"create_auction with {name}: {reply['type']} {reply.get('code', '')}")
            if reply["type"] == "ok":
                acked.append(reply["auction_id"])
        say("1", f"out-of-range creates acknowledged: {len(acked)} of {len(tries)}")
        views = Counter()
        for auction_id in acked:
            reply = await admin.request("get_view", auction_id=auction_id)
            views[reply.get("code", reply["type"])] += 1
        say("1", f"admin get_view of the acknowledged ones: {dict(views) or '-'}")
        listed = await admin.request("list_auctions")
        say("1", f"admin list_auctions: {listed.get('code', listed['type'])}")
        rid = await admin.send("subscribe_all")
        await admin.reply(rid)
        sync = await admin.send("list_companies")
        await admin.reply(sync)
        extra = [f for f in admin.others if f.get("id") == rid]
        say("1", f"subscribe_all: ok, then {len(extra)} more replies with its id")
        db = str(w.server.db)
        code, tb = cli(args, "auctions", "--db", db)
        say("1", f"CLI auctions: exit {code}, traceback {tb}")
        for auction_id in acked[:1]:
            for sub in ("events", "replay"):
                code, tb = cli(args, sub, auction_id, "--db", db)
                say("1", f"CLI {sub} {auction_id}: exit {code}, traceback {tb}")


async def probe_2(args: argparse.Namespace) -> None:
    async with world(args, suppliers=6) as w:
        buyer, admin = await w.conn("buyer"), await w.conn("admin")
        suppliers = [f"s{i}" for i in range(1, 7)]
        recomputed = 0
        for _ in range(args.alias_auctions):
            reply = await buyer.ok(
                "create_auction", auction=w.auction(iso(3600), suppliers, anonymous_bidding=True)
            )
            auction_id = reply["auction_id"]
            ids = [w.company(s) for s in suppliers]
            ids.sort(key=lambda sid: hashlib.sha256(f"{auction_id}\x00{sid}".encode()).digest())
            guess = {sid: f"Supplier {i}" for i, sid in enumerate(ids, start=1)}
            # The true mapping, as the admin sees it.
            view = (await admin.ok("get_view", auction_id=auction_id))["view"]
            recomputed += view.get("aliases") == guess
        say("2", f"alias mapping recomputed from sha256: {recomputed} of {args.alias_auctions}"
                 " auctions (6 suppliers)")  # fmt: skip


async def probe_3(args: argparse.Namespace) -> None:
    async with world(args) as w:
        conns = [await w.conn("observer") for _ in range(8)]
        for conn in conns:
            await conn.ok("subscribe_all")
        rss0 = w.server.rss_mb()
        sent = 0
        stop = time.monotonic() + args.flood_s

        async def flood(conn: Conn, n: int) -> None:
            nonlocal sent
            i = 0
            while time.monotonic() < stop:
                batch = [json.dumps({"type": "unsubscribe", "id": i + k,
                                     "auction_id": f"a-made-up-{n}-{i + k}"})
                         for k in range(200)]  # fmt: skip
                i += 200
                for frame in batch:
                    await conn.ws.send(frame)
                for _ in batch:
                    await asyncio.wait_for(conn.ws.recv(), WAIT_S)
                sent += len(batch)

        await asyncio.gather(*(flood(c, n) for n, c in enumerate(conns)))
        rss1 = w.server.rss_mb()
        say("3", f"unsubscribe flood, 8 connections of one observer, {args.flood_s:g} s, {sent} "
                 f"frames: RSS {rss0:.0f} -> {rss1:.0f} MB")  # fmt: skip


async def probe_4(args: argparse.Namespace) -> None:
    async with world(args) as w:
        buyer = await w.conn("buyer")
        before = await w.status()
        rss0 = w.server.rss_mb()
        codes: Counter[str] = Counter()
        doc = w.auction(iso(3600), ["s1"], port="")
        for start in range(0, args.refused, 100):
            rids = [await buyer.send("create_auction", auction=doc)
                    for _ in range(min(100, args.refused - start))]  # fmt: skip
            for rid in rids:
                reply = await buyer.reply(rid)
                codes[reply.get("code", reply["type"])] += 1
        after = await w.status()
        rss1 = w.server.rss_mb()
        say("4", f"{args.refused} creates with an empty port: {dict(codes)}; tasks "
                 f"{before['tasks']} -> {after['tasks']}, live actors {before['actors']['live']}"
                 f" -> {after['actors']['live']}, RSS {rss0:.0f} -> {rss1:.0f} MB")  # fmt: skip


async def probe_5(args: argparse.Namespace) -> None:
    n_sup = 6
    async with world(args, suppliers=n_sup) as w:
        admin = await w.conn("admin")
        sups = [f"s{i}" for i in range(1, n_sup + 1)]
        doc = w.auction(iso(), sups, duration_s=args.round_s, soft_close_s=0,
                        decision_duration_s=DAY_S)  # fmt: skip
        reply = await admin.ok("create_auction", buyer=w.company("buyer"), auction=doc)
        auction_id = reply["auction_id"]
        view = (await admin.ok("get_view", auction_id=auction_id))["view"]
        closes = datetime.fromisoformat(view["closes_at"].replace("Z", "+00:00")).timestamp()
        # 144 bids (6 suppliers x 24 connections, one bid each), sent over --spread-ms up to
        # 15 ms before closes_at, amounts falling so that each is a valid new bid.
        plan = []
        for k in range(144):
            conn = await w.conn(sups[k % n_sup])
            at = closes - 0.015 - args.spread_ms / 1000 * (143 - k) / 143
            plan.append((at, conn, f"{500 - k * 0.25:.2f}"))
        if time.time() > plan[0][0]:
            raise RuntimeError("connecting took longer than the round: raise --round-s")
        results: list[tuple[float, str]] = []

        async def fire(at: float, conn: Conn, amount: str) -> None:
            await asyncio.sleep(max(0.0, at - time.time()))
            sent = time.time()
            rid = await conn.send("place_bids", auction_id=auction_id,
                                  bids=[{"product_id": "p1", "amount": amount}])  # fmt: skip
            reply = await conn.reply(rid)
            results.append((closes - sent, reply.get("code", reply["type"])))

        await asyncio.gather(*(fire(*p) for p in plan))
        early = [(margin, code) for margin, code in results if margin >= 0.010]
        late = [m for m, code in early if code == "too_late"]
        codes = Counter(code for _, code in early)
        first = f", the earliest sent {max(late) * 1000:.0f} ms early" if late else ""
        say("5", f"bids sent >=10 ms before closes_at refused too_late: {len(late)} of "
                 f"{len(early)}{first} ({dict(codes)})")  # fmt: skip


async def probe_6(args: argparse.Namespace) -> None:
    async with world(args, 1, "--busy-timeout", "60") as w:
        admin, s1 = await w.conn("admin"), await w.conn("s1")
        doc = w.auction(iso(), ["s1"], duration_s=DAY_S)
        auction_id = (await admin.ok("create_auction", buyer=w.company("buyer"), auction=doc))[
            "auction_id"
        ]
        lock = sqlite3.connect(w.server.db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        fields = {"auction_id": auction_id, "text": "only once", "key": "probe-6"}
        first = await s1.request("post_comment", **fields)  # the ask times out (10 s)
        retry_id = await s1.send("post_comment", **fields)
        await asyncio.sleep(0.5)
        lock.execute("COMMIT")
        lock.close()
        retry = await s1.reply(retry_id)
        view = (await admin.ok("get_view", auction_id=auction_id))["view"]
        stored = sum(1 for c in view["comments"] if c.get("text") == "only once")
        codes = [r.get("code", r["type"]) for r in (first, retry)]
        say("6", f"post_comment under a held write lock, then its retry (same key): {codes[0]}, "
                 f"{codes[1]}; comments stored: {stored}")  # fmt: skip


LENIENT_AMOUNTS = ["\u0665\u0660\u0660", "\uff15\uff10\uff10", "1_000", "+500", " 500 ", "5.", ".5"]


async def probe_12(args: argparse.Namespace) -> None:
    async with world(args) as w:
        admin, buyer, s1 = await w.conn("admin"), await w.conn("buyer"), await w.conn("s1")
        doc = w.auction(iso(), ["s1"], duration_s=DAY_S)
        auction_id = (await admin.ok("create_auction", buyer=w.company("buyer"), auction=doc))[
            "auction_id"
        ]
        accepted = []
        for amount in LENIENT_AMOUNTS:
            reply = await s1.request("place_bids", auction_id=auction_id,
                                     bids=[{"product_id": "p1", "amount": amount}])  # fmt: skip
            if reply["type"] == "ok":
                accepted.append(amount)
        say("12", f"lenient amounts accepted: {len(accepted)} of {len(LENIENT_AMOUNTS)} "
                  f"{[a for a in accepted]}")  # fmt: skip
        term = {"kind": "forward_fixed", "port": "Rotterdam", "suppliers": [w.company("s1")],
                "scheduled_start": None, "fuel": "VLSFO", "quantity_mt_per_month": 100,
                "start_month": "0000-01", "end_month": "2027-12"}  # fmt: skip
        times = {"month 0000-01": term,
                 "ISO week date": w.auction("2027-W05-3T10:00:00Z", ["s1"]),
                 "space for T": w.auction("2027-01-05 10:00:00Z", ["s1"])}  # fmt: skip
        ok = [name for name, d in times.items()
              if (await buyer.request("create_auction", auction=d))["type"] == "ok"]  # fmt: skip
        say("12", f"lenient months/times accepted: {len(ok)} of {len(times)} {ok}")
        texts = {
            "60 KB bid comment": ("place_bids", {"bids": [
                {"product_id": "p1", "amount": "2.00", "comment": "c" * 60_000}]}),
            "10 KB comment": ("post_comment", {"text": "n" * 10_000}),
            "zero-width comment": ("post_comment", {"text": "\u200b"}),
            "10 KB barge name": ("submit_barge", {"barge": {"name": "b" * 10_000,
                                                            "imo": "9100001"}}),
        }  # fmt: skip
        stored, refused = [], []
        for name, (type_, fields) in texts.items():
            reply = await s1.request(type_, auction_id=auction_id, **fields)
            if reply["type"] == "ok":
                stored.append(name)
            else:
                refused.append(f"{name}: {reply['code']} {reply['message'][:60]}")
        big = w.auction(iso(3600), ["s1"], port="P" * 10_000)
        big["products"][0]["vessel"]["name"] = "V" * 10_000
        reply = await buyer.request("create_auction", auction=big)
        if reply["type"] == "ok":
            stored.append("10 KB port and vessel names")
        else:
            refused.append(f"10 KB names: {reply['code']} {reply['message'][:60]}")
        say("12", f"oversized/blank texts stored: {len(stored)} of {len(texts) + 1} {stored}")
        if refused:
            say("12", f"refused: {refused}")


async def probe_13(args: argparse.Namespace) -> None:
    async with world(args) as w:
        buyer = await w.conn("buyer")
        doc = w.auction(None, ["s1"])
        made = 0
        stop = time.monotonic() + args.drafts_s
        while time.monotonic() < stop:
            rids = [await buyer.send("create_auction", auction=doc) for _ in range(20)]
            for rid in rids:
                made += (await buyer.reply(rid))["type"] == "ok"
        say("13", f"drafts created by one buyer in {args.drafts_s:g} s: {made}")

        ws = await connect(w.server.url, compression=None, max_size=None)
        frame = json.dumps({"type": "get_view", "id": 1, "auction_id": "a-x"})
        errors, start = 0, time.monotonic()

        async def blast() -> None:
            for _ in range(args.prehello):
                await ws.send(frame)

        sender = asyncio.create_task(blast())
        try:
            while time.monotonic() - start < 1.3:
                left = 1.3 - (time.monotonic() - start)
                reply = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
                errors += reply.get("type") == "error"
        except (TimeoutError, ConnectionClosed):
            pass
        sender.cancel()
        await ws.close()
        say("13", f"error replies to frames before the hello in 1.3 s: {errors}")

        opened: list[ClientConnection] = []

        async def door() -> None:
            with contextlib.suppress(OSError, InvalidStatus, TimeoutError, ConnectionClosed):
                opened.append(await connect(w.server.url, compression=None, open_timeout=5))

        for start_i in range(0, args.unauth, 100):
            await asyncio.gather(*(door() for _ in range(min(100, args.unauth - start_i))))
        alive = 0
        for ws_ in opened:
            try:
                await asyncio.wait_for(ws_.ping(), 2)
                alive += 1
            except Exception:  # closed by the server
                continue
        say("13", f"unauthenticated connections accepted from one address: {alive} of "
                  f"{args.unauth} (open at once)")  # fmt: skip
        await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)

        admin, s1 = await w.conn("admin"), await w.conn("s1")
        doc = w.auction(iso(), ["s1"], duration_s=1, soft_close_s=0, decision_duration_s=1)
        auction_id = (await admin.ok("create_auction", buyer=w.company("buyer"), auction=doc))[
            "auction_id"
        ]
        comment = (await s1.ok("post_comment", auction_id=auction_id, text="hi"))["comment_id"]
        deadline = time.monotonic() + 20
        while (await admin.ok("get_view", auction_id=auction_id))["view"]["status"] != "expired":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        reply = await s1.request("delete_comment", auction_id=auction_id, comment_id=comment)
        say("13", f"delete_comment after the auction expired: {reply.get('code', reply['type'])}")


def _http(
    port: int, method: str, body: bytes | None = None
) -> tuple[str, http.client.HTTPMessage | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, "/healthz", body=body)
        response = conn.getresponse()
        response.read()
        return str(response.status), response.headers
    except (http.client.HTTPException, OSError) as exc:
        return f"dropped ({type(exc).__name__})", None
    finally:
        conn.close()


def _handshake(port: int, host: str, origin: str) -> str:
    """A WebSocket handshake with exactly these Host and Origin headers: the status line."""
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return "dropped"
            data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


async def probe_14(args: argparse.Namespace) -> None:
    async with world(args) as w:
        port = w.server.port
        methods = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")
        answers = {m: _http(port, m)[0] for m in methods}
        say("14", "HTTP methods: " + ", ".join(f"{m} {a}" for m, a in answers.items()))
        answers = {m: _http(port, m, b"x=1")[0] for m in ("POST", "PUT", "PATCH", "DELETE")}
        say("14", "HTTP methods with a body: " + ", ".join(f"{m} {a}" for m, a in answers.items()))
        _, headers = _http(port, "GET")
        wanted = ("Server", "Cross-Origin-Opener-Policy", "Permissions-Policy",
                  "Strict-Transport-Security")  # fmt: skip
        shown = {h: headers.get(h) if headers else None for h in wanted}
        say("14", f"headers: {shown}")
        evil = f"evil.example:{port}"
        status = _handshake(port, evil, f"http://{evil}")
        say("14", f"WebSocket handshake with Host {evil} and Origin http://{evil}: {status}")
        status = _handshake(port, f"127.0.0.1:{port}", f"http://{evil}")
        say("14", f"WebSocket handshake with our Host and Origin http://{evil}: {status}")


async def probe_15(args: argparse.Namespace) -> None:
    async with world(args) as w:
        admin = await w.conn("admin")
        doc = w.auction(iso(), ["s1"], duration_s=DAY_S)
        auction_id = (await admin.ok("create_auction", buyer=w.company("buyer"), auction=doc))[
            "auction_id"
        ]
        obs = await w.conn("admin")
        await obs.ok("subscribe", auction_id=auction_id)
        await obs.request("get_view", auction_id="a-sync")
        obs.others.clear()
        await obs.ok("subscribe", auction_id=auction_id, since=0)
        await obs.request("get_view", auction_id="a-sync")  # every frame of the reply is in
        updates = [f for f in obs.others if f.get("type") in ("update", "history")]
        say("15", f"subscribe again with since=0: ok and {len(updates)} update/history frames")


PROBES: dict[str, Callable[[argparse.Namespace], Awaitable[None]]] = {
    "1": probe_1, "2": probe_2, "3": probe_3, "4": probe_4, "5": probe_5, "6": probe_6,
    "12": probe_12, "13": probe_13, "14": probe_14, "15": probe_15,
}  # fmt: skip


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repo", type=Path, default=harness.REPO, help="the checkout whose server runs")
    p.add_argument("--only", default=",".join(PROBES), help="item numbers, comma separated")
    p.add_argument("--alias-auctions", type=int, default=5)
    p.add_argument("--flood-s", type=float, default=5.0, help="item 3 (issue: 15)")
    p.add_argument("--refused", type=int, default=1000, help="item 4 (issue: 2700)")
    p.add_argument("--round-s", type=int, default=4, help="item 5: duration of the round")
    p.add_argument("--spread-ms", type=float, default=60, help="item 5: how the bids are spread")
    p.add_argument("--drafts-s", type=float, default=5.0, help="item 13 (issue: 30)")
    p.add_argument("--prehello", type=int, default=20_000, help="item 13: frames sent")
    p.add_argument("--unauth", type=int, default=1500, help="item 13: connections opened")
    args = p.parse_args()
    harness.REPO = args.repo.resolve()
    print(f"probe_issue9 on {harness.REPO} ({_head(harness.REPO)})", flush=True)
    failed = 0
    for item in args.only.split(","):
        started = time.monotonic()
        try:
            await PROBES[item.strip()](args)
        except Exception as exc:  # one probe failing does not stop the others
            failed += 1
            say(item, f"probe failed: {type(exc).__name__}: {exc}"[:400])
        print(f"    ({time.monotonic() - started:.1f} s)", flush=True)
    return 1 if failed else 0


def _head(repo: Path) -> str:
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
