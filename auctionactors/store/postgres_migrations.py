"""Numbered PostgreSQL schema migrations, applied in order when a store opens.

The version lives in the ``schema_version`` table (one row per migration applied, with its
time). Every migration runs in its own transaction together with its row there, under a
transaction-level advisory lock, so nodes that start at once migrate one after the other and
never twice. Migrations are append-only: never edit a released one, add the next number.
Numbers 1-9 belong to the event store itself; cluster mode's tables start at 10.

Every text column that is ordered or compared with a cursor (stream ids, company names) is
``COLLATE "C"``: byte order, as Python and SQLite compare, whatever the database's locale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from auctionactors.errors import StoreError
from auctionactors.store import postgres_deliveries

# A connection of its own or one of a pool's: both run the same queries.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

Step = str | Callable[[Conn], Awaitable[None]]

# pg_advisory_xact_lock's key for migrating (any constant; "aa" "mi" "gr" in ASCII).
MIGRATION_LOCK = 0x6161_6D69_6772

MIGRATIONS: list[tuple[int, tuple[Step, ...]]] = [
    (
        1,
        (
            # position: global, in commit order (appends take POSITION_LOCK before inserting).
            """CREATE TABLE events (
                position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                stream_id TEXT COLLATE "C" NOT NULL,
                seq BIGINT NOT NULL,
                type TEXT NOT NULL,
                data BYTEA NOT NULL,
                hash BYTEA NOT NULL,
                UNIQUE (stream_id, seq)
            )""",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE companies (
                id TEXT COLLATE "C" PRIMARY KEY,
                name TEXT COLLATE "C" NOT NULL UNIQUE,
                role TEXT NOT NULL
            )""",
            """CREATE TABLE users (
                id TEXT COLLATE "C" PRIMARY KEY,
                company_id TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
                name TEXT NOT NULL
            )""",
            """CREATE TABLE tokens (
                hash BYTEA PRIMARY KEY,
                user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                revoked BOOLEAN NOT NULL DEFAULT false
            )""",
        ),
    ),
    (
        3,
        (
            # Idempotency keys (PROTOCOL.md 1.1), written with the events of their command.
            """CREATE TABLE command_keys (
                scope TEXT COLLATE "C" NOT NULL,
                user_id TEXT COLLATE "C" NOT NULL,
                key TEXT COLLATE "C" NOT NULL,
                fingerprint BYTEA NOT NULL,
                seq BIGINT NOT NULL,
                result BYTEA NOT NULL,
                stream_id TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (scope, user_id, key)
            )""",
        ),
    ),
    (
        4,
        (
            # The latest snapshot of each stream's state, written with the events it follows.
            """CREATE TABLE snapshots (
                stream_id TEXT COLLATE "C" PRIMARY KEY,
                seq BIGINT NOT NULL,
                version TEXT NOT NULL,
                data BYTEA NOT NULL
            )""",
        ),
    ),
    (
        5,
        (
            # The catalog (see store/sqlite_catalog.py for why the readers are indexed apart).
            """CREATE TABLE catalog (
                stream_id TEXT COLLATE "C" PRIMARY KEY,
                seq BIGINT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                next_deadline BIGINT,
                readers TEXT NOT NULL,
                data BYTEA NOT NULL
            )""",
            "CREATE INDEX catalog_by_created ON catalog (created_at, stream_id)",
            """CREATE INDEX catalog_by_deadline ON catalog (next_deadline, stream_id)
                WHERE next_deadline IS NOT NULL""",
            """CREATE TABLE catalog_readers (
                company_id TEXT COLLATE "C" NOT NULL,
                stream_id TEXT COLLATE "C" NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (company_id, stream_id)
            )""",
            """CREATE INDEX catalog_readers_page
                ON catalog_readers (company_id, created_at, stream_id)""",
            "CREATE INDEX catalog_readers_stream ON catalog_readers (stream_id)",
            'CREATE TABLE uncatalogued (stream_id TEXT COLLATE "C" PRIMARY KEY)',
        ),
    ),
    (
        6,
        # Notifications: users' mail addresses, and what the reactors keep (store/deliveries.py).
        ("ALTER TABLE users ADD COLUMN email TEXT", *postgres_deliveries.SCHEMA),
    ),
    (
        10,
        (
            # Cluster mode (auctionactors/cluster/): the nodes, the partitions with their epochs
            # (fencing tokens) and the node credential. Rows are written by the nodes only.
            """CREATE TABLE cluster_nodes (
                node_id TEXT COLLATE "C" PRIMARY KEY,
                advertise TEXT NOT NULL,
                incarnation TEXT NOT NULL,
                lock_pid INTEGER NOT NULL,
                started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )""",
            """CREATE TABLE cluster_partitions (
                partition INTEGER PRIMARY KEY,
                epoch BIGINT NOT NULL DEFAULT 0,
                owner TEXT COLLATE "C",
                acquired_at TIMESTAMPTZ
            )""",
            "CREATE TABLE cluster_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
    ),
    (
        11,
        (
            # Cluster mode's roles (cluster/roles.py: the reactors, one node each), with their
            # epochs (fencing tokens) and current owners.
            """CREATE TABLE cluster_roles (
                name TEXT COLLATE "C" PRIMARY KEY,
                epoch BIGINT NOT NULL DEFAULT 0,
                owner TEXT COLLATE "C",
                acquired_at TIMESTAMPTZ
            )""",
        ),
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]

CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


async def schema_version(conn: Conn) -> int:
    """The highest migration applied (0 for a new, empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    return int(version)


def check_version(version: int, latest: int = LATEST_VERSION) -> None:
    """`StoreError` for a schema this code cannot use as it is (older: a read-only open cannot
    migrate it; newer: old code could misread it)."""
    if version < latest:
        raise StoreError(
            f"database schema version {version} needs migration; run `auctionactors serve` "
            f"once to migrate it to version {latest}"
        )
    if version > latest:
        raise StoreError(
            f"database schema version {version} is newer than this program knows "
            f"({latest}); upgrade auctionactors to open it"
        )


async def migrate(conn: Conn, target: int = LATEST_VERSION) -> int:
    """Apply every migration up to ``target`` not yet applied, each in its own transaction with
    its ``schema_version`` row; returns the version reached. A database newer than this code is
    refused rather than used. A number below the highest applied is still applied when it is
    missing (the numbers are in ranges: a database that got cluster mode's 10 before the store's
    6 gets 6 too)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(CREATE_VERSION_TABLE)
    current = await schema_version(conn)
    if current > LATEST_VERSION:
        check_version(current)
    applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_version")}
    for version, steps in MIGRATIONS:
        if version in applied or version > target:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            done = await conn.fetchval("SELECT 1 FROM schema_version WHERE version = $1", version)
            if done is None:  # another node may have applied it meanwhile
                for step in steps:
                    if isinstance(step, str):
                        await conn.execute(step)
                    else:
                        await step(conn)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
    return await schema_version(conn)
