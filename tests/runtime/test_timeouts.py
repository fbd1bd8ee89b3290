"""`AskTimeouts`: one timer for every waiting ask, each expired at its own deadline."""

from __future__ import annotations

import asyncio

from auctionactors.runtime.mailbox import Ask, Query
from auctionactors.runtime.timeouts import AskTimeouts


def _query() -> Query:
    return Query(lambda state: state, asyncio.get_running_loop().create_future())


async def test_each_unanswered_ask_expires_at_its_deadline_and_answered_ones_never() -> None:
    expired: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    def expire(message: Ask | Query, auction_id: str) -> None:
        expired.append((auction_id, loop.time() - start))
        message.future.set_result(None)

    timeouts = AskTimeouts(expire)
    first, answered, second = _query(), _query(), _query()
    timeouts.add(first, "a", 0.1)
    timeouts.add(answered, "b", 0.1)
    await asyncio.sleep(0.05)
    timeouts.add(second, "c", 0.25)  # due at 0.3
    answered.future.set_result(None)
    await asyncio.sleep(0.1)
    assert [a for a, _ in expired] == ["a"]
    await asyncio.sleep(0.25)
    assert [a for a, _ in expired] == ["a", "c"]
    assert expired[0][1] >= 0.1 and expired[1][1] >= 0.3
    assert first.future.done() and second.future.done()
    # Nothing waits any more: the next ask arms the timer again.
    timeouts.add(_query(), "d", 0.01)
    await asyncio.sleep(0.05)
    assert [a for a, _ in expired] == ["a", "c", "d"]


async def test_a_shorter_timeout_than_the_asks_before_is_timed_alone() -> None:
    expired: list[str] = []

    def expire(message: Ask | Query, auction_id: str) -> None:
        expired.append(auction_id)

    timeouts = AskTimeouts(expire)
    slow, quick = _query(), _query()
    timeouts.add(slow, "slow", 0.2)
    timeouts.add(quick, "quick", 0.02)
    await asyncio.sleep(0.06)
    assert expired == ["quick"]
    slow.future.cancel()  # its caller gave up: never expired
    await asyncio.sleep(0.2)
    assert expired == ["quick"]
