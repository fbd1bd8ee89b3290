"""The node table: registration, heartbeat, and eviction of dead or paused nodes.

Time is the database's (``now()``), never a node's own clock, so nodes with skewed clocks agree
on whose lease has run out. A node is dead when the backend of its lock connection is gone (a
killed process: PostgreSQL notices the closed socket at once) or when its heartbeat is older
than the lease (a paused or cut-off process whose session may still look alive). Evicting a node
terminates every session of it (all its connections carry its `application_name`), which ends
its advisory locks and rolls back whatever transaction it had open.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

NODE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,40}")


def check_node_id(node_id: str) -> str:
    """The node id as given, or `ValueError` (1-40 letters, digits and ``_.:-``)."""
    if not NODE_ID.fullmatch(node_id):
        raise ValueError(f"bad node id {node_id!r}: 1-40 letters, digits and _.:-")
    return node_id


def application_name(node_id: str) -> str:
    """The ``application_name`` of every connection of the node: how eviction finds them."""
    return f"auctionactors/{node_id}"


class NodeRow(msgspec.Struct, frozen=True):
    """A node as `nodes` lists it (for ``status``): ``heartbeat_age_s`` on the database's
    clock (its lag: how long ago it last proved it holds its partitions), ``partitions`` those
    it owns."""

    node_id: str
    advertise: str
    heartbeat_age_s: float
    partitions: tuple[int, ...]


async def register(conn: Any, node_id: str, advertise: str, incarnation: str) -> None:
    """Add the node (or replace a former incarnation of it) with a fresh heartbeat and the pid
    of ``conn``, its lock connection."""
    await conn.execute(
        """
        INSERT INTO cluster_nodes (node_id, advertise, incarnation, lock_pid)
        VALUES ($1, $2, $3, pg_backend_pid())
        ON CONFLICT (node_id) DO UPDATE SET
            advertise = EXCLUDED.advertise, incarnation = EXCLUDED.incarnation,
            lock_pid = EXCLUDED.lock_pid, started_at = now(), heartbeat_at = now()
        """,
        node_id,
        advertise,
        incarnation,
    )


async def heartbeat(conn: Any, node_id: str, incarnation: str) -> bool:
    """Renew the node's lease; False when its row is gone or belongs to another incarnation
    (the node was evicted: it must step down and join again)."""
    row = await conn.fetchval(
        """
        UPDATE cluster_nodes SET heartbeat_at = now()
        WHERE node_id = $1 AND incarnation = $2 RETURNING 1
        """,
        node_id,
        incarnation,
    )
    return row is not None


async def evict(conn: Any, node_id: str, lease_s: float) -> list[str]:
    """Remove every other node that is dead (its lock connection's backend is gone) or whose
    heartbeat is older than ``lease_s``, and terminate all its sessions. Returns their ids."""
    gone: list[str] = [
        r["node_id"]
        for r in await conn.fetch(
            """
            DELETE FROM cluster_nodes n
            WHERE n.node_id <> $1 AND (
                n.heartbeat_at < now() - make_interval(secs => $2)
                OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = n.lock_pid))
            RETURNING n.node_id
            """,
            node_id,
            lease_s,
        )
    ]
    if gone:
        await conn.execute(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = ANY($1::text[]) AND pid <> pg_backend_pid()
            """,
            [application_name(n) for n in gone],
        )
        await conn.execute(
            "UPDATE cluster_partitions SET owner = NULL WHERE owner = ANY($1::text[])", gone
        )
        await conn.execute(
            "UPDATE cluster_roles SET owner = NULL WHERE owner = ANY($1::text[])", gone
        )
    return gone


async def live(conn: Any) -> dict[str, str]:
    """The registered nodes, by id, with their advertise addresses."""
    rows = await conn.fetch("SELECT node_id, advertise FROM cluster_nodes ORDER BY node_id")
    return {r["node_id"]: r["advertise"] for r in rows}


async def nodes(conn: Any) -> list[NodeRow]:
    """Every registered node with its heartbeat's age and its partitions (``status``)."""
    rows = await conn.fetch(
        """
        SELECT n.node_id, n.advertise,
               extract(epoch FROM now() - n.heartbeat_at)::float8 AS age,
               coalesce(array_agg(p.partition ORDER BY p.partition)
                        FILTER (WHERE p.partition IS NOT NULL), '{}') AS parts
        FROM cluster_nodes n LEFT JOIN cluster_partitions p ON p.owner = n.node_id
        GROUP BY n.node_id ORDER BY n.node_id
        """
    )
    return [NodeRow(r["node_id"], r["advertise"], r["age"], tuple(r["parts"])) for r in rows]
