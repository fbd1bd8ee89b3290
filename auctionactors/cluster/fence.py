"""The fence the PostgreSQL store calls inside every append's transaction.

`PartitionFence.check` refuses an append (`Fenced`: nothing is written) unless this node holds
every partition the append touches at the epoch stored in ``cluster_partitions``. It reads
those rows ``FOR SHARE``: a takeover's epoch bump (an ``UPDATE`` of the row) then either waits
for the append to commit (and the new owner's replay, which starts after its bump, sees the
append) or commits first (and the check sees the new epoch). So a paused former owner can never
write after a takeover, whatever its session still believes. Once the append may go on, the
check also announces it to the other nodes (`notices.announce`: sent on commit only).
`PartitionFence.check_role` does the same for a role's writes (`roles`: a reactor's records).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from auctionactors.cluster.notices import announce
from auctionactors.cluster.ownership import Ownership
from auctionactors.cluster.partitions import partition_of
from auctionactors.errors import Fenced


class PartitionFence:
    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership

    async def check(self, conn: Any, stream_ids: Collection[str]) -> None:
        """`Fenced` unless this node holds every partition of ``stream_ids`` at its stored
        epoch; called with ``conn`` inside the append's transaction."""
        ownership = self.ownership
        if ownership.count == 0:
            raise Fenced(f"node {ownership.node_id} owns no partition yet")
        wanted = sorted({partition_of(s, ownership.count) for s in stream_ids})
        self._held(wanted)
        rows = await conn.fetch(
            "SELECT partition, epoch FROM cluster_partitions"
            " WHERE partition = ANY($1::int[]) FOR SHARE",
            wanted,
        )
        self._held(wanted)  # lost meanwhile (the lock connection ended): refuse all the same
        stale = frozenset(
            r["partition"] for r in rows if ownership.held.get(r["partition"]) != r["epoch"]
        )
        if stale:
            ownership.fenced(stale)
            raise Fenced(
                f"node {ownership.node_id} was fenced: partitions {sorted(stale)} were taken over"
            )
        await announce(conn, stream_ids)  # to the followers on other nodes, on commit

    async def check_role(self, conn: Any, name: str) -> None:
        """`Fenced` unless this node holds role ``name`` (`roles`: a reactor) at its stored
        epoch; called with ``conn`` inside the role's write transaction (``FOR SHARE``: a
        takeover's epoch bump waits for the write, or the write sees the bump)."""
        ownership = self.ownership
        epoch = ownership.leading.get(name)
        if epoch is None:
            raise Fenced(f"node {ownership.node_id} does not hold {name!r}: not written")
        stored = await conn.fetchval(
            "SELECT epoch FROM cluster_roles WHERE name = $1 FOR SHARE", name
        )
        if not ownership.leads(name, epoch):  # lost meanwhile
            raise Fenced(f"node {ownership.node_id} does not hold {name!r}: not written")
        if stored != epoch:
            ownership.fenced_role(name)
            raise Fenced(f"node {ownership.node_id} was fenced: {name!r} was taken over")

    def _held(self, partitions: list[int]) -> None:
        missing = [p for p in partitions if p not in self.ownership.held]
        if missing:
            raise Fenced(
                f"node {self.ownership.node_id} does not own partitions {missing}: not written"
            )
