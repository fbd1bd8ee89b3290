"""Protocol 2's views in parts (`domain.parts`): for random sequences of every command, and every
receiver (admin, buyer, each supplier, the observer), folding the patches made after each
command (from the parts that command touched, against the previous rendering) into the first
view gives exactly the view rendered afresh, which is protocol 1's view without the bid history
and ``server_time``. Patches are applied with `jsonpatch` (python-json-patch), an independent
implementation of RFC 6902."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import msgspec
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain import parts, patches
from auctionactors.domain.access import Viewer
from auctionactors.domain.decide import decide
from auctionactors.domain.events import Event
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.views import view
from auctionactors.errors import DomainError
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    OBSERVER,
    S1,
    S2,
    S3,
    T0,
    create,
    created,
    fold_events,
    make_terms,
    placed,
    started,
)
from tests.domain.test_properties import CREATED, MIXED_STEPS, MIXED_TERMS, Act, mixed_command

VIEWERS = [Viewer(c.company_id, c.role) for c in (ADMIN, BUYER, S1, S2, S3, OBSERVER)]


def decoded(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def bounded(doc: dict[str, Any]) -> dict[str, Any]:
    """Protocol 1's view as protocol 2 has it: no history, no server_time."""
    out = copy.deepcopy(doc)
    del out["server_time"]
    for product in out["products"]:
        del product["history"]
    return out


class Receiver:
    """One receiver's side: its latest rendering (the server's) and the document it holds."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.rendered: parts.Parts | None = None
        self.doc: dict[str, Any] | None = None
        self.patches = 0

    def update(self, state: AuctionState, events: list[Event]) -> None:
        previous = self.rendered
        advanced = None
        if previous is not None:
            scope = parts.touched(events)
            new = parts.render(state, self.viewer, None, previous, scope)
            advanced = parts.advance(state, self.viewer, None, previous, scope)
        else:
            new = parts.render(state, self.viewer)
        if advanced is not None:  # the one-pass way gives what render and diff give
            assert previous is not None and new is not None
            note_event("advanced")
            assert decoded(advanced[0].document()) == decoded(new.document())
            assert decoded(advanced[1]) == decoded(parts.diff(previous, new))
            new = advanced[0]
        self.rendered = new
        if new is None:
            self.doc = None
            return
        if previous is None or self.doc is None:
            self.doc = decoded(new.document())
            return
        ops = decoded(advanced[1] if advanced is not None else parts.diff(previous, new))
        self.doc = jsonpatch.apply_patch(self.doc, ops)
        self.patches += 1
        for op in ops:  # a patch names the parts that changed, never the whole document
            assert op["path"] != "", op

    def check(self, state: AuctionState, now: int) -> None:
        fresh = parts.render(state, self.viewer)
        whole = view(state, self.viewer, now)
        if fresh is None:
            assert whole is None and self.doc is None
            return
        assert whole is not None
        expected = decoded(fresh.document())
        assert expected == bounded(decoded(whole))
        assert self.doc == expected


def run(terms_name: str, acts: list[Act]) -> list[Receiver]:
    now = CREATED
    events = decide(None, create(BUYER, MIXED_TERMS[terms_name]), now)
    state = fold_events(events)
    assert state is not None
    receivers = [Receiver(v) for v in VIEWERS]
    for r in receivers:
        r.update(state, events)
        r.check(state, now)
    for act in acts:
        now += act.delta
        command = mixed_command(act, state, now)
        try:
            events = decide(state, command, now)
        except DomainError:
            continue
        if not events:
            continue
        for event in events:
            state = evolve(state, event)
        note_event(f"applied {act.kind}")
        for r in receivers:
            r.update(state, events)
            r.check(state, now)
    return receivers


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(MIXED_TERMS)), st.lists(MIXED_STEPS, min_size=20, max_size=80))
def test_folding_the_patches_gives_the_view_for_every_receiver(
    terms_name: str, acts: list[Act]
) -> None:
    receivers = run(terms_name, acts)
    note_event(f"patches applied: {min(sum(r.patches for r in receivers), 50) // 10 * 10}+")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 6), max_size=8),
    st.lists(st.integers(0, 6), max_size=8),
    st.integers(0, 3),
)
def test_list_operations_turn_one_list_into_the_other(
    old: list[int], new: list[int], move: int
) -> None:
    if move and old:  # the common case: one element moves to the top, or to the bottom
        new = [old[-1], *old[:-1]] if move == 1 else [*old[1:], 9] if move == 2 else new
    encode = msgspec.json.encode
    ops: list[dict[str, Any]] = []
    patches.list_ops("/xs", [encode(x) for x in old], [encode(x) for x in new], ops)
    assert jsonpatch.apply_patch({"xs": old}, decoded(ops)) == {"xs": new}
    if move == 1 and len(old) > 1 and old[-1] != old[0]:
        assert len(ops) <= 2


def test_a_suppliers_rendering_made_later_is_the_one_of_its_state() -> None:
    """A supplier's products are made from the suppliers' shared rendering only when asked for
    (a whole view, maybe at delivery): by then the state may have moved on, in place; what is
    made is still the view of the state it was rendered from."""
    state = fold_events([created(make_terms(2)), started(), placed(3, S1, 500, at=T0 + 1)])
    viewer = Viewer(S1.company_id, S1.role)
    lazy = parts.render(state, viewer)
    now = parts.render(state, viewer)
    assert lazy is not None and now is not None
    expected = decoded(now.document())
    for event in (
        placed(4, S1, 400, at=T0 + 2),
        placed(5, S2, 300, at=T0 + 3),
        placed(6, S1, 200, at=T0 + 4, product_id="p2"),
    ):
        state = evolve(state, event)
    assert decoded(lazy.document()) == expected
    assert expected["products"][0]["bids"][0]["supplier"]["id"] == S1.company_id
