"""The client when the server vanishes or cannot tell what happened to a command.

- A request made just as the connection drops must fail at once with a `ClientError`, not wait
  out its timeout and then raise a bare `TimeoutError` (found by ``scripts/chaos.py``). No server
  is needed: a client that is not connected is in the state a dropped one is in between losing
  its connection and giving up (``reconnect=False``) or reconnecting.
- Exactly once (PROTOCOL.md 1.1, idempotency keys): a command whose reply is lost is sent again
  with the same key after the client reconnects, and the real server applies it once.
- The retry policy, seen from the wire: a scripted peer (a real WebSocket server on port 0 that
  answers what the test says) records every frame, so a test can check which were sent again
  and with which key. The real server cannot be made to answer ``timeout`` on demand.
"""

from __future__ import annotations

import asyncio
import json
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from auctionactors.client import COMMANDS, Client, ClientError, ConnectionLost
from auctionactors.domain.timestamps import format_instant
from auctionactors.gateway import messages
from tests.faults import serving as process
from tests.faults.test_exactly_once import slow_serving
from tests.gateway.conftest import Conn, bid, open_auction, serving

NOWHERE = "ws://127.0.0.1:9/ws"


async def test_a_request_waiting_for_the_connection_fails_when_the_client_gives_up() -> None:
    client = Client(NOWHERE, "token", reconnect=False, request_timeout_s=30)
    request = asyncio.create_task(client.request("list_auctions"))
    await asyncio.sleep(0)  # the request now waits for a connection
    began = time.monotonic()
    client._give_up(ClientError("closed", "the server closed the connection (1006)"))
    with pytest.raises(ClientError) as caught:
        await asyncio.wait_for(request, 5)
    assert caught.value.code == "closed"
    assert time.monotonic() - began < 1


async def test_no_connection_in_time_is_a_client_error() -> None:
    client = Client(NOWHERE, "token", reconnect=False, request_timeout_s=0.05)
    with pytest.raises(ClientError) as caught:
        await client.request("list_auctions")
    assert caught.value.code == "timeout"


def test_every_command_of_the_protocol_carries_a_key() -> None:
    frames = typing.get_args(messages.AnyFrame)
    commands = {cls.__struct_config__.tag for cls in frames if issubclass(cls, messages.Command)}
    assert commands == COMMANDS


# --- a lost reply, against the real server --------------------------------------------------


def cut_after_sending(client: Client, kind: str, applied: Callable[[], Awaitable[None]]) -> None:
    """The next ``kind`` frame the client sends reaches the server, but its reply never reaches
    the client: the client stops reading, ``applied`` waits until the server has applied the
    command, then the connection is cut as a network failure would cut it."""
    ws = client._ws
    assert ws is not None
    send = ws.send

    async def send_then_cut(message: Any) -> None:
        await send(message)
        if json.loads(message).get("type") == kind:
            ws.transport.pause_reading()
            await applied()
            ws.transport.abort()

    ws.send = send_then_cut  # type: ignore[method-assign]


async def test_a_command_whose_reply_is_lost_is_applied_exactly_once(tmp_path: Path) -> None:
    async with serving(tmp_path / "retry.db") as served:
        people = served.people
        admin = await Conn.open(served.url, people.admin.token)
        try:
            auction_id = await open_auction(admin, people)
            seq = (await admin.ok("subscribe", auction_id=auction_id))["seq"]
            await admin.update_at(auction_id, seq)

            async def applied() -> None:
                await admin.update_at(auction_id, seq + 1)

            async with Client(served.url, people.s1.token, retry_backoff_s=0.01) as s1:
                cut_after_sending(s1, "place_bids", applied)
                reply = await s1.request(
                    "place_bids", auction_id=auction_id, bids=[bid("p1", "2.00")]
                )
                assert (s1.retries, s1.reconnects) == (1, 1)  # sent twice, over two connections
            assert reply["seq"] == seq + 1  # the first result, not a second application
            events = (await admin.ok("get_events", auction_id=auction_id))["events"]
            placed = [e for e in events if e["type"] == "bid_placed"]
            assert [e["seq"] for e in placed] == [seq + 1]
            assert placed[0]["data"]["bid_id"] in reply["bid_ids"]
        finally:
            await admin.close()


