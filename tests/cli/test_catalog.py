"""`auctions` lists the catalog without loading a stream; `verify` holds every catalog row against
the fold of its stream's events."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from auctionactors.store.base import NewEvent
from auctionactors.store.sqlite import SqliteEventStore

from .seed import Seeded
from .test_cli import db, raw_sql, run

INDEX = "catalog readers index differs from the catalog row"


def auctions(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> dict[str, dict[str, Any]]:
    code, out, err = run(capsys, "auctions", "--json", "--db", db(seeded))
    assert (code, err) == (0, "")
    return {r["auction_id"]: r for r in json.loads(out)}


def problems(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> list[tuple[str, int, str]]:
    code, out, _ = run(capsys, "verify", "--json", "--db", db(seeded))
    found = [(p["stream_id"], p["seq"], p["problem"]) for p in json.loads(out)["problems"]]
    assert code == (1 if found else 0)
    return found


def test_auctions_never_folds_a_stream(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    """An event that no longer decodes does not change the listing: only the catalog is read."""
    before = auctions(capsys, seeded)
    sql = "UPDATE events SET data = x'00' WHERE stream_id = ? AND seq = 2"
    assert raw_sql(seeded.path, sql, seeded.decided) == 1
    assert auctions(capsys, seeded) == before
    assert before[seeded.decided]["port"] == "Rotterdam"
    assert before[seeded.decided]["buyer"] == "Buyer Co"


def test_an_unreadable_row_is_listed_as_such(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    sql = "UPDATE catalog SET data = x'00' WHERE stream_id = ?"
    assert raw_sql(seeded.path, sql, seeded.decided) == 1
    rows = auctions(capsys, seeded)
    assert (rows[seeded.decided]["status"], rows[seeded.decided]["seq"]) == ("unreadable", 9)
    assert "catalog row" in rows[seeded.decided]["error"]
    assert rows[seeded.open]["status"] == "open"
    _, out, _ = run(capsys, "auctions", "--db", db(seeded))
    line = next(line for line in out.splitlines() if line.startswith(seeded.decided))
    assert line.split()[1:3] == ["unreadable", "9"]
    assert problems(capsys, seeded) == [
        (seeded.decided, 9, "catalog row differs from the fold of its events")
    ]


def test_a_stream_appended_without_a_row_is_listed_uncatalogued(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    async def append() -> None:
        async with await SqliteEventStore.open(seeded.path) as store:
            await store.append("a-new", 0, [NewEvent("mystery_event", b"{}")])

    asyncio.run(append())
    rows = auctions(capsys, seeded)
    assert set(rows) == {seeded.decided, seeded.open, seeded.pending, "a-new"}
    assert (rows["a-new"]["status"], rows["a-new"]["seq"]) == ("uncatalogued", 1)
    assert "no catalog row" in rows["a-new"]["error"]


def test_verify_finds_a_missing_row(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    assert raw_sql(seeded.path, "DELETE FROM catalog WHERE stream_id = ?", seeded.open) == 1
    assert problems(capsys, seeded) == [(seeded.open, 0, INDEX), (seeded.open, 3, "no catalog row")]
    code, out, _ = run(capsys, "verify", "--db", db(seeded))
    assert code == 1
    assert f"DAMAGED {seeded.open} seq 3: no catalog row" in out.splitlines()


@pytest.mark.parametrize(
    ("column", "value", "indexed"),
    [
        ("status", "closed", False),
        ("next_deadline", None, False),
        ("created_at", 0, True),  # the readers' index carries it too
        ("readers", '["c-x"]', True),
    ],
)
def test_verify_finds_a_row_that_differs_from_the_fold(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, column: str, value: object, indexed: bool
) -> None:
    sql = f"UPDATE catalog SET {column} = ? WHERE stream_id = ?"
    assert raw_sql(seeded.path, sql, value, seeded.open) == 1
    differs = (seeded.open, 3, "catalog row differs from the fold of its events")
    index = [(seeded.open, 3, INDEX)] if indexed else []
    assert problems(capsys, seeded) == [*index, differs]


def test_verify_finds_a_row_behind_its_stream(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    assert raw_sql(seeded.path, "UPDATE catalog SET seq = 2 WHERE stream_id = ?", seeded.open) == 1
    assert problems(capsys, seeded) == [(seeded.open, 2, "catalog row at seq 2, the stream at 3")]


def test_verify_finds_a_row_of_a_stream_without_events(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    conn = sqlite3.connect(seeded.path)
    try:
        with conn:
            conn.execute(
                "INSERT INTO catalog SELECT 'a-ghost', seq, status, created_at, next_deadline, "
                "readers, data FROM catalog WHERE stream_id = ?",
                (seeded.open,),
            )
    finally:
        conn.close()
    assert problems(capsys, seeded) == [
        ("a-ghost", 3, INDEX),  # no company may read it: the index has no rows of it
        ("a-ghost", 3, "catalog row of a stream without events"),
    ]


def test_verify_reports_a_poisoned_stream_once(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    """The fold stops at the event it cannot apply: the row (behind it) is not reported too."""

    async def append() -> None:
        async with await SqliteEventStore.open(seeded.path) as store:
            data = b'{"type":"mystery_event","at":0,"by":null}'
            await store.append(seeded.open, 3, [NewEvent("mystery_event", data)])

    asyncio.run(append())
    assert [(sid, seq) for sid, seq, _ in problems(capsys, seeded)] == [(seeded.open, 4)]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM catalog_readers WHERE stream_id = :open AND company_id = 'c-s1'",
        "INSERT INTO catalog_readers VALUES ('c-x', :open, 0)",
        "UPDATE catalog_readers SET created_at = 0 WHERE stream_id = :open",
        "INSERT INTO catalog_readers VALUES ('c-x', 'a-ghost', 0)",
    ],
)
def test_verify_finds_a_readers_index_that_differs_from_its_row(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, sql: str
) -> None:
    """A company's list reads the index, not the row: the two must agree."""
    conn = sqlite3.connect(seeded.path)
    try:
        with conn:
            assert conn.execute(sql, {"open": seeded.open}).rowcount >= 1
    finally:
        conn.close()
    (found,) = problems(capsys, seeded)
    assert found[0] in (seeded.open, "a-ghost")
    assert found[2] == INDEX
