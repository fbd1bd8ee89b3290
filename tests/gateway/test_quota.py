"""The per-company quota on auction creation (issue 9, item 13: one buyer made 1,440 drafts in
30 s): refused ``rate_limited`` with the quota and when to retry; an admin acting as itself is
exempt, an admin acting as a buyer's user counts toward that buyer; refused creations do not
count; the hour slides with the clock."""

from __future__ import annotations

from pathlib import Path

import msgspec

from .conftest import FAST, Conn, serving, spot


async def test_creation_quota_per_company(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, creates_per_hour=3)
    async with serving(tmp_path / "quota.db", config) as served:
        p = served.people
        buyer = await Conn.open(served.url, p.buyer.token)
        admin = await Conn.open(served.url, p.admin.token)
        other = await Conn.open(served.url, p.other_buyer.token)
        draft = spot(p, start=None)
        code, _ = await buyer.error("create_auction", auction={**draft, "tick": "x"})
        assert code == "invalid"  # refused: not counted
        for _ in range(2):
            await buyer.ok("create_auction", auction=draft)
        served.clock.advance(1800)
        await buyer.ok("create_auction", auction=draft)
        code, message = await buyer.error("create_auction", auction=draft)
        assert code == "rate_limited"
        assert message == ("quota reached: 3 auctions per company per hour; retry in 1800 s"), (
            message
        )
        as_buyer = {"buyer": p.buyer.company_id, "auction": draft}
        code, _ = await admin.error("create_auction", as_user=p.buyer.user_id, **as_buyer)
        assert code == "rate_limited"  # an admin acting for the buyer counts toward it
        for _ in range(4):
            await admin.ok("create_auction", **as_buyer)  # an admin acting as itself: exempt
        await other.ok("create_auction", auction=spot(p, start=None))  # another company
        served.clock.advance(1800)  # the first two are an hour old
        for _ in range(2):
            await buyer.ok("create_auction", auction=draft)
        assert (await buyer.error("create_auction", auction=draft))[0] == "rate_limited"
        for conn in (buyer, admin, other):
            await conn.close()


async def test_unfinished_auctions_per_company_are_capped(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, creates_per_hour=None, max_open_auctions=2)
    async with serving(tmp_path / "open.db", config) as served:
        p = served.people
        buyer = await Conn.open(served.url, p.buyer.token)
        drafts = [
            (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
            for _ in range(2)
        ]
        code, message = await buyer.error("create_auction", auction=spot(p, start=None))
        assert code == "rate_limited"
        assert message.startswith("quota reached: 2 auctions not yet final per company")
        await buyer.ok("cancel_auction", auction_id=drafts[0])  # final: no longer counted
        await buyer.ok("create_auction", auction=spot(p, start=None))
        await buyer.close()
