"""The client when the server vanishes (found by ``scripts/chaos.py``): a request made just as
the connection drops must fail at once with a `ClientError`, not wait out its timeout and then
raise a bare `TimeoutError`.

No server is needed: a client that is not connected is in the state a dropped one is in between
losing its connection and giving up (``reconnect=False``) or reconnecting.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from auctionactors.client import Client, ClientError

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
