"""Reads of an auction's past (PROTOCOL.md 1.1): ``get_events`` pages, ``get_view`` at a past
seq, and a subscription's catch-up in ``history`` frames.

Every one is built in pieces, so that no request of one connection holds up the others ("Fair
sharing"): events are decoded and filtered `PIECE` at a time, each piece in the auction's actor
(or from the hub's cache) with a turn of the event loop between two pieces; a past state is
folded `replay.FOLD_PIECE` events at a time (`replay.rebuild_in_pieces`); and a catch-up sends its
next frame only once the connection has drained the previous one (`Peer.drained`), so that it
goes as fast as the client reads and a connection is never closed 1013 for its own catch-up.

Events are filtered exactly as in updates (`redaction.filter_events`, with the current state):
a receiver gets every seq, an event it may not see as ``{seq, type: "redacted"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from auctionactors.domain.access import Viewer, can_see
from auctionactors.domain.events import Event
from auctionactors.domain.redaction import filter_events
from auctionactors.domain.state import AuctionState
from auctionactors.errors import DomainError
from auctionactors.gateway import protocol
from auctionactors.gateway.fanout import NOT_FOUND
from auctionactors.gateway.patching import present
from auctionactors.gateway.peer import Peer, _Sub
from auctionactors.runtime.replay import rebuild_in_pieces
from auctionactors.runtime.solver import solve
from auctionactors.store.codec import decode_events

if TYPE_CHECKING:
    from auctionactors.gateway.hub import Hub

PAGE = 1000  # events in a get_events page and in a history frame, at most
PIECE = 50  # events decoded and filtered in one turn of the event loop (about 0.4 ms)

Entries = list[dict[str, Any]]


async def current_seq(hub: Hub, auction_id: str, viewer: Viewer) -> int:
    """The auction's seq, after checking that ``viewer`` may see it (else ``not_found``)."""

    def seq(state: AuctionState | None) -> int:
        if state is None or not can_see(state, viewer):
            raise DomainError("not_found", NOT_FOUND)
        return state.seq

    return await hub.read(auction_id, seq)


async def events(
    hub: Hub, auction_id: str, viewer: Viewer, first: int, last: int
) -> Entries | None:
    """The stored events ``first..last`` (at most a `PAGE` or so: read at once) filtered for
    ``viewer`` `PIECE` at a time; None when the viewer may no longer see the auction. Only
    stored events: those the actor has applied but not yet written are left out (an update
    brings them)."""
    stored = await hub.supervisor.store.read_stream(auction_id, from_seq=first, to_seq=last)
    out: Entries = []
    for start in range(0, len(stored), PIECE):
        piece = stored[start : start + PIECE]
        async with hub.history_lanes.lane(auction_id):
            filtered = partial(_filtered, viewer, piece[0].seq, decode_events(piece))
            entries = await hub.read(auction_id, filtered)
        if entries is None:
            return None
        out.extend(entries)
        await asyncio.sleep(0)  # `hub.read` of a cached auction does not yield by itself
    return out


