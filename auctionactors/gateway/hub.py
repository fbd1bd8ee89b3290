"""The fan-out hub: every durable update, filtered once per receiver, to every subscribed
connection's bounded outbox.

The actor calls `Hub.prepare` synchronously right after applying each command's events, in seq
order, and calls the delivery it returns once they are durable (`fanout`). The hub computes the
solutions once, then the view and the filtered events once per *distinct receiver*, encodes
that once, and puts the same bytes into the outbox of every connection of that receiver. A
connection whose outbox is full is cut off (the server closes it with 1013); nothing waits for
a slow reader. Which auctions exist and who may see them is read from the store's catalog
(`listing`), never from actors: the hub keeps no summary of every auction.

Subscribing with ``since`` must not lose or repeat an update while the auction keeps changing:
the subscription is registered *inside the actor* (`Supervisor.query`), which fixes the seq S it
starts from; live updates after S are buffered while the events since..S are read from the store
(more than a thousand: sent as `history` frames first, see `history.catch_up`), and released
after the first update (seq S). So per auction a connection receives strictly increasing seqs,
never one twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from auctionactors.domain.access import can_see
from auctionactors.domain.catalog import Summary
from auctionactors.domain.state import AuctionState
from auctionactors.errors import AuctionActorsError, DomainError
from auctionactors.gateway import everything, fanout, history, patching, protocol, whole
from auctionactors.gateway.fanout import NOT_FOUND
from auctionactors.gateway.listing import Listing
from auctionactors.gateway.peer import Peer, _Sub
from auctionactors.runtime.publishing import Delivery, Update
from auctionactors.runtime.solver import Solved
from auctionactors.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

__all__ = ["NOT_FOUND", "Hub", "HubStats"]

FINAL_CACHE = 1024  # finished auctions whose state the hub keeps for new subscribers
T = TypeVar("T")


def _ignore(_: float) -> None:
    """The default observer: nobody exports histograms (no `/metrics` registry)."""


class HubStats:
    def __init__(self) -> None:
        self.connections = 0
        self.sent = 0
        self.dropped = 0
        self.slow_closes = 0
        self.updates = 0
        self.renders = 0
        # Views or event lists that raised while rendering (logged, that receiver skipped).
        self.render_failures = 0
        # For whoever exports histograms (`/metrics`): each update's fan-out time (seconds
        # rendering and handing frames to connections, the store's wait aside), and the size
        # of each protocol-2 receiver's patch frame (bytes).
        self.observe_fanout: Callable[[float], None] = _ignore
        self.observe_patch: Callable[[float], None] = _ignore


class Hub:
    """The `Subscriber` the gateway registers on the supervisor."""

    def __init__(self, supervisor: Supervisor, final_cache: int = FINAL_CACHE) -> None:
        self.supervisor = supervisor
        self.stats = HubStats()
        self.listing = Listing(supervisor.store, self.failed_render)
        self._subs: dict[str, dict[Peer, _Sub]] = {}
        # Connections subscribed to everything, with the value of ``epoch`` (the number of
        # ``subscribe_all`` requests so far) when they last asked.
        self._all: dict[Peer, int] = {}
        self.epoch = 0
        # The latest state of recently finished auctions, by auction id (least recent first).
        # A finished auction's actor is passivated; without this, every `subscribe_all` (each
        # page load) would load every visible finished auction from the store. The entry is
        # the state object of the auction's latest update delivered, or of its latest read
        # (`read_solved`), with its solutions.
        self._final: OrderedDict[str, Solved] = OrderedDict()
        self._final_cache = final_cache
        self._tasks: set[asyncio.Task[None]] = set()  # `subscribe_late`'s
        # Reads of the past filter one piece at a time per auction (`history.Lanes`).
        self.history_lanes = history.Lanes()

    def remember(self, solved: Solved) -> None:
        """Keep a finished auction's state (see ``_final``); forget one that is not final."""
        state = solved.state
        if not state.is_final:
            self._final.pop(state.auction_id, None)
            return
        self._final[state.auction_id] = solved
        self._final.move_to_end(state.auction_id)
        while len(self._final) > self._final_cache:
            self._final.popitem(last=False)

    def cached(self, auction_id: str) -> Solved | None:
        """The finished auction from the cache, if it is there and may be read from it: only
        while no actor is loaded (a loaded actor applies a batch to this very object before it
        is stored, and rebuilds it if the write fails, so it is read there)."""
        cached = self._final.get(auction_id)
        if cached is None or self.supervisor.cell(auction_id) is not None:
            return None
        self._final.move_to_end(auction_id)
        return cached

    async def read(self, auction_id: str, fn: Callable[[AuctionState | None], T]) -> T:
        """Run ``fn`` on the auction's current state: from the finished-auction cache when it
        may be (`cached`; synchronously, so atomic with deliveries like a query), else in its
        actor."""
        cached = self.cached(auction_id)
        if cached is not None:
            return fn(cached.state)
        return await self.supervisor.query(auction_id, fn)

    async def read_solved(self, auction_id: str, fn: Callable[[Solved | None], T]) -> T:
        """`read` with the state's solutions (views): a cached auction's are found once, a big
        problem off the loop, and ``fn`` runs only on the entry still cached after that. A
        finished auction read in its actor is cached (its actor passivates)."""

        def noted(solved: Solved | None) -> T:
            if solved is not None and solved.state.is_final:
                self.remember(solved)
            return fn(solved)

        while True:
            cached = self.cached(auction_id)
            if cached is None:
                return await self.supervisor.query_solved(auction_id, noted)
            if cached.is_ready:
                return fn(cached)
            await cached.ready()

    # --- live updates ---------------------------------------------------------------------------

    def follows(self, auction_id: str) -> bool:
        """Whether an update of the auction has anyone to go to: a subscriber of it, or of
        everything, or the finished-auction cache (which must see every change of what it
        holds). See `Subscriber.follows`; a hot auction nobody watches costs no render."""
        return auction_id in self._subs or bool(self._all) or auction_id in self._final

    def prepare(self, update: Update) -> Delivery | None:
        """Render ``update`` for its receivers now, while the state is as its command left it;
        the returned delivery only queues the frames, once the events are durable (see
        `Subscriber.prepare` and `fanout`). None when there is nothing to deliver."""
        return fanout.prepare(self, update)

    async def resync(self, auction_id: str, state: AuctionState) -> None:
        """The auction's actor was rebuilt after a crash or a failed write (see `Resyncing`):
        refresh the finished-auction cache and catch every connection up (`fanout.resync`)
        before the actor publishes again."""
        solved = Solved(state)
        self.remember(solved)
        await fanout.resync(self, solved)

    def subscribed(self, auction_id: str) -> list[tuple[Peer, _Sub]]:
        """The connections subscribed to the auction, with their subscriptions."""
        return list(self._subs.get(auction_id, {}).items())

    @property
    def everything(self) -> dict[Peer, int]:
        """The connections subscribed to everything, with the `epoch` they last asked at."""
        return self._all

    def subscribe_late(self, auction_id: str, summary: Summary, epoch: int) -> None:
        """Subscribe the connections that called ``subscribe_all`` after ``epoch`` (an update's
        `prepare`) and may see the auction but were not given it: their catalog read may have
        come before the update was durable. Through the actor, as any subscription."""
        for peer, joined in self._all.items():
            if joined <= epoch or auction_id in peer.subs or auction_id in peer.excluded:
                continue
            if summary.visible_to(peer.viewer) and peer.wants(summary.status):
                task = asyncio.get_running_loop().create_task(
                    self._subscribe_quietly(peer, auction_id)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def failed_render(self, auction_id: str, what: str) -> None:
        """Log (with the traceback being handled) and count a rendering that raised: the caller
        skips that one auction for that one receiver, so that nothing a user stored can fail a
        list, a ``subscribe_all`` or anyone else's update."""
        self.stats.render_failures += 1
        log.exception(
            "%s: cannot render %s; skipped", auction_id, what, extra={"auction_id": auction_id}
        )

    def deliver(self, peer: Peer, auction_id: str, seq: int, frame: bytes) -> None:
        """Queue an update's frame for one connection (`send`), or hold it while its
        subscription's first update is being prepared; one it has already is not sent."""
        sub = peer.subs.get(auction_id)
        if sub is None:  # subscribed to everything: the auction just became visible
            sub = self._attach(peer, _Sub(auction_id, seq - 1, buffering=False))
        if sub.pending is not None:
            if not peer.hold(sub, seq, frame):
                self.stats.dropped += 1
        elif seq > sub.last_seq:
            sub.last_seq = seq
            if not peer.push(frame):  # `send`, once per connection per update: inlined
                self.stats.dropped += 1

    def send(self, peer: Peer, frame: bytes) -> None:
        """Queue a frame for one connection (counted as dropped if its outbox is full)."""
        if not peer.push(frame):
            self.stats.dropped += 1

    def _attach(self, peer: Peer, sub: _Sub) -> _Sub:
        peer.subs[sub.auction_id] = sub
        self._subs.setdefault(sub.auction_id, {})[peer] = sub
        return sub

    def _detach(self, peer: Peer, sub: _Sub) -> None:
        peer.let_go(sub)
        if peer.subs.get(sub.auction_id) is sub:
            del peer.subs[sub.auction_id]
        by_peer = self._subs.get(sub.auction_id)
        if by_peer is not None and by_peer.get(peer) is sub:
            del by_peer[peer]
            if not by_peer:
                del self._subs[sub.auction_id]

    def end(self, peer: Peer, sub: _Sub, frame: bytes) -> None:
        """The receiver may no longer see the auction: tell it once and stop."""
        self._detach(peer, sub)
        if sub.pending is not None:
            sub.gone = frame  # sent when the initial update is released
        else:
            self.send(peer, frame)

    # --- requests -------------------------------------------------------------------------------

    async def subscribe(
        self,
        peer: Peer,
        auction_id: str,
        since: int | None,
        ok: Callable[[int], bytes] | None,
    ) -> None:
        """Subscribe ``peer``: ``ok(S)`` (if given), then one update with the events after
        ``since`` (none without it) and the view at S, then every live update after S.

        With ``since``, the subscription replaces whichever the connection has when it is
        registered (its own earlier one, or one that `subscribe_all` made meanwhile); if it
        then fails, the connection is told its subscription is over (``unsubscribed``) beside
        the error. Whatever replaced this one meanwhile (it may be `subscribe_late`'s) sends
        the updates: this one sends nothing more."""
        existing = peer.subs.get(auction_id)
        if existing is not None and since is None:  # already receiving every update in order
            if ok is not None:
                self.send(peer, ok(existing.last_seq))
            return
        peer.excluded.discard(auction_id)
        # With ``since`` on a subscribed auction: like a first subscription (PROTOCOL 1.1). The
        # existing subscription keeps receiving until the new one replaces it inside the actor.
        viewer = peer.viewer
        sub = _Sub(auction_id, 0, buffering=True)
        abandoned = answered = replaced = False
        seq = 0

        def register(solved: Solved | None) -> tuple[int, whole.View] | None:
            nonlocal replaced
            if solved is None or not can_see(solved.state, viewer):
                raise DomainError("not_found", NOT_FOUND)
            state = solved.state
            if since is not None and since > state.seq:
                raise DomainError("invalid", f"since is beyond the auction's seq {state.seq}")
            current = peer.subs.get(auction_id)
            if abandoned or peer.closed or (current is not None and since is None):
                return None  # the caller gave up, or a live update got there first
            doc = patching.first_view(peer, state, self.supervisor.clock.now(), solved.solutions)
            assert doc is not None
            sub.last_seq = state.seq
            if current is not None:
                self._detach(peer, current)
                replaced = True
            self._attach(peer, sub)
            return state.seq, doc

        try:
            registered = await self.read_solved(auction_id, register)
            if registered is None:
                current = peer.subs.get(auction_id)
                if ok is not None and current is not None:
                    self.send(peer, ok(current.last_seq))
                return
            seq, doc = registered
            events: list[dict[str, Any]] = []
            if since is not None and seq - since > history.PAGE:
                # A long catch-up (PROTOCOL.md 1.1): the ok, then `history` frames as the
                # connection drains them, then the update with the rest.
                if ok is not None:
                    self.send(peer, ok(seq))
                    ok = None
                answered = True
                events = await history.catch_up(self, peer, sub, since, seq)
            elif since is not None and since < seq:
                found = await history.events(self, auction_id, viewer, since + 1, seq)
                if found is None:
                    raise DomainError("not_found", NOT_FOUND)
                events = found
            now = self.supervisor.clock.now()
            first = await whole.encoded(  # protocol 1: in pieces (live updates wait in `sub`)
                doc, lambda view: patching.first_update(peer, auction_id, seq, events, view, now)
            )
        except history.Ended:
            abandoned = True
            self._detach(peer, sub)
            return
        except Exception as exc:
            abandoned = True
            still = peer.subs.get(auction_id) is sub
            self._detach(peer, sub)
            if peer.closed or not (answered or (replaced and still)):
                raise
            # Its ok is out, or it replaced a subscription: the client is told the subscription
            # is over (it resubscribes); without the ok, the error follows.
            code = exc.code if isinstance(exc, AuctionActorsError) else "internal"
            log.warning(
                "%s: subscription failed: %r", auction_id, exc, extra={"auction_id": auction_id}
            )
            why = "catch-up failed" if answered else "subscribing again failed"
            self.send(peer, protocol.unsubscribed(auction_id, seq, code, why))
            if not answered:
                raise
            return
        except BaseException:
            abandoned = True
            self._detach(peer, sub)
            raise
        if peer.subs.get(auction_id) is not sub and sub.gone is None:
            abandoned = True  # replaced (or unsubscribed, or closed) while the events were read
            self._detach(peer, sub)
            return
        if ok is not None:
            self.send(peer, ok(seq))
        self.send(peer, first)
        self._release(peer, sub)

    def _release(self, peer: Peer, sub: _Sub) -> None:
        peer.let_go(sub)
        pending, sub.pending = sub.pending or [], None
        for seq, frame in pending:
            if seq > sub.last_seq:
                sub.last_seq = seq
                self.send(peer, frame)
        if sub.gone is not None:
            self.send(peer, sub.gone)

    async def subscribe_all(
        self,
        peer: Peer,
        ok: Callable[[list[str]], bytes],
        statuses: Collection[str] | None = None,
    ) -> None:
        """Every auction ``peer`` may see now (one update each, newest first; only those in
        ``statuses`` when given, protocol 2) and later (as it becomes visible, or enters one of
        ``statuses``), sent only as fast as the connection reads them (`everything`)."""
        await everything.subscribe_all(self, peer, ok, statuses)

    async def _subscribe_quietly(self, peer: Peer, auction_id: str) -> None:
        try:
            await self.subscribe(peer, auction_id, None, None)
        except AuctionActorsError as exc:  # gone meanwhile, or quarantined: skip it
            log.debug("subscribe_all: %s skipped: %s", auction_id, exc)
        except Exception:  # its view cannot be rendered: skip it, subscribe the rest
            self.failed_render(auction_id, "its first update")

    def unsubscribe(self, peer: Peer, auction_id: str) -> None:
        sub = peer.subs.get(auction_id)
        if sub is None:
            return
        self._detach(peer, sub)
        # Excluded from `subscribe_all` only if it was subscribed (so it exists and was visible
        # to the peer; made-up ids cannot grow the set, and nothing is read to check them): a
        # delivery forgets an auction that stops being visible, and `subscribe` or
        # `subscribe_all` one subscribed again.
        if peer.all_auctions:
            peer.excluded.add(auction_id)

    def add(self, peer: Peer) -> None:
        self.stats.connections += 1

    def drop(self, peer: Peer) -> None:
        """The connection is gone: forget it everywhere."""
        peer.closed = True
        peer.wakeup.set()
        peer.progressed()
        for sub in list(peer.subs.values()):
            self._detach(peer, sub)
        self._all.pop(peer, None)
        self.stats.connections -= 1
