"""Live updates, in two phases (`runtime.publishing`): `prepare` renders an update once per
distinct receiver (all admins; the buyer; each observer company; each supplier company) while
the actor's state is as the update's command left it, and its `Fanout` (the delivery) queues the
frames once the events are durable; `resync` catches connections up after a rebuild.

Between the two the actor may apply further commands of its batch and wait for the store, and
connections may come and go, unsubscribe, or subscribe to everything. So the delivery reads
nothing of the state: it checks each connection's subscription as it is *now* (one that ended
meanwhile gets nothing; one that was subscribed by another path gets the frame only if its seq
is newer), and hands the connections that asked for everything after the rendering to
`Hub.subscribe_late`. Dropped (the write failed), it sends nothing: `Hub.resync` catches up.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from auctionactors.domain.access import Viewer
from auctionactors.domain.catalog import Summary, summarize, summary_of
from auctionactors.domain.events import Event
from auctionactors.domain.redaction import filter_events
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.views import view
from auctionactors.domain.whole import WholeView
from auctionactors.gateway import patching, protocol, whole
from auctionactors.gateway.patching import Patched
from auctionactors.gateway.peer import Group, Peer, _Sub
from auctionactors.runtime.publishing import Update
from auctionactors.runtime.solver import Solved
from auctionactors.store.codec import decode_events

if TYPE_CHECKING:
    from auctionactors.gateway.hub import Hub

NOT_FOUND = "auction not found"
READ_PIECE = 200  # events read and decoded in one turn of the event loop by `resync`
Frames = bytes | Patched  # protocol 1's frame; protocol 2's (`patching`)


def prepare(hub: Hub, update: Update) -> Fanout | None:
    """`Hub.prepare`: the frames for the auction's subscribers and for the connections
    subscribed to everything that may now see it (newcomers)."""
    started = time.perf_counter()
    state, auction_id = update.state, update.auction_id
    try:
        summary = summary_of(state)
    except Exception:
        hub.failed_render(auction_id, "its summary")
        return None
    targets: list[tuple[Peer, _Sub | None]] = list(hub.subscribed(auction_id))
    stale: list[Peer] = []  # excluded, and the auction is no longer visible to them
    for p in hub.everything:
        if auction_id in p.subs:
            continue
        if auction_id in p.excluded:
            if not summary.visible_to(p.viewer):
                stale.append(p)
        elif summary.visible_to(p.viewer) and (p.wants(summary.status) or p.walking):
            # While its initial updates are being sent, a connection gets the frame of an
            # auction in any status: the walk may have registered it after this rendering and
            # read the store before this update is durable (`everything`); delivered only
            # if it is subscribed by then, or if the auction is in a status it asked for.
            targets.append((p, None))
    frames = _frames(hub, update, targets)
    if frames is None:
        return None
    # A creation may be missed by a `subscribe_all` that starts before it is durable (its
    # catalog read comes too early): its delivery looks for such connections.
    if not frames and not stale and not state.is_final and update.first_seq > 1:
        return None
    fanout = Fanout(hub, update, summary, targets, frames, stale, hub.epoch)
    fanout.rendering_s = time.perf_counter() - started
    return fanout


def _frames(
    hub: Hub, update: Update, targets: list[tuple[Peer, _Sub | None]]
) -> dict[Group, Frames | None] | None:
    """The frames per distinct receiver and protocol of ``targets`` (None: it may no longer see
    the auction); a receiver whose frame cannot be rendered is left out. None when the update's
    solutions cannot be found (nobody gets it)."""
    if not targets:
        return {}
    state = update.state
    try:
        solutions = update.solutions
    except Exception:
        hub.failed_render(state.auction_id, "its solutions")
        return None
    now = hub.supervisor.clock.now()
    events = list(update.events)
    frames: dict[Group, Frames | None] = {}
    failed: set[Group] = set()
    for peer, _ in targets:
        group = peer.group
        if group in frames or group in failed:
            continue
        try:
            if peer.protocol == 1:
                frames[group] = render(
                    hub, state, peer.viewer, now, solutions, update.first_seq, events
                )
            else:
                patched = patching.render(
                    state, peer.viewer, peer.receiver, now, solutions, update.first_seq, events
                )
                frames[group] = patched
                hub.stats.renders += 1
                if patched is not None:
                    hub.stats.observe_patch(len(patched.patch))
        except Exception:  # this receiver misses this update; nobody else does
            failed.add(group)
            if peer.protocol != 1:  # nor is its rendering the base of the next patch
                patching.forget(state, peer.receiver)
            hub.failed_render(state.auction_id, f"the update for {peer.receiver}")
    return frames


def render(
    hub: Hub,
    state: AuctionState,
    viewer: Viewer,
    now: int,
    solutions: Solutions,
    first_seq: int,
    events: list[Any],
) -> bytes | None:
    """The ``update`` frame for ``viewer``; None if it may not see the auction."""
    doc = view(state, viewer, now, solutions)
    if doc is None:
        return None
    filtered = filter_events(state, viewer, first_seq, events)
    hub.stats.renders += 1
    return protocol.update(state.auction_id, state.seq, filtered or [], doc)


async def render_in_pieces(
    hub: Hub,
    state: AuctionState,
    viewer: Viewer,
    now: int,
    solutions: Solutions,
    first_seq: int,
    events: list[Any],
) -> bytes | None:
    """`render`, the view built in pieces (`whole`), of the state as it is when called."""
    found = WholeView.of(state, viewer, now, solutions)
    if found is None:
        return None
    auction_id, seq = state.auction_id, found.seq
    filtered = filter_events(state, viewer, first_seq, events) or []
    frame = await whole.encoded(found, lambda doc: protocol.update(auction_id, seq, filtered, doc))
    hub.stats.renders += 1
    return frame


class Fanout:
    """The `Delivery` of one update (call it once)."""

    __slots__ = (
        "epoch",
        "frames",
        "hub",
        "rendering_s",
        "stale",
        "summary",
        "targets",
        "update",
    )

    def __init__(
        self,
        hub: Hub,
        update: Update,
        summary: Summary,
        targets: list[tuple[Peer, _Sub | None]],
        frames: dict[Group, Frames | None],
        stale: list[Peer],
        epoch: int,
    ) -> None:
        self.hub = hub
        self.update = update
        self.summary = summary
        # Each connection with its subscription when rendered (None: a newcomer, subscribed to
        # everything, to which the auction is visible), and each receiver's frame (None: it
        # may no longer see the auction; absent: its frame could not be rendered).
        self.targets = targets
        self.frames = frames
        self.stale = stale  # connections that excluded the auction and no longer see it
        self.epoch = epoch  # the hub's `subscribe_all` count when rendered
        self.rendering_s = 0.0  # the time `prepare` took

    def __call__(self) -> None:
        started = time.perf_counter()
        hub, update = self.hub, self.update
        auction_id, seq = update.auction_id, update.seq
        hub.remember(update.solved)
        stats = hub.stats
        stats.updates += 1
        for peer in self.stale:
            peer.excluded.discard(auction_id)  # nothing to exclude any more
        gone: bytes | None = None
        rendered = self.frames
        for peer, sub in self.targets:  # once per connection: kept lean
            if peer.closed:
                continue
            try:
                frames = rendered[peer.group]
            except KeyError:  # its frame could not be rendered
                continue
            current = peer.subs.get(auction_id)
            if frames is None:
                if current is not None:
                    gone = gone or protocol.unsubscribed(auction_id, seq, "not_found", NOT_FOUND)
                    hub.end(peer, current, gone)
                continue
            if current is None and (
                sub is not None  # unsubscribed meanwhile
                or not peer.all_auctions
                or auction_id in peer.excluded
                or not peer.wants(self.summary.status)
            ):
                continue
            frame = frames if isinstance(frames, bytes) else frames.for_sub(current)
            if current is None or current.pending is not None:
                hub.deliver(peer, auction_id, seq, frame)
            elif seq > current.last_seq:  # `Hub.deliver`'s usual case, inlined
                current.last_seq = seq
                if not peer.push(frame):
                    stats.dropped += 1
        if hub.epoch != self.epoch:
            hub.subscribe_late(auction_id, self.summary, self.epoch)
        hub.stats.observe_fanout(self.rendering_s + time.perf_counter() - started)


async def resync(hub: Hub, solved: Solved) -> None:
    """`Hub.resync`: send each subscribed connection the update it missed (events read from the
    store) and the auction's view to each connection subscribed to everything that may now see
    it but was not sent it (its deliveries were dropped).

    A subscription whose first update is still being prepared counts with the frames waiting
    in it (`_Sub.reached`). One of a `subscribe_all` walk, which does not know yet which seq its
    read of the store will give, is given its first update here instead, from the rebuilt state
    (the walk skips it): a write that failed never reaches it, but one whose outcome was
    unknown may be stored after the walk's read, its delivery dropped."""
    state = solved.state
    auction_id = state.auction_id
    try:
        summary: Summary | None = summarize(state)
    except Exception:
        hub.failed_render(auction_id, "its summary")
        summary = None
    behind: list[tuple[Peer, _Sub, int]] = []
    newcomers: list[Peer] = []
    for peer, sub in hub.subscribed(auction_id):
        reached = sub.reached()
        if reached is None:  # a walk's: its first update is sent below, not by the walk
            hub._detach(peer, sub)
            newcomers.append(peer)
        elif reached < state.seq:
            behind.append((peer, sub, reached))
    newcomers += [
        p
        for p in hub.everything
        if summary is not None
        and auction_id not in p.subs
        and p not in newcomers
        and auction_id not in p.excluded
        and summary.visible_to(p.viewer)
        and p.wants(summary.status)
    ]
    if not behind and not newcomers:
        return
    since = min((reached for _, _, reached in behind), default=state.seq)
    events = await _stored_events(hub, auction_id, since + 1, state.seq)
    solutions = (await solved.ready()).solutions
    now = hub.supervisor.clock.now()
    frames: dict[tuple[Group, int], Frames | None] = {}

    async def rendered(peer: Peer, last_seq: int, missed: list[Any]) -> Frames | None:
        key = (peer.group, last_seq)
        if key not in frames:
            if peer.protocol == 1:
                frames[key] = await render_in_pieces(
                    hub, state, peer.viewer, now, solutions, last_seq + 1, missed
                )
            else:  # rendered afresh: the base of the next patch, whatever was kept before
                frames[key] = patching.render(
                    state, peer.viewer, peer.receiver, now, solutions, last_seq + 1, missed,
                    fresh=True,
                )  # fmt: skip
        return frames[key]

    for peer, sub, reached in behind:
        if peer.subs.get(auction_id) is not sub:  # gone while the events were read
            continue
        frame = await rendered(peer, reached, events[reached - since :])
        if peer.subs.get(auction_id) is not sub:  # gone while it was rendered
            continue
        if frame is None:
            gone = protocol.unsubscribed(auction_id, state.seq, "not_found", NOT_FOUND)
            hub.end(peer, sub, gone)
        else:  # protocol 2: a patch that replaces the whole view
            hub.deliver(peer, auction_id, state.seq, frame if isinstance(frame, bytes) else
                        frame.whole())  # fmt: skip

    def skipped(peer: Peer) -> bool:
        return peer.closed or auction_id in peer.subs or auction_id in peer.excluded

    for peer in newcomers:
        if skipped(peer):
            continue
        frame = await rendered(peer, state.seq, [])
        if frame is not None and not skipped(peer):
            hub.deliver(peer, auction_id, state.seq, frame if isinstance(frame, bytes) else
                        frame.first())  # fmt: skip


async def _stored_events(hub: Hub, auction_id: str, first: int, last: int) -> list[Event]:
    """The stored events ``first..last``, read and decoded `READ_PIECE` at a time with a turn
    of the event loop between two pieces (a subscriber may be far behind)."""
    out: list[Event] = []
    while first <= last:
        stored = await hub.supervisor.store.read_stream(
            auction_id, from_seq=first, to_seq=last, limit=READ_PIECE
        )
        if not stored:
            break
        out.extend(decode_events(stored))
        first = stored[-1].seq + 1
        if first <= last:
            await asyncio.sleep(0)
    return out
