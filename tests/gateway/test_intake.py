"""The read-ahead's receipts (PROTOCOL.md 1.1): a frame is stamped on arrival, and only a
command that its sender's role may send at all holds its auction's deadlines until it is queued;
any other frame's receipt is released at once, so nobody can hold a deadline with a command they
would be refused anyway.

A real `ReadAhead` over a real session and supervisor; the connection is a queue of frames.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from auctionactors.gateway.intake import ReadAhead
from auctionactors.gateway.protocol import Received, Session
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import Principal, Role
from auctionactors.store.memory import MemoryEventStore

from .conftest import T0


class Frames:
    """A connection whose frames the test writes."""

    def __init__(self, *frames: dict[str, object]) -> None:
        self._frames: asyncio.Queue[str] = asyncio.Queue()
        for frame in frames:
            self._frames.put_nowait(json.dumps(frame))

    async def recv(self) -> str:
        return await self._frames.get()


def signed_in(role: Role) -> Session:
    session = Session()
    session.accept(Principal("u-1", "Una", "c-1", "One Co", role), T0)
    return session


BID = {"type": "place_bids", "id": 1, "auction_id": "a-x", "bids": [{"product_id": "p1"}]}
START = {"type": "start_auction", "id": 2, "auction_id": "a-x"}
VIEW = {"type": "get_view", "id": 3, "auction_id": "a-x"}


@pytest.mark.parametrize(
    ("role", "frame", "held"),
    [
        ("supplier", BID, True),
        ("buyer", BID, False),  # forbidden for a buyer: it never reaches the actor
        ("observer", BID, False),
        ("admin", BID, False),
        ("admin", {**BID, "as_user": "u-s1"}, True),  # checked later as that user
        ("buyer", START, False),
        ("admin", START, True),
        ("supplier", VIEW, False),  # not a command
    ],
)
async def test_only_a_command_the_role_may_send_holds_its_auctions_deadlines(
    role: Role, frame: dict[str, object], held: bool
) -> None:
    sup = Supervisor(MemoryEventStore(), ManualClock(T0))
    frames = ReadAhead(Frames(frame), signed_in(role), sup)
    _, receipt = await anext(frames)
    assert receipt.at == T0  # stamped on arrival either way
    assert len(sup.receipts) == (1 if held else 0)
    assert receipt.auction_id == ("a-x" if held else None)
    receipt.release()
    frames.close()


class BrokenSession(Session):
    """A session whose parsing fails unexpectedly (a bug)."""

    def receive(self, data: str | bytes, now: float) -> Received:
        raise RuntimeError("injected: a parser bug")


async def test_a_frame_whose_reading_fails_holds_no_deadline() -> None:
    sup = Supervisor(MemoryEventStore(), ManualClock(T0))
    session = BrokenSession()
    session.accept(Principal("u-1", "Una", "c-1", "One Co", "supplier"), T0)
    frames = ReadAhead(Frames(BID), session, sup)
    with pytest.raises(RuntimeError, match="parser bug"):
        await anext(frames)
    assert len(sup.receipts) == 0  # released: no deadline waits for it
    frames.close()
