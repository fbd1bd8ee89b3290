"""An auction's catalog summary: what lists, quotas and the timer heap need to know about it
without loading its state (DESIGN.md, "Costs grow with change, not with history").

The runtime writes it in the same transaction as the events that change it (`store` keeps it
opaque beside a few columns it can index: status, creation time, next deadline, readers). Who
may see an auction is decided here, by `access.can_see`, when the summary is made; readers of
the catalog only remember the answer for each company involved.
"""

from __future__ import annotations

from typing import Any

import msgspec

from auctionactors.domain.access import Viewer, can_see
from auctionactors.domain.money import Cents
from auctionactors.domain.parties import Party, Role
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import Kind, Status
from auctionactors.domain.timestamps import Instant, format_instant

_SUMMARY = "catalog_summary"  # kept in the state's ``__dict__`` (`summary_of`)
# The buyer as an observer sees it (views.py anonymises the buyer for observers).
ANONYMOUS_BUYER: dict[str, Any] = {"id": None, "name": "Buyer"}


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    auction_id: str
    kind: Kind
    status: Status
    port: str
    buyer: Party
    created_at: Instant
    scheduled_start: Instant | None
    closes_at: Instant | None
    decision_closes_at: Instant | None = None
    # The next instant at which the clock changes the auction (`AuctionState.next_deadline`).
    next_deadline: Instant | None = None
    winning_total: Cents | None = None
    seq: int
    # Companies (other than admins) that may see the auction, as `can_see` decided.
    readers: frozenset[str]

    def visible_to(self, viewer: Viewer) -> bool:
        return viewer.role == "admin" or viewer.company_id in self.readers

    def public(self, viewer: Viewer) -> dict[str, Any]:
        """In the protocol's notation, as ``list_auctions`` returns it."""
        buyer: dict[str, Any] = {"id": self.buyer.id, "name": self.buyer.name}
        if viewer.role == "observer":
            buyer = ANONYMOUS_BUYER
        return {
            "auction_id": self.auction_id,
            "kind": self.kind,
            "status": self.status,
            "port": self.port,
            "buyer": buyer,
            "scheduled_start": _instant(self.scheduled_start),
            "closes_at": _instant(self.closes_at),
        }


def _instant(t: Instant | None) -> str | None:
    return None if t is None else format_instant(t)


def summarize(state: AuctionState) -> Summary:
    terms = state.terms
    candidates: list[tuple[str, Role]] = [(terms.buyer.id, "buyer")]
    candidates += [(s.id, "supplier") for s in terms.suppliers]
    candidates += [(o, "observer") for o in state.observers]
    readers = frozenset(c for c, role in candidates if can_see(state, Viewer(c, role)))
    return Summary(
        auction_id=state.auction_id,
        kind=terms.kind,
        status=state.status,
        port=terms.port,
        buyer=terms.buyer,
        created_at=state.created_at,
        scheduled_start=terms.scheduled_start,
        closes_at=state.closes_at,
        decision_closes_at=state.decision_closes_at,
        next_deadline=state.next_deadline(),
        winning_total=state.winning_total,
        seq=state.seq,
        readers=readers,
    )


def summary_of(state: AuctionState) -> Summary:
    """`summarize`, made again only when something it shows other than the seq changed since
    it was last made for this state object (kept beside the state, in its ``__dict__``): a bid
    changes only the seq, so a hot auction's summary for the catalog row and for the live
    updates of each command is a copy."""
    key: tuple[object, ...] = (state.terms, state.status, state.closes_at, state.decision_closes_at)
    key += (state.winning_total, *state.observers)
    made: tuple[tuple[object, ...], Summary] | None = state.__dict__.get(_SUMMARY)
    if made is None or made[0] != key:
        made = state.__dict__[_SUMMARY] = (key, summarize(state))
    summary = made[1]
    if summary.seq != state.seq:
        summary = msgspec.structs.replace(summary, seq=state.seq)
        state.__dict__[_SUMMARY] = (key, summary)
    return summary
