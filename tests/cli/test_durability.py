"""An acknowledged command is never lost, whatever crashes afterwards (PROTOCOL.md, Session 4).

A real process (`bid_driver`) bids as fast as it can on the real runtime and SQLite store and
prints each acknowledgement; the test reads a number of them, SIGKILLs the process (no shutdown,
no flush, no checkpoint) and then checks the database: every acknowledged bid is there, the
streams are gapless and intact, and a fresh runtime restarts on it and takes new bids.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import defaultdict
from pathlib import Path

import pytest

from auctionactors.cli import main
from auctionactors.domain.events import AuctionCreated, BidPlaced
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.codec import canonical, decode_event
from auctionactors.store.sqlite import SqliteEventStore

from .bid_driver import AUCTIONS, SUPPLIERS
from .process import LineReader, start_module
from .seed import bid

Acked = dict[str, dict[str, int]]  # auction_id -> bid_id -> seq of the ack


def run_and_kill(path: Path, acks: int) -> tuple[dict[str, int], Acked]:
    """Run the driver until it has acknowledged ``acks`` bids, SIGKILL it, and return every
    acknowledgement it printed (auctions with their seq; bids with theirs)."""
    proc = start_module("tests.cli.bid_driver", str(path))
    auctions: dict[str, int] = {}
    acked: Acked = defaultdict(dict)

    def take(line: str) -> None:
        kind, *fields = line.split()
        if kind == "AUCTION":
            auctions[fields[0]] = int(fields[1])
        elif kind == "ACK":
            acked[fields[0]][fields[1]] = int(fields[2])
        else:
            raise AssertionError(f"unexpected output: {line!r}")

    try:
        assert proc.stdout is not None
        out = LineReader(proc.stdout)
        while sum(map(len, acked.values())) < acks:
            take(out.next(timeout=20))
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        for line in out.rest():  # written before the kill: acknowledged as well
            take(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return auctions, acked


async def check_log(path: Path, auctions: dict[str, int], acked: Acked) -> dict[str, int]:
    """Every acknowledged command is in its auction's gapless log; returns the highest seqs."""
    highest: dict[str, int] = {}
    async with await SqliteEventStore.open(path) as store:
        assert await store.check() == []
        assert {s.stream_id for s in await store.streams()} == set(auctions)
        for auction_id, seq in auctions.items():
            records = await store.read_stream(auction_id)
            assert [r.seq for r in records] == list(range(1, len(records) + 1))
            events = [decode_event(r) for r in records]
            assert isinstance(events[0], AuctionCreated)
            assert len(events) >= seq
            placed = {e.bid_id: i for i, e in enumerate(events, 1) if isinstance(e, BidPlaced)}
            for bid_id, ack_seq in acked[auction_id].items():
                assert placed.get(bid_id) == ack_seq, f"acknowledged {bid_id} lost"
            highest[auction_id] = records[-1].seq
    return highest


async def restart(path: Path, highest: dict[str, int]) -> None:
    """A fresh runtime on the same file replays every auction, takes a bid on each, and its
    live state equals a rebuild from the store, byte for byte."""
    async with await SqliteEventStore.open(path) as store:
        sup = Supervisor(store, SystemClock())
        assert await sup.start() == len(highest)
        try:
            for auction_id, seq in highest.items():
                reply = await sup.ask(auction_id, bid(SUPPLIERS[0], 25))
                assert reply.seq == seq + 1
                live = await sup.query(auction_id, canonical)
                rebuilt = await rebuild(store, auction_id)
                assert rebuilt is not None and rebuilt.seq == seq + 1
                assert live == canonical(rebuilt)
            assert all(cell.restarts == 0 for cell in sup.cells())
        finally:
            await sup.stop()


@pytest.mark.parametrize("acks", [5, 50, 300])
def test_acknowledged_bids_survive_sigkill(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, acks: int
) -> None:
    path = tmp_path / "durable.db"
    auctions, acked = run_and_kill(path, acks)
    assert len(auctions) == AUCTIONS
    assert sum(map(len, acked.values())) >= acks

    highest = asyncio.run(check_log(path, auctions, acked))

    assert main(["verify", "--db", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {AUCTIONS} streams")

    asyncio.run(restart(path, highest))
    assert main(["verify", "--db", str(path)]) == 0
