"""Floods without a token (issue 9, item 13): frames before the hello get a few refusals, then
the connection is closed (1008); connections that have not said hello are capped per IP address
(the handshake over the cap gets HTTP 429)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.gateway.conftest import FAST, WAIT_S, Conn, serving


async def test_frames_before_hello_get_a_few_refusals_then_the_connection_is_closed(
    tmp_path: Path,
) -> None:
    config = msgspec.structs.replace(FAST, hello_timeout_s=WAIT_S)
    async with serving(tmp_path / "prehello.db", config) as served:
        conn = await Conn.open(served.url)
        for i in range(100):
            await conn.send({"type": "list_auctions", "id": i})
        replies = []
        code = None
        while code is None:
            try:
                replies.append(await conn.recv())
            except Exception:
                code = await conn.closed_with()
        assert code == 1008
        assert [r["code"] for r in replies] == ["unauthenticated"] * config.max_refused_before_hello


async def test_connections_without_hello_are_capped_per_address(tmp_path: Path) -> None:
    config = msgspec.structs.replace(
        FAST, hello_timeout_s=WAIT_S, max_unauthenticated_per_address=4
    )
    async with serving(tmp_path / "cap.db", config) as served:
        signed_in = await Conn.open(served.url, served.people.s1.token)  # not counted once in
        waiting = [await Conn.open(served.url) for _ in range(4)]
        with pytest.raises(InvalidStatus) as refused:
            await Conn.open(served.url)
        assert refused.value.response.status_code == 429
        assert (await signed_in.request("list_auctions"))["type"] == "ok"
        await waiting[0].send({"type": "hello", "token": served.people.s2.token})
        assert (await waiting[0].recv())["type"] == "welcome"  # a slot is free again
        async with connect(served.url, open_timeout=WAIT_S) as ws:
            await ws.send(json.dumps({"type": "hello", "token": served.people.s3.token}))
            assert json.loads(await ws.recv())["type"] == "welcome"
        for conn in (*waiting, signed_in):
            await conn.close()
