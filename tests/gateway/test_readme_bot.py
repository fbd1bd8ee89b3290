"""The README's ten-line bot, run as it is printed there (a real process) against a real
server: it places its auto-bids and follows the auction until it leaves ``open``."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from .conftest import Conn, Served, bid, open_auction

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_bot() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- bot -->\n```python\n(.*?)```\n<!-- /bot -->", text, re.S)
    assert found is not None, "the README's bot block"
    return found.group(1)


async def test_the_readme_bot_bids_and_follows_the_auction(served: Served, tmp_path: Path) -> None:
    code = readme_bot()
    assert len([line for line in code.splitlines() if line.strip()]) <= 14  # ten lines and imports
    script = tmp_path / "bot.py"
    script.write_text(code, encoding="utf-8")
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    s2 = await Conn.open(served.url, p.s2.token)
    aid = await open_auction(admin, p, products=2)
    await admin.ok("subscribe", auction_id=aid)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        served.url,
        p.s1.token,
        aid,
        "3.00",
        "2.00",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        placed = await admin.next_update()  # the subscription's first: created, started
        assert placed["seq"] == 2
        placed = await admin.next_update(wait_s=60)  # the bot's bids (it starts a Python)
        assert [e["type"] for e in placed["events"]] == ["auto_bid_placed"] * 2
        assert {e["data"]["min_amount"] for e in placed["events"]} == {"2.00"}
        await s2.ok("place_bids", auction_id=aid, bids=[bid(amount="2.50")])
        countered = await admin.next_update()  # s2's bid, and the bot's auto-bid beating it
        assert "auto_bid_triggered" in [e["type"] for e in countered["events"]]
        served.clock.advance(3600)  # past closes_at: the auction goes to decision
        await served.supervisor.quiesce()
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (proc.returncode, err.decode()) == (0, "")
    lines = out.decode().splitlines()
    assert lines[-1].split()[1] == "decision"
    assert any(line.split()[1] == "open" for line in lines)
    for conn in (admin, s2):
        await conn.close()
