"""Protocol 1's whole view (`views.view`) in pieces, for an auction with a long bid history.

`views.view` walks every bid ever placed (each product's ``history``): for an auction with 100k
events, some 170 ms and 7 MB in one go. A `WholeView` takes everything else when it is made
(synchronously, inside the actor or from the hub's cache: the head, each product's live bids,
the solutions, barges and comments, all cheap), with a snapshot of the history (`history()`
is a new list; a `Bid` never changes) and of which bids are live (``live``, small), and
suppliers named as the state names them then (`Lens` ``frozen``). Then `pieces` renders the
history `PIECE` bids at a time: the state may change between two pieces (the actor goes on),
and the view is still exactly `views.view` of the state it was made from. The caller (the
gateway) drives the pieces, serving others between two of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auctionactors.domain.access import Viewer
from auctionactors.domain.present import to_public
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.views import Lens, history_entry

PIECE = 1000  # bids of the history rendered in one piece (about 1.5 ms)

Piece = dict[int, list[dict[str, Any]]]  # a product's index -> its entries of one piece (public)


class WholeView:
    """One receiver's whole view of a state, as the state was when made (`of`)."""

    __slots__ = ("_history", "_index", "_lens", "_live", "doc", "seq", "size")

    def __init__(self, lens: Lens, now: int, size: int = PIECE) -> None:
        state = lens.state
        self._lens = lens
        self.size = size  # bids of the history in a piece
        self._history = state.history()
        self._live = {product: dict(live) for product, live in state.live.items()}
        self._index = {p.product_id: i for i, p in enumerate(state.products.values())}
        self.seq = state.seq
        doc: dict[str, Any] = {}
        for key, value in lens.head(now).items():  # as `views.view` puts them together
            doc[key] = value
            if key == "port_agent":
                doc["products"] = [lens.product(p, []) for p in state.products.values()]
                doc["solutions"] = lens.solutions()
                doc["barges"] = lens.barges()
                doc["comments"] = lens.comments()
        # The view in the protocol's notation, each product's ``history`` empty (`filled`).
        self.doc: dict[str, Any] = to_public(doc)

    @classmethod
    def of(
        cls,
        state: AuctionState,
        viewer: Viewer,
        now: int,
        solutions: Solutions | None = None,
        size: int = PIECE,
    ) -> WholeView | None:
        """None when the viewer may not see the auction at all (as `views.view`)."""
        lens = Lens.of(state, viewer, solutions, frozen=True)
        return None if lens is None else cls(lens, now, size)

    def pieces(self) -> Iterator[Piece]:
        """The products' history entries (in the protocol's notation), `size` bids of the
        history at a time: each product's entries are those of all pieces, in order."""
        lens, live, index, size = self._lens, self._live, self._index, self.size
        kind, me, namer = lens.kind, lens.me, lens.namer
        empty: dict[str, str] = {}
        history = self._history
        for start in range(0, len(history), size):
            piece: Piece = {}
            for bid in history[start : start + size]:
                at = index.get(bid.product_id)
                if at is None or (me is not None and bid.supplier_id != me):
                    continue
                entry = history_entry(bid, live.get(bid.product_id, empty), kind, me, namer)
                piece.setdefault(at, []).append(entry)
            yield {at: to_public(entries) for at, entries in piece.items()}

    def filled(self, histories: list[Any]) -> dict[str, Any]:
        """`doc` with each product's ``history`` (in the order of ``doc["products"]``)."""
        for product, history in zip(self.doc["products"], histories, strict=True):
            product["history"] = history
        return self.doc
