"""A poison event: one that can no longer be applied quarantines its auction, and only it.

The database is made by a real ``serve``, then one event of one auction is damaged with plain
sqlite3, and the hash chain from there on recomputed, so that the store's integrity holds and
only decoding or applying the event fails: its data no longer decodes, it decodes but cannot be
applied (a revoke of a bid that never existed), or its type is one no code knows. A new ``serve``
then quarantines that auction: the seq and the error are in its log (stderr) and in ``status``
(operator_status), ``replay`` names the same seq and error (exit 1), and the other auctions go
on over the wire. Repaired, the auction is revived by the operator and takes bids again.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auctionactors.cli import main
from auctionactors.client import Client, ClientError
from auctionactors.domain.timestamps import format_instant
from auctionactors.store.base import chain_hash

from .serving import Serving, Users, bid, create, make_users, serving

Row = tuple[int, str, bytes, bytes]  # seq, type, data, hash


def _now() -> str:
    return format_instant(time.time_ns() // 1000)


async def _populate(url: str, users: Users) -> tuple[str, str]:
    """Auction A: S1 bids (seq 3), S2 bids (4), S1 revokes (5), S1 bids (6); B: one bid."""
    poisoned = await create(url, users, _now())
    healthy = await create(url, users, _now())
    async with (
        Client(url, users.s1.token, reconnect=False, retry_attempts=1) as s1,
        Client(url, users.s2.token, reconnect=False) as s2,
    ):
        assert (await s1.request("place_bids", **bid(poisoned, "5.00")))["seq"] == 3
        assert (await s2.request("place_bids", **bid(poisoned, "4.75")))["seq"] == 4
        assert (await s1.request("revoke_bid", auction_id=poisoned, product_id="p1"))["seq"] == 5
        assert (await s1.request("place_bids", **bid(poisoned, "4.50")))["seq"] == 6
        assert (await s1.request("place_bids", **bid(healthy, "5.00")))["seq"] == 3
    return poisoned, healthy


def _rows(conn: sqlite3.Connection, stream_id: str) -> list[Row]:
    rows = conn.execute(
        "SELECT seq, type, data, hash FROM events WHERE stream_id = ? ORDER BY seq", (stream_id,)
    ).fetchall()
    return [(int(s), str(t), bytes(d), bytes(h)) for s, t, d, h in rows]


def rewrite(path: Path, stream_id: str, seq: int, type_: str, data: bytes) -> list[Row]:
    """Replace one event's type and data with plain sqlite3 and recompute the hash chain from
    it on, so only decoding or applying can fail; returns the rows as they were."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        original = _rows(conn, stream_id)
        conn.execute("BEGIN IMMEDIATE")
        prev = original[seq - 2][3]
        for s, t, d, _ in original[seq - 1 :]:
            if s == seq:
                t, d = type_, data
            prev = chain_hash(prev, stream_id, s, t, d)
            conn.execute(
                "UPDATE events SET type = ?, data = ?, hash = ? WHERE stream_id = ? AND seq = ?",
                (t, d, prev, stream_id, s),
            )
        conn.execute("COMMIT")
        return original
    finally:
        conn.close()


