"""Partitions: a stable hash, and one fair share that every node computes alike."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from auctionactors.cluster.partitions import fair_share, partition_of, quotas


def test_partition_is_stable_across_processes() -> None:
    # Pinned values: a change of hash (e.g. to Python's salted hash()) would move every auction
    # of a running cluster, and fails here.
    assert partition_of("a-000000000000", 64) == 4
    assert partition_of("a-000000000000", 7) == 6
    assert [partition_of(f"a-{i}", 64) for i in range(5)] == [32, 42, 61, 34, 62]
    assert len({partition_of(f"a-{i:012x}", 64) for i in range(2000)}) == 64


@given(st.sets(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=9))
def test_fair_share_covers_every_partition_once_within_quotas(nodes: set[str]) -> None:
    shares = fair_share(nodes, 64)
    owned = list(itertools.chain.from_iterable(shares.values()))
    assert sorted(owned) == list(range(64))
    sizes = sorted(len(s) for s in shares.values())
    assert sizes[-1] - sizes[0] <= 1
    assert {n: len(s) for n, s in shares.items()} == quotas(list(nodes), 64)


def test_fair_share_is_the_same_whatever_the_order() -> None:
    assert fair_share(["b", "a", "c"], 64) == fair_share(["c", "b", "a"], 64)
    # Pinned: every node of a running cluster must compute this same assignment.
    assert fair_share(["n1", "n2", "n3"], 8) == {
        "n1": frozenset({0, 2, 6}),
        "n2": frozenset({1, 4, 5}),
        "n3": frozenset({3, 7}),
    }


def test_a_joining_node_moves_about_its_share() -> None:
    before = fair_share(["n1", "n2"], 64)
    after = fair_share(["n1", "n2", "n3"], 64)
    moved = sum(len(before[n] - after[n]) for n in before)
    assert len(after["n3"]) == 21
    assert moved < 40  # not a reshuffle of all 64
