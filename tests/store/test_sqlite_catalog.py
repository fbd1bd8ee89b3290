"""What only the SQLite catalog has: migration 5 building the rows of a database written before
it, and reads that stay index scans however many auctions are stored."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import msgspec
import pytest

from auctionactors.domain.events import Event
from auctionactors.domain.state import AuctionState
from auctionactors.store import codec, migrations, sqlite_catalog
from auctionactors.store.base import GENESIS_HASH, KeyRecord, NewEvent, chain_hash
from auctionactors.store.sqlite import SqliteEventStore
from tests.domain.scenario import draft, fold_events, in_canceled, in_closed, in_decision, opened

SCENARIOS = {"a-draft": draft, "a-open": opened, "a-decision": in_decision, "a-closed": in_closed}


def events_of(stream_id: str, events: list[Event]) -> list[Event]:
    """The scenario's events for another auction id (only its creation names it)."""
    return [msgspec.structs.replace(events[0], auction_id=stream_id), *events[1:]]


def state_of(stream_id: str, events: list[Event]) -> AuctionState:
    state = fold_events(events_of(stream_id, events))
    assert state is not None
    return state


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def write_v4(path: Path, streams: dict[str, list[NewEvent]]) -> None:
    """A database as the code before the catalog left it: schema 4, events and their chain."""
    with raw(path) as conn:
        assert migrations.migrate(conn, target=4) == 4
        for stream_id, events in streams.items():
            prev = GENESIS_HASH
            for seq, e in enumerate(events, 1):
                prev = chain_hash(prev, stream_id, seq, e.type, e.data)
                conn.execute(
                    "INSERT INTO events (stream_id, seq, type, data, hash) VALUES (?, ?, ?, ?, ?)",
                    (stream_id, seq, e.type, e.data, prev),
                )


def encoded(stream_id: str, events: list[Event]) -> list[NewEvent]:
    return [codec.encode_event(e) for e in events_of(stream_id, events)]