async def test_a_command_answered_timeout_is_retried_until_its_outcome_is_known(
    tmp_path: Path,
) -> None:
    """The disk stalls while a comment is being stored: the server answers ``timeout`` (and
    ``unavailable`` to a retry queued behind it); once the disk recovers, a retry with the same
    key gets the first outcome and the comment is stored once."""
    async with slow_serving(tmp_path / "slow.db", ask_timeout_s=0.2) as (_, store, people, url):
        admin = await Conn.open(url, people.admin.token)
        auction_id = await open_auction(admin, people)
        await admin.close()
        async with Client(url, people.s1.token, retry_backoff_s=0.05) as s1:
            told = asyncio.Event()
            send = s1._send

            async def observed(*args: Any) -> dict[str, Any]:
                try:
                    return await send(*args)
                except ClientError as exc:
                    if exc.code == "timeout":
                        told.set()
                    raise

            s1._send = observed  # type: ignore[method-assign]
            gate = store.write_gate = asyncio.Event()  # the disk stalls
            posting = asyncio.create_task(
                s1.request("post_comment", auction_id=auction_id, text="delivery at 06:00")
            )
            await asyncio.wait_for(told.wait(), 5)  # told "timeout": the outcome is unknown
            gate.set()  # the disk recovers
            reply = await asyncio.wait_for(posting, 30)
            assert s1.retries >= 1
        stored = await store.read_stream(auction_id)
        comments = [e for e in stored if e.type == "comment_posted"]
        assert len(comments) == 1 and comments[0].seq == reply["seq"]


