"""The one `EventStore` + `Accounts` contract, run against every backend.

Modelled on Akka's journal TCK (bounded reads, limits, unknown streams, atomic multi-event
appends) plus what this system relies on: optimistic concurrency, global order, the hash chain.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from auctionactors.errors import (
    ConcurrencyError,
    DuplicateKey,
    StorageUnavailable,
    StoreError,
    UsageError,
)
from auctionactors.store.base import (
    GENESIS_HASH,
    AppendResult,
    KeyRecord,
    NewEvent,
    Snapshot,
    StreamInfo,
    chain_hash,
)
from auctionactors.store.postgres import PostgresEventStore
from auctionactors.store.sqlite import SqliteEventStore
from tests.store.backends import Backend


def evs(*payloads: str, type_: str = "happened") -> list[NewEvent]:
    return [NewEvent(type_, p.encode()) for p in payloads]


async def fill(store: Backend, stream_id: str, n: int) -> None:
    """Append events "1".."n" to a new stream, one per append."""
    for seq in range(1, n + 1):
        await store.append(stream_id, seq - 1, evs(str(seq)))


def payloads(events: list[object]) -> list[str]:
    return [e.data.decode() for e in events]  # type: ignore[attr-defined]


# -- appends and bounded reads --------------------------------------------------------------------


async def test_append_then_read_back(store: Backend) -> None:
    result = await store.append("a-1", 0, [NewEvent("opened", b"{}"), NewEvent("bid", b"\x00\xff")])
    assert result.last_seq == 2
    read = await store.read_stream("a-1")
    assert [(e.stream_id, e.seq, e.type, e.data) for e in read] == [
        ("a-1", 1, "opened", b"{}"),
        ("a-1", 2, "bid", b"\x00\xff"),
    ]
    assert read[-1].position == result.last_position
    assert await store.highest_seq("a-1") == 2


async def test_reads_with_lower_and_upper_bounds(store: Backend) -> None:
    await fill(store, "s", 5)
    assert payloads(await store.read_stream("s", from_seq=2)) == ["2", "3", "4", "5"]
    assert payloads(await store.read_stream("s", to_seq=3)) == ["1", "2", "3"]
    assert payloads(await store.read_stream("s", from_seq=2, to_seq=4)) == ["2", "3", "4"]
    assert payloads(await store.read_stream("s", from_seq=3, to_seq=3)) == ["3"]
    assert payloads(await store.read_stream("s", from_seq=4, to_seq=2)) == []
    assert payloads(await store.read_stream("s", from_seq=6)) == []
    assert payloads(await store.read_stream("s", to_seq=99)) == ["1", "2", "3", "4", "5"]


async def test_reads_with_count_limits(store: Backend) -> None:
    await fill(store, "s", 5)
    assert payloads(await store.read_stream("s", limit=2)) == ["1", "2"]
    assert payloads(await store.read_stream("s", from_seq=2, to_seq=5, limit=3)) == ["2", "3", "4"]
    assert payloads(await store.read_stream("s", from_seq=4, limit=10)) == ["4", "5"]
    assert payloads(await store.read_stream("s", limit=0)) == []
    assert await store.read_all(limit=0) == []
    with pytest.raises(ValueError):
        await store.read_stream("s", limit=-1)


async def test_unknown_stream_is_empty_at_seq_zero(store: Backend) -> None:
    await fill(store, "known", 1)
    assert await store.highest_seq("unknown") == 0
    assert await store.read_stream("unknown") == []
    assert await store.read_stream("unknown", from_seq=1, to_seq=10, limit=5) == []


async def test_empty_append_is_refused(store: Backend) -> None:
    with pytest.raises(ValueError):
        await store.append("s", 0, [])
    assert await store.highest_seq("s") == 0


async def test_writer_token_is_accepted(store: Backend) -> None:
    result = await store.append("s", 0, evs("x"), writer_token=7)
    assert result.last_seq == 1


# -- optimistic concurrency and atomicity ----------------------------------------------------------


@pytest.mark.parametrize("expected", [0, 1, 3, 4])
async def test_stale_or_future_expected_seq_is_refused(store: Backend, expected: int) -> None:
    await fill(store, "s", 2)
    with pytest.raises(ConcurrencyError):
        await store.append("s", expected, evs("late"))
    assert payloads(await store.read_stream("s")) == ["1", "2"]
    assert (await store.append("s", 2, evs("3"))).last_seq == 3


async def test_multi_event_append_is_all_or_nothing(store: Backend) -> None:
    await fill(store, "s", 2)
    before = await store.read_all()
    with pytest.raises(ConcurrencyError):
        await store.append("s", 1, evs("x", "y", "z"))
    assert await store.read_all() == before
    assert await store.highest_seq("s") == 2
    result = await store.append("s", 2, evs("x", "y", "z"))
    assert result.last_seq == 5
    assert payloads(await store.read_stream("s")) == ["1", "2", "x", "y", "z"]


async def test_storage_failure_writes_nothing_and_the_store_recovers(store: Backend) -> None:
    await fill(store, "s", 1)
    before = await store.read_all()
    store.fail_next_append = OSError("disk full")
    with pytest.raises(StorageUnavailable):
        await store.append("s", 1, evs("a", "b"))
    assert await store.read_all() == before
    assert (await store.append("s", 1, evs("a", "b"))).last_seq == 3
    assert await store.check() == []


async def test_two_concurrent_writers_at_the_same_seq_one_wins(store: Backend) -> None:
    await fill(store, "s", 3)
    outcomes = await asyncio.gather(
        store.append("s", 3, evs("left", "left2")),
        store.append("s", 3, evs("right")),
        return_exceptions=True,
    )
    wins = [o for o in outcomes if isinstance(o, AppendResult)]
    losses = [o for o in outcomes if isinstance(o, ConcurrencyError)]
    assert len(wins) == 1
    assert len(losses) == 1
    tail = payloads(await store.read_stream("s", from_seq=4))
    assert tail in (["left", "left2"], ["right"])
    assert await store.check() == []


async def test_pipelined_appends_to_one_stream_chain_in_order(store: Backend) -> None:
    results = await asyncio.gather(*(store.append("s", n, evs(str(n + 1))) for n in range(10)))
    assert [r.last_seq for r in results] == list(range(1, 11))
    assert payloads(await store.read_stream("s")) == [str(n) for n in range(1, 11)]
    assert await store.check() == []


async def test_many_concurrent_writers_to_many_streams(store: Backend) -> None:
    async def writer(stream_id: str) -> None:
        for seq in range(20):
            await store.append(stream_id, seq, evs(f"{stream_id}:{seq + 1}"))

    names = [f"auction-{i:02}" for i in range(50)]
    await asyncio.gather(*(writer(name) for name in names))
    assert await store.streams() == [StreamInfo(name, 20) for name in names]
    for name in names:
        read = await store.read_stream(name)
        assert [e.seq for e in read] == list(range(1, 21))
        assert payloads(read) == [f"{name}:{seq}" for seq in range(1, 21)]
    assert await store.check() == []


async def test_global_positions_follow_commit_order(store: Backend) -> None:
    async def writer(stream_id: str) -> list[tuple[AppendResult, int]]:
        done = []
        for seq in range(0, 12, 3):
            result = await store.append(stream_id, seq, evs("a", "b", "c"))
            done.append((result, 3))
        return done

    per_writer = await asyncio.gather(*(writer(f"s{i}") for i in range(8)))
    everything = await store.read_all()
    positions = [e.position for e in everything]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions) == 8 * 12
    by_position = {e.position: e for e in everything}
    for stream_results in per_writer:
        for result, count in stream_results:
            # the append's events are contiguous, ending at the position it was acknowledged at
            block = [
                by_position[p]
                for p in range(result.last_position - count + 1, result.last_position + 1)
            ]
            assert [e.seq for e in block] == list(
                range(result.last_seq - count + 1, result.last_seq + 1)
            )
            assert len({e.stream_id for e in block}) == 1
    for i in range(8):
        stream_positions = [e.position for e in everything if e.stream_id == f"s{i}"]
        assert stream_positions == sorted(stream_positions)


async def test_read_all_pages_by_position(store: Backend) -> None:
    await fill(store, "a", 3)
    await fill(store, "b", 3)
    everything = await store.read_all()
    assert [(e.stream_id, e.seq) for e in everything] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 1),
        ("b", 2),
        ("b", 3),
    ]
    page = await store.read_all(from_position=everything[2].position, limit=2)
    assert page == everything[2:4]
    assert await store.read_all(from_position=everything[-1].position + 1) == []


async def test_large_event_round_trips(store: Backend) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    await store.append("big", 0, [NewEvent("blob", payload), NewEvent("small", b"")])
    read = await store.read_stream("big")
    assert read[0].data == payload
    assert read[1].data == b""
    assert await store.check() == []


async def test_a_thousand_streams_at_once(store: Backend) -> None:
    names = [f"auction-{i:04}" for i in range(1000)]
    results = await asyncio.gather(*(store.append(n, 0, evs(n, n)) for n in names))
    assert all(r.last_seq == 2 for r in results)
    assert len({r.last_position for r in results}) == 1000
    assert await store.streams() == [StreamInfo(n, 2) for n in names]
    assert len(await store.read_all()) == 2000


# -- integrity -------------------------------------------------------------------------------------


async def test_check_is_empty_on_healthy_data(store: Backend) -> None:
    assert await store.check() == []
    await fill(store, "a", 5)
    await store.append("b", 0, evs("x", "y"))
    assert await store.check() == []


async def test_hashes_are_the_documented_chain(store: Backend) -> None:
    await store.append("s", 0, [NewEvent("t1", b"one"), NewEvent("t2", b"two")])
    await store.append("s", 2, [NewEvent("t3", b"three")])
    prev = GENESIS_HASH
    for event in await store.read_stream("s"):
        prev = chain_hash(prev, "s", event.seq, event.type, event.data)
        assert event.hash == prev


async def test_closed_store_refuses_appends(store: Backend) -> None:
    await store.close()
    with pytest.raises(StoreError):
        await store.append("s", 0, evs("x"))


# -- accounts -------------------------------------------------------------------------------------


async def test_add_user_then_authenticate(store: Backend) -> None:
    new = await store.add_user("Maersk Oil Trading", "supplier", "Ana")
    principal = await store.authenticate(new.token)
    assert principal is not None
    assert (principal.user_id, principal.user_name) == (new.user_id, "Ana")
    assert (principal.company_id, principal.company_name) == (new.company_id, "Maersk Oil Trading")
    assert principal.role == "supplier"
    assert await store.authenticate("not-a-token") is None
    assert await store.authenticate(new.token + "x") is None


async def test_same_company_name_reuses_the_company(store: Backend) -> None:
    first = await store.add_user("Shipco", "buyer", "Bo")
    second = await store.add_user("Shipco", "buyer", "Cy")
    assert first.company_id == second.company_id
    assert first.user_id != second.user_id
    assert first.token != second.token
    company = await store.company(first.company_id)
    assert company is not None
    assert (company.name, company.role) == ("Shipco", "buyer")
    assert [c.name for c in await store.companies()] == ["Shipco"]
    assert await store.company("c-missing") is None


async def test_role_clash_is_a_usage_error(store: Backend) -> None:
    await store.add_user("Shipco", "buyer", "Bo")
    with pytest.raises(UsageError):
        await store.add_user("Shipco", "supplier", "Eve")
    assert len(await store.companies()) == 1


async def test_bad_role_is_a_usage_error(store: Backend) -> None:
    with pytest.raises(UsageError):
        await store.add_user("Shipco", "pirate", "Bo")  # type: ignore[arg-type]


async def test_revoked_token_no_longer_authenticates(store: Backend) -> None:
    new = await store.add_user("Shipco", "admin", "Root")
    assert await store.revoke_token(new.token)
    assert await store.authenticate(new.token) is None
    assert not await store.revoke_token(new.token)


async def test_token_is_not_stored_in_plain_text(store: Backend) -> None:
    new = await store.add_user("Shipco", "observer", "Ob")
    secret = new.token.encode()
    stored = await stored_bytes(store)
    assert b"Shipco" in stored  # the search does look where the accounts are
    assert secret not in stored


async def stored_bytes(store: Backend) -> bytes:
    """Everything the backend keeps: the database file and its WAL, every row of every table
    in PostgreSQL, or the object's state."""
    if isinstance(store, PostgresEventStore):
        conn = await asyncpg.connect(store.url)
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            rows = [await conn.fetch(f'SELECT t::text FROM "{t[0]}" t') for t in tables]
        finally:
            await conn.close()
        return "\n".join(r[0] for found in rows for r in found).encode()
    if isinstance(store, SqliteEventStore):
        path = Path(store.path)
        files = (path, path.with_name(path.name + "-wal"))
        return b"".join(p.read_bytes() for p in files if p.exists())
    return repr(vars(store)).encode()


