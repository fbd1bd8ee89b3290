"""`Deliveries` in SQLite: plain synchronous functions that `SqliteEventStore` runs on a
connection's thread, writes on the writer (queued with the appends' batches), reads on the
reader. The tables are made by migration 6 (`migrations.py`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from auctionactors.store.deliveries import (
    PARKED_COLUMNS,
    ParkedDelivery,
    Reminder,
    check_advance,
    parked_from_row,
    parked_values,
    unique_ids,
)

T = TypeVar("T")

SCHEMA = (
    """CREATE TABLE reactor_checkpoints (
        reactor TEXT PRIMARY KEY,
        position INTEGER NOT NULL
    )""",
    """CREATE TABLE reactor_effects (
        reactor TEXT NOT NULL,
        effect_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (reactor, effect_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX reactor_effects_position ON reactor_effects (reactor, position)",
    """CREATE TABLE parked_deliveries (
        reactor TEXT NOT NULL,
        effect_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        payload BLOB NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        parked_at INTEGER NOT NULL,
        redrive INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (reactor, effect_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE reactor_reminders (
        reactor TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        key TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        PRIMARY KEY (reactor, stream_id)
    ) WITHOUT ROWID""",
)


def _transaction(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def head_position(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(position) FROM events").fetchone()
    return int(row[0] or 0)


def start_reactor(conn: sqlite3.Connection, reactor: str) -> int:
    def run() -> int:
        row = conn.execute(
            "SELECT position FROM reactor_checkpoints WHERE reactor = ?", (reactor,)
        ).fetchone()
        if row is not None:
            return int(row[0])
        head = head_position(conn)
        conn.execute(
            "INSERT INTO reactor_checkpoints (reactor, position) VALUES (?, ?)", (reactor, head)
        )
        return head

    return _transaction(conn, run)


def reactor_positions(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT reactor, position FROM reactor_checkpoints ORDER BY reactor")
    return {name: int(position) for name, position in rows}


def accepted_effects(conn: sqlite3.Connection, reactor: str, effect_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(effect_ids), 500):
        chunk = effect_ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT effect_id FROM reactor_effects WHERE reactor = ? AND effect_id IN ({marks})"
        found.update(row[0] for row in conn.execute(sql, (reactor, *chunk)))
    return found


def record_deliveries(
    conn: sqlite3.Connection,
    reactor: str,
    accepted: Sequence[tuple[str, int]],
    parked: Sequence[ParkedDelivery],
    reminders_done: Sequence[Reminder],
) -> None:
    def run() -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO reactor_effects (reactor, effect_id, position)"
            " VALUES (?, ?, ?)",
            [(reactor, effect_id, position) for effect_id, position in accepted],
        )
        conn.executemany(
            "DELETE FROM parked_deliveries WHERE reactor = ? AND effect_id = ?",
            [(reactor, effect_id) for effect_id, _ in accepted],
        )
        conn.executemany(
            f"INSERT OR REPLACE INTO parked_deliveries ({PARKED_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
            [parked_values(reactor, p) for p in parked],
        )
        conn.executemany(
            "DELETE FROM reactor_reminders WHERE reactor = ? AND stream_id = ? AND key = ?",
            [(reactor, r.stream_id, r.key) for r in reminders_done],
        )

    _transaction(conn, run)


def advance_reactor(
    conn: sqlite3.Connection,
    reactor: str,
    position: int,
    reminders: Sequence[Reminder],
    cleared: Sequence[str],
) -> None:
    def run() -> None:
        row = conn.execute(
            "SELECT position FROM reactor_checkpoints WHERE reactor = ?", (reactor,)
        ).fetchone()
        check_advance(reactor, 0 if row is None else int(row[0]), position)
        conn.execute(
            "INSERT OR REPLACE INTO reactor_checkpoints (reactor, position) VALUES (?, ?)",
            (reactor, position),
        )
        conn.execute(
            "DELETE FROM reactor_effects WHERE reactor = ? AND position > 0 AND position <= ?",
            (reactor, position),
        )
        conn.executemany(
            "DELETE FROM reactor_reminders WHERE reactor = ? AND stream_id = ?",
            [(reactor, stream_id) for stream_id in cleared],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO reactor_reminders (reactor, stream_id, key, due_at)"
            " VALUES (?, ?, ?, ?)",
            [(reactor, r.stream_id, r.key, r.due_at) for r in reminders],
        )

    _transaction(conn, run)


def reminders(conn: sqlite3.Connection, reactor: str) -> list[Reminder]:
    rows = conn.execute(
        "SELECT reactor, stream_id, key, due_at FROM reactor_reminders WHERE reactor = ?"
        " ORDER BY due_at, stream_id",
        (reactor,),
    )
    return [Reminder(*row) for row in rows]


def parked(conn: sqlite3.Connection, reactor: str | None) -> list[ParkedDelivery]:
    where = "" if reactor is None else " WHERE reactor = ?"
    rows = conn.execute(
        f"SELECT {PARKED_COLUMNS} FROM parked_deliveries{where}"
        " ORDER BY reactor, position, effect_id",
        () if reactor is None else (reactor,),
    )
    return [parked_from_row(row) for row in rows]


def redrive(conn: sqlite3.Connection, effect_ids: list[str] | None) -> int:
    def run() -> int:
        if effect_ids is None:
            return conn.execute("UPDATE parked_deliveries SET redrive = 1").rowcount
        return sum(
            conn.execute(
                "UPDATE parked_deliveries SET redrive = 1 WHERE effect_id = ?", (effect_id,)
            ).rowcount
            for effect_id in effect_ids
        )

    return _transaction(conn, run)


class DeliveriesStore:
    """`SqliteEventStore`'s `Deliveries` (see `store.deliveries`)."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def start_reactor(self, reactor: str) -> int:
        return await self._write_now(partial(start_reactor, reactor=reactor))

    async def reactor_positions(self) -> dict[str, int]:
        return await self._read(reactor_positions)

    async def head_position(self) -> int:
        return await self._read(head_position)

    async def accepted_effects(self, reactor: str, effect_ids: Sequence[str]) -> set[str]:
        if not effect_ids:
            return set()
        read = partial(accepted_effects, reactor=reactor, effect_ids=list(effect_ids))
        return await self._read(read)

    async def record_deliveries(
        self,
        reactor: str,
        *,
        accepted: Sequence[tuple[str, int]] = (),
        parked: Sequence[ParkedDelivery] = (),
        reminders_done: Sequence[Reminder] = (),
    ) -> None:
        write = partial(record_deliveries, reactor=reactor, accepted=accepted, parked=parked)
        await self._write_now(partial(write, reminders_done=reminders_done))

    async def advance_reactor(
        self,
        reactor: str,
        position: int,
        *,
        reminders: Sequence[Reminder] = (),
        cleared: Sequence[str] = (),
    ) -> None:
        write = partial(advance_reactor, reactor=reactor, position=position)
        await self._write_now(partial(write, reminders=reminders, cleared=cleared))

    async def reminders(self, reactor: str) -> list[Reminder]:
        return await self._read(partial(reminders, reactor=reactor))

    async def parked(self, reactor: str | None = None) -> list[ParkedDelivery]:
        return await self._read(partial(parked, reactor=reactor))

    async def redrive(self, effect_ids: Sequence[str] | None = None) -> int:
        return await self._write_now(partial(redrive, effect_ids=unique_ids(effect_ids)))
