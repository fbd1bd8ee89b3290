"""``auctionactors backup`` (SQLite online backup while the store is in use) and ``user revoke``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from auctionactors.cli import main
from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.parties import Caller
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.sqlite import SqliteEventStore

from .seed import CONFIG, S1, S2, T0, Seeded, terms


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def _backup_during_bidding(source: Path, dest: Path) -> tuple[list[str], int]:
    """Bid on three auctions from six tasks and take the backup in the middle of it."""
    clock = ManualClock(T0)
    async with await SqliteEventStore.open(source) as store:
        sup = Supervisor(store, clock, config=CONFIG)
        await sup.start()
        admin_start = terms(T0, duration_s=86_400)  # an admin's start "now": open at once
        admin = Caller("u-adm", "c-adm", "admin")
        ids = [
            (await sup.create_auction(admin, admin_start)).fields["auction_id"] for _ in range(3)
        ]
        started = asyncio.Event()

        async def bidder(auction_id: str, caller: Caller, top: int) -> None:
            for i in range(60):
                request = BidRequest(product_id="p1", amount=(top - i) * 25)
                await sup.ask(auction_id, PlaceBids(by=caller, bids=(request,)))
                if i == 10:
                    started.set()

        tasks = [
            asyncio.create_task(bidder(a, c, 400 + k)) for a in ids for k, c in enumerate((S1, S2))
        ]
        await started.wait()
        await store.backup(dest)
        await asyncio.gather(*tasks)
        total = sum(info.highest_seq for info in await store.streams())
        await sup.stop()
    return ids, total


def test_backup_while_bidding_is_consistent_and_resumable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, dest = tmp_path / "live.db", tmp_path / "copy.db"
    ids, total_live = asyncio.run(_backup_during_bidding(source, dest))
    status, out, _ = run(capsys, "verify", "--db", str(dest))
    assert status == 0, out

    async def resume() -> int:
        async with await SqliteEventStore.open(dest) as store:
            copied = sum(info.highest_seq for info in await store.streams())
            live = await SqliteEventStore.open(source, read_only=True)
            try:
                for auction_id in ids:
                    mine = await store.read_stream(auction_id)
                    theirs = await live.read_stream(auction_id, to_seq=len(mine))
                    assert [e.hash for e in mine] == [e.hash for e in theirs]  # a prefix
            finally:
                await live.close()
            sup = Supervisor(store, ManualClock(T0), config=CONFIG)
            await sup.start()
            for auction_id in ids:
                reply = await sup.ask(
                    auction_id, PlaceBids(by=S1, bids=(BidRequest(product_id="p1", amount=25),))
                )
                state = await sup.query(auction_id, lambda s: s)
                assert state is not None and state.seq == reply.seq
                assert await rebuild(store, auction_id) == state
            await sup.stop()
            return copied

    copied = asyncio.run(resume())
    assert 0 < copied < total_live  # taken mid-stream, not before nor after


def test_backup_command(tmp_path: Path, seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "backup.db"
    status, out, _ = run(capsys, "backup", str(dest), "--db", str(seeded.path))
    assert status == 0
    assert f"backup written to {dest}" in out
    assert out.strip().endswith("0 problems")
    assert run(capsys, "events", seeded.decided, "--db", str(dest))[0] == 0
    status, _, err = run(capsys, "backup", str(dest), "--db", str(seeded.path))
    assert status == 2 and "exists" in err
    status, _, err = run(capsys, "backup", str(tmp_path / "x.db"), "--db", str(tmp_path / "no.db"))
    assert status == 2 and "no database" in err
    assert not (tmp_path / "x.db").exists()


def test_user_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "accounts.db")
    status, out, _ = run(
        capsys, "user", "add", "--company", "Co", "--role", "buyer", "--name", "A", "--db", db
    )
    token = json.loads(out)["token"]
    assert run(capsys, "user", "revoke", "--token", token, "--db", db)[0] == 0

    async def who() -> object:
        async with await SqliteEventStore.open(db, read_only=True) as store:
            return await store.authenticate(token)

    assert asyncio.run(who()) is None
    status, _, err = run(capsys, "user", "revoke", "--token", token, "--db", db)
    assert status == 1 and "no such active token" in err
    status, _, err = run(capsys, "user", "revoke", "--token", token, "--db", str(tmp_path / "n.db"))
    assert status == 2
