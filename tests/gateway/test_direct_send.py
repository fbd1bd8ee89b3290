"""The fan-out's fast path: a frame for a connection with nothing queued goes straight to its
socket (`Peer.send_now`), written at the end of the event loop's turn together with the other
frames of that turn, each frame encoded once for every connection it goes to (`Batch`);
anything queued keeps the order, and a full outbox still cuts off."""

from __future__ import annotations

import asyncio

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from auctionactors.gateway.batch import Batch, text_frame
from auctionactors.gateway.peer import Peer
from auctionactors.store.base import Principal

from .conftest import Conn, Opener, Served, bid, open_auction

PRINCIPAL = Principal("u-1", "Sam", "c-1", "Baltic Bunkers", "supplier")


def _peer(capacity: int = 3) -> tuple[Peer, list[bytes], list[bool]]:
    sent: list[bytes] = []
    room = [True]  # whether the socket takes a frame now

    def send_now(frame: bytes) -> bool:
        if room[0]:
            sent.append(frame)
        return room[0]

    peer = Peer(PRINCIPAL, capacity)
    peer.send_now = send_now
    return peer, sent, room


async def test_a_frame_goes_straight_out_when_nothing_is_queued() -> None:
    peer, sent, _ = _peer()
    assert peer.push(b"1") and peer.push(b"2")
    assert sent == [b"1", b"2"]
    assert not peer.outbox and not peer.wakeup.is_set()


async def test_once_a_frame_waits_the_next_ones_queue_behind_it() -> None:
    peer, sent, room = _peer()
    assert peer.push(b"1")
    room[0] = False  # the socket's buffer is full: queue for the writer
    assert peer.push(b"2")
    room[0] = True  # room again, but b"2" is still waiting: b"3" must not overtake it
    assert peer.push(b"3")
    assert sent == [b"1"]
    assert list(peer.outbox) == [b"2", b"3"] and peer.wakeup.is_set()
    assert peer.pop() == b"2" and peer.pop() == b"3"
    assert peer.push(b"4")  # drained: straight out again
    assert sent == [b"1", b"4"]


async def test_a_full_outbox_still_cuts_the_connection_off() -> None:
    peer, _, room = _peer(capacity=2)
    overflowed: list[bool] = []
    peer.on_overflow = lambda: overflowed.append(True)
    room[0] = False
    assert peer.push(b"1") and peer.push(b"2")
    assert not peer.push(b"3")
    assert peer.closed and peer.overflowed and overflowed == [True]
    room[0] = True
    assert not peer.push(b"4")  # closed: nothing more, not even straight out


async def test_bursts_from_many_bidders_arrive_whole_and_in_order(
    served: Served, open_conn: Opener
) -> None:
    people = served.people
    admin = await open_conn(people.admin)
    auctions = [await open_auction(admin, people) for _ in range(3)]
    watchers = [await open_conn(people.s1) for _ in range(3)] + [await open_conn(people.buyer)]
    for w in watchers:
        await w.ok("subscribe_all")
    bidders = [
        (a, k, await open_conn(s)) for a in auctions for k, s in enumerate((people.s1, people.s2))
    ]

    async def burst(conn: Conn, auction_id: str, start: float) -> None:
        for i in range(15):
            amount = f"{start - i * 0.25:.2f}"
            await conn.ok("place_bids", auction_id=auction_id, bids=[bid(amount=amount)])

    await asyncio.gather(*(burst(c, a, 90.0 - 20 * k) for a, k, c in bidders))
    final = {a: (await admin.ok("get_view", auction_id=a))["seq"] for a in auctions}
    for w in watchers:
        seen: dict[str, list[int]] = {a: [] for a in auctions}
        while any(not s or s[-1] < final[a] for a, s in seen.items()):
            update = await w.next_update()
            seen[update["auction_id"]].extend(e["seq"] for e in update["events"])
        for a, seqs in seen.items():
            assert seqs == list(range(seqs[0], final[a] + 1)), (a, seqs)
    assert served.gateway.hub.stats.slow_closes == 0


def test_a_text_frame_is_encoded_as_websockets_encodes_it() -> None:
    for size in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = bytes(i % 251 for i in range(size))
        websockets = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
        assert text_frame(payload) == websockets, size


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.written.append(data)


class _Connection:
    def __init__(self) -> None:
        self.protocol = ServerProtocol()
        self.protocol.state = State.OPEN
        self.transport = _Transport()


async def test_a_frame_for_many_connections_is_encoded_once_and_keeps_their_order() -> None:
    batch = Batch()
    a, b = _Connection(), _Connection()
    update, reply = b"x" * 200, b"y" * 10
    batch.send_text(a, update)
    b.protocol.send_ping(b"p")  # websockets' own frames keep their place
    batch.send_text(b, update)
    batch.send_text(b, reply)
    shared = a.protocol.writes[0]
    assert shared == text_frame(update) and b.protocol.writes[1] is shared
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # written at the end of the turn after the first frame (`TURNS`)
    ping = Frame(Opcode.PING, b"p").serialize(mask=False, extensions=[])
    assert a.transport.written == [text_frame(update)]
    assert b.transport.written == [ping + text_frame(update) + text_frame(reply)]
    assert not a.protocol.writes and not b.protocol.writes
