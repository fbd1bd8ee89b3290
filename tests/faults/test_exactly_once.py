"""Exactly once over the wire (PROTOCOL.md 1.1): ``unavailable`` means not applied, ``timeout``
means the outcome is unknown, and a retry with the same key is applied once and answered with
the first outcome.

A real gateway over the real runtime and a real SQLite store whose writer is held up by its
``write_gate`` (a slow disk), with a short ask timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec

from auctionactors.gateway.server import Gateway
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.sqlite import SqliteEventStore
from tests.gateway.conftest import (
    FAST,
    SUPERVISOR,
    T0,
    Conn,
    Directory,
    People,
    add_people,
    open_auction,
)


@asynccontextmanager
async def slow_serving(
    path: Path, ask_timeout_s: float
) -> AsyncIterator[tuple[Supervisor, SqliteEventStore, People, str]]:
    async with await SqliteEventStore.open(path) as store:
        directory = Directory(store)
        people = await add_people(directory)
        config = msgspec.structs.replace(SUPERVISOR, ask_timeout_s=ask_timeout_s)
        supervisor = Supervisor(store, ManualClock(T0), config=config)
        gateway = Gateway(supervisor, directory, FAST)
        await supervisor.start()
        await gateway.start()
        try:
            yield supervisor, store, people, gateway.url
        finally:
            store.write_gate = None
            await gateway.stop()
            await supervisor.stop()


async def test_a_timed_out_comment_retried_with_its_key_is_stored_once(tmp_path: Path) -> None:
    async with slow_serving(tmp_path / "slow.db", ask_timeout_s=0.2) as (sup, store, people, url):
        admin = await Conn.open(url, people.admin.token)
        s1 = await Conn.open(url, people.s1.token)
        auction_id = await open_auction(admin, people)
        post = {"auction_id": auction_id, "text": "first delivery at 06:00", "key": "c-1"}
        gate = store.write_gate = asyncio.Event()  # the disk stalls
        # Taken by the actor, its append in flight: the outcome is unknown.
        assert await s1.error("post_comment", **post) == (
            "timeout",
            f"auction {auction_id} did not answer in time",
        )
        # The retry waits behind it in the mailbox, untaken: not applied.
        assert (await s1.error("post_comment", **post))[0] == "unavailable"
        gate.set()  # the disk recovers: the first append is committed
        await sup.quiesce()
        retried = await s1.ok("post_comment", **post)
        again = await s1.ok("post_comment", **post)
        stored = await store.read_stream(auction_id)
        assert [e.type for e in stored].count("comment_posted") == 1
        assert retried["seq"] == again["seq"] == stored[-1].seq
        assert retried["comment_id"] == again["comment_id"]
        view = (await s1.ok("get_view", auction_id=auction_id))["view"]
        assert [c["comment_id"] for c in view["comments"]] == [retried["comment_id"]]
        # The same key for another command: refused, nothing stored.
        other = {**post, "text": "first delivery at 07:00"}
        code, message = await s1.error("post_comment", **other)
        assert (code, message) == ("invalid", "key 'c-1' was used for another command")
        assert len(await store.read_stream(auction_id)) == len(stored)
        await s1.close()
        await admin.close()


async def test_keys_belong_to_the_authenticated_user_and_creations_are_per_user(
    tmp_path: Path,
) -> None:
    async with slow_serving(tmp_path / "keys.db", ask_timeout_s=5) as (_, store, people, url):
        admin = await Conn.open(url, people.admin.token)
        buyer = await Conn.open(url, people.buyer.token)
        auction = {
            "port": "Rotterdam",
            "suppliers": [people.s1.company_id],
            "scheduled_start": None,
            "products": [{"vessel": {"name": "MV A", "imo": "9300001"}, "fuel": "VLSFO 0.5%",
                          "quantity_mt": 1500, "eta": "2030-01-01T00:00:00Z"}],
        }  # fmt: skip
        first = await buyer.ok("create_auction", auction=auction, key="new")
        again = await buyer.ok("create_auction", auction=auction, key="new")
        assert {k: again[k] for k in ("auction_id", "seq", "product_ids")} == {
            k: first[k] for k in ("auction_id", "seq", "product_ids")
        }
        # An admin acting as the buyer has keys of its own (the principal's, not as_user's).
        as_buyer = await admin.ok(
            "create_auction", auction=auction, key="new", as_user=people.buyer.user_id
        )
        assert as_buyer["auction_id"] != first["auction_id"]
        assert len(await store.streams()) == 2
        await buyer.close()
        await admin.close()
