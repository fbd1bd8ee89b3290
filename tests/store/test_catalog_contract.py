"""The catalog part of the `EventStore` contract, run against every backend: one row per stream,
written in the same transaction as its events (or not at all), and the reads lists, quotas and
the timer heap page through."""

from __future__ import annotations

import asyncio

import pytest

from auctionactors.errors import ConcurrencyError, DuplicateKey, StorageUnavailable
from auctionactors.store.base import CatalogEntry, KeyRecord, NewEvent
from tests.store.backends import Backend


def evs(n: int) -> list[NewEvent]:
    return [NewEvent("happened", str(i).encode()) for i in range(n)]


def row(
    stream_id: str,
    seq: int,
    *,
    status: str = "open",
    created_at: int = 100,
    deadline: int | None = None,
    readers: tuple[str, ...] = ("c-1",),
) -> CatalogEntry:
    data = f"{stream_id}@{seq}".encode()
    return CatalogEntry(stream_id, seq, status, created_at, deadline, readers, data)


def key(name: str) -> KeyRecord:
    return KeyRecord("a", "u-1", name, b"f", 1, b"{}")


async def test_a_row_is_written_with_its_events_and_replaced_by_the_next(store: Backend) -> None:
    first = row("a", 1, readers=("c-1", "c-2"))
    await store.append("a", 0, evs(1), catalog=first)
    assert await store.catalog_entry("a") == first
    second = row("a", 3, status="closed", deadline=500, readers=("c-2", "c-3"))
    await store.append("a", 1, evs(2), catalog=second)
    assert await store.catalog_entry("a") == second
    assert await store.catalog(reader="c-1") == []
    assert await store.catalog(reader="c-3") == [second]
    assert await store.catalog_entry("unknown") is None


async def test_an_append_without_a_row_leaves_the_row_alone(store: Backend) -> None:
    first = row("a", 1)
    await store.append("a", 0, evs(1), catalog=first)
    await store.append("a", 1, evs(1))
    await store.append("a", 2, [], keys=[key("k")])
    assert await store.catalog_entry("a") == first
    await store.append("b", 0, evs(1))
    assert await store.catalog_entry("b") is None
    assert await store.catalog_count() == 1


@pytest.mark.parametrize(
    ("expected", "events", "entry", "why"),
    [
        (0, 1, row("other", 1), "other"),  # another stream's row
        (0, 2, row("a", 1), "seq 1"),  # not the seq after the append
        (1, 1, row("a", 3), "seq 3"),
        (1, 1, row("a", 1), "seq 1"),  # the seq before the append
    ],
)
async def test_a_row_that_does_not_match_its_append_is_refused_and_nothing_written(
    store: Backend, expected: int, events: int, entry: CatalogEntry, why: str
) -> None:
    old = row("a", 1)
    if expected:
        await store.append("a", 0, evs(1), catalog=old)
    with pytest.raises(ValueError, match=why):
        await store.append("a", expected, evs(events), catalog=entry)
    assert await store.highest_seq("a") == expected
    assert await store.catalog_entry("a") == (old if expected else None)
    assert await store.catalog_entry("other") is None


async def test_keys_alone_carry_no_row(store: Backend) -> None:
    await store.append("a", 0, evs(1))
    with pytest.raises(ValueError, match="events"):
        await store.append("a", 1, [], keys=[key("k")], catalog=row("a", 1))
    assert await store.find_keys("a", "u-1", ["k"]) == {}
    assert await store.catalog_entry("a") is None


async def test_a_failed_append_writes_no_row(store: Backend) -> None:
    store.fail_next_append = OSError("disk on fire")
    with pytest.raises(StorageUnavailable):
        await store.append("a", 0, evs(1), catalog=row("a", 1))
    assert await store.catalog_entry("a") is None
    assert await store.catalog_count() == 0
    assert await store.scheduled() == []


async def test_a_stale_append_leaves_the_old_row(store: Backend) -> None:
    old = row("a", 1)
    await store.append("a", 0, evs(1), catalog=old)
    with pytest.raises(ConcurrencyError):
        await store.append("a", 0, evs(1), catalog=row("a", 1, status="closed"))
    assert await store.catalog_entry("a") == old


async def test_a_duplicate_key_leaves_the_old_row(store: Backend) -> None:
    old = row("a", 1)
    await store.append("a", 0, evs(1), keys=[key("k")], catalog=old)
    with pytest.raises(DuplicateKey):
        await store.append("a", 1, evs(1), keys=[key("k")], catalog=row("a", 2, status="closed"))
    assert await store.catalog_entry("a") == old
    assert await store.catalog(statuses=["closed"]) == []


