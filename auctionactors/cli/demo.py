"""``auctionactors demo``: the daemon serving a fresh store, with bots on the other end of the wire.

The store is seeded with a buyer, an admin and four suppliers, whose tokens are printed with the
page's URL. The gateway is served exactly as ``serve`` does it (`daemon.running`), and every bot
is an ordinary `auctionactors.client.Client` on the WebSocket, like any bidder's program:

- the *operator* (the admin) creates a spot auction (two vessels, two fuels) that starts at once,
  prints every event of every auction as its updates arrive, and creates the next auction when
  one is over;
- each *supplier* opens with a bid per product (an auto-bid on one of them), then undercuts now
  and then until its own reserve price, so that the soft close lets the auction end;
- the *buyer* selects ``best_overall`` once the auction is in its decision period.

A person can sign in on the page (or with `Client`) with any printed token while the bots play.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auctionactors.cli import daemon
from auctionactors.cli.stores import Store, describe, open_store
from auctionactors.client import Client, ClientError
from auctionactors.domain.money import format_amount
from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.errors import UsageError
from auctionactors.gateway.config import GatewayConfig
from auctionactors.runtime.clock import SystemClock
from auctionactors.store.base import NewUser, Role
from auctionactors.store.postgres import is_postgres_url

ADMIN = "Platform Operations"
BUYER = "Aegean Shipping"
SUPPLIERS = ("Baltic Bunkers", "North Sea Fuels", "Med Marine Energy", "Gulf Oil Trading")
VESSELS = ({"name": "MV Aurora", "imo": "9300001"}, {"name": "MV Borealis", "imo": "9300002"})
FUELS = ("VLSFO 0.5%", "MGO 0.1%")
OVER = frozenset({"closed", "expired", "canceled"})
DETAIL = ("product_id", "supplier_id", "amount", "min_amount", "closes_at")


@dataclass(frozen=True)
class Account:
    company: str
    role: Role
    user: NewUser


async def _seed(store: Store) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    roles: list[tuple[str, Role]] = [(BUYER, "buyer"), (ADMIN, "admin")]
    for company, role in [*roles, *((s, "supplier") for s in SUPPLIERS)]:
        user = await store.add_user(company, role, f"{company} trader")
        accounts[company] = Account(company, role, user)
    return accounts


def _auction(accounts: dict[str, Account], duration_s: int) -> dict[str, Any]:
    """A spot auction starting now (an admin's start in the past starts it at once)."""
    now = SystemClock().now()
    return {
        "kind": "spot",
        "port": "Rotterdam",
        "suppliers": [accounts[s].user.company_id for s in SUPPLIERS],
        "scheduled_start": format_instant(now),
        "duration_s": duration_s,
        "decision_duration_s": 60,
        "soft_close_s": max(5, duration_s // 6),
        "products": [
            {
                "vessel": vessel,
                "fuel": fuel,
                "quantity_mt": random.choice((500, 1000, 1500)),
                "eta": format_instant(now + 3 * 86_400 * SECOND),
            }
            for vessel in VESSELS
            for fuel in FUELS
        ],
    }


@dataclass
class _Bots:
    """Every bot of the demo, sharing the URL and the accounts."""

    url: str
    accounts: dict[str, Account]
    duration_s: int
    think_s: float
    names: dict[str, str] = field(default_factory=dict)  # company id -> name, for printing
    closed: dict[str, asyncio.Event] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = {a.user.company_id: a.company for a in self.accounts.values()}

    def _closed(self, auction_id: str) -> asyncio.Event:
        return self.closed.setdefault(auction_id, asyncio.Event())

    async def run(self) -> None:
        async with AsyncExitStack() as stack, asyncio.TaskGroup() as group:
            clients: dict[str, Client] = {}
            for name, account in self.accounts.items():
                client = Client(self.url, account.user.token)
                await client.connect()
                stack.push_async_callback(client.close)
                await client.subscribe_all()
                clients[name] = client
            group.create_task(self._print(clients[ADMIN]))
            group.create_task(self._buyer(clients[BUYER]))
            for name in SUPPLIERS:
                group.create_task(self._supplier(clients[name]))
            group.create_task(self._operate(clients[ADMIN]))

    # --- the admin: auctions one after another, and the printed audit log ----------------------

    async def _operate(self, admin: Client) -> None:
        buyer = self.accounts[BUYER].user.company_id
        while True:
            reply = await admin.request(
                "create_auction", buyer=buyer, auction=_auction(self.accounts, self.duration_s)
            )
            await self._closed(reply["auction_id"]).wait()

    async def _print(self, admin: Client) -> None:
        async for update in admin.updates():
            if update.get("type") != "update":
                continue
            auction_id = update["auction_id"]
            for event in update["events"]:
                data = event.get("data") or {}
                if data.get("supplier_id") is not None:
                    data["supplier_id"] = self.names.get(data["supplier_id"], data["supplier_id"])
                detail = " ".join(f"{k}={data[k]}" for k in DETAIL if data.get(k) is not None)
                at = event.get("at", "")[11:19]
                line = f"{at} {auction_id[-6:]} #{event['seq']:<4} {event['type']:<26} {detail}"
                print(line.rstrip(), flush=True)
            if update["view"]["status"] in OVER:
                self._closed(auction_id).set()

    # --- the buyer: best overall once bidding is over ------------------------------------------

    async def _buyer(self, buyer: Client) -> None:
        chosen: set[str] = set()
        async with asyncio.TaskGroup() as group:
            async for update in buyer.updates():
                auction_id = update["auction_id"]
                if update.get("type") != "update" or auction_id in chosen:
                    continue
                if update["view"]["status"] == "decision":
                    chosen.add(auction_id)
                    group.create_task(self._select(buyer, auction_id))

    async def _select(self, buyer: Client, auction_id: str) -> None:
        await asyncio.sleep(self.think_s)  # the buyer looks at the solutions for a moment
        try:
            await buyer.request(
                "select_solution",
                auction_id=auction_id,
                solution="best_overall",
                comment="demo award",
            )
        except ClientError as exc:
            print(f"selection refused: {exc}", flush=True)

    # --- the suppliers ---------------------------------------------------------------------------

    async def _supplier(self, client: Client) -> None:
        status: dict[str, str] = {}
        async with asyncio.TaskGroup() as group:
            async for update in client.updates():
                if update.get("type") != "update":
                    continue
                auction_id, doc = update["auction_id"], update["view"]
                opened = status.get(auction_id) == "open"
                status[auction_id] = doc["status"]
                if not opened and doc["status"] == "open":
                    products = [p["product_id"] for p in doc["products"]]
                    group.create_task(self._bid(client, auction_id, products, status))

    async def _bid(
        self, client: Client, auction_id: str, products: list[str], status: dict[str, str]
    ) -> None:
        """An opening bid per product (an auto-bid on one), then occasional undercuts until the
        supplier's own reserve price, so that the soft close lets the auction end."""
        assert client.welcome is not None
        rng = random.Random(f"{client.welcome['company']['id']}:{auction_id}")
        base = {p: rng.randrange(560, 640) * 100 for p in products}  # cents per MT
        reserve = {p: amount - rng.randrange(5, 25) * 100 for p, amount in base.items()}
        first = rng.choice(products)
        bids: list[dict[str, Any]] = []
        for p in products:
            bid: dict[str, Any] = {"product_id": p, "amount": format_amount(base[p])}
            if p == first:
                bid["min_amount"] = format_amount(base[p] - rng.randrange(10, 40) * 100)
            bid["allow_split"] = rng.random() > 0.2
            bids.append(bid)
        try:
            await asyncio.sleep(rng.uniform(0, self.think_s / 2))
            await client.request("place_bids", auction_id=auction_id, bids=bids)
            while True:
                await asyncio.sleep(rng.uniform(self.think_s / 4, self.think_s))
                open_products = [p for p in products if base[p] > reserve[p]]
                if not open_products or status.get(auction_id) != "open":
                    return
                p = rng.choice(open_products)
                base[p] = max(reserve[p], base[p] - rng.randrange(1, 8) * 100)
                bid = {"product_id": p, "amount": format_amount(base[p])}
                await client.request("place_bids", auction_id=auction_id, bids=[bid])
        except ClientError:
            return  # bidding is over (too late, or the auction moved on)


def _fresh(db: str | None) -> str:
    """Where the demo's store goes: a new file (in a temporary folder when ``db`` is None), or
    a PostgreSQL URL (checked to be empty once opened)."""
    if db is None:
        return str(Path(tempfile.mkdtemp(prefix="auctionactors-demo-")) / "demo.db")
    if not is_postgres_url(db) and Path(db).exists():
        raise UsageError(f"{db} exists; the demo starts on a fresh store")
    return db


async def demo(args: argparse.Namespace) -> int:
    db = _fresh(args.db)
    async with open_store(db, create=True) as store:
        if await store.streams() or await store.companies(limit=1):
            raise UsageError(f"{describe(db)} is not empty; the demo starts on a fresh store")
        accounts = await _seed(store)
        print(f"demo store: {describe(db)}")
        for account in accounts.values():
            label = f"{account.company} ({account.role})"
            print(f"  token {label:<32} {account.user.token}")
        config = GatewayConfig(host=args.host, port=args.port)
        async with daemon.running(store, config) as (gateway, _):
            stop = daemon.stop_signal()
            print(f"page: http://{config.host}:{gateway.port}/")
            print(f"websocket: {gateway.url}")
            print(f"event loop: {daemon.loop_name()}", flush=True)
            bots = asyncio.create_task(
                _Bots(gateway.url, accounts, args.duration, args.think).run()
            )
            signalled = asyncio.create_task(stop.wait())
            await asyncio.wait({bots, signalled}, return_when=asyncio.FIRST_COMPLETED)
            for task in (bots, signalled):
                task.cancel()
            failure = None
            try:
                await bots
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # a bot's bug: say so and stop with status 1
                failure = exc
    if failure is not None:
        print(f"auctionactors: demo failed: {failure!r}", file=sys.stderr)
        return 1
    print(f"demo stopped; replay it with: auctionactors events AUCTION_ID --db {describe(db)}")
    return 0
