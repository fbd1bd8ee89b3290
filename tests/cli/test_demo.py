"""``auctionactors demo`` as a real process: seeded accounts, the gateway served on a free port,
bots (WebSocket clients) that bid and auto-bid until the auction closes and the buyer selects,
the next auction starting, a real client signing in with a printed token, a clean stop and an
intact store."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.request
from pathlib import Path

from auctionactors.cli import main
from auctionactors.client import Client

from .process import LineReader, start_cli


async def _look(url: str, token: str) -> tuple[str, dict[str, object]]:
    async with Client(url, token, reconnect=False) as client:
        assert client.welcome is not None
        auctions = (await client.request("list_auctions"))["auctions"]
        assert auctions, "the buyer sees no auction"
        reply = await client.request("get_view", auction_id=auctions[0]["auction_id"])
        return client.welcome["company"]["role"], reply["view"]


def test_demo_serves_bots_auctions_to_the_end_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    proc = start_cli("demo", "--db", str(db), "--port", "0", "--duration", "2", "--think", "0.2")
    try:
        out = LineReader(proc.stdout)  # type: ignore[arg-type]
        assert out.next(timeout=15) == f"demo store: {db}"
        tokens = [out.next() for _ in range(6)]
        assert all(line.strip().startswith("token ") for line in tokens)
        (buyer_line,) = [line for line in tokens if "(buyer)" in line]
        page = out.next()
        assert page.startswith("page: http://127.0.0.1:") and page.endswith("/")
        ws_line = out.next()
        assert ws_line.startswith("websocket: ws://127.0.0.1:")
        assert out.next().startswith("event loop: ")

        seen: list[str] = []
        deadline = time.monotonic() + 60
        while "auction_closed" not in " ".join(seen[-3:]) or len(seen) < 5:
            assert time.monotonic() < deadline, "no auction closed within 60 s"
            seen.append(out.next(timeout=30))
        kinds = " ".join(seen)
        for kind in ("auction_created", "auction_started", "bid_placed", "auto_bid_placed"):
            assert kind in kinds
        assert "winning_solution_selected" in kinds

        # Someone else signs in with a printed token while the bots play.
        url = ws_line.removeprefix("websocket: ")
        role, view = asyncio.run(_look(url, buyer_line.split()[-1]))
        assert role == "buyer"
        assert view["kind"] == "spot" and len(view["products"]) == 4  # type: ignore[arg-type]
        with urllib.request.urlopen(page.removeprefix("page: "), timeout=10) as response:
            assert response.status == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert any("demo stopped" in line for line in out.rest())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert main(["verify", "--db", str(db)]) == 0


def test_demo_refuses_an_existing_store(tmp_path: Path) -> None:
    db = tmp_path / "taken.db"
    db.write_bytes(b"")
    assert main(["demo", "--db", str(db)]) == 2