async def test_migration_5_catalogs_every_stream_by_folding_its_events(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    write_v4(path, {sid: encoded(sid, make()) for sid, make in SCENARIOS.items()})
    async with await SqliteEventStore.open(path) as store:
        assert (await store.pragmas())["user_version"] == migrations.LATEST_VERSION
        for sid, make in SCENARIOS.items():
            assert await store.catalog_entry(sid) == codec.catalog_entry(state_of(sid, make()))
        assert await store.catalog_count() == len(SCENARIOS)
        # The rows are ordinary rows: readers' pages and the deadlines work on them.
        buyer = state_of("a-open", opened()).terms.buyer.id
        assert await store.catalog_count(reader=buyer) == len(SCENARIOS)
        deadlines = {sid for sid, _ in await store.scheduled()}
        assert deadlines == {"a-open", "a-decision"}


async def test_migration_5_starts_from_a_snapshot_of_the_current_shape(tmp_path: Path) -> None:
    """The snapshot is trusted (its first event is then unreadable and still the row is made)."""
    path = tmp_path / "v4.db"
    write_v4(path, {"a-1": encoded("a-1", in_closed())})
    partial = fold_events(events_of("a-1", in_closed()[:2]))
    assert partial is not None
    snapshot = codec.encode_snapshot(partial)
    with raw(path) as conn:
        conn.execute(
            "INSERT INTO snapshots (stream_id, seq, version, data) VALUES (?, ?, ?, ?)",
            ("a-1", snapshot.seq, snapshot.version, snapshot.data),
        )
        conn.execute("UPDATE events SET data = x'00' WHERE stream_id = 'a-1' AND seq = 1")
    async with await SqliteEventStore.open(path) as store:
        assert await store.catalog_entry("a-1") == codec.catalog_entry(state_of("a-1", in_closed()))


async def test_migration_5_leaves_out_a_stream_it_cannot_fold_and_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v4.db"
    mystery = NewEvent("mystery_event", b'{"type":"mystery_event","at":0,"by":null}')
    write_v4(
        path,
        {
            "a-bad": [*encoded("a-bad", opened()), mystery],
            "a-good": encoded("a-good", in_canceled()),
        },
    )
    with caplog.at_level(logging.WARNING, logger=sqlite_catalog.__name__):
        store = await SqliteEventStore.open(path)
    async with store:
        assert (await store.pragmas())["user_version"] == migrations.LATEST_VERSION
        assert await store.catalog_entry("a-bad") is None
        good = codec.catalog_entry(state_of("a-good", in_canceled()))
        assert await store.catalog() == [good]
        assert await store.highest_seq("a-bad") == 3  # its events are all still there
        assert await store.uncatalogued() == [("a-bad", 3, 0)]  # what `auctions` lists
    assert "a-bad" in caplog.text


def test_a_failing_build_leaves_schema_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python step runs in the migration's transaction: if it fails, so does migration 5."""
    path = tmp_path / "v4.db"
    write_v4(path, {"a-1": encoded("a-1", opened())})

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO catalog_readers VALUES ('c', 'a-1', 0)")
        raise RuntimeError("power cut")

    steps = dict(migrations.MIGRATIONS)
    monkeypatch.setattr(
        migrations, "MIGRATIONS", [*migrations.MIGRATIONS[:4], (5, (*steps[5][:-1], broken))]
    )
    with raw(path) as conn:
        with pytest.raises(RuntimeError):
            migrations.migrate(conn)
        assert migrations.schema_version(conn) == 4
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not tables & {"catalog", "catalog_readers", "uncatalogued"}


async def test_streams_whose_last_append_carried_no_row_are_uncatalogued(tmp_path: Path) -> None:
    async with await SqliteEventStore.open(tmp_path / "events.db") as store:
        one = [NewEvent("e", b"1")]
        row = codec.catalog_entry(state_of("a", opened()))
        await store.append("a", 0, one)
        await store.append("b", 0, one)
        assert await store.uncatalogued() == [("a", 1, 0), ("b", 1, 0)]
        await store.append("a", 1, one, catalog=msgspec.structs.replace(row, seq=2))
        await store.append("a", 2, [], keys=[KeyRecord("a", "u", "k", b"", 2, b"")])
        assert await store.uncatalogued() == [("b", 1, 0)]
        # In one batch (group commit), the stream's last append decides.
        await asyncio.gather(
            store.append("a", 2, one, catalog=msgspec.structs.replace(row, seq=3)),
            store.append("a", 3, one),
            store.append("b", 1, one, catalog=msgspec.structs.replace(row, stream_id="b", seq=2)),
        )
        assert await store.uncatalogued() == [("a", 4, 3)]
        assert store.stats.max_batch == 3


@pytest.mark.parametrize(
    ("reader", "statuses", "index"),
    [
        (None, None, "catalog_by_created"),
        (None, ["open", "pending"], "catalog_by_created"),
        ("c-1", None, "catalog_readers_page"),
        ("c-1", ["open"], "catalog_readers_page"),
    ],
)
def test_a_page_is_a_range_scan_of_one_index(
    tmp_path: Path, reader: str | None, statuses: list[str] | None, index: str
) -> None:
    """No sort of all rows (no temp b-tree), whatever the filter: a page of 100 stays a few
    milliseconds at 100k auctions."""
    with raw(tmp_path / "plan.db") as conn:
        migrations.migrate(conn)
        clauses, order, params = sqlite_catalog._filters(reader, statuses, (5, "x"))
        sql = f"SELECT * {clauses} ORDER BY {order}.created_at DESC, {order}.stream_id DESC"
        plan = " / ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert index in plan and "TEMP B-TREE" not in plan, plan


def test_scheduled_reads_only_the_rows_with_a_deadline(tmp_path: Path) -> None:
    with raw(tmp_path / "plan.db") as conn:
        migrations.migrate(conn)
        sql = f"EXPLAIN QUERY PLAN {sqlite_catalog.SELECT_SCHEDULED}"
        plan = " / ".join(r[3] for r in conn.execute(sql))
    assert "catalog_by_deadline" in plan and "TEMP B-TREE" not in plan, plan
