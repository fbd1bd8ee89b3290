"""`patching.render` as the fan-out calls it: one `Solutions` object per update for every
receiver (so the suppliers' `Shelf` is really shared; some receivers get another one), some
receivers missing an update (their next frame is fresh), and the frames' views decoded late,
after every later command: each patch turns the receiver's previous view into its view now,
and a frame made earlier still holds the view of its own state."""

from __future__ import annotations

from typing import Any

import jsonpatch
import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain import parts
from auctionactors.domain.access import Viewer
from auctionactors.domain.decide import decide
from auctionactors.domain.solutions import compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import DomainError
from auctionactors.gateway import patching
from auctionactors.gateway.peer import receiver_of
from tests.domain.scenario import ADMIN, BUYER, S1, S2, S3, create, fold_events
from tests.domain.test_properties import CREATED, MIXED_STEPS, MIXED_TERMS, Act, mixed_command

VIEWERS = [Viewer(c.company_id, c.role) for c in (S1, S2, S3, BUYER, ADMIN)]

# Per update: the order the receivers are rendered in, the one that misses it (-1: none), and
# whether the odd ones get a `Solutions` object of their own.
ORDERS = st.tuples(
    st.permutations(range(len(VIEWERS))), st.integers(-1, len(VIEWERS) - 1), st.booleans()
)


def view_of(state: AuctionState, viewer: Viewer) -> Any:
    rendered = parts.render(state, viewer)
    if rendered is None:
        return None
    return msgspec.json.decode(msgspec.json.encode(rendered.document()))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(MIXED_TERMS)),
    st.lists(MIXED_STEPS, min_size=20, max_size=80),
    st.lists(ORDERS, min_size=80, max_size=80),
)
def test_suppliers_sharing_one_rendering_get_their_own_views(
    terms_name: str, acts: list[Act], orders: list[tuple[list[int], int, bool]]
) -> None:
    now = CREATED
    events = decide(None, create(BUYER, MIXED_TERMS[terms_name]), now)
    state = fold_events(events)
    assert state is not None
    docs: dict[int, Any] = {}
    late: list[tuple[patching.Patched, Any]] = []
    first_seq = 1
    for k, act in enumerate([None, *acts]):
        if act is not None:
            now += act.delta
            try:
                events = decide(state, mixed_command(act, state, now), now)
            except DomainError:
                continue
            if not events:
                continue
            first_seq = state.seq + 1
            for event in events:
                state = evolve(state, event)
        order, skip, split = orders[k % len(orders)]
        sols = compute(state)
        for i in order:
            viewer = VIEWERS[i]
            if i == skip:  # misses this update: its next frame is fresh
                docs.pop(i, None)
                continue
            own = compute(state) if split and i % 2 else sols
            made = patching.render(
                state, viewer, receiver_of(viewer), now, own, first_seq, events, fresh=i not in docs
            )
            expected = view_of(state, viewer)
            if made is None:
                docs.pop(i, None)
                continue
            if i not in docs:
                docs[i] = msgspec.json.decode(made.first())["view"]
            else:
                frame = msgspec.json.decode(made.patch)
                docs[i] = jsonpatch.apply_patch(docs[i], frame["patch"])
            assert docs[i] == expected, (i, made.patch)
            late.append((made, expected))
    for made, expected in late:  # decoded after every later command
        assert msgspec.json.decode(made.first())["view"] == expected
        assert msgspec.json.decode(made.whole())["patch"][0]["value"] == expected
