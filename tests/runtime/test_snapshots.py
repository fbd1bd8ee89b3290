"""Snapshots: a rebuild from the latest usable snapshot equals the fold from seq 1, byte for byte;
an unusable snapshot (another version, beyond the stream, undecodable) is ignored; the actor
stores them at finalisation and every ``snapshot_every`` events; a restarted supervisor uses
them. Everything through real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain.commands import (
    AnyCommand,
    BidRequest,
    CancelAuction,
    CheckDeadlines,
    PlaceBids,
)
from auctionactors.domain.decide import decide
from auctionactors.domain.events import Event
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import Snapshot
from auctionactors.store.codec import SNAPSHOT_VERSION, encode_event, encode_snapshot
from auctionactors.store.sqlite import SqliteEventStore
from tests.domain import scenario
from tests.domain.scenario import encode, fold_events
from tests.domain.test_properties import CREATED, STEPS, TERMS, Step, run

from .conftest import BUYER, FAST, S1, S2, T0, terms

AID_KEY = "auction_id"


async def write(
    path: Path, stream_id: str, events: list[Event], cuts: list[int], snap_at: set[int]
) -> None:
    """Append ``events`` in chunks ending at ``cuts``; the chunk ending at a seq in ``snap_at``
    carries the snapshot of the state at that seq, as the actor would write it."""
    async with await SqliteEventStore.open(path, durable=False) as store:
        done = 0
        for cut in [*cuts, len(events)]:
            if cut <= done:
                continue
            snapshot = None
            if cut in snap_at:
                state = fold_events(events[:cut])
                assert state is not None
                snapshot = encode_snapshot(state)
            chunk = [encode_event(e) for e in events[done:cut]]
            await store.append(stream_id, done, chunk, snapshot=snapshot)
            done = cut


@settings(max_examples=40, deadline=None)
@given(st.lists(STEPS, min_size=10, max_size=50), st.data())
def test_a_rebuild_from_any_snapshot_equals_the_fold_from_seq_1(
    steps: list[Step], data: st.DataObject
) -> None:
    state, kept = run(steps)
    n = len(kept)
    cuts = sorted(data.draw(st.sets(st.integers(1, n), max_size=6), label="cuts"))
    snap_at = data.draw(st.sets(st.sampled_from([*cuts, n])), label="snapshots at")
    until = data.draw(st.integers(1, n), label="until_seq")

    async def check(path: Path) -> None:
        await write(path, state.auction_id, kept, cuts, snap_at)
        async with await SqliteEventStore.open(path, read_only=True) as store:
            latest = await store.latest_snapshot(state.auction_id)
            assert (latest.seq if latest else None) == (max(snap_at) if snap_at else None)
            from_snapshot = await rebuild(store, state.auction_id)
            from_seq_1 = await rebuild(store, state.auction_id, use_snapshot=False)
            assert encode(from_snapshot) == encode(from_seq_1) == encode(state)
            # --until-seq folds exactly to it, with or without a snapshot before it.
            partial = await rebuild(store, state.auction_id, until_seq=until)
            assert encode(partial) == encode(fold_events(kept[:until]))

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(check(Path(tmp) / "events.db"))


# -- which snapshot is used ----------------------------------------------------------------------


@pytest.fixture
async def stored(tmp_path: Path) -> tuple[Path, str, list[Event]]:
    """A real auction's events (opened, then bids), stored without any snapshot."""
    now = CREATED
    kept = decide(None, scenario.create(scenario.BUYER, TERMS), now)
    for i in range(13):
        state = fold_events(kept)
        assert state is not None
        now += 6 * SECOND if i == 0 else SECOND
        command: AnyCommand = CheckDeadlines()
        if i:
            bidder = (scenario.S1, scenario.S2)[i % 2]
            command = PlaceBids(by=bidder, bids=(BidRequest(product_id="p1", amount=600 - 25 * i),))
        kept += decide(state, command, now)
    assert len(kept) > 12
    path = tmp_path / "events.db"
    await write(path, state.auction_id, kept, [], set())
    return path, state.auction_id, kept


def put_snapshot(path: Path, stream_id: str, snapshot: Snapshot) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO snapshots (stream_id, seq, version, data) VALUES (?, ?, ?, ?)",
            (stream_id, snapshot.seq, snapshot.version, snapshot.data),
        )
    conn.close()


def marked(events: list[Event], seq: int) -> Snapshot:
    """A snapshot of the state at ``seq`` with a harmless mark, to tell when it was used."""
    state = fold_events(events[:seq])
    assert state is not None
    state.selection_comment = "from the snapshot"
    return encode_snapshot(state)


async def rebuilt(path: Path, stream_id: str, until_seq: int | None = None) -> AuctionState:
    async with await SqliteEventStore.open(path, read_only=True) as store:
        state = await rebuild(store, stream_id, until_seq=until_seq)
    assert state is not None
    return state


async def test_the_snapshot_is_used_up_to_until_seq(stored: tuple[Path, str, list[Event]]) -> None:
    path, sid, kept = stored
    put_snapshot(path, sid, marked(kept, 8))
    assert (await rebuilt(path, sid)).selection_comment == "from the snapshot"
    assert (await rebuilt(path, sid, until_seq=8)).selection_comment == "from the snapshot"
    before = await rebuilt(path, sid, until_seq=7)
    assert encode(before) == encode(fold_events(kept[:7]))


