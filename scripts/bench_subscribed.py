"""Subscribed bidders: 10 suppliers each subscribed to the auction they bid on, closed loop over
the wire (each sends its next bid when the ``ok`` of the last one is in), as real bidders are.

Run ``.venv/bin/python scripts/bench_subscribed.py`` (``--seconds``, ``--protocol 1,2``,
``--aged N``: the same again on an auction that has N bids already, placed by unsubscribed
bidders first). Prints acked bids/s over the whole run and over its first and last fifth, the
mean ``update`` frame and the largest of a bid (a subscription's first is not one), and the
server's CPU time per bid. The clients are plain
``websockets`` connections that parse every frame they receive (nothing else: no patch applied),
so that what is measured is the server.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from harness import Server, add_users, workdir
from websockets.asyncio.client import ClientConnection, connect

from auctionactors.domain.money import format_amount
from auctionactors.domain.parties import Role
from auctionactors.domain.timestamps import SECOND, format_instant

SUPPLIERS = 10
now = time.monotonic


@dataclass
class Figures:
    acked: list[float] = field(default_factory=list)  # ack times
    frames: int = 0
    frame_bytes: int = 0
    largest: int = 0


class Bidder:
    """One supplier's connection: requests with ids, replies matched, updates counted."""

    def __init__(self, ws: ClientConnection, figs: Figures) -> None:
        self.ws = ws
        self.figs = figs
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str, protocol: int, figs: Figures) -> Bidder:
        ws = await connect(url, compression=None, max_size=None)
        hello: dict[str, Any] = {"type": "hello", "token": token}
        if protocol != 1:
            hello["protocol"] = protocol
        await ws.send(msgspec.json.encode(hello).decode())
        welcome = msgspec.json.decode(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        return cls(ws, figs)

    async def _read(self) -> None:
        async for data in self.ws:
            frame = msgspec.json.decode(data)
            if frame["type"] == "update":
                self.figs.frames += 1
                self.figs.frame_bytes += len(data)
                if frame["events"]:  # a bid's (a subscription's first has none)
                    self.figs.largest = max(self.figs.largest, len(data))
            elif frame.get("id") in self.waiting:
                self.waiting.pop(frame["id"]).set_result(frame)

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send(
            msgspec.json.encode({"type": type_, "id": self.next_id, **fields}).decode()
        )
        reply = await future
        assert reply["type"] == "ok", reply
        return reply

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def new_auction(url: str, admin: str, buyer_id: str, suppliers: list[str]) -> str:
    client = await Bidder.open(url, admin, 1, Figures())
    eta = format_instant(int(time.time() * SECOND) + 3 * 86_400 * SECOND)
    reply = await client.request(
        "create_auction",
        buyer=buyer_id,
        auction={
            "kind": "spot",
            "port": "Rotterdam",
            "suppliers": suppliers,
            "scheduled_start": format_instant(int(time.time() * SECOND)),
            "duration_s": 24 * 3600,
            "products": [
                {"vessel": {"name": "MV Bench", "imo": "9300001"}, "fuel": f, "quantity_mt": 1000,
                 "eta": eta}
                for f in ("VLSFO 0.5%", "MGO 0.1%")
            ],
        },
    )  # fmt: skip
    await client.close()
    return str(reply["auction_id"])


async def run(
    url: str, tokens: list[str], auction_id: str, protocol: int, seconds: float, subscribe: bool,
    start_amount: int,
) -> tuple[Figures, float]:  # fmt: skip
    figs = Figures()
    bidders = [await Bidder.open(url, t, protocol, figs) for t in tokens]
    if subscribe:
        for b in bidders:
            await b.request("subscribe", auction_id=auction_id)
    stop = now() + seconds
    t0 = now()

    async def loop(i: int, b: Bidder) -> None:
        k = 0
        while now() < stop:
            amount = start_amount - 25 * (k * SUPPLIERS + i)
            product = "p1" if k % 2 == 0 else "p2"
            k += 1
            bid = {"product_id": product, "amount": format_amount(max(amount, 1))}
            await b.request("place_bids", auction_id=auction_id, bids=[bid])
            figs.acked.append(now())

    await asyncio.gather(*(loop(i, b) for i, b in enumerate(bidders)))
    elapsed = now() - t0
    for b in bidders:
        await b.close()
    figs.acked = [t - t0 for t in figs.acked]
    return figs, elapsed


def report(label: str, figs: Figures, elapsed: float, cpu_s: float) -> None:
    n = len(figs.acked)
    fifth = elapsed / 5
    first = sum(1 for t in figs.acked if t < fifth) / fifth
    last = sum(1 for t in figs.acked if t >= elapsed - fifth) / fifth
    mean = figs.frame_bytes / figs.frames if figs.frames else 0
    print(
        f"{label:<34} {n / elapsed:8.0f} bids/s (first fifth {first:.0f}, last {last:.0f});"
        f" update frames: {figs.frames}, mean {mean / 1024:.2f} KB, largest"
        f" {figs.largest / 1024:.2f} KB; cpu/bid {1000 * cpu_s / max(n, 1):.2f} ms",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    with workdir("bench-subscribed-") as tmp:
        db = tmp / "serve.db"
        names: dict[str, tuple[str, Role, str]] = {
            "admin": ("Platform", "admin", "Ada"),
            "buyer": ("Aegean Shipping", "buyer", "Bea"),
        }
        names |= {f"s{i}": (f"Supplier {i}", "supplier", f"S{i}") for i in range(SUPPLIERS)}
        users = await add_users(db, names)
        profile = [] if args.profile is None else ["-m", "cProfile", "-o", args.profile]
        server = Server(
            db, tmp / "server.log", "--rate", "1000000", "--outbox", "100000", python=profile
        )
        try:
            suppliers = [users[f"s{i}"].company_id for i in range(SUPPLIERS)]
            tokens = [users[f"s{i}"].token for i in range(SUPPLIERS)]
            admin, buyer = users["admin"].token, users["buyer"].company_id
            for protocol in args.protocols:
                auction = await new_auction(server.url, admin, buyer, suppliers)
                cpu0 = server.cpu_seconds()
                figs, elapsed = await run(
                    server.url, tokens, auction, protocol, args.seconds, True, 10**8
                )
                report(
                    f"protocol {protocol}, fresh auction",
                    figs,
                    elapsed,
                    server.cpu_seconds() - cpu0,
                )
            if args.aged:
                auction = await new_auction(server.url, admin, buyer, suppliers)
                t = now()
                figs = Figures()
                bidders = [await Bidder.open(server.url, tok, 1, figs) for tok in tokens]

                async def fill(i: int, b: Bidder) -> None:
                    for k in range(args.aged // SUPPLIERS):
                        amount = format_amount(10**9 - 25 * (k * SUPPLIERS + i))
                        bid = {"product_id": "p1" if k % 2 == 0 else "p2", "amount": amount}
                        await b.request("place_bids", auction_id=auction, bids=[bid])

                await asyncio.gather(*(fill(i, b) for i, b in enumerate(bidders)))
                for b in bidders:
                    await b.close()
                print(f"aged auction: {args.aged} bids placed in {now() - t:.1f} s", flush=True)
                for protocol in args.protocols:
                    cpu0 = server.cpu_seconds()
                    figs, elapsed = await run(
                        server.url, tokens, auction, protocol, args.seconds, True,
                        10**8 - protocol * 10**6,
                    )  # fmt: skip
                    report(
                        f"protocol {protocol}, {args.aged} bids before", figs, elapsed,
                        server.cpu_seconds() - cpu0,
                    )  # fmt: skip
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--protocol", default="1,2", help="protocols to measure, e.g. 1,2")
    parser.add_argument("--aged", type=int, default=0, help="also on an auction with N bids")
    parser.add_argument("--profile", default=None, metavar="PATH", help="the server's cProfile")
    args = parser.parse_args(argv)
    args.protocols = [int(p) for p in args.protocol.split(",")]
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