async def test_a_command_in_flight_when_the_server_is_killed_is_applied_once(
    tmp_path: Path,
) -> None:
    """A real ``serve`` stores the bid, then is SIGKILLed before the client reads the reply; the
    client retries with the key against the restarted server, which finds it in the store."""
    path = tmp_path / "killed.db"
    users = await asyncio.to_thread(process.make_users, path)
    with process.serving(path) as first:
        url = first.url
        auction_id = await process.create(url, users, format_instant(time.time_ns() // 1000))
        watcher = await Conn.open(url, users.admin.token)
        seq = (await watcher.ok("subscribe", auction_id=auction_id))["seq"]
        await watcher.update_at(auction_id, seq)
        killed = asyncio.Event()

        async def stored_then_killed() -> None:
            await watcher.update_at(auction_id, seq + 1)
            first.proc.kill()
            first.proc.wait(timeout=10)
            killed.set()

        s1 = Client(url, users.s1.token, retry_backoff_s=0.05, max_backoff_s=0.2)
        await s1.connect()
        cut_after_sending(s1, "place_bids", stored_then_killed)
        bidding = asyncio.create_task(s1.request("place_bids", **process.bid(auction_id, "2.00")))
        await asyncio.wait_for(killed.wait(), 20)
    try:
        with process.serving(path, "--port", str(urlsplit(url).port)):  # the same URL again
            reply = await asyncio.wait_for(bidding, 30)
            assert (s1.retries, s1.reconnects) == (1, 1)
            async with Client(url, users.admin.token, reconnect=False) as admin:
                events = (await admin.request("get_events", auction_id=auction_id))["events"]
    finally:
        await s1.close()
    assert [e["seq"] for e in events if e["type"] == "bid_placed"] == [seq + 1] == [reply["seq"]]


# --- the retry policy on the wire -----------------------------------------------------------

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def ok(**fields: Any) -> Answer:
    return lambda frame: {"type": "ok", "id": frame["id"], **fields}


def error(code: str) -> Answer:
    return lambda frame: {"type": "error", "id": frame["id"], "code": code, "message": code}


@asynccontextmanager
async def scripted(answers: list[Answer]) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A peer that welcomes any token and answers each request with the next of ``answers``;
    yields its URL and the requests it received, in order."""
    received: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        json.loads(await ws.recv())  # hello
        welcome = {"type": "welcome", "protocol": 1, "user": {}, "company": {}}
        await ws.send(json.dumps(welcome))
        try:
            async for data in ws:
                frame = json.loads(data)
                received.append(frame)
                await ws.send(json.dumps(answers.pop(0)(frame)))
        except ConnectionClosed:
            pass

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws", received


def sent(received: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(frame["type"], frame.get("key")) for frame in received]


async def test_timeout_and_unavailable_are_retried_with_the_same_key() -> None:
    answers = [error("timeout"), error("unavailable"), ok(seq=7, bid_ids=["b1"])]
    async with scripted(answers) as (url, received), Client(url, "t", retry_backoff_s=0) as c:
        reply = await c.request("place_bids", auction_id="a", bids=[bid()])
    assert reply["seq"] == 7 and c.retries == 2
    ((kind, key),) = set(sent(received))
    assert kind == "place_bids" and key and len(received) == 3
    assert len({frame["id"] for frame in received}) == 3  # each send is its own request


async def test_each_call_is_a_new_key_unless_the_caller_gives_one() -> None:
    answers = [ok(seq=1), ok(seq=2), ok(seq=3)]
    async with scripted(answers) as (url, received), Client(url, "t") as c:
        await c.request("post_comment", auction_id="a", text="one")
        await c.request("post_comment", auction_id="a", text="two")
        await c.request("post_comment", auction_id="a", text="two", key="mine-1")
    keys = [key for _, key in sent(received)]
    assert len(set(keys)) == 3 and keys[2] == "mine-1"


async def test_reads_and_refusals_are_not_retried() -> None:
    answers = [error("timeout"), error("invalid"), error("wrong_status")]
    async with scripted(answers) as (url, received), Client(url, "t", retry_backoff_s=0) as c:
        for kind, fields in [
            ("get_view", {"auction_id": "a"}),
            ("rsvp", {"auction_id": "a", "response": "yes"}),
            ("start_auction", {"auction_id": "a"}),
        ]:
            with pytest.raises(ClientError):
                await c.request(kind, **fields)
    assert sent(received)[0] == ("get_view", None)  # reads carry no key
    assert [kind for kind, _ in sent(received)] == ["get_view", "rsvp", "start_auction"]


async def test_retries_are_bounded_and_the_error_names_the_key() -> None:
    answers = [error("unavailable")] * 3
    policy: dict[str, Any] = {"retry_backoff_s": 0, "retry_attempts": 3}
    async with scripted(answers) as (url, received), Client(url, "t", **policy) as c:
        with pytest.raises(ClientError) as caught:
            await c.request("cancel_auction", auction_id="a")
    assert caught.value.code == "unavailable"
    assert [key for _, key in sent(received)] == [caught.value.key] * 3


async def test_no_retry_is_sent_after_retry_for_s() -> None:
    answers = [error("timeout")] * 100
    policy: dict[str, Any] = {"retry_backoff_s": 0.05, "retry_attempts": 100, "retry_for_s": 0.2}
    async with scripted(answers) as (url, received), Client(url, "t", **policy) as c:
        with pytest.raises(ClientError) as caught:
            await c.request("post_comment", auction_id="a", text="hello")
    assert caught.value.code == "timeout"
    assert len(received) < 10 and len({key for _, key in sent(received)}) == 1


async def test_without_reconnecting_a_lost_reply_is_not_retried() -> None:
    def hang_up(frame: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionClosed(None, None)  # the handler ends: the connection closes

    async with scripted([hang_up]) as (url, received), Client(url, "t", reconnect=False) as c:
        with pytest.raises(ConnectionLost) as caught:
            await c.request("revoke_bid", auction_id="a", product_id="p1")
    assert sent(received) == [("revoke_bid", caught.value.key)]