@pytest.mark.parametrize(
    "why",
    ["another version", "beyond the stream", "undecodable", "not at its seq"],
)
async def test_an_unusable_snapshot_is_ignored_and_the_fold_starts_at_seq_1(
    stored: tuple[Path, str, list[Event]], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    path, sid, kept = stored
    good = marked(kept, 8)
    snapshot = {
        "another version": msgspec.structs.replace(good, version="0123456789abcdef"),
        "beyond the stream": msgspec.structs.replace(marked(kept, len(kept)), seq=len(kept) + 5),
        "undecodable": msgspec.structs.replace(good, data=b"\xc1 not msgpack"),
        "not at its seq": msgspec.structs.replace(good, seq=9),  # holds seq 8
    }[why]
    assert snapshot.version == SNAPSHOT_VERSION or why == "another version"
    put_snapshot(path, sid, snapshot)
    state = await rebuilt(path, sid)
    assert encode(state) == encode(fold_events(kept))
    if why != "another version":
        assert "snapshot" in caplog.text and sid in caplog.text


async def test_a_snapshot_the_events_after_it_do_not_fit_is_passed_over(
    stored: tuple[Path, str, list[Event]], caplog: pytest.LogCaptureFixture
) -> None:
    """Decodable but wrong (its bids lost): the next bid cannot be folded onto it, so the
    rebuild folds from seq 1 instead of quarantining the auction."""
    path, sid, kept = stored
    state = fold_events(kept[:8])
    assert state is not None
    state.bids = {}
    put_snapshot(path, sid, encode_snapshot(state))
    assert encode(await rebuilt(path, sid)) == encode(fold_events(kept))
    assert "folding from seq 1" in caplog.text


def test_the_version_follows_the_shape_of_the_state() -> None:
    """A changed shape (here a new field) gives another version, so old snapshots are ignored."""
    fields = [(f.name, f.type, f.default) for f in msgspec.structs.fields(AuctionState)]
    grown = msgspec.defstruct("AuctionState", [*fields, ("extra", int, 0)], kw_only=True)
    schema = msgspec.json.encode(msgspec.json.schema(grown), order="sorted")
    same = msgspec.json.encode(msgspec.json.schema(AuctionState), order="sorted")
    assert schema != same
    import hashlib

    assert hashlib.sha256(same).hexdigest()[:16] == SNAPSHOT_VERSION


# -- the actor and the supervisor ----------------------------------------------------------------


def bid(caller: object, amount: int) -> PlaceBids:
    return PlaceBids(by=caller, bids=(BidRequest(product_id="p1", amount=amount),))  # type: ignore[arg-type]


async def test_a_restarted_supervisor_starts_from_the_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    clock = ManualClock(T0)
    config = msgspec.structs.replace(FAST, snapshot_every=5)
    async with await SqliteEventStore.open(path) as store:
        sup = Supervisor(store, clock, config=config)
        await sup.start()
        hot = str((await sup.create_auction(BUYER, terms(60, now=clock.now()))).fields[AID_KEY])
        done = str((await sup.create_auction(BUYER, terms(60, now=clock.now()))).fields[AID_KEY])
        clock.advance(60)
        await sup.quiesce()
        for i in range(13):
            await sup.ask(hot, bid(S1 if i % 2 else S2, 60_000 - 25 * i))
        await sup.ask(done, CancelAuction(by=BUYER))
        await sup.quiesce()
        live_hot = encode(await sup.query(hot, lambda s: s))
        live_done = encode(await sup.query(done, lambda s: s))
        await sup.stop()
        hot_snapshot = await store.latest_snapshot(hot)
        done_snapshot = await store.latest_snapshot(done)
        hot_seq, done_seq = await store.highest_seq(hot), await store.highest_seq(done)
    # Every 5 events (of the state after an append), and at finalisation (of the final state).
    assert hot_snapshot is not None and hot_seq - 5 < hot_snapshot.seq <= hot_seq
    assert done_snapshot is not None and done_snapshot.seq == done_seq
    # Break an event before each snapshot: a fold from seq 1 would quarantine the auction, so
    # an auction that answers was rebuilt from its snapshot.
    with sqlite3.connect(path) as conn:
        for sid in (hot, done):
            conn.execute("UPDATE events SET data = x'00' WHERE stream_id = ? AND seq = 2", (sid,))
    conn.close()
    async with await SqliteEventStore.open(path) as store:
        sup = Supervisor(store, clock, config=config)
        await sup.start()
        assert encode(await sup.query(hot, lambda s: s)) == live_hot
        assert encode(await sup.query(done, lambda s: s)) == live_done
        reply = await sup.ask(hot, bid(S1, 50_000))
        assert reply.seq == hot_seq + 1
        await sup.stop()


async def test_snapshot_every_0_stores_none(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    async with await SqliteEventStore.open(tmp_path / "events.db") as store:
        sup = Supervisor(store, clock, config=msgspec.structs.replace(FAST, snapshot_every=0))
        await sup.start()
        aid = str((await sup.create_auction(BUYER, terms(60, now=clock.now()))).fields[AID_KEY])
        clock.advance(60)
        await sup.quiesce()
        for i in range(6):
            await sup.ask(aid, bid(S1 if i % 2 else S2, 60_000 - 25 * i))
        await sup.ask(aid, CancelAuction(by=BUYER))
        await sup.stop()
        assert await store.latest_snapshot(aid) is None
