"""``auctionactors demo``: a fresh store with companies and tokens, and live auctions in which
simulated suppliers bid against each other until each one closes; then the next one starts.

The bots are plain asyncio tasks sending commands to the supervisor, the way any client's
commands arrive; what they do is printed as the audit log grows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import tempfile
from pathlib import Path

from auctionactors.domain.commands import BidRequest, PlaceBids, SelectSolution
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.present import event_entry
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import AuctionActorsError, UsageError
from auctionactors.runtime.actor import Update
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import NewUser
from auctionactors.store.sqlite import SqliteEventStore

BUYER = "Aegean Shipping"
SUPPLIERS = ("Baltic Bunkers", "North Sea Fuels", "Med Marine Energy", "Gulf Oil Trading")
VESSELS = (Vessel("MV Aurora", "9300001"), Vessel("MV Borealis", "9300002"))
FUELS = ("VLSFO 0.5%", "MGO 0.1%")


class _Printer:
    """Prints every event as it becomes durable (a subscriber like the gateway's hub), and tells
    the demo when an auction's bidding is over."""

    def __init__(self) -> None:
        self.bidding_over: dict[str, asyncio.Event] = {}

    def publish(self, update: Update) -> None:
        if update.state.status not in ("pending", "open"):
            self.bidding_over.setdefault(update.auction_id, asyncio.Event()).set()
        for i, event in enumerate(update.events):
            entry = event_entry(update.first_seq + i, event)
            data = entry["data"]
            if "supplier_id" in data:
                data["supplier_id"] = update.state.supplier_name(data["supplier_id"])
            detail = " ".join(
                f"{k}={data[k]}"
                for k in ("product_id", "supplier_id", "amount", "min_amount", "closes_at")
                if data.get(k) is not None
            )
            short = update.auction_id[-6:]
            print(f"{entry['at'][11:19]} {short} #{entry['seq']:<4} {entry['type']:<26} {detail}")


def _terms(buyer: Party, suppliers: list[Party], now: int, duration_s: int) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=buyer,
        suppliers=tuple(suppliers),
        scheduled_start=now,
        duration_s=duration_s,
        decision_duration_s=60,
        soft_close_s=max(5, duration_s // 6),
        products=tuple(
            ProductSpec(
                vessel=vessel,
                fuel=fuel,
                quantity_mt=random.choice((500, 1000, 1500)),
                eta=now + 3 * 86_400 * SECOND,
            )
            for vessel in VESSELS
            for fuel in FUELS
        ),
    )


async def _bot(
    supervisor: Supervisor, auction_id: str, caller: Caller, products: list[str], think_s: float
) -> None:
    """A supplier: an opening bid per product, an auto-bid on one, then occasional undercuts
    until its own reserve price, so that the soft close lets the auction end."""
    rng = random.Random(caller.company_id)
    base = {p: rng.randrange(560, 640) * 100 for p in products}
    reserve = {p: amount - rng.randrange(5, 25) * 100 for p, amount in base.items()}
    try:
        first = rng.choice(products)
        await supervisor.ask(
            auction_id,
            PlaceBids(
                by=caller,
                bids=tuple(
                    BidRequest(
                        product_id=p,
                        amount=base[p],
                        min_amount=base[p] - rng.randrange(10, 40) * 100 if p == first else None,
                        allow_split=rng.random() > 0.2,
                    )
                    for p in products
                ),
            ),
        )
        while True:
            await asyncio.sleep(rng.uniform(think_s / 4, think_s))
            open_products = [p for p in products if base[p] > reserve[p]]
            if not open_products:
                return
            product = rng.choice(open_products)
            base[product] = max(reserve[product], base[product] - rng.randrange(1, 8) * 100)
            request = BidRequest(product_id=product, amount=base[product])
            await supervisor.ask(auction_id, PlaceBids(by=caller, bids=(request,)))
    except AuctionActorsError:
        return  # bidding is over (too late, or the auction moved on)


async def _run_auction(
    supervisor: Supervisor,
    printer: _Printer,
    users: dict[str, tuple[NewUser, Party]],
    args: argparse.Namespace,
) -> None:
    admin = Caller(users["admin"][0].user_id, users["admin"][0].company_id, "admin")
    buyer_user, buyer = users[BUYER]
    suppliers = [users[name] for name in SUPPLIERS]
    reply = await supervisor.create_auction(
        admin, _terms(buyer, [p for _, p in suppliers], supervisor.clock.now(), args.duration)
    )
    auction_id = reply.fields["auction_id"]
    products = list(reply.fields["product_ids"])
    over = printer.bidding_over.setdefault(auction_id, asyncio.Event())
    bots = [
        asyncio.create_task(
            _bot(
                supervisor,
                auction_id,
                Caller(u.user_id, u.company_id, "supplier"),
                products,
                args.think,
            )
        )
        for u, _ in suppliers
    ]
    await over.wait()
    for bot in bots:
        bot.cancel()
    await asyncio.sleep(args.think)  # the buyer looks at the solutions for a moment
    buyer_caller = Caller(buyer_user.user_id, buyer_user.company_id, "buyer")
    select = SelectSolution(by=buyer_caller, solution="best_overall", comment="demo award")
    try:
        await supervisor.ask(auction_id, select)
    except AuctionActorsError as exc:
        print(f"selection refused: {exc}")


async def demo(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="auctionactors-demo-"))
    path = Path(args.db) if args.db else folder / "demo.db"
    if path.exists():
        raise UsageError(f"{path} exists; the demo starts on a fresh store")
    async with await SqliteEventStore.open(path) as store:
        users: dict[str, tuple[NewUser, Party]] = {}
        for name, role in [(BUYER, "buyer"), *((s, "supplier") for s in SUPPLIERS)]:
            user = await store.add_user(name, role, f"{name} trader")  # type: ignore[arg-type]
            users[name] = (user, Party(user.company_id, name))
        admin = await store.add_user("Platform Operations", "admin", "Operator")
        users["admin"] = (admin, Party(admin.company_id, "Platform Operations"))
        print(f"demo store: {path}")
        for name, (user, _) in users.items():
            print(f"  token {name:<22} {user.token}")
        printer = _Printer()
        supervisor = Supervisor(store, SystemClock(), subscribers=[printer])
        await supervisor.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def auctions() -> None:
            while True:
                await _run_auction(supervisor, printer, users, args)

        runner = asyncio.create_task(auctions())
        await stop.wait()
        runner.cancel()
        await supervisor.stop()
    print(f"demo stopped; replay it with: auctionactors events AUCTION_ID --db {path}")
    return 0
