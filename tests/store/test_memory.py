"""What only the memory store has: its fault-injection hooks, and `check` on tampered data."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from auctionactors.errors import ConcurrencyError, StorageUnavailable
from auctionactors.store.base import NewEvent
from auctionactors.store.memory import MemoryEventStore


def evs(*payloads: str) -> list[NewEvent]:
    return [NewEvent("happened", p.encode()) for p in payloads]


async def test_fail_next_append_fails_once() -> None:
    store = MemoryEventStore()
    store.fail_next_append = OSError("disk full")
    with pytest.raises(StorageUnavailable) as caught:
        await store.append("s", 0, evs("x"))
    assert isinstance(caught.value.__cause__, OSError)
    assert store.fail_next_append is None
    assert await store.read_all() == []
    assert (await store.append("s", 0, evs("x"))).last_seq == 1


async def test_an_injected_store_error_is_raised_as_it_is() -> None:
    store = MemoryEventStore()
    store.fail_next_append = ConcurrencyError("simulated race")
    with pytest.raises(ConcurrencyError, match="simulated"):
        await store.append("s", 0, evs("x"))


async def test_before_append_hook_can_fail_one_stream_persistently() -> None:
    store = MemoryEventStore()

    def broken_disk_for_b(stream_id: str, expected_seq: int, events: Sequence[NewEvent]) -> None:
        if stream_id == "b":
            raise OSError("I/O error")

    store.before_append = broken_disk_for_b
    await store.append("a", 0, evs("1"))
    for _ in range(2):
        with pytest.raises(StorageUnavailable):
            await store.append("b", 0, evs("1"))
    store.before_append = None
    assert (await store.append("b", 0, evs("1"))).last_seq == 1


async def test_check_finds_tampering() -> None:
    store = MemoryEventStore()
    await store.append("s", 0, evs("1", "2", "3"))
    stream = store._streams["s"]
    stream[1] = msgspec.structs.replace(stream[1], data=b"edited")
    assert [(d.stream_id, d.seq) for d in await store.check()] == [("s", 2)]
    del stream[1]
    assert any("gap" in d.problem for d in await store.check())
