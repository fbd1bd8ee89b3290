"""`patching.render` for suppliers, without sockets: after a bid, the suppliers it changes
nothing of their own for share one patch and one frame (the same bytes), the bidder gets its
own, and each patch turns that supplier's previous view into its view now."""

from __future__ import annotations

from typing import Any

import jsonpatch
import msgspec

from auctionactors.domain import parts
from auctionactors.domain.access import Viewer
from auctionactors.domain.events import Event
from auctionactors.domain.solutions import compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.gateway import patching
from auctionactors.gateway.peer import receiver_of
from tests.domain.scenario import S1, S2, S3, T0, created, fold_events, make_terms, placed, started

SUPPLIERS = [Viewer(c.company_id, c.role) for c in (S1, S2, S3)]


def frames(
    state: AuctionState, first_seq: int, events: list[Event], *, fresh: bool = False
) -> list[patching.Patched]:
    sols = compute(state)
    out = []
    for viewer in SUPPLIERS:
        made = patching.render(
            state, viewer, receiver_of(viewer), T0, sols, first_seq, events, fresh=fresh
        )
        assert made is not None
        out.append(made)
    return out


def view_of(state: AuctionState, viewer: Viewer) -> Any:
    rendered = parts.render(state, viewer)
    assert rendered is not None
    return msgspec.json.decode(msgspec.json.encode(rendered.document()))


def test_suppliers_with_nothing_of_their_own_share_the_frame() -> None:
    events: list[Event] = [created(make_terms(2)), started(), placed(3, S2, 900, at=T0 + 1)]
    state = fold_events(events)
    first = frames(state, 1, events, fresh=True)
    docs = [msgspec.json.decode(f.first())["view"] for f in first]
    for seq, event in ((4, placed(4, S1, 500, at=T0 + 2)), (5, placed(5, S1, 400, at=T0 + 3))):
        state = evolve(state, event)
        s1, s2, s3 = frames(state, seq, [event])
        assert s2.patch is not s1.patch
        if seq == 5:  # S2 led before S1's first bid; S3 never bid: nothing of their own changed
            assert s3.patch is s2.patch
        for i, made in enumerate((s1, s2, s3)):
            frame = msgspec.json.decode(made.patch)
            assert frame["seq"] == seq
            docs[i] = jsonpatch.apply_patch(docs[i], frame["patch"])
            assert docs[i] == view_of(state, SUPPLIERS[i])