class Lanes:
    """One lane per auction: its history pieces are filtered one at a time, whichever
    connections ask (an actor takes every query queued in one step: three pullers' pieces
    would hold one turn of the event loop together). Per auction, so that an auction whose
    actor is slow to answer holds up no other's readers."""

    def __init__(self) -> None:
        self._lanes: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def lane(self, auction_id: str) -> AsyncIterator[None]:
        lock, users = self._lanes.setdefault(auction_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._lanes[auction_id]

    def __len__(self) -> int:
        return len(self._lanes)


def _filtered(
    viewer: Viewer, first_seq: int, decoded: list[Event], state: AuctionState | None
) -> Entries | None:
    return None if state is None else filter_events(state, viewer, first_seq, decoded)


async def page(hub: Hub, viewer: Viewer, auction_id: str, since: int, limit: int) -> dict[str, Any]:
    """``get_events``' result: the events after ``since``, at most ``limit`` (and `PAGE`),
    with ``next_since`` (None when the page reaches the auction's seq) and ``seq``. A ``since``
    beyond the auction's seq is ``invalid``, as for ``subscribe``."""
    seq = await current_seq(hub, auction_id, viewer)
    if since > seq:
        raise DomainError("invalid", f"since is beyond the auction's seq {seq}")
    last = min(seq, since + min(limit, PAGE))
    entries = await events(hub, auction_id, viewer, since + 1, last)
    if entries is None:
        raise DomainError("not_found", NOT_FOUND)
    reached = entries[-1]["seq"] if entries else since
    return {"seq": seq, "events": entries, "next_since": reached if since < reached < seq else None}


async def view_at(
    hub: Hub,
    viewer: Viewer,
    auction_id: str,
    at_seq: int,
    now: Callable[[], int],
    protocol_version: int = 1,
) -> dict[str, Any]:
    """``get_view`` with ``at_seq``: the view ``viewer`` would have had right after that seq
    (`patching.present`'s answer: protocol 1's view still to be rendered, `whole.encoded`),
    rebuilt from the events. The viewer must see the auction now (else ``not_found``, as for any
    auction it may not see) and then (else ``not_found``: e.g. a supplier asking for the draft
    before it was invited). ``at_seq`` outside 1..the auction's seq is ``invalid``."""
    seq = await current_seq(hub, auction_id, viewer)
    if not 1 <= at_seq <= seq:
        raise DomainError("invalid", f"at_seq must be from 1 to the auction's seq {seq}")
    state = await rebuild_in_pieces(hub.supervisor.store, auction_id, at_seq)
    if state is None or state.seq != at_seq:  # not stored yet: the actor is writing it
        raise DomainError("invalid", f"at_seq {at_seq} is not stored yet; retry")
    solved = await solve(state)
    answer = present(state, viewer, protocol_version, now(), solved.solutions)
    if answer is None:
        raise DomainError("not_found", f"the auction was not visible to you at seq {at_seq}")
    return answer


class Ended(Exception):
    """The subscription ended while catching up (the auction is no longer visible to the
    receiver, or the connection closed): nothing more is sent for it."""


async def catch_up(hub: Hub, peer: Peer, sub: _Sub, since: int, seq: int) -> Entries:
    """The events ``since+1..seq`` for a new subscription: all but the last `PAGE` are sent now,
    as ``history`` frames of `PAGE` events in order, each once the connection has drained the
    previous one; returns the rest (for the subscription's first update). Raises `Ended` if the
    subscription ends meanwhile (its ``unsubscribed`` frame, if any, is sent). Live updates wait
    in ``sub.pending`` meanwhile, counted with the outbox (`Peer.hold`): more of them than the
    outbox would hold cut the connection off (1013) as they arrive, whether or not the client
    reads; the catch-up itself never does."""
    auction_id, viewer = sub.auction_id, peer.viewer
    start = since
    while seq - start > PAGE:
        entries = await events(hub, auction_id, viewer, start + 1, start + PAGE)
        if entries is None:
            _ended(hub, peer, sub)
        frame = protocol.encode({"type": "history", "auction_id": auction_id, "events": entries})
        await peer.drained()
        _check(hub, peer, sub)
        hub.send(peer, frame)
        start += PAGE
    rest = await events(hub, auction_id, viewer, start + 1, seq)
    if rest is None:
        _ended(hub, peer, sub)
    await peer.drained()
    _check(hub, peer, sub)
    return rest


def _check(hub: Hub, peer: Peer, sub: _Sub) -> None:
    """`Ended` if the connection closed (or was cut off) or the subscription was replaced."""
    if peer.closed or peer.subs.get(sub.auction_id) is not sub:
        _ended(hub, peer, sub)


def _ended(hub: Hub, peer: Peer, sub: _Sub) -> NoReturn:
    if sub.gone is not None and not peer.closed:
        hub.send(peer, sub.gone)
    raise Ended
