"""Reads in SQLite: plain synchronous functions that `SqliteEventStore` runs on a connection's
thread, each in one hop (a 100k-event replay is one call, not one per row). Apart from `sqlite`
(the one module that imports aiosqlite) so that it stays short, beside `sqlite_accounts` and
`sqlite_writer`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import starmap

from auctionactors.store import sqlite_catalog
from auctionactors.store.base import (
    Damage,
    KeyRecord,
    Snapshot,
    StoredEvent,
    StreamInfo,
    StreamTail,
)
from auctionactors.store.integrity import check_events

# ?1 is selected back so that rows map straight onto StoredEvent (no per-row Python code).
SELECT_STREAM = """
    SELECT ?1, seq, position, type, data, hash FROM events
    WHERE stream_id = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4
"""
SELECT_ALL = """
    SELECT stream_id, seq, position, type, data, hash FROM events
    WHERE position >= ? ORDER BY position LIMIT ?
"""
SELECT_KEY = """
    SELECT fingerprint, seq, result FROM command_keys WHERE scope = ? AND user_id = ? AND key = ?
"""
SELECT_FOR_CHECK = (
    "SELECT stream_id, seq, position, type, data, hash FROM events ORDER BY stream_id, seq"
)
MAX_INT64 = 2**63 - 1


def stream(
    conn: sqlite3.Connection, stream_id: str, from_seq: int, to_seq: int | None, limit: int | None
) -> list[StoredEvent]:
    """Rows become `StoredEvent`s in C (`starmap`); ``limit`` None: no limit."""
    params = (stream_id, from_seq, MAX_INT64 if to_seq is None else to_seq, limit or -1)
    return list(starmap(StoredEvent, conn.execute(SELECT_STREAM, params)))


def all_events(
    conn: sqlite3.Connection, from_position: int, limit: int | None
) -> list[StoredEvent]:
    params = (from_position, limit or -1)
    return list(starmap(StoredEvent, conn.execute(SELECT_ALL, params)))


def find_keys(
    conn: sqlite3.Connection, scope: str, user_id: str, keys: list[str]
) -> dict[str, KeyRecord]:
    found: dict[str, KeyRecord] = {}
    for key in keys:
        row = conn.execute(SELECT_KEY, (scope, user_id, key)).fetchone()
        if row is not None:
            found[key] = KeyRecord(scope, user_id, key, *row)
    return found


def snapshot(conn: sqlite3.Connection, stream_id: str) -> Snapshot | None:
    row = conn.execute(
        "SELECT seq, version, data FROM snapshots WHERE stream_id = ?", (stream_id,)
    ).fetchone()
    return None if row is None else Snapshot(row[0], row[1], row[2])


def tails(conn: sqlite3.Connection, stream_ids: Sequence[str]) -> list[StreamTail]:
    """Each stream's snapshot, then its events from the snapshot's seq on (read after it: at
    least as recent)."""
    found = []
    for stream_id in stream_ids:
        taken = snapshot(conn, stream_id)
        params = (stream_id, 1 if taken is None else taken.seq, MAX_INT64, -1)
        found.append(
            StreamTail(
                stream_id, taken, list(starmap(StoredEvent, conn.execute(SELECT_STREAM, params)))
            )
        )
    return found


def highest_seq(conn: sqlite3.Connection, stream_id: str) -> int:
    row = conn.execute("SELECT MAX(seq) FROM events WHERE stream_id = ?", (stream_id,)).fetchone()
    return int(row[0] or 0)


def streams(conn: sqlite3.Connection) -> list[StreamInfo]:
    rows = conn.execute(
        "SELECT stream_id, MAX(seq) FROM events GROUP BY stream_id ORDER BY stream_id"
    ).fetchall()
    return [StreamInfo(stream_id, seq) for stream_id, seq in rows]


def check(conn: sqlite3.Connection) -> list[Damage]:
    return check_events(conn.execute(SELECT_FOR_CHECK)) + sqlite_catalog.check(conn)


def pragmas(conn: sqlite3.Connection) -> dict[str, object]:
    names = ("journal_mode", "synchronous", "busy_timeout", "user_version")
    return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}


def backup(conn: sqlite3.Connection, target_path: str) -> None:
    """SQLite's online backup of ``conn`` (in one step, from its snapshot) into a WAL file."""
    target = sqlite3.connect(target_path)
    try:
        conn.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
