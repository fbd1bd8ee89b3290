"""Plain HTTP on the WebSocket port: health, metrics, the page."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .conftest import Conn, Served, bid, open_auction, serving


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
        'auctionactors_actors{status="live"} 1.0',
        'auctionactors_actors{status="quarantined"} 0.0',
        "auctionactors_mailbox_depth 0.0",
        "# TYPE auctionactors_commands_total counter",
        'auctionactors_commands_total{command="CreateAuction",outcome="ok"} 1.0',
        'auctionactors_commands_total{command="PlaceBids",outcome="ok"} 1.0',
        'auctionactors_commands_total{command="PlaceBids",outcome="invalid"} 1.0',
        "auctionactors_connections 2.0",
        "# TYPE auctionactors_store_append_batch_size histogram",
        "auctionactors_store_appends_total 2.0",
        "auctionactors_messages_dropped_total 0.0",
    ):
        assert line in lines, line
    samples = _samples(text)
    assert samples[("auctionactors_messages_sent_total", ())] >= 6  # welcomes, oks, updates
    latency = "auctionactors_command_latency_seconds_count"
    assert samples[(latency, (("outcome", "ok"), ("type", "place_bids")))] == 1
    assert samples[(latency, (("outcome", "invalid"), ("type", "place_bids")))] == 1
    assert samples[(latency, (("outcome", "ok"), ("type", "subscribe")))] == 1
    assert samples[("auctionactors_commit_batch_size_count", ())] == 2  # the create, the bid
    assert samples[("auctionactors_commit_batch_size_sum", ())] == 2
    for name in ("append_batch_size", "commit_latency_seconds", "fsync_seconds"):
        assert samples[(f"auctionactors_store_{name}_count", ())] == 2, name
    assert samples[("auctionactors_fanout_latency_seconds_count", ())] >= 1
    assert samples[("process_cpu_seconds_total", ())] > 0  # the standard process metrics
    assert ("python_gc_collections_total", (("generation", "0"),)) in samples
    for conn in (admin, s1):
        await conn.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``text``, parsed by the library's own parser (which refuses a malformed
    exposition), by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_patch_sizes_and_one_registry_per_server(served: Served, tmp_path: Path) -> None:
    """A protocol-2 subscriber's patches are measured; a second server in the same process has
    a registry of its own (nothing of the first one's counts)."""
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    s1 = await Conn.open(served.url)
    await s1.send({"type": "hello", "token": p.s1.token, "protocol": 2})
    assert (await s1.recv())["type"] == "welcome"
    aid = await open_auction(admin, p)
    await s1.ok("subscribe", auction_id=aid)
    await s1.ok("place_bids", auction_id=aid, bids=[bid()])
    await s1.update_at(aid, 3)
    samples = _samples((await get(served, "/metrics"))[2].decode())
    assert samples[("auctionactors_patch_bytes_count", ())] >= 1
    assert samples[("auctionactors_patch_bytes_sum", ())] > 50
    async with serving(tmp_path / "other.db") as other:
        others = _samples((await get(other, "/metrics"))[2].decode())
        assert ("auctionactors_commands_total", ()) not in others
        assert others[("auctionactors_commit_batch_size_count", ())] == 0
        assert others[("auctionactors_patch_bytes_count", ())] == 0
        assert others[("auctionactors_connections", ())] == 0
    for conn in (admin, s1):
        await conn.close()


async def test_the_page_and_unknown_paths(served: Served) -> None:
    status, headers, body = await get(served, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"<title>auctionactors</title>" in body
    assert (await get(served, "/nothing-here"))[0] == 404
    assert (await get(served, "/ws"))[0] == 426  # a plain GET where a WebSocket is expected
