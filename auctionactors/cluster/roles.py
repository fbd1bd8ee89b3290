"""Roles: work that exactly one node of the cluster does at a time (the notification reactors).

A role is held like a partition (`ownership`): a session-level advisory lock on the node's lock
connection (key ``(ROLE_SPACE, role_key(name))``) plus an epoch in ``cluster_roles`` (migration
11 of `store.postgres_migrations`), bumped by every node that takes the role (its fencing
token). `fence.PartitionFence.check_role` compares the epoch inside the role's own writes (a
reactor's accepted records and checkpoint), ``FOR SHARE``: a node that lost the role (killed,
paused past its lease and evicted, cut off) can write nothing more for it, and the new holder's
bump waits for a write in progress to commit, so that it reads that write. Any node may take any
role: the first to try gets it; the others try again every round (a dead holder's lock is gone
with its session).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

ROLE_SPACE = 0x61610002
"""The first key of every role's advisory lock (the partitions' is ``LOCK_SPACE``)."""


def role_key(name: str) -> int:
    """The second key of the role's advisory lock: a stable 32-bit hash of its name (two names
    with one key would just be held together, by one node)."""
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


async def take(conn: Any, node_id: str, names: list[str]) -> dict[str, int]:
    """Try the locks of ``names`` on the lock connection ``conn``; for those got, bump the epoch
    and record the owner. The roles taken, with their new epochs."""
    got = [
        name
        for name in names
        if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", ROLE_SPACE, role_key(name))
    ]
    if not got:
        return {}
    rows = await conn.fetch(
        """
        INSERT INTO cluster_roles AS r (name, epoch, owner, acquired_at)
        SELECT n, 1, $1, now() FROM unnest($2::text[]) n
        ON CONFLICT (name) DO UPDATE SET epoch = r.epoch + 1, owner = $1, acquired_at = now()
        RETURNING name, epoch
        """,
        node_id,
        got,
    )
    return {r["name"]: r["epoch"] for r in rows}


async def give_back(conn: Any, node_id: str, names: list[str]) -> None:
    """Hand ``names`` back: no owner, and the locks released (a node leaving cleanly)."""
    await conn.execute(
        "UPDATE cluster_roles SET owner = NULL WHERE name = ANY($2::text[]) AND owner = $1",
        node_id,
        names,
    )
    for name in names:
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", ROLE_SPACE, role_key(name))


@dataclass(frozen=True)
class RoleRow:
    name: str
    owner: str | None
    epoch: int


async def holders(conn: Any) -> list[RoleRow]:
    """Every role with its current owner (None: nobody right now) and epoch (``status``)."""
    rows = await conn.fetch("SELECT name, owner, epoch FROM cluster_roles ORDER BY name")
    return [RoleRow(r["name"], r["owner"], r["epoch"]) for r in rows]