def restore(path: Path, stream_id: str, rows: list[Row]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for s, t, d, h in rows:
            conn.execute(
                "UPDATE events SET type = ?, data = ?, hash = ? WHERE stream_id = ? AND seq = ?",
                (t, d, h, stream_id, s),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _edit(data: bytes, **changes: Any) -> bytes:
    doc = json.loads(data)
    doc.update(changes)
    return json.dumps(doc, separators=(",", ":")).encode()


# Each poison: (the seq it damages, how: row -> new (type, data), still decodable?)
Poison = tuple[int, Callable[[Row], tuple[str, bytes]], bool]
POISONS: dict[str, Poison] = {
    "undecodable": (4, lambda r: (r[1], _edit(r[2], amount="lots")), False),
    "unappliable": (5, lambda r: (r[1], _edit(r[2], bid_ids=["a-nope:1:0"])), True),
    "unknown_type": (4, lambda r: ("bid_teleported", _edit(r[2], type="bid_teleported")), False),
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _others_go_on(url: str, users: Users, poisoned: str, healthy: str) -> None:
    async with (
        Client(url, users.s1.token, reconnect=False, retry_attempts=1) as s1,
        Client(url, users.admin.token, reconnect=False) as admin,
    ):
        assert (await s1.request("place_bids", **bid(healthy, "4.75")))["seq"] == 4
        view = (await admin.request("get_view", auction_id=healthy))["view"]
        assert [b["amount"] for b in view["products"][0]["bids"]] == ["4.75"]
        fresh = await create(url, users, _now())
        assert (await s1.request("place_bids", **bid(fresh, "3.00")))["seq"] == 3
        for client, kind, fields in (
            (admin, "get_view", {"auction_id": poisoned}),
            (s1, "place_bids", bid(poisoned, "4.00")),
        ):
            with pytest.raises(ClientError) as caught:
                await client.request(kind, **fields)
            assert caught.value.code == "unavailable"
            assert caught.value.message == f"auction {poisoned} is quarantined"


async def _touch(url: str, token: str, auction_id: str) -> None:
    async with Client(url, token, reconnect=False) as admin:
        with pytest.raises(ClientError) as caught:
            await admin.request("get_view", auction_id=auction_id)
        assert caught.value.code == "unavailable"


async def _revived(url: str, users: Users, poisoned: str) -> None:
    async with (
        Client(url, users.s1.token, reconnect=False, retry_attempts=1) as s1,
        Client(url, users.admin.token, reconnect=False) as admin,
    ):
        assert (await admin.request("get_view", auction_id=poisoned))["seq"] == 6
        assert (await s1.request("place_bids", **bid(poisoned, "4.25")))["seq"] == 7


def _status(capsys: pytest.CaptureFixture[str], srv: Serving, token: str) -> dict[str, Any]:
    code, out, _ = run(capsys, "status", "--url", srv.url, "--token", token, "--json")
    assert code == 0
    status: dict[str, Any] = json.loads(out)
    return status


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poison_event_quarantines_its_auction_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], poison: str
) -> None:
    path = tmp_path / "poisoned.db"
    db = str(path)
    users = make_users(path)
    with serving(path) as srv:
        poisoned, healthy = asyncio.run(_populate(srv.url, users))
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=15) == 0

    seq, damage, decodable = POISONS[poison]
    before = _rows(sqlite3.connect(path), poisoned)
    original = rewrite(path, poisoned, seq, *damage(before[seq - 1]))
    # The chain was recomputed: the store's integrity holds; only the content is bad.
    # `verify` names it too: undecodable, or decodable but no longer applicable.
    code, out, _ = run(capsys, "verify", "--db", db, "--json")
    problems = json.loads(out)["problems"]
    assert code == 1
    assert [(p["stream_id"], p["seq"]) for p in problems] == [(poisoned, seq)]
    assert "hash chain" not in problems[0]["problem"]
    if decodable:
        assert problems[0]["problem"].startswith("cannot be applied: ")

    code, out, err = run(capsys, "replay", poisoned, "--db", db)
    assert (code, out) == (1, "")
    assert err.startswith(f"seq {seq}: ") and err.endswith("\n") and err.count("\n") == 1
    error = err.strip().removeprefix(f"seq {seq}: ")

    admin = users.admin.token
    with serving(path) as srv:
        # Actors are loaded when needed: the first request for it replays it and fails.
        asyncio.run(_touch(srv.url, admin, poisoned))
        line, _ = srv.wait_for_log(poisoned, "quarantined")
        assert line.endswith(f"{poisoned} seq {seq}: {error}"), line

        status = _status(capsys, srv, admin)
        assert status["actors"]["quarantined"] == 1
        (troubled,) = status["troubled"]
        assert (troubled["auction_id"], troubled["status"]) == (poisoned, "quarantined")
        assert troubled["last_error"] == f"ReplayFailed: {poisoned} seq {seq}: {error}"

        asyncio.run(_others_go_on(srv.url, users, poisoned, healthy))
        assert run(capsys, "replay", healthy, "--db", db)[0] == 0

        # The operator repairs the row and revives the auction: it takes bids again.
        restore(path, poisoned, original)
        code, out, _ = run(capsys, "revive", poisoned, "--url", srv.url, "--token", admin)
        assert code == 0 and out.startswith(f"{poisoned}: ")
        asyncio.run(_revived(srv.url, users, poisoned))
        assert _status(capsys, srv, admin)["actors"]["quarantined"] == 0

        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=15) == 0
    assert run(capsys, "verify", "--db", db)[0] == 0
