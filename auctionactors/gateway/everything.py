"""``subscribe_all`` at scale (PROTOCOL.md 1.1 "Fair sharing"; 2 "subscribe_all takes statuses"):
the initial update of every auction a connection may see, sent only as fast as it reads them.

The ids come from the store's catalog (one read, newest first; in protocol 2 only those in the
requested statuses), after the connection is registered as subscribed to everything (so an
auction that changes meanwhile reaches it by its update, or by `Hub.subscribe_late`). Then
`walk` goes through them a page at a time:

- an auction whose actor is loaded is subscribed inside it, as any subscription
  (`Hub.subscribe`): its state there may be ahead of the store;
- the others are read from the store, a page in one read (`replay.rebuild_many`): a finished
  auction is its final snapshot decoded, nothing replayed and no actor loaded; a cached finished
  auction (`Hub.cached`) is not read at all. Each subscription is registered *before* the read,
  buffering: every update delivered after that is kept (`_Sub.pending`), and every update
  delivered before it is durable, so in what the read returns; the initial update (the state
  the read gave, seq S) goes first, then the buffered updates after S. So per auction the
  connection gets one consistent sequence, strictly increasing, never a seq twice.

Pacing: an initial update is handed over only when the connection's outbox is empty
(`Peer.drained`): the writer has given every queued frame to the socket, which it does only
while the socket's buffer is within the write limit. So the initial burst never fills the outbox
(never a 1013 for it, whatever the number of auctions), and costs memory for about one frame
beyond what the socket holds; a connection that reads slowly is sent slowly. Live updates of
auctions already sent are queued as they come (they are not paced: a connection that cannot
keep up with them is cut off as before); an auction not reached yet that changes is sent its
update at once, which carries its whole view (protocol 1), and the walk skips it.

Rendering runs in slices of at most `SLICE_S` before the loop serves others, so one connection's
``subscribe_all`` never holds up the rest for more than a few milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from auctionactors.domain.state import AuctionState
from auctionactors.errors import AuctionActorsError
from auctionactors.gateway.patching import first_update, first_view
from auctionactors.gateway.peer import Peer, _Sub
from auctionactors.gateway.whole import encoded
from auctionactors.runtime.replay import rebuild, rebuild_many
from auctionactors.runtime.solver import Solved

if TYPE_CHECKING:
    from auctionactors.gateway.hub import Hub

log = logging.getLogger(__name__)

PAGE = 64  # auctions read from the store in one go
SLICE_S = 0.003  # rendering on the loop before it serves others


async def subscribe_all(
    hub: Hub,
    peer: Peer,
    ok: Callable[[list[str]], bytes],
    statuses: Collection[str] | None = None,
) -> None:
    """`Hub.subscribe_all`: ``ok(ids)`` with the ids of the auctions ``peer`` may see (only
    those in ``statuses``, when given), then their initial updates (`walk`). From now on, an
    auction that becomes visible (and enters one of ``statuses``) is subscribed to as well."""
    known, before = peer in hub.everything, peer.statuses
    peer.all_auctions = True
    peer.statuses = None if statuses is None else frozenset(statuses)
    peer.excluded.clear()
    hub.epoch += 1
    hub.everything[peer] = hub.epoch
    try:
        ids = await hub.listing.visible_ids(peer.viewer, statuses)
    except BaseException:
        peer.statuses = before
        if not known:  # refused (storage down): not subscribed to everything after all
            peer.all_auctions = False
            hub.everything.pop(peer, None)
        raise
    hub.send(peer, ok(ids))
    await walk(hub, peer, ids)


async def walk(hub: Hub, peer: Peer, ids: Sequence[str]) -> None:
    """Send ``peer`` the initial update of each of ``ids`` it is not subscribed to (nor has
    unsubscribed from), paced by its outbox (see the module's docstring)."""
    peer.walking = True
    try:
        for start in range(0, len(ids), PAGE):
            if peer.closed:
                return
            await _page(hub, peer, ids[start : start + PAGE])
    finally:
        peer.walking = False


def _todo(peer: Peer, ids: Sequence[str]) -> list[str]:
    return [a for a in ids if a not in peer.subs and a not in peer.excluded]


async def _page(hub: Hub, peer: Peer, ids: Sequence[str]) -> None:
    supervisor = hub.supervisor
    tried: set[str] = set()  # in their actors: not read again from the store if that failed
    for auction_id in _todo(peer, ids):
        if supervisor.cell(auction_id) is None:
            continue
        await peer.drained()
        if peer.closed:
            return
        if auction_id not in peer.subs and auction_id not in peer.excluded:
            tried.add(auction_id)
            await hub._subscribe_quietly(peer, auction_id)
    # The rest, registered (buffering) before anything is read: see the module's docstring.
    rest = [a for a in _todo(peer, ids) if a not in tried]
    subs = [hub._attach(peer, _Sub(a, 0, buffering=True)) for a in rest]
    try:
        states = await _states(hub, subs)
        clock, loop = supervisor.clock, asyncio.get_running_loop()
        started = loop.time()
        for sub, solved in zip(subs, states, strict=True):
            rendered = None
            if solved is not None and peer.subs.get(sub.auction_id) is sub:
                rendered = await _render(hub, peer, solved, clock.now())
            if rendered is None:  # gone, not visible, or cannot be rendered
                hub._detach(peer, sub)
                continue
            await peer.drained()
            if peer.closed:
                return
            if peer.subs.get(sub.auction_id) is not sub:  # ended while the outbox drained
                continue
            sub.last_seq, frame = rendered
            hub.send(peer, frame)
            hub._release(peer, sub)
            if loop.time() - started > SLICE_S:
                await asyncio.sleep(0)  # let the loop serve the others (and write this out)
                started = loop.time()
    finally:
        for sub in subs:
            if sub.pending is not None:  # never released (closed, or cancelled): forget it
                hub._detach(peer, sub)


async def _states(hub: Hub, subs: list[_Sub]) -> list[Solved | None]:
    """The current state of each auction, with its solutions: from the finished-auction cache
    when it may be read from it (`Hub.cached`), else from the store."""
    found: dict[str, Solved] = {}
    for sub in subs:
        cached = hub.cached(sub.auction_id)
        if cached is not None:
            found[sub.auction_id] = cached
    wanted = [s.auction_id for s in subs if s.auction_id not in found]
    if wanted:
        for auction_id, state in zip(wanted, await _read(hub, wanted), strict=True):
            if state is not None:
                found[auction_id] = Solved(state)
    return [found.get(s.auction_id) for s in subs]


async def _read(hub: Hub, ids: list[str]) -> list[AuctionState | None]:
    """The states of ``ids`` from the store, in one read; one at a time if that fails (an
    auction that cannot be rebuilt is skipped, logged, and the others are sent)."""
    store = hub.supervisor.store
    try:
        return await rebuild_many(store, ids)
    except AuctionActorsError as exc:
        log.warning("subscribe_all: a page cannot be read at once (%s); one by one", exc)
    states: list[AuctionState | None] = []
    for auction_id in ids:
        try:
            states.append(await rebuild(store, auction_id))
        except AuctionActorsError as exc:
            log.warning("subscribe_all: %s skipped: %s", auction_id, exc)
            states.append(None)
    return states


async def _render(hub: Hub, peer: Peer, solved: Solved, now: int) -> tuple[int, bytes] | None:
    """The initial update of ``solved``'s auction for ``peer``, with its seq (the state's when
    it was rendered: a protocol-1 view is rendered in pieces, and the state may change
    meanwhile); None if it may not see it, or it cannot be rendered (logged and counted)."""
    state = solved.state
    auction_id = state.auction_id
    try:
        solutions = (await solved.ready()).solutions
        seq = state.seq
        doc = first_view(peer, state, now, solutions)
        if doc is None:
            return None
        frame = await encoded(doc, lambda view: first_update(peer, auction_id, seq, [], view, now))
    except Exception:
        hub.failed_render(auction_id, "its first update")
        return None
    hub.stats.renders += 1
    return seq, frame
