"""The cluster's tables (migration 10 of `store.postgres_migrations`; 1-9 are the store's).

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
from auctionactors.store import postgres_migrations as migrations


async def migrate(conn: Any) -> None:
    """Bring the database's schema up to date: the store's migrations, the cluster's included
    (a node may join before any store has opened the database)."""
    await migrations.migrate(conn)


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
