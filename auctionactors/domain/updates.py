"""What every protocol-2 receiver of one update shares (`parts`): what its events may have
changed (`touched`, `scope_of`) and their encodings per form of receiver (`filtered_events`),
found once per update and kept beside the state (in its ``__dict__``, like the views' parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from auctionactors.domain.access import Viewer, audience, can_see
from auctionactors.domain.events import (
    AutoBidTriggered,
    BargeApproved,
    BargeRejected,
    BargeSubmitted,
    BargeUnsubmitted,
    BidPlaced,
    BidsRevoked,
    CommentDeleted,
    CommentPosted,
    DurationExtended,
    Event,
    RsvpGiven,
)
from auctionactors.domain.redaction import filter_events
from auctionactors.domain.state import AuctionState

__all__ = ["EVERYTHING", "Touched", "filtered_events", "scope_of", "touched"]

_encode = msgspec.json.Encoder().encode
_EVENTS = "filtered_events"  # kept in the state's ``__dict__``: the latest update's `_Update`


class Touched(msgspec.Struct, frozen=True):
    """What a command's events may have changed besides the top-level fields and the
    solutions (always rendered again): these products (None: all of them), the barges, the
    comments."""

    products: frozenset[str] | None
    barges: bool
    comments: bool


EVERYTHING = Touched(None, True, True)
_BARGES = (BargeSubmitted, BargeUnsubmitted, BargeApproved, BargeRejected)
_COMMENTS = (CommentPosted, CommentDeleted)


def touched(events: Iterable[Event]) -> Touched:
    """What ``events`` may have changed in any receiver's view. Anything but bids, barges,
    comments, RSVPs and extensions (a start, an end, a selection, an edit: rare) may change
    every part."""
    products: set[str] = set()
    barges = comments = False
    for event in events:
        if isinstance(event, BidPlaced | AutoBidTriggered | BidsRevoked):
            products.add(event.product_id)
        elif isinstance(event, _BARGES):
            barges = True
        elif isinstance(event, _COMMENTS):
            comments = True
        elif not isinstance(event, DurationExtended | RsvpGiven):
            return EVERYTHING
    return Touched(frozenset(products), barges, comments)


def filtered_events(
    state: AuctionState,
    viewer: Viewer,
    first_seq: int,
    events: Sequence[Event],
    *,
    visible: bool = False,
) -> msgspec.Raw | None:
    """`redaction.filter_events`, encoded, made once per update for every receiver that sees
    its events alike: one kind of receiver but suppliers, and suppliers that are neither the
    subject nor the actor of any of them (the others each their own). ``visible``: the caller
    knows the viewer may see the auction (it just rendered its view)."""
    if not visible and not can_see(state, viewer):
        return None
    made = _update(state, first_seq, events)
    kind = audience(state, viewer)
    me = viewer.company_id if kind == "supplier" and viewer.company_id in made.involved else None
    text = made.texts.get((kind, me))
    if text is None:
        out = filter_events(state, viewer, first_seq, list(events)) or []
        text = made.texts[(kind, me)] = msgspec.Raw(_encode(out))
    return text


def scope_of(state: AuctionState, first_seq: int, events: Sequence[Event]) -> Touched:
    """`touched` of an update's events, found once for every receiver."""
    made = _update(state, first_seq, events)
    if made.scope is None:
        made.scope = touched(events)
    return made.scope


class _Update:
    """What every receiver of one update shares (beside the state): its events (from
    ``first_seq``), their subjects and actors, their encodings per form, their `Touched`."""

    __slots__ = ("events", "first_seq", "involved", "scope", "texts")

    def __init__(self, events: Sequence[Event], first_seq: int) -> None:
        self.events = events
        self.first_seq = first_seq
        self.involved: set[str | None] = set()
        for event in events:
            self.involved.add(getattr(event, "supplier_id", None))
            if event.by is not None:
                self.involved.add(event.by.company_id)
        self.texts: dict[tuple[str, str | None], msgspec.Raw] = {}
        self.scope: Touched | None = None


def _update(state: AuctionState, first_seq: int, events: Sequence[Event]) -> _Update:
    made: _Update | None = state.__dict__.get(_EVENTS)
    if made is None or made.events is not events or made.first_seq != first_seq:
        made = state.__dict__[_EVENTS] = _Update(events, first_seq)
    return made
