"""Databases for the command-line tests, made by the real runtime on the real SQLite store.

`seed` runs a `Supervisor` with a `ManualClock` on a `SqliteEventStore` inside ``asyncio.run``
and leaves three auctions behind, described by the returned `Seeded`:

- ``decided``: opened, bid on by two suppliers (one bid revoked and placed again), moved to
  decision by the clock, a solution selected: closed, 9 events;
- ``open``: open until long after the end of the seeding, one bid;
- ``pending``: scheduled long after the end of the seeding, never started.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from auctionactors.domain.commands import (
    AnyCommand,
    BidRequest,
    PlaceBids,
    RevokeBid,
    SelectSolution,
)
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND, Instant, parse_instant
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.mailbox import Reply
from auctionactors.runtime.supervisor import Supervisor, SupervisorConfig
from auctionactors.store import sqlite_catalog
from auctionactors.store.sqlite import SqliteEventStore
from tests.pg import open_db

T0 = parse_instant("2026-11-27T10:00:00Z")
BUYER = Caller("u-b", "c-b", "buyer")
S1 = Caller("u-s1", "c-s1", "supplier")
S2 = Caller("u-s2", "c-s2", "supplier")
CONFIG = SupervisorConfig(backoff_base_s=0, backoff_max_s=0, ask_timeout_s=10)


def terms(
    start: Instant | None,
    *,
    duration_s: int = 600,
    decision_duration_s: int = 900,
    products: int = 1,
) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=Party("c-b", "Buyer Co"),
        suppliers=(Party("c-s1", "Baltic Bunkers"), Party("c-s2", "North Sea Fuels")),
        scheduled_start=start,
        duration_s=duration_s,
        decision_duration_s=decision_duration_s,
        products=tuple(
            ProductSpec(
                vessel=Vessel(f"MV Ship {i}", f"93000{i:02d}"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=T0 + 86_400 * SECOND,
            )
            for i in range(1, products + 1)
        ),
    )


def bid(caller: Caller, cents: int, product_id: str = "p1") -> PlaceBids:
    return PlaceBids(by=caller, bids=(BidRequest(product_id=product_id, amount=cents),))


@dataclass(frozen=True)
class Seeded:
    path: Path | str  # a SQLite file, or a PostgreSQL URL
    decided: str
    open: str
    pending: str
    # Bid ids of the decided auction: S1's first (revoked), S2's (the winner), S1's second.
    s1_first: str
    s2_bid: str
    s1_second: str
    # The manual clock's time at the end: a later supervisor continues from here.
    end: Instant


async def _seed(path: Path | str) -> Seeded:
    clock = ManualClock(T0)
    store = await open_db(path)
    sup = Supervisor(store, clock, config=CONFIG)
    await sup.start()
    try:
        decided = _id(await sup.create_auction(BUYER, terms(T0 + 60 * SECOND)))
        opened = _id(await sup.create_auction(BUYER, terms(T0 + 60 * SECOND, duration_s=7200)))
        pending = _id(await sup.create_auction(BUYER, terms(T0 + 86_400 * SECOND)))
        clock.advance(60)
        await sup.quiesce()
        s1_first = _bid_id(await sup.ask(decided, bid(S1, 250)))  # seq 3
        s2_bid = _bid_id(await sup.ask(decided, bid(S2, 225)))  # seq 4
        await sup.ask(decided, RevokeBid(by=S1, product_id="p1"))  # seq 5
        s1_second = _bid_id(await sup.ask(decided, bid(S1, 275)))  # seq 6
        await sup.ask(opened, bid(S1, 300))  # seq 3
        clock.advance(600)  # decided: auction_ended, seq 7
        await sup.quiesce()
        await sup.ask(decided, SelectSolution(by=BUYER, bid_ids=(s2_bid,)))  # seqs 8, 9
        await sup.quiesce()
        return Seeded(path, decided, opened, pending, s1_first, s2_bid, s1_second, clock.now())
    finally:
        await sup.stop()
        await store.close()


def _id(reply: Reply) -> str:
    return str(reply.fields["auction_id"])


def _bid_id(reply: Reply) -> str:
    (bid_id,) = reply.fields["bid_ids"]
    return str(bid_id)


def seed(path: Path | str) -> Seeded:
    """Build the database at ``path``, a file or a PostgreSQL URL (see the module docstring)."""
    return asyncio.run(_seed(path))


def catalog(path: Path) -> None:
    """Catalog every stream as migration 5 does for a database written before the catalog."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        sqlite_catalog.build(conn)
        conn.execute("COMMIT")


async def _place(path: Path, now: Instant, auction_id: str, command: AnyCommand) -> Reply:
    store = await SqliteEventStore.open(path)
    sup = Supervisor(store, ManualClock(now), config=CONFIG)
    await sup.start()
    try:
        return await sup.ask(auction_id, command)
    finally:
        await sup.stop()
        await store.close()


def place(path: Path, now: Instant, auction_id: str, command: AnyCommand) -> Reply:
    """One more command through a fresh runtime on the database (as a restarted server would)."""
    return asyncio.run(_place(path, now, auction_id, command))
