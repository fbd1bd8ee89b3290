"""``auctionactors demo`` as a real process: seeded companies printed with names, ids and tokens
(the people's apart from the bots'), the gateway served on a free port, bots (WebSocket clients)
that bid and auto-bid until the auction closes and the buyer bot selects late in the decision
period, a person bidding in its own company without a bot replacing its bid, the next auction
left to the people's buyer, a clean stop and an intact store."""

from __future__ import annotations

import asyncio
import re
import signal
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auctionactors.cli import main
from auctionactors.cli.demo import BUYER
from auctionactors.client import Client
from auctionactors.domain.timestamps import SECOND, parse_instant

from .process import LineReader, start_cli

COMPANY = re.compile(r"^ +(bot|you) +(\w+) +(.+?) +id (\S+) +token (\S+)$")


@dataclass(frozen=True)
class Company:
    who: str
    role: str
    name: str
    id: str
    token: str


def _companies(out: LineReader) -> list[Company]:
    assert out.next().startswith("companies (")
    companies = []
    for _ in range(9):
        match = COMPANY.match(out.next())
        assert match, "a company line: who, role, name, id and token"
        companies.append(Company(*match.groups()))
    return companies


async def _join_in(url: str, supplier: Company) -> str:
    """A person bids as a supplier of its own company in the first open auction, and stays until
    it is over; the auction's id."""
    async with Client(url, supplier.token, reconnect=False) as client:
        await client.subscribe_all()
        while True:
            update = await client.next_update(wait_s=30)
            view = update.get("view") or {}
            if view.get("status") == "open":
                break
        auction_id = update["auction_id"]
        product = view["products"][0]["product_id"]
        bid = {"product_id": product, "amount": "700.00"}  # above every bot: never the best
        await client.request("place_bids", auction_id=auction_id, bids=[bid])
        while (client.view(auction_id) or {}).get("status") not in ("closed", "expired"):
            await client.next_update(wait_s=60)
        return str(auction_id)


async def _events(url: str, token: str, auction_id: str) -> list[dict[str, Any]]:
    async with Client(url, token, reconnect=False) as client:
        return [e async for e in client.get_events(auction_id)]


async def _second_auction(url: str, buyer: Company, admin: Company) -> list[dict[str, Any]]:
    """The people's buyer's first auction, followed until it is over (no bot awards it); its
    events as the admin reads them."""
    async with Client(url, buyer.token, reconnect=False) as client:
        await client.subscribe_all(["pending", "open", "decision", "closed", "expired"])
        while True:
            update = await client.next_update(wait_s=60)
            if (update.get("view") or {}).get("status") in ("closed", "expired"):
                return await _events(url, admin.token, update["auction_id"])


def test_demo_serves_bots_auctions_to_the_end_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    argv = ("--duration", "2", "--decision", "4", "--think", "0.2")
    proc = start_cli("demo", "--db", str(db), "--port", "0", *argv)
    try:
        out = LineReader(proc.stdout)  # type: ignore[arg-type]
        assert out.next(timeout=15) == f"demo store: {db}"
        companies = _companies(out)
        by = {(c.who, c.role): [x for x in companies if (x.who, x.role) == (c.who, c.role)]
              for c in companies}  # fmt: skip
        assert [len(by[k]) for k in [("bot", "admin"), ("bot", "buyer"), ("bot", "supplier")]] == [
            1, 1, 4,
        ]  # fmt: skip
        assert [len(by[k]) for k in [("you", "buyer"), ("you", "supplier")]] == [1, 2]
        assert len({c.id for c in companies}) == 9  # a company each: people never share a bot's
        assert len({c.name for c in companies}) == 9
        page = out.next()
        assert page.startswith("page: http://127.0.0.1:") and page.endswith("/")
        ws_line = out.next()
        assert ws_line.startswith("websocket: ws://127.0.0.1:")
        assert out.next().startswith("event loop: ")
        url = ws_line.removeprefix("websocket: ")
        (admin,) = by[("bot", "admin")]
        (person,) = by[("you", "buyer")]
        human = by[("you", "supplier")][0]

        # A person joins in as a supplier of its own company: its bid stays its own.
        first = asyncio.run(_join_in(url, human))
        events = asyncio.run(_events(url, admin.token, first))
        mine = [e for e in events if (e.get("data") or {}).get("supplier_id") == human.id]
        bids = [e for e in mine if e["type"] in ("bid_placed", "auto_bid_placed")]
        assert len(bids) == 1 and bids[0]["data"]["amount"] == "700.00"
        assert bids[0]["by"]["company_id"] == human.id
        kinds = [e["type"] for e in events]
        for kind in ("auction_created", "auction_started", "bid_placed", "auto_bid_placed"):
            assert kind in kinds
        # The buyer bot awards late in the decision period (3 of its 4 s), not at once.
        ended = next(e for e in events if e["type"] == "auction_ended")
        (selected,) = [e for e in events if e["type"] == "winning_solution_selected"]
        waited = parse_instant(selected["at"]) - parse_instant(ended["at"])
        assert waited >= 3 * SECOND

        # The next auction is the people's buyer's: no bot awards it, it expires.
        second = asyncio.run(_second_auction(url, person, admin))
        kinds = [e["type"] for e in second]
        assert "auction_expired" in kinds and "winning_solution_selected" not in kinds
        assert second[0]["data"]["terms"]["buyer"]["id"] == person.id

        with urllib.request.urlopen(page.removeprefix("page: "), timeout=10) as response:
            assert response.status == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        rest = out.rest()
        assert any("demo stopped" in line for line in rest)
        # The printed log says whose each auction is: the bots' buyer's, then the people's.
        created = [line.split(" auction_created ")[1].strip() for line in rest
                   if " auction_created " in line]  # fmt: skip
        assert created[:2] == [f"buyer={BUYER}", f"buyer={person.name}"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert main(["verify", "--db", str(db)]) == 0


def test_demo_refuses_an_existing_store(tmp_path: Path) -> None:
    db = tmp_path / "taken.db"
    db.write_bytes(b"")
    assert main(["demo", "--db", str(db)]) == 2
