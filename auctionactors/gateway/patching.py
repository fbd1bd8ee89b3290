"""Protocol 2's update frames (`domain.parts`): per receiver, a patch from its previous rendering
of the auction, or the whole bounded view where a connection has no base for the patch.

`Patched` is one receiver's rendering of one update. Most connections get its patch; a
connection whose previous frame on the subscription was not at the patch's base (one subscribed
to everything, to which the auction just became visible; one that missed an update) gets the
whole view instead: as ``view`` for the first update of a subscription, else as a patch that
replaces the whole document. Those two frames are made only when someone needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from auctionactors.domain import parts, updates
from auctionactors.domain.access import Viewer
from auctionactors.domain.events import Event
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import format_instant
from auctionactors.domain.whole import WholeView
from auctionactors.gateway import protocol
from auctionactors.gateway.peer import Peer, Receiver, _Sub
from auctionactors.gateway.whole import View


class Patched:
    """One protocol-2 receiver's frames for one update (at ``seq``, patching ``base``; a
    ``base`` of None: the patch replaces the whole view, whatever the connection had)."""

    __slots__ = ("_first", "_whole", "auction_id", "base", "events", "now", "patch", "rendered")

    def __init__(
        self,
        rendered: parts.Parts,
        base: int | None,
        ops: list[dict[str, Any]] | msgspec.Raw | None,
        events: msgspec.Raw,
        now: int,
        auction_id: str,
    ) -> None:
        self.auction_id = auction_id
        self.rendered = rendered
        self.base = base
        self.events = events
        self.now = now
        self._first: bytes | None = None
        self._whole: bytes | None = None
        if ops is None:
            self.patch = self.whole()
        elif isinstance(ops, msgspec.Raw):  # maybe the same as the last receiver's (suppliers)
            last = _last_frame
            if last[0] is not ops or last[1] is not events or last[2] != now:
                last[:] = (ops, events, now, self._frame(patch=ops))
            self.patch = last[3]
        else:
            self.patch = self._frame(patch=ops)

    def _frame(self, **body: Any) -> bytes:  # (an encoded ``patch``: a `msgspec.Raw`)
        return protocol.update2(self.auction_id, self.rendered.seq, self.now, self.events, **body)

    def first(self) -> bytes:
        """The update as a subscription's first: with the whole ``view``."""
        if self._first is None:
            self._first = self._frame(view=self.rendered.document())
        return self._first

    def whole(self) -> bytes:
        """The update with a patch that replaces the whole view."""
        if self._whole is None:
            replace = {"op": "replace", "path": "", "value": self.rendered.document()}
            self._whole = self._frame(patch=[replace])
        return self._whole

    def for_sub(self, sub: _Sub | None) -> bytes:
        """The frame for a connection with subscription ``sub`` as it is now (None: subscribed
        to everything, and the auction is new to it)."""
        if sub is None:
            return self.first()
        last = sub.pending[-1][0] if sub.pending else sub.last_seq  # what it will have
        if self.base is None or last == self.base or last >= self.rendered.seq:
            return self.patch  # (one it has already is not sent at all)
        return self.whole()


# The latest frame made of an encoded patch, with that patch, its events and time: suppliers
# whose patch and events are the same objects (`parts.advance`) share it.
_last_frame: list[Any] = [None, None, None, b""]


def render(
    state: AuctionState,
    viewer: Viewer,
    receiver: Receiver,
    now: int,
    solutions: Solutions,
    first_seq: int,
    events: Sequence[Event],
    *,
    fresh: bool = False,
) -> Patched | None:
    """The update of ``events`` (from ``first_seq`` to the state's seq) for a protocol-2
    receiver, its patch made from the receiver's previous rendering when that was at
    ``first_seq`` - 1 (and not ``fresh``); None if it may no longer see the auction. The new
    rendering is kept as the base of the next patch."""
    previous = None if fresh else parts.cached(state, receiver)
    new: parts.Parts | None
    ops: list[dict[str, Any]] | msgspec.Raw | None
    if previous is not None and previous.seq == first_seq - 1:
        scope = updates.scope_of(state, first_seq, events)
        advanced = parts.advance(state, viewer, solutions, previous, scope)
        if advanced is not None:
            new, ops = advanced
        else:
            new = parts.render(state, viewer, solutions, previous, scope)
            ops = None if new is None else parts.diff(previous, new)
        base: int | None = previous.seq
    else:
        new = parts.render(state, viewer, solutions)
        ops, base = None, None
    parts.keep(state, receiver, new)
    if new is None:
        return None
    filtered = updates.filtered_events(state, viewer, first_seq, events, visible=True)
    assert filtered is not None  # (it may see the auction: its view was just rendered)
    return Patched(new, base, ops, filtered, now, state.auction_id)


def forget(state: AuctionState, receiver: Receiver) -> None:
    """The receiver's latest rendering is not what it was sent: no patch is made from it."""
    parts.keep(state, receiver, None)


def first_view(peer: Peer, state: AuctionState, now: int, solutions: Solutions) -> View | None:
    """The view of a subscription's first update for ``peer`` (None: it may not see the
    auction). Protocol 1: the whole view, to be rendered in pieces (`whole.encoded`: the state
    may change meanwhile); 2: the bounded view, kept as the base of the next update's patch."""
    if peer.protocol == 1:
        return WholeView.of(state, peer.viewer, now, solutions)
    rendered = parts.render(state, peer.viewer, solutions)
    parts.keep(state, peer.receiver, rendered)
    return None if rendered is None else rendered.document()


def first_update(
    peer: Peer,
    auction_id: str,
    seq: int,
    events: list[dict[str, Any]],
    doc: dict[str, Any],
    now: int,
) -> bytes:
    """A subscription's first update, with ``doc`` from `first_view` (`whole.encoded`)."""
    if peer.protocol == 1:
        return protocol.update(auction_id, seq, events, doc)
    return protocol.update2(auction_id, seq, now, events, view=doc)


def present(
    state: AuctionState, viewer: Viewer, protocol_version: int, now: int, solutions: Solutions
) -> dict[str, Any] | None:
    """``get_view``'s answer (``seq``, ``view``; protocol 2: the bounded view rendered afresh,
    and ``server_time`` beside it); None if the viewer may not see the auction. Protocol 1's
    ``view`` is a `WholeView`, to be rendered in pieces (`whole.encoded`)."""
    if protocol_version == 1:
        whole = WholeView.of(state, viewer, now, solutions)
        return None if whole is None else {"seq": state.seq, "view": whole}
    rendered = parts.render(state, viewer, solutions)
    if rendered is None:
        return None
    return {
        "seq": state.seq,
        "view": rendered.document(),
        "server_time": format_instant(now),
    }