async def test_rows_of_concurrent_appends_land_per_stream_and_a_stale_one_alone(
    store: Backend,
) -> None:
    """In SQLite these share one transaction (group commit): the refused append's row must not
    ride along with the others."""
    await store.append("s0", 0, evs(1), catalog=row("s0", 1))
    results = await asyncio.gather(
        *(store.append(f"s{i}", 0, evs(1), catalog=row(f"s{i}", 1, status="x")) for i in range(5)),
        store.append("s1", 0, evs(2), catalog=row("s1", 2, status="y")),  # one of the two wins
        return_exceptions=True,
    )
    assert isinstance(results[0], ConcurrencyError)
    assert await store.catalog_entry("s0") == row("s0", 1)
    s1 = await store.catalog_entry("s1")
    assert s1 is not None and s1.seq == await store.highest_seq("s1")
    assert [await store.catalog_entry(f"s{i}") for i in range(2, 5)] == [
        row(f"s{i}", 1, status="x") for i in range(2, 5)
    ]


async def fill(store: Backend) -> list[CatalogEntry]:
    """Eight rows: created at 100, 100, 100, 200, 200, 300, 300, 300, so that ties are ordered
    by stream id; statuses and readers mixed. Returned newest first, as `catalog` orders them."""
    rows = [
        row("b", 1, created_at=100, status="open", readers=("c-1",)),
        row("a", 1, created_at=100, status="closed", readers=("c-1", "c-2")),
        row("c", 1, created_at=100, status="pending", readers=()),
        row("e", 1, created_at=200, status="open", readers=("c-2",)),
        row("d", 1, created_at=200, status="open", readers=("c-1",)),
        row("h", 1, created_at=300, status="closed", readers=("c-1", "c-3")),
        row("f", 1, created_at=300, status="open", readers=("c-2",)),
        row("g", 1, created_at=300, status="pending", readers=("c-1",)),
    ]
    for entry in rows:
        await store.append(entry.stream_id, 0, evs(1), catalog=entry)
    return sorted(rows, key=lambda e: (e.created_at, e.stream_id), reverse=True)


async def test_rows_come_newest_first_then_by_stream_id(store: Backend) -> None:
    newest_first = await fill(store)
    assert [e.stream_id for e in newest_first] == ["h", "g", "f", "e", "d", "c", "b", "a"]
    assert await store.catalog() == newest_first
    assert await store.catalog(limit=3) == newest_first[:3]
    assert await store.catalog(limit=0) == []
    assert await store.catalog_count() == 8


@pytest.mark.parametrize("page", [1, 2, 3, 8])
async def test_pages_by_the_before_cursor_cover_every_row_once(store: Backend, page: int) -> None:
    newest_first = await fill(store)
    seen: list[CatalogEntry] = []
    before: tuple[int, str] | None = None
    while True:
        got = await store.catalog(before=before, limit=page)
        if not got:
            break
        seen += got
        before = (got[-1].created_at, got[-1].stream_id)
    assert seen == newest_first


async def test_before_is_exclusive_and_compares_time_then_id(store: Backend) -> None:
    newest_first = await fill(store)
    got = await store.catalog(before=(200, "e"))
    assert [e.stream_id for e in got] == ["d", "c", "b", "a"]
    assert await store.catalog(before=(200, "z")) == newest_first[3:]
    assert await store.catalog(before=(100, "a")) == []


async def test_reader_and_status_filters_and_their_counts(store: Backend) -> None:
    newest_first = await fill(store)

    def ids(entries: list[CatalogEntry]) -> list[str]:
        return [e.stream_id for e in entries]

    assert ids(await store.catalog(reader="c-1")) == ["h", "g", "d", "b", "a"]
    assert ids(await store.catalog(reader="c-2", statuses=["open"])) == ["f", "e"]
    assert ids(await store.catalog(statuses={"open", "pending"})) == ["g", "f", "e", "d", "c", "b"]
    assert ids(await store.catalog(reader="c-1", before=(300, "g"), limit=2)) == ["d", "b"]
    assert await store.catalog(statuses=[]) == []
    assert await store.catalog(reader="nobody") == []
    assert await store.catalog_count(reader="c-1") == 5
    assert await store.catalog_count(reader="c-1", statuses=["closed"]) == 2
    assert await store.catalog_count(statuses=["pending"]) == 2
    assert await store.catalog_count(reader="nobody") == 0
    # The readers come back as written.
    assert (await store.catalog(reader="c-3"))[0].readers == ("c-1", "c-3")
    assert newest_first[0].readers == ("c-1", "c-3")


async def test_scheduled_lists_rows_with_a_deadline_by_deadline(store: Backend) -> None:
    await store.append("a", 0, evs(1), catalog=row("a", 1, deadline=300))
    await store.append("b", 0, evs(1), catalog=row("b", 1, deadline=None))
    await store.append("c", 0, evs(1), catalog=row("c", 1, deadline=100))
    await store.append("d", 0, evs(1), catalog=row("d", 1, deadline=0))
    assert await store.scheduled() == [("d", 0), ("c", 100), ("a", 300)]
    await store.append("c", 1, evs(1), catalog=row("c", 2, deadline=None))
    await store.append("b", 1, evs(1), catalog=row("b", 2, deadline=200))
    assert await store.scheduled() == [("d", 0), ("b", 200), ("a", 300)]


async def test_a_negative_limit_is_refused(store: Backend) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.catalog(limit=-1)
