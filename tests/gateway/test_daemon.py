"""``auctionactors serve`` as a real process: durability across the wire (SIGKILL during a burst
of bids from several clients), a clean SIGTERM, and the ``status`` / ``revive`` commands.

The server picks a free port (``--port 0``) and prints its URL; the test reads it from stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from auctionactors.cli import main
from auctionactors.client import Client, ClientError
from auctionactors.domain.timestamps import format_instant
from auctionactors.store.base import NewUser
from auctionactors.store.sqlite import SqliteEventStore
from tests.cli.process import LineReader, start_cli

LISTENING = "auctionactors: listening on "
CLIENTS = 4
ACKS = 150


async def _users(path: Path) -> dict[str, NewUser]:
    async with await SqliteEventStore.open(path) as store:
        return {
            "admin": await store.add_user("Platform", "admin", "Ada"),
            "buyer": await store.add_user("Aegean Shipping", "buyer", "Bea"),
            **{
                f"s{i}": await store.add_user(f"Supplier {i}", "supplier", f"Sam {i}")
                for i in range(CLIENTS)
            },
        }


@contextmanager
def daemon(path: Path) -> Iterator[tuple[subprocess.Popen[str], LineReader, str]]:
    """``serve --port 0`` on ``path``; yields the process, its output and its URL."""
    proc = start_cli("serve", "--db", str(path), "--port", "0")
    try:
        assert proc.stdout is not None
        out = LineReader(proc.stdout)
        assert "supervising" in out.next(timeout=15)
        line = out.next(timeout=15)
        assert line.startswith(LISTENING), line
        yield proc, out, line.removeprefix(LISTENING)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        stderr = proc.stderr.read() if proc.stderr is not None else ""
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        assert "Traceback" not in stderr, stderr


def _now() -> str:
    return format_instant(time.time_ns() // 1000)


async def _burst(
    url: str, users: dict[str, NewUser], proc: subprocess.Popen[str]
) -> tuple[str, set[str]]:
    """Several suppliers bid as fast as they can; the server is SIGKILLed after ACKS acks.
    Returns the auction and every bid id that was acknowledged."""
    async with Client(url, users["admin"].token, reconnect=False) as admin:
        auction = {
            "port": "Rotterdam",
            "suppliers": [users[f"s{i}"].company_id for i in range(CLIENTS)],
            "scheduled_start": _now(),  # an admin's start of now opens it at once
            "duration_s": 3600,
            "soft_close_s": 0,
            "products": [
                {"vessel": {"name": "MV Aurora", "imo": "9300001"}, "fuel": "VLSFO 0.5%",
                 "quantity_mt": 1500, "eta": "2030-01-01T00:00:00Z"},
            ],
        }  # fmt: skip
        created = await admin.request(
            "create_auction", buyer=users["buyer"].company_id, auction=auction
        )
    auction_id = str(created["auction_id"])
    acked: set[str] = set()
    killed = asyncio.Event()

    async def bidder(i: int) -> None:
        async with Client(url, users[f"s{i}"].token, reconnect=False) as client:
            n = 0
            while True:
                amount = f"{1000 - (n % 3000) * 0.25:.2f}"
                try:
                    reply = await client.request(
                        "place_bids",
                        auction_id=auction_id,
                        bids=[{"product_id": "p1", "amount": amount}],
                    )
                except ClientError:
                    assert killed.is_set()
                    return
                acked.update(reply["bid_ids"])
                n += 1
                if len(acked) >= ACKS and not killed.is_set():
                    killed.set()
                    os.kill(proc.pid, signal.SIGKILL)

    await asyncio.wait_for(asyncio.gather(*(bidder(i) for i in range(CLIENTS))), 30)
    return auction_id, acked


async def _check(url: str, admin_token: str, auction_id: str, acked: set[str]) -> None:
    # Protocol 1: its views carry each product's bid history.
    async with Client(url, admin_token, reconnect=False, protocol=1) as admin:
        events = [event async for event in admin.get_events(auction_id)]
        placed = {e["data"]["bid_id"] for e in events if e["type"] == "bid_placed"}
        assert acked <= placed, f"acknowledged but lost: {sorted(acked - placed)[:5]}"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        view = (await admin.request("get_view", auction_id=auction_id))["view"]
        history = {h["bid_id"] for p in view["products"] for h in p["history"]}
        assert acked <= history
        assert view["seq"] == len(events)


def test_acknowledged_bids_survive_a_sigkill_across_the_wire(tmp_path: Path) -> None:
    path = tmp_path / "wire.db"
    users = asyncio.run(_users(path))
    with daemon(path) as (proc, _, url):
        auction_id, acked = asyncio.run(_burst(url, users, proc))
        assert proc.wait(timeout=10) == -signal.SIGKILL
    assert len(acked) >= ACKS
    with daemon(path) as (proc, out, url):
        asyncio.run(_check(url, users["admin"].token, auction_id, acked))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert out.rest()[-1] == "auctionactors: stopped"
    assert main(["verify", "--db", str(path)]) == 0


async def _closed_on_sigterm(url: str, token: str, proc: subprocess.Popen[str]) -> int | None:
    client = Client(url, token, reconnect=False)
    await client.connect()
    await client.request("list_auctions")
    proc.send_signal(signal.SIGTERM)
    with pytest.raises(ClientError):
        await client.next_update(10)
    ws = client._ws
    assert ws is not None
    code = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd is not None else None
    await client.close()
    return code


def test_sigterm_closes_connections_with_1001_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "term.db"
    users = asyncio.run(_users(path))
    with daemon(path) as (proc, out, url):
        assert asyncio.run(_closed_on_sigterm(url, users["buyer"].token, proc)) == 1001
        assert proc.wait(timeout=15) == 0
        assert out.rest()[-2:] == [
            "auctionactors: stopping (closing connections, draining mailboxes)",
            "auctionactors: stopped",
        ]


def test_status_and_revive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ops.db"
    users = asyncio.run(_users(path))
    admin = users["admin"].token
    with daemon(path) as (_, _, url):
        assert main(["status", "--url", url, "--token", admin]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == "actors: 0 live, 0 passivated, 0 restarting, 0 quarantined"
        assert main(["status", "--url", url, "--token", admin, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["actors"]["quarantined"] == 0 and status["troubled"] == []

        assert main(["revive", "a-123", "--url", url, "--token", admin]) == 1
        assert capsys.readouterr().err == (
            "auctionactors: failed: auction a-123 is not quarantined (invalid)\n"
        )
        assert main(["status", "--url", url, "--token", users["buyer"].token]) == 1
        assert "(forbidden)" in capsys.readouterr().err
        assert main(["status", "--url", url, "--token", "wrong"]) == 1
        assert capsys.readouterr().err == (
            "auctionactors: failed: the server refused the token (unauthenticated)\n"
        )
    # the daemon is gone now: nothing listens there
    assert main(["status", "--url", url, "--token", admin]) == 1
    assert capsys.readouterr().err == (
        f"auctionactors: failed: cannot connect to {url}: connection refused (unavailable)\n"
    )


def test_operator_commands_usage(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUCTIONACTORS_TOKEN", raising=False)
    assert main(["status"]) == 2
    assert "AUCTIONACTORS_TOKEN" in capsys.readouterr().err
    assert main(["revive"]) == 2
    assert main(["status", "--url", "http://x", "--token", "t"]) == 2
    assert main(["serve", "--port", "99999"]) == 2
    capsys.readouterr()
