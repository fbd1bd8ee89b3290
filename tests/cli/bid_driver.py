"""A process that bids as fast as it can, for the durability test (run it, then SIGKILL it).

``python -m tests.cli.bid_driver DB`` opens the SQLite store, a `Supervisor` on the system clock,
creates a few auctions as an admin (a start of "now" opens them at once; an hour of bidding), then
runs one bidder task per auction and supplier. It prints, and flushes, one line per acknowledged
command the moment its reply arrives:

    AUCTION <auction_id> <seq>
    ACK <auction_id> <bid_id> <seq>

so every line the test reads stands for a command the runtime promised is durable.
"""

from __future__ import annotations

import asyncio
import sys

from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.sqlite import SqliteEventStore

AUCTIONS = 5
ADMIN = Caller("u-adm", "c-adm", "admin")
SUPPLIERS = tuple(Caller(f"u-s{i}", f"c-s{i}", "supplier") for i in range(1, 5))
# A safety net: the test kills the driver long before this; a forgotten one still ends.
MAX_RUN_S = 60.0


def auction_terms(now: int) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=Party("c-b", "Buyer Co"),
        suppliers=tuple(Party(s.company_id, f"Supplier {s.company_id}") for s in SUPPLIERS),
        scheduled_start=now,
        duration_s=3600,
        soft_close_s=0,
        products=(
            ProductSpec(
                vessel=Vessel("MV Aurora", "9300001"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=now + 86_400 * SECOND,
            ),
        ),
    )


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def bidder(sup: Supervisor, auction_id: str, supplier: Caller, k: int) -> None:
    n = 0
    while True:
        n += 1
        cents = 25 * (1 + (n * 7 + k) % 400)
        command = PlaceBids(by=supplier, bids=(BidRequest(product_id="p1", amount=cents),))
        reply = await sup.ask(auction_id, command)
        (bid_id,) = reply.fields["bid_ids"]
        say(f"ACK {auction_id} {bid_id} {reply.seq}")


async def drive(path: str) -> None:
    clock = SystemClock()
    store = await SqliteEventStore.open(path)
    sup = Supervisor(store, clock)
    await sup.start()
    auction_ids: list[str] = []
    for _ in range(AUCTIONS):
        reply = await sup.create_auction(ADMIN, auction_terms(clock.now()))
        auction_id = str(reply.fields["auction_id"])
        auction_ids.append(auction_id)
        say(f"AUCTION {auction_id} {reply.seq}")
    tasks = [
        bidder(sup, auction_id, supplier, k)
        for auction_id in auction_ids
        for k, supplier in enumerate(SUPPLIERS)
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), MAX_RUN_S)
    except TimeoutError:
        pass
    finally:
        await sup.stop()
        await store.close()


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1]))
