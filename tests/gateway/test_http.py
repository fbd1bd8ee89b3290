"""Plain HTTP on the WebSocket port: health, metrics, the page."""

from __future__ import annotations

import asyncio
import json

from .conftest import Conn, Served, bid, open_auction


async def get(served: Served, path: str) -> tuple[int, dict[str, str], bytes]:
    host, port = served.http
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, body


async def test_healthz(served: Served) -> None:
    status, headers, body = await get(served, "/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "status": "ok",
        "actors": {"live": 0, "passivated": 0, "restarting": 0, "quarantined": 0},
        "auctions": 0,
        "scheduled": 0,
        "connections": 0,
        "render_failures": 0,
    }


async def test_metrics(served: Served) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    s1 = await Conn.open(served.url, p.s1.token)
    aid = await open_auction(admin, p)
    await s1.ok("subscribe", auction_id=aid)
    await s1.ok("place_bids", auction_id=aid, bids=[bid()])
    await s1.error("place_bids", auction_id=aid, bids=[bid(amount="0.10")])
    status, headers, body = await get(served, "/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    lines = set(text.splitlines())
    for line in (
        "# TYPE auctionactors_actors gauge",
        'auctionactors_actors{status="live"} 1',
        'auctionactors_actors{status="quarantined"} 0',
        "auctionactors_mailbox_depth 0",
        "# TYPE auctionactors_commands_total counter",
        'auctionactors_commands_total{command="CreateAuction",outcome="ok"} 1',
        'auctionactors_commands_total{command="PlaceBids",outcome="ok"} 1',
        'auctionactors_commands_total{command="PlaceBids",outcome="invalid"} 1',
        "auctionactors_connections 2",
        "# TYPE auctionactors_store_append_batch_size summary",
        "auctionactors_store_appends_total 2",
        "auctionactors_messages_dropped_total 0",
    ):
        assert line in lines, line
    sent = next(line for line in lines if line.startswith("auctionactors_messages_sent_total "))
    assert int(sent.split()[1]) >= 6  # welcomes, oks, an error, updates
    for line in text.splitlines():  # every sample line is "name{labels} number"
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
    for conn in (admin, s1):
        await conn.close()


async def test_the_page_and_unknown_paths(served: Served) -> None:
    status, headers, body = await get(served, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"<title>auctionactors</title>" in body
    assert (await get(served, "/nothing-here"))[0] == 404
    assert (await get(served, "/ws"))[0] == 426  # a plain GET where a WebSocket is expected
