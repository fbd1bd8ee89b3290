"""``auctionactors export --as`` gives each receiver exactly what ``get_events`` gives it on the
wire (the same filtering), with a hash chain that ``verify-export`` accepts; run as real
processes beside the running server, on its database."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from .conftest import Conn, Opener, Served, bid, open_auction

CHAIN = ("auction_id", "prev_hash", "hash", "payload", "payload_sha256")


async def cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "auctionactors",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def wire_events(conn: Conn, auction_id: str) -> list[dict[str, Any]]:
    reply = await conn.ok("get_events", auction_id=auction_id, since=0)
    assert reply["next_since"] is None
    events: list[dict[str, Any]] = reply["events"]
    return events


async def test_each_receiver_exports_what_get_events_gives_it(
    served: Served, open_conn: Opener, tmp_path: Path
) -> None:
    p = served.people
    admin, buyer = await open_conn(p.admin), await open_conn(p.buyer)
    s1, s2, observer = await open_conn(p.s1), await open_conn(p.s2), await open_conn(p.observer)
    aid = await open_auction(admin, p, anonymous_bidding=True)
    await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
    await s1.ok("place_bids", auction_id=aid, bids=[bid(amount="3.00", min_amount="2.00")])
    await s2.ok("place_bids", auction_id=aid, bids=[bid(amount="2.75", comment="by barge")])
    await s1.ok("post_comment", auction_id=aid, text="Barge ready")
    await s2.ok("rsvp", auction_id=aid, response="yes")
    db = str(tmp_path / "gateway.db")
    receivers = [(admin, None), (buyer, p.buyer), (s1, p.s1), (s2, p.s2), (observer, p.observer)]
    heads = set()
    for conn, user in receivers:
        as_ = [] if user is None else ["--as", user.company_id]
        code, out, err = await cli("export", aid, "--db", db, *as_)
        assert (code, err) == (0, "")
        lines = [json.loads(line) for line in out.splitlines()]
        shown = [{k: v for k, v in line.items() if k not in CHAIN} for line in lines]
        assert shown == await wire_events(conn, aid), user
        heads.add(lines[-1]["hash"])
        path = tmp_path / f"export-{user.company_id if user else 'all'}.jsonl"
        path.write_text(out)
        code, out, err = await cli("verify-export", str(path))
        assert (code, err) == (0, ""), out
        assert out.startswith(f"ok: {aid} seq 1..{len(lines)}: ")
    assert len(heads) == 1  # one chain, whoever exports it
    # What a supplier may not see of a competitor is nowhere in its export, not even in a
    # payload: its floor, its comment, its identity.
    code, out, _ = await cli("export", aid, "--db", db, "--as", p.s1.company_id, "--format", "csv")
    assert code == 0
    for secret in ("by barge", p.s2.company_id, p.s2.user_id):
        assert secret not in out
