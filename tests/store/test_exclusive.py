"""The SQLite store's guarantees for the daemon: one exclusive opener per file (``serve``), and
an append whose fate is unknown is reported as such (`OutcomeUnknown`, answered ``timeout``),
never as a plain failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from auctionactors.errors import OutcomeUnknown, StorageUnavailable, StoreLocked
from auctionactors.store.base import NewEvent
from auctionactors.store.sqlite import SqliteEventStore


def evs(*payloads: str) -> list[NewEvent]:
    return [NewEvent("e", p.encode()) for p in payloads]


async def test_an_exclusive_store_refuses_a_second_one_but_not_readers(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with await SqliteEventStore.open(path, exclusive=True) as store:
        await store.append("s", 0, evs("1"))
        with pytest.raises(StoreLocked, match=f"another auctionactors serve is using {path}"):
            await SqliteEventStore.open(path, exclusive=True)
        async with await SqliteEventStore.open(path, read_only=True) as reader:
            assert await reader.highest_seq("s") == 1
        async with await SqliteEventStore.open(path) as writer:  # user add, revoke, backup
            await writer.add_user("Platform", "admin", "Ada")
        await store.append("s", 1, evs("2"))
    async with await SqliteEventStore.open(path, exclusive=True) as again:  # released on close
        assert await again.highest_seq("s") == 2


async def test_an_append_cut_off_by_shutdown_is_an_unknown_outcome(tmp_path: Path) -> None:
    store = await SqliteEventStore.open(tmp_path / "cut.db")
    store.write_gate = asyncio.Event()  # the disk stalls
    pending = asyncio.ensure_future(store.append("s", 0, evs("1")))
    await asyncio.sleep(0)
    store._queue._task.cancel()  # type: ignore[union-attr]  # the event loop shuts down
    with pytest.raises(OutcomeUnknown, match="the append may be lost"):
        await pending
    with pytest.raises(StorageUnavailable, match="closed"):  # nothing queued after that
        await store.append("s", 0, evs("1"))
    store.write_gate.set()
    await store.close()
