"""Requests to answers: role checks, companies looked up, commands sent to the supervisor,
reads served through the hub; every outcome becomes exactly one ``ok`` or ``error`` frame.

Checks that do not depend on an auction (a buyer placing bids, a supplier starting an auction)
are made here, before anything is queued; the domain remains the authority for everything
else. Errors are mapped once: a `DomainError` is an answer (its code, its message); an
unavailable auction or store is ``unavailable`` (not applied); a command whose outcome is
unknown is ``timeout``; anything else is ``internal``, logged here with its traceback, and the
client is told nothing more.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from auctionactors.domain.parties import Caller, Party, Role
from auctionactors.domain.terms import AuctionTerms
from auctionactors.errors import AuctionActorsError, DomainError, NotOwner
from auctionactors.gateway import companies, history, protocol
from auctionactors.gateway import messages as m
from auctionactors.gateway.hub import NOT_FOUND, Hub
from auctionactors.gateway.links import Links
from auctionactors.gateway.metrics import actor_counts
from auctionactors.gateway.patching import present
from auctionactors.gateway.peer import Peer
from auctionactors.gateway.quota import CreationQuota
from auctionactors.gateway.translate import command_of, companies_needed, terms_of
from auctionactors.gateway.whole import encoded
from auctionactors.runtime.mailbox import CommandKey, Reply
from auctionactors.runtime.reactor import Reactor, reactors_report
from auctionactors.runtime.receipts import Receipt
from auctionactors.runtime.solver import Solved
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import Accounts, Principal

log = logging.getLogger(__name__)

Result = dict[str, Any] | None  # None: the handler has already replied (subscriptions)

SUPPLIER_ONLY = (
    m.PlaceBids,
    m.RevokeBid,
    m.SubmitBarge,
    m.UnsubmitBarge,
    m.PostComment,
    m.DeleteComment,
    m.Rsvp,
)
BUYER_OR_ADMIN = (
    m.CreateAuction,
    m.UpdateAuction,
    m.CancelAuction,
    m.SelectSolution,
    m.ApproveBarge,
    m.RejectBarge,
)
ADMIN_ONLY = (m.StartAuction, m.InviteObserver, m.UninviteObserver)


class Dispatcher:
    def __init__(
        self,
        supervisor: Supervisor,
        hub: Hub,
        accounts: Accounts,
        quota: CreationQuota | None = None,
        links: Links | None = None,
        observe: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.links = links  # cluster mode: commands for auctions owned elsewhere go there
        # Each request's latency (type, outcome, seconds from its frame's arrival to its
        # reply), for whoever exports histograms (`/metrics`).
        self._observe = observe
        self.hub = hub
        self.accounts = accounts
        self.quota = quota or CreationQuota(None)
        self.reactors: list[Reactor] = []  # serve's notification reactors (``status``)
        self._companies: dict[str, Party] = {}
        self._routes: dict[type[m.Request], Callable[[Peer, Any], Awaitable[Result]]] = {
            m.Subscribe: self._subscribe,
            m.Unsubscribe: self._unsubscribe,
            m.SubscribeAll: self._subscribe_all,
            m.ListAuctions: self._list,
            m.GetView: self._get_view,
            m.GetEvents: self._get_events,
            m.ListCompanies: self._list_companies,
            m.OperatorStatus: self._operator_status,
            m.OperatorRevive: self._operator_revive,
        }
        # Requests (by `id` of the object) whose handler has sent its own ``ok`` (subscriptions).
        self._answered: set[int] = set()

    async def handle(self, peer: Peer, request: m.Request, receipt: Receipt | None = None) -> None:
        """Serve one request; its reply (exactly one, whatever happens) goes to the peer's
        outbox. ``receipt`` is when the frame arrived: a command is decided at that time
        (PROTOCOL.md 1.1)."""
        rid = request.id
        started = time.perf_counter()
        # Measured from the frame's arrival when the server stamped it (the clock's µs).
        arrived = None if receipt is None else receipt.at
        try:
            frame, outcome = await self._serve(peer, request, receipt)
            answered = id(request) in self._answered
        finally:
            self._answered.discard(id(request))
        if self._observe is not None:
            if arrived is None:
                seconds = time.perf_counter() - started
            else:
                seconds = max(0, self.supervisor.clock.now() - arrived) / 1_000_000
            self._observe(m.frame_type(request), outcome, seconds)
        if answered:  # its ``ok`` is out: a later failure is only logged, never a second frame
            if frame is not None:
                log.error("%s failed after its ok: %s", m.frame_type(request), frame.decode())
        elif frame is not None:
            self.hub.send(peer, frame)
        elif not peer.closed:  # pragma: no cover - a handler that forgot to answer
            log.error("%s got no answer", m.frame_type(request))
            self.hub.send(peer, protocol.error(rid, "internal", "internal error"))

    async def _serve(
        self, peer: Peer, request: m.Request, receipt: Receipt | None
    ) -> tuple[bytes | None, str]:
        """The reply frame (None when the handler has sent its own ``ok``) and the outcome
        (``ok`` or the error's code)."""
        rid = request.id
        try:
            route = self._routes.get(type(request))
            if route is not None:
                if receipt is not None:
                    receipt.release()  # not a command: no deadline waits for it
                result = await route(peer, request)
            elif isinstance(request, m.Command):
                result = await self._command(peer.principal, request, receipt)
            else:  # pragma: no cover - every frame type has a route
                raise DomainError("bad_request", "unknown request")
        except DomainError as exc:
            return protocol.error(rid, exc.code, exc.message), exc.code
        except AuctionActorsError as exc:
            if exc.code == "internal":
                log.error("%s failed: %r", m.frame_type(request), exc)
                return protocol.error(rid, "internal", "internal error"), "internal"
            return protocol.error(rid, exc.code, _headline(exc)), exc.code
        except Exception:
            log.exception("%s failed", m.frame_type(request))
            return protocol.error(rid, "internal", "internal error"), "internal"
        if result is None:
            return None, "ok"
        return protocol.ok(rid, result), "ok"

    def _answer(self, request: m.Request, frame: bytes) -> bytes:
        """``frame`` (an ``ok``) is being sent by the handler itself: `handle` sends nothing
        more for this request."""
        self._answered.add(id(request))
        return frame

    # --- reads --------------------------------------------------------------------------------

    async def _subscribe(self, peer: Peer, req: m.Subscribe) -> Result:
        def ok(seq: int) -> bytes:
            return self._answer(req, protocol.ok(req.id, {"seq": seq}))

        await self.hub.subscribe(peer, req.auction_id, req.since, ok)
        return None

    async def _unsubscribe(self, peer: Peer, req: m.Unsubscribe) -> Result:
        self.hub.unsubscribe(peer, req.auction_id)
        return {}

    async def _subscribe_all(self, peer: Peer, req: m.SubscribeAll) -> Result:
        if peer.protocol < 2:  # every visible auction, and their ids (protocol 1)

            def ok(ids: list[str]) -> bytes:
                return self._answer(req, protocol.ok(req.id, {"auctions": ids}))

            await self.hub.subscribe_all(peer, ok)
            return None

        def counted(ids: list[str]) -> bytes:
            return self._answer(req, protocol.ok(req.id, {"count": len(ids)}))

        await self.hub.subscribe_all(peer, counted, m.statuses_of(req.statuses))
        return None

    async def _list(self, peer: Peer, req: m.ListAuctions) -> Result:
        statuses = None if req.status is None else set(req.status)
        return await self.hub.listing.page(peer.viewer, statuses, req.limit, req.cursor)

    async def _get_view(self, peer: Peer, req: m.GetView) -> Result:
        viewer, now = peer.viewer, self.supervisor.clock.now
        if req.at_seq is not None:
            answer = await history.view_at(
                self.hub, viewer, req.auction_id, req.at_seq, now, peer.protocol
            )
        else:

            def read(solved: Solved | None) -> dict[str, Any]:
                if solved is None:
                    raise DomainError("not_found", NOT_FOUND)
                found = present(solved.state, viewer, peer.protocol, now(), solved.solutions)
                if found is None:
                    raise DomainError("not_found", NOT_FOUND)
                return found

            answer = await self.hub.read_solved(req.auction_id, read)
        # Protocol 1's whole view: rendered and encoded in pieces (`whole`), the reply sent here.
        frame = await encoded(
            answer["view"], lambda view: protocol.ok(req.id, answer | {"view": view})
        )
        self.hub.send(peer, self._answer(req, frame))
        return None

    async def _get_events(self, peer: Peer, req: m.GetEvents) -> Result:
        # 1.1: every participant, filtered as in updates (`history`).
        return await history.page(self.hub, peer.viewer, req.auction_id, req.since, req.limit)

    async def _list_companies(self, peer: Peer, req: m.ListCompanies) -> Result:
        return await companies.page(self.accounts, peer.viewer, req.role, req.limit, req.cursor)

    # --- operators ----------------------------------------------------------------------------

    async def _operator_status(self, peer: Peer, req: m.OperatorStatus) -> Result:
        _require_admin(peer.principal)
        cells = self.supervisor.cells()
        stats = self.supervisor.stats
        cluster = {}
        if self.links is not None:  # cluster mode: this node's share and its forwarding
            ownership = self.links.ownership
            cluster = {
                "cluster": {
                    "node_id": ownership.node_id,
                    "partitions": sorted(ownership.held),
                    "nodes": sorted(ownership.peers),
                    "forwarded": self.links.forwarded,
                    "retried": self.links.retried,
                }
            }
        return {
            **cluster,
            "actors": await actor_counts(self.supervisor, self.hub),
            "scheduled": len(self.supervisor.scheduler),
            "commits": stats.commits,
            "committed": stats.committed,
            "restarts": stats.restarts,
            "quarantines": stats.quarantines,
            "connections": self.hub.stats.connections,
            "tasks": len(asyncio.all_tasks()),  # grows without bound = a leak (scripts/soak.py)
            "troubled": [
                {
                    "auction_id": c.auction_id,
                    "status": c.status,
                    "restarts": c.restarts,
                    "mailbox": c.mailbox,
                    "last_error": c.last_error,
                }
                for c in cells
                if c.restarts or c.status in ("restarting", "quarantined")
            ],
            **(await reactors_report(self.reactors, self.supervisor.store)),
        }

    async def _operator_revive(self, peer: Peer, req: m.OperatorRevive) -> Result:
        _require_admin(peer.principal)
        info = self.supervisor.revive(req.auction_id)
        return {"auction_id": info.auction_id, "status": info.status}

    # --- commands -----------------------------------------------------------------------------

    async def _command(
        self, principal: Principal, req: m.Command, receipt: Receipt | None = None
    ) -> Result:
        caller = await self._caller(principal, req.as_user)
        check_role(caller, req)
        parties = {cid: await self._company(cid, role) for cid, role in companies_needed(req)}
        # Keys are per authenticated user (an admin's key is the admin's, whoever it acts as).
        key = None if req.key is None else CommandKey(principal.user_id, req.key, fingerprint(req))
        if isinstance(req, m.CreateAuction):
            buyer = await self._buyer(principal, caller, req)
            terms = terms_of(req.auction, buyer, parties)
            reply = await self._create(caller, buyer, terms, receipt, key)
        else:
            assert isinstance(req, m.AuctionCommand)
            command = command_of(req, caller, parties)
            at = receipt.at if receipt is not None else self.supervisor.clock.now()
            try:
                reply = await self.supervisor.ask(req.auction_id, command, receipt=receipt, key=key)
            except NotOwner:
                if self.links is None:
                    raise
                reply = await self.links.ask(req.auction_id, command, at, key)
        return {"seq": reply.seq, **reply.fields}

    async def _create(
        self,
        caller: Caller,
        buyer: Party,
        terms: AuctionTerms,
        receipt: Receipt | None,
        key: CommandKey | None,
    ) -> Reply:
        """Create within the buyer's quota (an admin acting as itself has none). A repeat of a
        keyed creation that was applied is answered from its key and never counted."""
        if caller.role == "admin":
            return await self.supervisor.create_auction(caller, terms, receipt=receipt, key=key)
        stamps: list[int] = []
        # Read before: ``admit`` runs synchronously (creations of the buyer in flight on other
        # connections are not counted yet: the cap bounds a flood, it is not an accounting).
        unfinished = 0
        if self.quota.max_open is not None:
            unfinished = await self.hub.listing.unfinished(buyer.id)

        def admit() -> None:
            stamps.append(self.quota.take(buyer.id, self.supervisor.clock.now(), unfinished))

        try:
            return await self.supervisor.create_auction(
                caller, terms, receipt=receipt, key=key, admit=admit
            )
        except AuctionActorsError as exc:
            if stamps and (isinstance(exc, DomainError) or exc.code == "unavailable"):
                self.quota.give_back(buyer.id, stamps[0])  # not created: it does not count
            raise

    async def _caller(self, principal: Principal, as_user: str | None) -> Caller:
        me = Caller(principal.user_id, principal.company_id, principal.role)
        if as_user is None or as_user == principal.user_id:
            return me
        if principal.role != "admin":
            raise DomainError("forbidden", "only admins may act as another user")
        user = await self.accounts.user(as_user)
        if user is None:
            raise DomainError("not_found", f"unknown user {as_user}")
        return Caller(user.user_id, user.company_id, user.role, admin_id=principal.user_id)

    async def _company(self, company_id: str, role: Role) -> Party:
        """A company named in a request, which must exist with ``role``."""
        party = self._companies.get(f"{role}:{company_id}")
        if party is not None:
            return party
        company = await self.accounts.company(company_id)
        if company is None or company.role != role:
            raise DomainError("invalid", f"no {role} company {company_id}")
        party = Party(company.company_id, company.name)
        self._companies[f"{role}:{company_id}"] = party  # companies are never renamed
        return party

    async def _buyer(self, principal: Principal, caller: Caller, req: m.CreateAuction) -> Party:
        if caller.role == "admin":
            if req.buyer is None:
                raise DomainError("invalid", "an admin creating an auction names its `buyer`")
            return await self._company(req.buyer, "buyer")
        if req.buyer is not None and req.buyer != caller.company_id:
            raise DomainError("forbidden", "a buyer creates auctions for its own company only")
        if caller.company_id == principal.company_id:
            return Party(principal.company_id, principal.company_name)
        return await self._company(caller.company_id, "buyer")


def fingerprint(req: m.Command) -> bytes:
    """What identifies a keyed command: the sha256 of its canonical encoding without ``id`` and
    ``key`` (``as_user`` included), so only a retry of the same command matches its key."""
    bare = msgspec.structs.replace(req, id=0, key=None)
    return hashlib.sha256(msgspec.json.encode(bare)).digest()


def _headline(exc: AuctionActorsError) -> str:
    """What a client is told of an unavailable auction or store: the reason ("auction a-1 is
    quarantined", "storage unavailable"), not the operator's detail after it (the crash that
    caused it, which ``operator_status`` shows)."""
    return str(exc).split(": ", 1)[0]


def _require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise DomainError("forbidden", "only admins may do this")


def check_role(caller: Caller, req: m.Command) -> None:
    """Refusals that hold on every auction; the domain checks the auction-specific ones."""
    allowed: tuple[Role, ...] = ()
    if isinstance(req, SUPPLIER_ONLY):
        allowed = ("supplier",)
    elif isinstance(req, BUYER_OR_ADMIN):
        allowed = ("buyer", "admin")
    elif isinstance(req, ADMIN_ONLY):
        allowed = ("admin",)
    if caller.role not in allowed:
        raise DomainError("forbidden", f"a {caller.role} may not {m.frame_type(req)}")
