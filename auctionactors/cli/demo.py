"""``auctionactors demo``: the daemon serving a fresh store, with bots on the other end of the wire.

The store is seeded with an admin, a buyer and four suppliers played by bots, and with a buyer
and two suppliers of their own for people ("you"); every company's name, id, role, who plays it
and a token are printed with the page's URL. The gateway is served exactly as ``serve`` does it
(`daemon.running`), and every bot is an ordinary `auctionactors.client.Client` on the WebSocket,
like any bidder's program:

- the *operator* (the admin) creates a spot auction (two vessels, two fuels) that starts at once,
  inviting every supplier (the bots' and the people's), prints every event of every auction as
  its updates arrive, and creates the next auction when one is over; the auctions alternate
  between the bots' buyer and the people's buyer, whose auctions no bot awards;
- each *supplier* bot opens with a bid per product (an auto-bid on one of them), then undercuts
  now and then until its own reserve price, so that the soft close lets the auction end; a bot
  bids for its own company only, so a person's bid (in the people's companies) is never
  replaced by a bot's;
- the *buyer* bot selects ``best_overall`` only after three quarters of the decision period, so
  that a person signed in as that buyer has time to choose first.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
# The people's companies: no bot acts for them.
HUMAN_BUYER = "Levant Lines"
HUMAN_SUPPLIERS = ("Nordic Bunker Partners", "Iberian Marine Fuels")
# The buyer bot awards after this share of the decision period.
BUYER_PATIENCE = 0.75
VESSELS = ({"name": "MV Aurora", "imo": "9300001"}, {"name": "MV Borealis", "imo": "9300002"})
FUELS = ("VLSFO 0.5%", "MGO 0.1%")
OVER = frozenset({"closed", "expired", "canceled"})
DETAIL = ("product_id", "supplier_id", "amount", "min_amount", "closes_at")


@dataclass(frozen=True)
class Account:
    company: str
    role: Role
    user: NewUser
    bot: bool


async def _seed(store: Store) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    companies: list[tuple[str, Role, bool]] = [
        (ADMIN, "admin", True),
        (BUYER, "buyer", True),
        *((s, "supplier", True) for s in SUPPLIERS),
        (HUMAN_BUYER, "buyer", False),
        *((s, "supplier", False) for s in HUMAN_SUPPLIERS),
    ]
    for company, role, bot in companies:
        name = f"{company} {'bot' if bot else 'trader'}"
        user = await store.add_user(company, role, name)
        accounts[company] = Account(company, role, user, bot)
    return accounts


def _print_accounts(accounts: dict[str, Account]) -> None:
    """One line a company: name, role, id, who plays it, and a token to sign in with."""
    print("companies (sign in on the page with a token; 'you' companies are yours alone):")
    for a in accounts.values():
        who = "bot" if a.bot else "you"
        company = f"{a.company:<24} id {a.user.company_id:<12}"
        print(f"  {who:<3} {a.role:<8} {company} token {a.user.token}")


def _auction(accounts: dict[str, Account], duration_s: int, decision_s: int) -> dict[str, Any]:
    """A spot auction starting now (an admin's start in the past starts it at once), inviting
    every supplier company, the bots' and the people's."""
    now = SystemClock().now()
    return {
        "kind": "spot",
        "port": "Rotterdam",
        "suppliers": [a.user.company_id for a in accounts.values() if a.role == "supplier"],
        "scheduled_start": format_instant(now),
        "duration_s": duration_s,
        "decision_duration_s": decision_s,
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
    decision_s: int
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
                if not account.bot:
                    continue
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
        """Auctions one after another, for the bots' buyer and the people's buyer in turn."""
        buyers = [self.accounts[BUYER].user.company_id, self.accounts[HUMAN_BUYER].user.company_id]
        for n in itertools.count():
            auction = _auction(self.accounts, self.duration_s, self.decision_s)
            reply = await admin.request("create_auction", buyer=buyers[n % 2], auction=auction)
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
                buyer = (data.get("terms") or {}).get("buyer") or {}
                if buyer.get("name"):  # auction_created: whose auction, the bots' or the people's
                    detail = f"buyer={buyer['name']}"
                at = event.get("at", "")[11:19]
                line = f"{at} {auction_id[-6:]} #{event['seq']:<4} {event['type']:<26} {detail}"
                print(line.rstrip(), flush=True)
            if update["view"]["status"] in OVER:
                self._closed(auction_id).set()

    # --- the buyer: best overall, late in the decision period ------------------------------------

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
        # A person signed in as this buyer gets most of the decision period to choose first.
        await asyncio.sleep(self.decision_s * BUYER_PATIENCE)
        try:
            await buyer.request(
                "select_solution",
                auction_id=auction_id,
                solution="best_overall",
                comment="demo award",
            )
        except ClientError as exc:  # a person chose first, or the period ran out
            print(f"buyer bot did not select: {exc}", flush=True)

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
        _print_accounts(accounts)
        config = GatewayConfig(host=args.host, port=args.port)
        async with daemon.running(store, config) as (gateway, _):
            stop = daemon.stop_signal()
            print(f"page: http://{config.host}:{gateway.port}/")
            print(f"websocket: {gateway.url}")
            print(f"event loop: {daemon.loop_name()}", flush=True)
            bots = asyncio.create_task(
                _Bots(gateway.url, accounts, args.duration, args.decision, args.think).run()
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
    if isinstance(failure, BrokenPipeError):  # `demo | head`: main() ends quietly
        raise failure
    if failure is not None:
        print(f"auctionactors: demo failed: {failure!r}", file=sys.stderr)
        return 1
    print(f"demo stopped; replay it with: auctionactors events AUCTION_ID --db {describe(db)}")
    return 0
