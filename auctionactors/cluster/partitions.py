"""Auctions hash into a fixed number of partitions; live nodes share the partitions fairly.

Pure: every node computes the same partition of an auction and the same assignment of
partitions to the live nodes, so no coordination is needed beyond agreeing on who is alive
(the node table) and who holds what (the advisory locks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

PARTITIONS = 64
"""How many partitions a new cluster database gets. Fixed for the database's life: a node reads
the count stored by the first node, so every node hashes alike."""

LOCK_SPACE = 0x61610001
"""The first key of every partition's advisory lock (``pg_try_advisory_lock(LOCK_SPACE, p)``):
keeps the cluster's locks apart from any other use of advisory locks in the database."""


def partition_of(stream_id: str, count: int) -> int:
    """The partition of an auction (a stream): a stable hash (blake2b, not Python's salted
    ``hash``), the same in every process and every release."""
    digest = hashlib.blake2b(stream_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def _weight(node_id: str, partition: int) -> bytes:
    return hashlib.blake2b(f"{partition}:{node_id}".encode(), digest_size=8).digest()


def quotas(nodes: Sequence[str], count: int) -> dict[str, int]:
    """How many partitions each node takes: ``count // len(nodes)``, one more for the first
    ``count % len(nodes)`` nodes in id order."""
    ordered = sorted(nodes)
    base, extra = divmod(count, len(ordered)) if ordered else (0, 0)
    return {node: base + (1 if i < extra else 0) for i, node in enumerate(ordered)}


def fair_share(nodes: Collection[str], count: int) -> dict[str, frozenset[int]]:
    """Which partitions each live node should own: every partition goes to the node that ranks
    it highest (rendezvous hashing) among those with room left in their quota. Deterministic in
    the set of nodes, so every node computes the same answer; a node's arrival or departure
    moves roughly a fair share of partitions, not all of them."""
    room = quotas(list(nodes), count)
    owned: dict[str, set[int]] = {node: set() for node in room}
    for partition in range(count):
        ranked = sorted(room, key=lambda node: _weight(node, partition), reverse=True)
        for node in ranked:
            if room[node] > 0:
                room[node] -= 1
                owned[node].add(partition)
                break
    return {node: frozenset(parts) for node, parts in owned.items()}