async def test_user_lookup_by_id(store: Backend) -> None:
    new = await store.add_user("Gulf Oil Trading", "supplier", "Hana")
    found = await store.user(new.user_id)
    assert found == await store.authenticate(new.token)
    assert found is not None and found.company_id == new.company_id and found.role == "supplier"
    assert await store.user("u-unknown") is None


# --- idempotency keys (PROTOCOL.md 1.1) --------------------------------------------------------


def key(k: str, seq: int = 1, scope: str = "a-1", user: str = "u-1") -> KeyRecord:
    return KeyRecord(scope, user, k, b"fp-" + k.encode(), seq, b'{"bid_ids":[]}')


async def test_keys_are_stored_with_their_append_and_found_by_scope_and_user(
    store: Backend,
) -> None:
    await store.append("a-1", 0, evs("1"), keys=[key("k1")])
    await store.append("a-1", 1, evs("2", "3"), keys=[key("k2", 3), key("k3", 3, user="u-2")])
    found = await store.find_keys("a-1", "u-1", ["k1", "k2", "k3", "nope"])
    assert found == {"k1": key("k1"), "k2": key("k2", 3)}
    assert await store.find_keys("a-1", "u-2", ["k3"]) == {"k3": key("k3", 3, user="u-2")}
    assert await store.find_keys("a-2", "u-1", ["k1"]) == {}  # another scope
    assert await store.find_keys("a-1", "u-1", []) == {}


