"""An in-memory index of every auction's summary, for ``list_auctions`` and ``subscribe_all``.

Kept current by the hub from the updates it sees (and filled once at startup), so listing never
replays an auction. Who may see an auction is decided by the domain (`views.can_see`) when the
summary is made; the index only remembers the answer for each company involved.
"""

from __future__ import annotations

from collections.abc import Collection

from auctionactors.domain.access import Viewer
from auctionactors.domain.catalog import Summary, summarize
from auctionactors.domain.state import AuctionState

__all__ = ["AuctionIndex", "Summary", "summarize"]


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
