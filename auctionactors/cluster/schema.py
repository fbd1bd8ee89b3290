"""The cluster's tables: migration 10 of the PostgreSQL store (1-9 are the event store's).

``cluster_nodes``: one row per live node (its advertise address, the backend pid of its lock
connection, its last heartbeat on the database's clock). ``cluster_partitions``: one row per
partition with its epoch (the fencing token, bumped by every takeover) and its current owner.
The partition count is the number of rows, fixed by the first node that joins.
``cluster_settings`` keeps the node credential: a random secret made by the first node, which
nodes present to each other on node links (whoever may read the database is a node).
"""

from __future__ import annotations

import secrets
from typing import Any

from auctionactors.cluster.partitions import LOCK_SPACE

VERSION = 10

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS cluster_nodes (
        node_id text PRIMARY KEY,
        advertise text NOT NULL,
        incarnation text NOT NULL,
        lock_pid integer NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS cluster_settings (name text PRIMARY KEY, value text NOT NULL)
    """,
    """
    CREATE TABLE IF NOT EXISTS cluster_partitions (
        partition integer PRIMARY KEY,
        epoch bigint NOT NULL DEFAULT 0,
        owner text,
        acquired_at timestamptz
    )
    """,
)


async def migrate(conn: Any) -> None:
    """Create the cluster's tables if they are missing (idempotent; nodes joining at once take
    turns through a transaction-level advisory lock)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, -1)", LOCK_SPACE)
        for statement in STATEMENTS:
            await conn.execute(statement)


async def partition_count(conn: Any, default: int) -> int:
    """The database's partition count: created as ``default`` rows by the first node, then
    fixed (a later node with another default uses the stored count)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, -1)", LOCK_SPACE)
        count: int = await conn.fetchval("SELECT count(*) FROM cluster_partitions")
        if count == 0:
            await conn.execute(
                "INSERT INTO cluster_partitions (partition) SELECT generate_series(0, $1 - 1)",
                default,
            )
            count = default
    return count


async def secret(conn: Any) -> str:
    """The cluster's node credential, made by the first node that asks."""
    await conn.execute(
        "INSERT INTO cluster_settings (name, value) VALUES ('node_secret', $1)"
        " ON CONFLICT (name) DO NOTHING",
        secrets.token_urlsafe(32),
    )
    value: str = await conn.fetchval(
        "SELECT value FROM cluster_settings WHERE name = 'node_secret'"
    )
    return value
