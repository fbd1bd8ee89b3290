"""Hostile clients on a real connection: frames the session refuses keep the connection usable,
frames over the limits close it with the protocol's codes, and a client that asks for large
replies and reads none is cut off (1013) once its outbox holds ``outbox_bytes``, however few
frames that is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from auctionactors.gateway.peer import Peer
from auctionactors.store.base import Principal
from tests.gateway.conftest import FAST, WAIT_S, Conn, serving
from tests.gateway.test_fanout import tiny_socket

ALICE = Principal("u-1", "Alice", "c-1", "Baltic Bunkers", "supplier")


async def test_hostile_frames_leave_the_connection_usable(tmp_path: Path) -> None:
    async with serving(tmp_path / "hostile.db") as served:
        conn = await Conn.open(served.url, served.people.s3.token)
        deep = '{"type": "get_view", "id": 1, "auction_id": ' + "[" * 30_000 + "]" * 30_000 + "}"
        for frame, code in (
            (deep, "bad_request"),  # used to raise RecursionError and fail the handler (1011)
            ('{"type": "hello", "id": 2, "x": ' + "{" * 20_000, "bad_request"),
            ('{"type": "place_bids", "id": 3, "auction_id": "a", "bids": [{"product_id": "p1",'
             ' "amount": "1e999999999"}]}', "invalid"),  # decimal.Overflow, answered internal
            ('{"type": "get_view", "id": 4, "auction_id": "\\ud800"}', "bad_request"),
            ('{"type": "get_view", "id": 5, "auction_id": "a", "id": [[[[1]]]]}', "bad_request"),
        ):  # fmt: skip
            await conn.ws.send(frame)
            reply = await conn.recv()
            assert (reply["type"], reply["code"]) == ("error", code), (frame[:60], reply)
        await conn.ws.send(b"\x00\x01binary")
        assert (await conn.recv())["code"] == "bad_request"
        assert (await conn.request("list_auctions"))["type"] == "ok"  # still fine
        await conn.close()


async def test_limits_close_with_their_codes(tmp_path: Path) -> None:
    async with serving(tmp_path / "limits.db") as served:
        token = served.people.s1.token
        too_big = await Conn.open(served.url, token)
        await too_big.ws.send("x" * (64 * 1024 + 1))
        assert await too_big.closed_with() == 1009
        not_utf8 = await Conn.open(served.url, token)
        await not_utf8.ws.send(b'{"type": "\xff"}', text=True)
        assert await not_utf8.closed_with() == 1007
        silent = await Conn.open(served.url)  # FAST: 0.3 s to say hello
        assert await silent.closed_with() == 4408


async def test_unread_large_replies_are_cut_off_by_bytes(tmp_path: Path) -> None:
    """Requests with 30 KiB ids (echoed in every reply), none of the replies read: the outbox
    reaches ``outbox_bytes`` long before ``outbox_size`` frames, and the connection is closed."""
    config = msgspec.structs.replace(
        FAST,
        outbox_bytes=256 * 1024,
        outbox_size=512,
        write_limit=4096,
        socket_send_buffer=8192,
    )
    async with serving(tmp_path / "bytes.db", config) as served:
        sock = tiny_socket(served.http)
        ws = await connect(served.url, compression=None, max_size=None, max_queue=1, sock=sock)
        await ws.send(json.dumps({"type": "hello", "token": served.people.s1.token}))
        for i in range(60):  # 60 x 30 KiB = 1.8 MiB of replies, far fewer than 512 frames
            await ws.send(json.dumps({"type": "list_auctions", "id": f"{'y' * 30_000}{i}"}))
        code = None
        try:
            async with asyncio.timeout(WAIT_S):
                while True:
                    await ws.recv()
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
        assert code == 1013
        assert served.gateway.hub.stats.slow_closes == 1


def test_the_outbox_is_bounded_in_bytes_but_takes_one_frame_of_any_size() -> None:
    cut: list[bool] = []
    peer = Peer(ALICE, capacity=100, on_overflow=lambda: cut.append(True), max_bytes=1000)
    assert peer.push(b"x" * 5000)  # alone in the outbox: however large, it fits
    assert peer.pop() == b"x" * 5000 and peer.queued_bytes == 0
    assert peer.push(b"a" * 600) and peer.push(b"b" * 400)
    assert peer.queued_bytes == 1000
    assert not peer.push(b"c")
    assert cut == [True] and peer.closed and peer.overflowed


async def test_operator_status_counts_tasks_and_connections(tmp_path: Path) -> None:
    """What scripts/soak.py watches: connections and asyncio tasks come back down."""
    async with serving(tmp_path / "tasks.db") as served:
        admin = await Conn.open(served.url, served.people.admin.token)
        before = await admin.ok("operator_status")
        others = [await Conn.open(served.url, served.people.s1.token) for _ in range(3)]
        during = await admin.ok("operator_status")
        assert during["connections"] == before["connections"] + 3
        assert during["tasks"] >= before["tasks"] + 6  # a reader and a writer each
        for conn in others:
            await conn.close()
        async with asyncio.timeout(WAIT_S):
            while True:  # the server notices the closes on its own time
                after = await admin.ok("operator_status")
                if (after["connections"], after["tasks"]) == (
                    before["connections"],
                    before["tasks"],
                ):
                    break
                await asyncio.sleep(0.01)
        await admin.close()
