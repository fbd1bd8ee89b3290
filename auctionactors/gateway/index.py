"""An in-memory index of every auction's summary, for ``list_auctions`` and ``subscribe_all``.

Kept current by the hub from the updates it sees (and filled once at startup), so listing never
replays an auction. Who may see an auction is decided by the domain (`views.can_see`) when the
summary is made; the index only remembers the answer for each company involved.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec

from auctionactors.domain.access import Viewer, can_see
from auctionactors.domain.parties import Party, Role
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import Kind, Status
from auctionactors.domain.timestamps import Instant, format_instant

# The buyer as an observer sees it (views.py anonymises the buyer for observers).
ANONYMOUS_BUYER: dict[str, Any] = {"id": None, "name": "Buyer"}


class Summary(msgspec.Struct, frozen=True):
    auction_id: str
    kind: Kind
    status: Status
    port: str
    buyer: Party
    scheduled_start: Instant | None
    closes_at: Instant | None
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
        scheduled_start=terms.scheduled_start,
        closes_at=state.closes_at,
        seq=state.seq,
        readers=readers,
    )


class AuctionIndex:
    def __init__(self) -> None:
        self._summaries: dict[str, Summary] = {}

    def __len__(self) -> int:
        return len(self._summaries)

    def __contains__(self, auction_id: object) -> bool:
        return auction_id in self._summaries

    def observe(self, state: AuctionState) -> Summary:
        summary = summarize(state)
        self._summaries[state.auction_id] = summary
        return summary

    def put(self, summary: Summary) -> None:
        """Add a summary made outside `observe` unless a newer one is already there."""
        current = self._summaries.get(summary.auction_id)
        if current is None or current.seq < summary.seq:
            self._summaries[summary.auction_id] = summary

    def get(self, auction_id: str) -> Summary | None:
        return self._summaries.get(auction_id)

    def ids(self) -> list[str]:
        return list(self._summaries)

    def visible(self, viewer: Viewer, statuses: Collection[str] | None = None) -> list[Summary]:
        """Summaries ``viewer`` may see (optionally only in ``statuses``), by auction id."""
        return [
            s
            for _, s in sorted(self._summaries.items())
            if s.visible_to(viewer) and (statuses is None or s.status in statuses)
        ]
