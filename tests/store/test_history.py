"""The bid history in snapshots: a load keeps it encoded (no parsing, no copy), `history()`
decodes it when asked, and the canonical encoding is the same whatever the load path (folded
from seq 1, or any chain of snapshots each followed by more events)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain.access import Viewer
from auctionactors.domain.state import AuctionState, Bid, fold
from auctionactors.domain.views import view
from auctionactors.errors import CorruptionError
from auctionactors.store.base import Snapshot
from auctionactors.store.codec import (
    SNAPSHOT_VERSION,
    canonical,
    decode_snapshot,
    encode_snapshot,
)
from tests.domain.scenario import AID, OBSERVER, S1, S2, fold_events, opened
from tests.domain.test_properties import CREATED, MIXED_STEPS, MIXED_TERMS, Act, run_mixed

VIEWERS = [
    Viewer("buyer", "buyer"),
    Viewer("admin", "admin"),
    Viewer(OBSERVER.company_id, "observer"),
    Viewer(S1.company_id, "supplier"),
    Viewer(S2.company_id, "supplier"),
]


def reloaded(state: AuctionState) -> AuctionState:
    """The state through a snapshot, as a rebuild loads it."""
    snapshot = encode_snapshot(state)
    loaded = decode_snapshot(state.auction_id, snapshot)
    assert loaded.history_raw.obj is snapshot.data  # kept, not copied
    return loaded


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(sorted(MIXED_TERMS)),
    st.lists(MIXED_STEPS, min_size=20, max_size=80),
    st.data(),
)
def test_a_chain_of_snapshots_and_events_gives_the_live_state(
    terms_name: str, acts: list[Act], data: st.DataObject
) -> None:
    live, kept = run_mixed(terms_name, acts)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(kept)), min_size=1, max_size=4)))
    state = fold_events(kept[: cuts[0]])
    assert state is not None
    for start, end in zip(cuts, [*cuts[1:], len(kept)], strict=True):
        state = reloaded(state)
        state = fold(kept[start:end], state)
        assert state is not None
        assert "history_decoded" not in state.__dict__  # loading and folding never decode it
    assert state.history() == live.history()
    assert state.bids == live.bids and list(state.bids) == list(live.bids)
    assert canonical(state) == canonical(live)
    now = CREATED + sum(a.delta for a in acts)
    for viewer in VIEWERS:
        assert view(state, viewer, now) == view(live, viewer, now)


def bids(n: int) -> list[Bid]:
    return [
        Bid(
            bid_id=f"{AID}:{i}",
            seq=i,
            product_id="p1",
            supplier_id="s1",
            amount=100 + i,
            min_amount=None,
            allow_split=True,
            comment=None,
            traded=False,
            is_auto=False,
            original_time_entered=i,
            placed_at=i,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("n", "first"),
    [(0, 0), (3, 0), (3, 3), (15, 7), (16, 15), (17, 16), (65535, 100), (65536, 65535), (65537, 9)],
)
def test_merging_the_history_gives_the_bytes_of_encoding_it_whole(n: int, first: int) -> None:
    """Across msgpack's array header sizes (fixarray < 16, array 16 < 65536, array 32)."""
    state = fold_events(opened())
    assert state is not None
    everything = bids(n)
    state.history_new = everything[:first]
    canonical(state)
    assert state.history_new == []
    state.history_new += everything[first:]
    canonical(state)
    assert bytes(state.history_raw) == msgspec.msgpack.encode(everything)
    assert state.history() == everything


def test_a_decoded_history_is_kept_across_snapshots() -> None:
    """After the first `history()`, snapshots merge into the decoded copy: no second decoding."""
    state = fold_events(opened())
    assert state is not None
    state.history_new = bids(5)
    state = reloaded(state)
    first = state.history()
    state.history_new.append(bids(6)[5])
    encode_snapshot(state)
    kept = state.__dict__["history_decoded"]
    assert kept[0] is state.history_raw and kept[1] == bids(6) and first == bids(5)
    assert state.history() == bids(6)


def test_a_snapshot_whose_history_is_not_an_array_is_corrupt() -> None:
    state = fold_events(opened())
    assert state is not None
    state.history_raw = memoryview(msgspec.msgpack.encode({"not": "an array"}))
    data = msgspec.msgpack.encode(state)
    with pytest.raises(CorruptionError, match="bid history is not an array"):
        decode_snapshot(state.auction_id, Snapshot(state.seq, SNAPSHOT_VERSION, data))
    state.history_raw = memoryview(b"")
    data = msgspec.msgpack.encode(state)
    with pytest.raises(CorruptionError, match="bid history is not an array"):
        decode_snapshot(state.auction_id, Snapshot(state.seq, SNAPSHOT_VERSION, data))
