"""LISTEN/NOTIFY: an append's announcement reaches the other nodes on commit, never before,
and never for a transaction that rolls back."""

from __future__ import annotations

import asyncio

import asyncpg

from auctionactors.cluster.notices import Notices, announce


async def test_announcements_arrive_on_commit_only(pg_url: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listening = asyncio.Event()
    notices = Notices(pg_url, "n", heard.put_nowait, listening.set)
    await notices.start()
    conn = await asyncpg.connect(pg_url)
    try:
        async with asyncio.timeout(20):
            await listening.wait()  # on_gap is said once it listens
        tx = conn.transaction()
        await tx.start()
        await announce(conn, ["a-rolled-back"])
        await tx.rollback()
        async with conn.transaction():
            await announce(conn, ["a-1", "a-2"])
        async with asyncio.timeout(20):
            assert [await heard.get(), await heard.get()] == ["a-1", "a-2"]
        assert heard.empty()
    finally:
        await conn.close()
        await notices.stop()
