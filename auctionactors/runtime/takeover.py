"""Cluster mode in the runtime: the supervisor acts only on auctions of partitions its node owns.

`Takeover` is the `OwnershipListener` of the node's `Ownership`. When the node takes
partitions (at start, after a node died or was paused past its lease, or at a rebalance), it
arms the timer heap with their auctions' stored deadlines: those that passed during the failover
fall due at once, and the actors they wake rebuild from the store (replay from the latest
snapshot) and act on them, without extra time. When it hands partitions back it lets their
actors finish what is queued first; when it loses them (its lock connection ended, or an append
was fenced) it stops their actors at once: nothing more is acknowledged for them here.
"""

from __future__ import annotations

from collections.abc import Callable

from auctionactors.cluster.ownership import Ownership
from auctionactors.cluster.partitions import partition_of
from auctionactors.runtime.supervisor import Supervisor


class Takeover:
    def __init__(self, supervisor: Supervisor, ownership: Ownership) -> None:
        self.supervisor = supervisor
        self.ownership = ownership
        supervisor.owns = ownership.owns
        supervisor.owner_of = ownership.owner_of
        supervisor.follow_remote = True
        ownership.listener = self

    def _in(self, partitions: frozenset[int] | set[int]) -> Callable[[str], bool]:
        count = self.ownership.count
        return lambda auction_id: partition_of(auction_id, count) in partitions

    async def acquired(self, epochs: dict[int, int]) -> None:
        taken = self._in(set(epochs))
        self.supervisor.drop(taken)  # the followers of these auctions: actors take over
        await self.supervisor.load_deadlines(taken)

    async def releasing(self, partitions: frozenset[int]) -> None:
        await self.supervisor.release(self._in(partitions))

    def lost(self, partitions: frozenset[int]) -> None:
        self.supervisor.drop(self._in(partitions))
