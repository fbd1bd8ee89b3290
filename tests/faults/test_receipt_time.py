"""Receipt time over the wire (PROTOCOL.md 1.1): many bidders on real connections send bids
just before ``closes_at`` while the auction's actor is far behind (its store stalls); each bid
received before the deadline is accepted, each received at or after it is ``too_late``.

The real gateway, runtime and SQLite store; the manual clock, so "before" and "after" are
exact. Waiting is on conditions (frames stamped), never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.receipts import Receipt
from tests.gateway.conftest import T0, Conn, bid, open_auction, serving

CLOSES_AT = T0 + 600 * SECOND
MS = SECOND // 1000
CONNECTIONS = 8  # per supplier
EARLY = 3  # bids per connection before the deadline


async def until(condition: Callable[[], bool], wait_s: float = 10.0) -> None:
    """Until frames sent on real sockets have reached the server (nothing to wait on there)."""
    async with asyncio.timeout(wait_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_bids_received_before_closes_at_are_on_time_however_late_they_are_handled(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path / "receipt.db") as served:
        people, sup, clock = served.people, served.supervisor, served.clock
        admin = await Conn.open(served.url, people.admin.token)
        auction_id = await open_auction(admin, people, soft_close_s=0)
        suppliers = [people.s1, people.s2] * CONNECTIONS
        conns = [await Conn.open(served.url, s.token) for s in suppliers]
        clock.set(CLOSES_AT - MS)
        gate = sup.store.write_gate = asyncio.Event()  # type: ignore[attr-defined]

        stamps: list[int] = []
        register = sup.receipts.register

        def counted(at: int) -> Receipt:
            stamps.append(at)
            return register(at)

        sup.receipts.register = counted  # type: ignore[method-assign]

        def stamped() -> int:
            return len(stamps)

        for i, conn in enumerate(conns):
            for j in range(EARLY):
                amount = f"{900 - i - j / 4:.2f}"
                bids = [bid("p1", amount)]
                await conn.send(
                    {"type": "place_bids", "id": j, "auction_id": auction_id, "bids": bids}
                )
        await until(lambda: stamped() == len(conns) * EARLY)
        clock.set(CLOSES_AT)  # the deadline's timer fires; 47 bids are still waiting
        for conn in conns:
            late = {"type": "place_bids", "id": "late", "auction_id": auction_id,
                    "bids": [bid("p1", "1.00")]}  # fmt: skip
            await conn.send(late)
        await until(lambda: stamped() == len(conns) * (EARLY + 1))
        assert stamps == sorted(stamps) and stamps[-len(conns)] == CLOSES_AT
        gate.set()
        for conn in conns:
            for j in range(EARLY):
                reply = await conn.reply(j)
                assert reply["type"] == "ok", reply
            assert await conn.reply("late") == {
                "type": "error",
                "id": "late",
                "code": "too_late",
                "message": "auction moved to decision before the bid was received",
            }
        assert len(sup.receipts) == 0  # every stamp released once its frame was served
        view = (await admin.ok("get_view", auction_id=auction_id))["view"]
        assert view["status"] == "decision"
        events = (await admin.ok("get_events", auction_id=auction_id))["events"]
        placed = [e for e in events if e["type"] == "bid_placed"]
        assert len(placed) == len(conns) * EARLY
        assert events[-1]["type"] == "auction_ended"
        assert all(e["at"] < events[-1]["at"] for e in placed)
        for conn in (*conns, admin):
            await conn.close()
