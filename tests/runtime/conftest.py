from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND, parse_instant
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor, SupervisorConfig
from auctionactors.store.memory import MemoryEventStore

T0 = parse_instant("2026-11-27T10:00:00Z")
BUYER = Caller("u-b", "c-b", "buyer")
ADMIN = Caller("u-adm", "c-adm", "admin")
S1 = Caller("u-s1", "c-s1", "supplier")
S2 = Caller("u-s2", "c-s2", "supplier")
OUTSIDER = Caller("u-x", "c-x", "supplier")
FAST = SupervisorConfig(backoff_base_s=0, backoff_max_s=0, ask_timeout_s=5, max_restarts=3)


def terms(
    start_in_s: int | None = 60, *, products: int = 1, duration_s: int = 600, now: int = T0
) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=Party("c-b", "Buyer Co"),
        suppliers=(Party("c-s1", "Baltic Bunkers"), Party("c-s2", "North Sea Fuels")),
        scheduled_start=None if start_in_s is None else now + start_in_s * SECOND,
        duration_s=duration_s,
        products=tuple(
            ProductSpec(
                vessel=Vessel(f"MV Ship {i}", f"93000{i:02d}"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=T0 + 86_400 * SECOND,
            )
            for i in range(products)
        ),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
async def supervisor(store: MemoryEventStore, clock: ManualClock) -> AsyncIterator[Supervisor]:
    sup = Supervisor(store, clock, config=FAST)
    await sup.start()
    yield sup
    await sup.stop()


class Watching:
    """A base for test subscribers: it follows every auction (see `Subscriber.follows`)."""

    def follows(self, auction_id: str) -> bool:
        return True


async def settled(condition: Callable[[], bool]) -> None:
    """Let the other tasks run (no time passes) until ``condition`` holds; fail if it never
    does while they still have something to do."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")