async def test_a_stored_key_refuses_the_whole_append(store: Backend) -> None:
    await store.append("a-1", 0, evs("1"), keys=[key("k1")])
    with pytest.raises(DuplicateKey):
        await store.append("a-1", 1, evs("2"), keys=[key("k2", 2), key("k1", 2)])
    with pytest.raises(DuplicateKey):  # the same key twice in one append
        await store.append("a-1", 1, evs("2"), keys=[key("k9", 2), key("k9", 2)])
    assert [e.data for e in await store.read_stream("a-1")] == [b"1"]
    assert await store.find_keys("a-1", "u-1", ["k2", "k9"]) == {}
    # create_auction's keys are per user: scope "" across streams
    await store.append("a-2", 0, evs("1"), keys=[key("c1", scope="")])
    with pytest.raises(DuplicateKey):
        await store.append("a-3", 0, evs("1"), keys=[key("c1", scope="")])
    assert await store.highest_seq("a-3") == 0


async def test_a_duplicate_key_in_a_batch_fails_only_its_own_append(store: Backend) -> None:
    await store.append("a-0", 0, evs("1"), keys=[key("k", scope="")])
    results = await asyncio.gather(
        *(
            store.append(f"a-{i}", 0, evs("x"), keys=[key("k" if i == 3 else f"k{i}", scope="")])
            for i in range(1, 6)
        ),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["AppendResult"] * 2 + ["DuplicateKey"] + [
        "AppendResult"
    ] * 2
    assert await store.highest_seq("a-3") == 0
    assert set(await store.find_keys("", "u-1", ["k", "k1", "k2", "k3", "k4", "k5"])) == {
        "k",
        "k1",
        "k2",
        "k4",
        "k5",
    }
    assert await store.check() == []


async def test_keys_alone_are_stored_at_the_stream_s_seq(store: Backend) -> None:
    """A keyed command that changed nothing stores its key with no event."""
    await store.append("a-1", 0, evs("1"), keys=[key("k1")])
    result = await store.append("a-1", 1, [], keys=[key("k2")])
    assert result == AppendResult(last_seq=1, last_position=0)
    assert set(await store.find_keys("a-1", "u-1", ["k1", "k2"])) == {"k1", "k2"}
    assert [e.data for e in await store.read_stream("a-1")] == [b"1"]
    with pytest.raises(ConcurrencyError):  # the stream moved on: its seq is stale
        await store.append("a-1", 0, [], keys=[key("k3")])
    with pytest.raises(DuplicateKey):
        await store.append("a-1", 1, [], keys=[key("k1")])
    with pytest.raises(ValueError):
        await store.append("a-1", 1, [])
    assert await store.find_keys("a-1", "u-1", ["k3"]) == {}
    # keys alone on a stream that does not exist yet create no stream
    await store.append("a-9", 0, [], keys=[key("k9", scope="a-9")])
    assert await store.highest_seq("a-9") == 0
    assert [s.stream_id for s in await store.streams()] == ["a-1"]
    assert await store.check() == []


async def test_a_stored_key_is_reported_before_a_stale_seq(store: Backend) -> None:
    """An applied key wins over a stale seq: the caller answers from the key instead of
    restarting (every backend checks in this order)."""
    await store.append("a-1", 0, evs("1"), keys=[key("k1")])
    with pytest.raises(DuplicateKey):
        await store.append("a-1", 0, evs("again"), keys=[key("k1")])


# -- snapshots -----------------------------------------------------------------------------------


async def test_a_snapshot_is_stored_with_its_append_and_the_latest_replaces_it(
    store: Backend,
) -> None:
    assert await store.latest_snapshot("s") is None
    await store.append("s", 0, evs("1", "2"), snapshot=Snapshot(2, "v1", b"state@2"))
    assert await store.latest_snapshot("s") == Snapshot(2, "v1", b"state@2")
    assert await store.latest_snapshot("other") is None
    await store.append("s", 2, evs("3"), snapshot=Snapshot(2, "v2", b"again@2"))
    await store.append("s", 3, evs("4", "5"), snapshot=Snapshot(5, "v2", b"state@5"))
    assert await store.latest_snapshot("s") == Snapshot(5, "v2", b"state@5")
    await store.append("s", 5, evs("6"))  # no snapshot: the stored one stays
    assert await store.latest_snapshot("s") == Snapshot(5, "v2", b"state@5")


@pytest.mark.parametrize("seq", [0, 4])
async def test_a_snapshot_beyond_its_append_is_refused_and_nothing_written(
    store: Backend, seq: int
) -> None:
    await store.append("s", 0, evs("1"))
    with pytest.raises(ValueError):
        await store.append("s", 1, evs("2", "3"), snapshot=Snapshot(seq, "v", b"x"))
    assert await store.highest_seq("s") == 1
    assert await store.latest_snapshot("s") is None


async def test_keys_alone_carry_no_snapshot(store: Backend) -> None:
    await store.append("s", 0, evs("1"))
    record = KeyRecord("s", "u", "k", b"f", 1, b"{}")
    with pytest.raises(ValueError):
        await store.append("s", 1, [], keys=[record], snapshot=Snapshot(1, "v", b"x"))
    assert await store.find_keys("s", "u", ["k"]) == {}


async def test_a_refused_append_leaves_the_snapshot_alone(store: Backend) -> None:
    await store.append("s", 0, evs("1"), snapshot=Snapshot(1, "v", b"one"))
    with pytest.raises(ConcurrencyError):
        await store.append("s", 0, evs("x"), snapshot=Snapshot(1, "v", b"forked"))
    store.fail_next_append = OSError("disk on fire")
    with pytest.raises(StorageUnavailable):
        await store.append("s", 1, evs("2"), snapshot=Snapshot(2, "v", b"two"))
    assert await store.latest_snapshot("s") == Snapshot(1, "v", b"one")


async def test_snapshots_of_a_batch_land_per_stream(store: Backend) -> None:
    await asyncio.gather(
        *(
            store.append(f"s{i}", 0, evs("a", "b"), snapshot=Snapshot(2, "v", f"s{i}".encode()))
            for i in range(20)
        )
    )
    for i in range(20):
        assert await store.latest_snapshot(f"s{i}") == Snapshot(2, "v", f"s{i}".encode())


async def test_companies_are_paged_by_name_and_filtered_by_role(store: Backend) -> None:
    for name, role in [
        ("Delta Fuels", "supplier"),
        ("Alpha Oil", "supplier"),
        ("Port Watch", "observer"),
        ("Shipco", "buyer"),
        ("Platform", "admin"),
        ("Bravo Bunkers", "supplier"),
    ]:
        await store.add_user(name, role, "Someone")  # type: ignore[arg-type]
    every = await store.companies()
    names = [c.name for c in every]
    assert names == sorted(names) and len(names) == 6
    sellers = await store.companies(roles=["supplier", "observer"])
    assert [c.name for c in sellers] == ["Alpha Oil", "Bravo Bunkers", "Delta Fuels", "Port Watch"]
    first = await store.companies(roles=["supplier", "observer"], limit=2)
    assert first == sellers[:2]
    last = first[-1]
    rest = await store.companies(roles=["supplier", "observer"], after=(last.name, last.company_id))
    assert rest == sellers[2:]
    assert await store.companies(roles=[]) == []
    assert await store.companies(limit=0) == []
    assert await store.companies(after=("Zulu", "")) == []
    assert (await store.companies(after=("B", ""), limit=1))[0].name == "Bravo Bunkers"
    with pytest.raises(ValueError):
        await store.companies(limit=-1)
