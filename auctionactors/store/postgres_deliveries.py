"""`Deliveries` in PostgreSQL: the same semantics as `sqlite_deliveries` (see `store.deliveries`),
a mixin of `PostgresEventStore`, which gives it a pool. Writes run in one transaction each on a
pooled connection (not on the appends' writer: they never wait for a batch); a checkpoint is
locked (``FOR UPDATE``) while it moves, so nodes sharing the database never take one back.
The tables are made by migration 6 (`postgres_migrations`).

In cluster mode a reactor runs on one node at a time (`cluster.roles`); its writes
(`record_deliveries`, `advance_reactor`) then first pass the ``role_fence`` in their own
transaction, so that a node that lost the reactor writes nothing more for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from auctionactors.store.deliveries import (
    PARKED_COLUMNS,
    ParkedDelivery,
    Reminder,
    check_advance,
    parked_from_row,
    parked_values,
    unique_ids,
)

if TYPE_CHECKING:  # postgres_migrations imports SCHEMA from here
    from auctionactors.store.postgres_migrations import Conn

SCHEMA = (
    """CREATE TABLE reactor_checkpoints (
        reactor TEXT COLLATE "C" PRIMARY KEY,
        position BIGINT NOT NULL
    )""",
    """CREATE TABLE reactor_effects (
        reactor TEXT COLLATE "C" NOT NULL,
        effect_id TEXT COLLATE "C" NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (reactor, effect_id)
    )""",
    "CREATE INDEX reactor_effects_position ON reactor_effects (reactor, position)",
    """CREATE TABLE parked_deliveries (
        reactor TEXT COLLATE "C" NOT NULL,
        effect_id TEXT COLLATE "C" NOT NULL,
        position BIGINT NOT NULL,
        recipient TEXT NOT NULL,
        payload BYTEA NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        parked_at BIGINT NOT NULL,
        redrive BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (reactor, effect_id)
    )""",
    "CREATE INDEX parked_deliveries_effect ON parked_deliveries (effect_id)",
    """CREATE TABLE reactor_reminders (
        reactor TEXT COLLATE "C" NOT NULL,
        stream_id TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        due_at BIGINT NOT NULL,
        PRIMARY KEY (reactor, stream_id)
    )""",
)

HEAD = "SELECT COALESCE(MAX(position), 0) FROM events"
START = f"""INSERT INTO reactor_checkpoints (reactor, position) SELECT $1, ({HEAD})
    ON CONFLICT (reactor) DO NOTHING"""
ACCEPT = """INSERT INTO reactor_effects (reactor, effect_id, position) VALUES ($1, $2, $3)
    ON CONFLICT (reactor, effect_id) DO UPDATE SET position = EXCLUDED.position"""
PARK = f"""INSERT INTO parked_deliveries ({PARKED_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)
    ON CONFLICT (reactor, effect_id) DO UPDATE SET position = EXCLUDED.position,
        recipient = EXCLUDED.recipient, payload = EXCLUDED.payload,
        attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error,
        parked_at = EXCLUDED.parked_at, redrive = false"""
SET_CHECKPOINT = """INSERT INTO reactor_checkpoints (reactor, position) VALUES ($1, $2)
    ON CONFLICT (reactor) DO UPDATE SET position = EXCLUDED.position"""
SET_REMINDER = """INSERT INTO reactor_reminders (reactor, stream_id, key, due_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (reactor, stream_id) DO UPDATE SET key = EXCLUDED.key, due_at = EXCLUDED.due_at"""


class RoleFence(Protocol):
    """What cluster mode checks inside a reactor's writes: raise `Fenced` (nothing is written)
    unless this node still runs ``reactor`` (see `cluster.fence.PartitionFence.check_role`)."""

    async def check_role(self, conn: Any, name: str) -> None: ...


class DeliveriesStore:
    """`PostgresEventStore`'s `Deliveries` (see `store.deliveries`)."""

    role_fence: RoleFence | None = None

    async def check_reactor(self, reactor: str) -> None:
        """`Fenced` unless this node still runs ``reactor`` (cluster mode; else nothing): what
        a reactor asks the database right before sending."""
        if self.role_fence is not None:
            async with self._writable_connection() as conn, conn.transaction():
                await self.role_fence.check_role(conn, reactor)

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        raise NotImplementedError

    def _writable_connection(self) -> AbstractAsyncContextManager[Conn]:
        raise NotImplementedError

    async def start_reactor(self, reactor: str) -> int:
        """See `Deliveries.start_reactor`: the head is read in the insert's statement, and a
        reactor another node started meanwhile keeps its checkpoint."""
        async with self._writable_connection() as conn, conn.transaction():
            await conn.execute(START, reactor)
            position = await conn.fetchval(
                "SELECT position FROM reactor_checkpoints WHERE reactor = $1", reactor
            )
        return int(position)

    async def reactor_positions(self) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT reactor, position FROM reactor_checkpoints ORDER BY reactor"
        )
        return {row[0]: int(row[1]) for row in rows}

    async def head_position(self) -> int:
        return int((await self._fetch(HEAD))[0][0])

    async def accepted_effects(self, reactor: str, effect_ids: Sequence[str]) -> set[str]:
        if not effect_ids:
            return set()
        rows = await self._fetch(
            "SELECT effect_id FROM reactor_effects"
            " WHERE reactor = $1 AND effect_id = ANY($2::text[])",
            reactor,
            list(effect_ids),
        )
        return {row[0] for row in rows}

    async def record_deliveries(
        self,
        reactor: str,
        *,
        accepted: Sequence[tuple[str, int]] = (),
        parked: Sequence[ParkedDelivery] = (),
        reminders_done: Sequence[Reminder] = (),
    ) -> None:
        async with self._writable_connection() as conn, conn.transaction():
            if self.role_fence is not None:
                await self.role_fence.check_role(conn, reactor)
            if accepted:
                await conn.executemany(ACCEPT, [(reactor, e, p) for e, p in accepted])
                await conn.execute(
                    "DELETE FROM parked_deliveries WHERE reactor = $1"
                    " AND effect_id = ANY($2::text[])",
                    reactor,
                    [effect_id for effect_id, _ in accepted],
                )
            if parked:
                await conn.executemany(PARK, [parked_values(reactor, p) for p in parked])
            if reminders_done:
                await conn.executemany(
                    "DELETE FROM reactor_reminders"
                    " WHERE reactor = $1 AND stream_id = $2 AND key = $3",
                    [(reactor, r.stream_id, r.key) for r in reminders_done],
                )

    async def advance_reactor(
        self,
        reactor: str,
        position: int,
        *,
        reminders: Sequence[Reminder] = (),
        cleared: Sequence[str] = (),
    ) -> None:
        async with self._writable_connection() as conn, conn.transaction():
            if self.role_fence is not None:
                await self.role_fence.check_role(conn, reactor)
            current = await conn.fetchval(
                "SELECT position FROM reactor_checkpoints WHERE reactor = $1 FOR UPDATE", reactor
            )
            check_advance(reactor, 0 if current is None else int(current), position)
            await conn.execute(SET_CHECKPOINT, reactor, position)
            await conn.execute(
                "DELETE FROM reactor_effects WHERE reactor = $1 AND position > 0"
                " AND position <= $2",
                reactor,
                position,
            )
            if cleared:
                await conn.execute(
                    "DELETE FROM reactor_reminders WHERE reactor = $1"
                    " AND stream_id = ANY($2::text[])",
                    reactor,
                    list(cleared),
                )
            if reminders:
                await conn.executemany(
                    SET_REMINDER, [(reactor, r.stream_id, r.key, r.due_at) for r in reminders]
                )

    async def reminders(self, reactor: str) -> list[Reminder]:
        rows = await self._fetch(
            "SELECT reactor, stream_id, key, due_at FROM reactor_reminders WHERE reactor = $1"
            " ORDER BY due_at, stream_id",
            reactor,
        )
        return [Reminder(*row) for row in rows]

    async def parked(self, reactor: str | None = None) -> list[ParkedDelivery]:
        where = "" if reactor is None else " WHERE reactor = $1"
        sql = (
            f"SELECT {PARKED_COLUMNS} FROM parked_deliveries{where}"
            " ORDER BY reactor, position, effect_id"
        )
        rows = await self._fetch(sql) if reactor is None else await self._fetch(sql, reactor)
        return [parked_from_row(row) for row in rows]

    async def redrive(self, effect_ids: Sequence[str] | None = None) -> int:
        ids = unique_ids(effect_ids)
        async with self._writable_connection() as conn, conn.transaction():
            if ids is None:
                status = await conn.execute("UPDATE parked_deliveries SET redrive = true")
            else:
                status = await conn.execute(
                    "UPDATE parked_deliveries SET redrive = true WHERE effect_id = ANY($1::text[])",
                    ids,
                )
        return int(status.split()[-1])
