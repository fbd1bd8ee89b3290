"""The session over a real socket: hello, tokens, limits, malformed frames."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from .conftest import FAST, Conn, Opener, Served, serving


async def test_welcome(served: Served, open_conn: Opener) -> None:
    conn = await open_conn(served.people.s1)
    assert conn.welcome is not None
    assert conn.welcome["protocol"] == 1
    assert conn.welcome["user"] == {"id": served.people.s1.user_id, "name": "Sam One"}
    assert conn.welcome["company"] == {
        "id": served.people.s1.company_id,
        "name": "Baltic Bunkers",
        "role": "supplier",
    }
    assert conn.welcome["server_time"] == "2026-11-27T10:00:00.000000Z"  # the manual clock


async def test_bad_token_closes_4401(served: Served, open_conn: Opener) -> None:
    conn = await open_conn()
    await conn.send({"type": "hello", "token": "not-a-token"})
    assert await conn.closed_with() == 4401


async def test_no_hello_in_time_closes_4408(served: Served, open_conn: Opener) -> None:
    conn = await open_conn()  # says nothing; FAST waits 0.3 s
    assert await conn.closed_with() == 4408


async def test_requests_before_hello_are_refused_then_hello_works(
    served: Served, open_conn: Opener
) -> None:
    conn = await open_conn()
    await conn.send({"type": "list_auctions", "id": 1})
    assert (await conn.recv())["code"] == "unauthenticated"
    await conn.send({"type": "hello", "token": served.people.buyer.token})
    assert (await conn.recv())["type"] == "welcome"
    assert (await conn.ok("list_auctions"))["auctions"] == []


async def test_bad_frames_get_bad_request_and_the_connection_stays_usable(
    served: Served, open_conn: Opener
) -> None:
    conn = await open_conn(served.people.buyer)
    await conn.ws.send("{this is not json")
    assert await conn.recv() == {
        "type": "error",
        "id": None,
        "code": "bad_request",
        "message": "malformed JSON: JSON is malformed: object keys must be strings (byte 1)",
    }
    await conn.send({"type": "teleport", "id": "t1"})
    frame = await conn.recv()
    assert (frame["id"], frame["code"]) == ("t1", "bad_request")
    assert "unknown request type 'teleport'" in frame["message"]
    await conn.send({"type": "get_view", "id": 2, "auction_id": 42})
    frame = await conn.recv()
    assert (frame["id"], frame["code"]) == (2, "bad_request")
    assert frame["message"] == "Expected `str`, got `int` - at `$.auction_id`"
    await conn.send({"type": "get_events", "id": 3, "auction_id": "a", "limit": 0})
    assert (await conn.recv())["code"] == "bad_request"
    await conn.ws.send(b'{"type": "list_auctions", "id": 4}')  # a binary frame
    frame = await conn.recv()
    assert (frame["code"], frame["message"]) == (
        "bad_request",
        "binary frames are not supported; send text",
    )
    assert (await conn.ok("list_auctions"))["auctions"] == []


async def test_a_frame_over_64_kib_closes_1009(served: Served, open_conn: Opener) -> None:
    conn = await open_conn(served.people.buyer)
    text = json.dumps({"type": "post_comment", "id": 1, "auction_id": "a", "text": "x" * 70_000})
    await conn.ws.send(text)
    assert await conn.closed_with() == 1009


async def test_a_frame_just_under_64_kib_is_fine(served: Served, open_conn: Opener) -> None:
    conn = await open_conn(served.people.s1)
    doc = {"type": "post_comment", "id": 1, "auction_id": "a-none", "text": ""}
    doc["text"] = "x" * (64 * 1024 - len(json.dumps(doc)))
    await conn.ws.send(json.dumps(doc))
    assert (await conn.recv())["code"] == "not_found"


async def test_rate_limit(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, rate_per_s=0.001, burst=5)
    async with serving(tmp_path / "rate.db", config) as served:
        conn = await Conn.open(served.url, served.people.buyer.token)
        for i in range(8):
            await conn.send({"type": "list_auctions", "id": i})
        codes = [(await conn.recv()).get("code") for _ in range(8)]
        assert codes == [None] * 5 + ["rate_limited"] * 3
        await conn.close()


async def test_connections_per_token_are_capped(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, max_connections_per_token=2)
    async with serving(tmp_path / "cap.db", config) as served:
        token = served.people.s1.token
        first, second = [await Conn.open(served.url, token) for _ in range(2)]
        third = await Conn.open(served.url)
        await third.send({"type": "hello", "token": token})
        assert await third.closed_with() == 4429
        await first.close()
        again = await Conn.open(served.url, token)  # a slot is free again
        assert (await again.ok("list_auctions"))["auctions"] == []
        other = await Conn.open(served.url, served.people.s2.token)  # other tokens unaffected
        for conn in (second, again, other):
            await conn.close()


async def test_stopping_closes_connections_1001(tmp_path: Path) -> None:
    async with serving(tmp_path / "stop.db") as served:
        conn = await Conn.open(served.url, served.people.s1.token)
        await served.gateway.stop()
        assert await conn.closed_with() == 1001
