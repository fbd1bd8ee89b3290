"""Protocol 1's whole view (`views.view`) in pieces, for an auction with a long bid history.

`views.view` walks every bid ever placed (each product's ``history``): for an auction with 100k
events, a supplier's view takes some 160 ms of CPU and 7 MB in one go (the buyer's, 700 ms and
17 MB). A `WholeView` takes everything else when it is made
(synchronously, inside the actor or from the hub's cache: the head, each product's live bids,
the solutions, barges and comments, all cheap), with a snapshot of the history (`history()`
is a new list; a `Bid` never changes) and of which bids are live (``live``, small), and
suppliers named as the state names them then (`Lens` ``frozen``). Then `pieces` renders and
encodes the history `size` bids at a time: the state may change between two pieces (the actor
goes on), and the view is still exactly `views.view` of the state it was made from. The caller
(the gateway) drives the pieces, serving others between two of them, and `frame` puts them
into the frame in one copy.

A piece's entries are dicts of strings, numbers and each supplier's party already encoded
(`msgspec.Raw`): objects the garbage collector does not track, so that rendering a long history
does not set off full collections (which stall the loop as long as a whole view).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from auctionactors.domain.access import Viewer
from auctionactors.domain.present import to_public
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.views import Lens, history_entry

PIECE = 500  # bids of the history rendered and encoded in one piece (0.5 to 1.5 ms of CPU)

_encode = msgspec.json.Encoder().encode
# Where a product's history goes in the frame (`frame`): a NUL byte is never in encoded JSON
# otherwise (a string's control characters are escaped).
_MARK = b"\x00"


class WholeView:
    """One receiver's whole view of a state, as the state was when made (`of`)."""

    __slots__ = (
        "_encoded",
        "_history",
        "_index",
        "_lens",
        "_live",
        "_parties",
        "doc",
        "seq",
        "size",
    )

    def __init__(self, lens: Lens, now: int, size: int | None = None) -> None:
        state = lens.state
        self._lens = lens
        self.size = PIECE if size is None else size  # bids of the history in a piece
        self.seq = state.seq
        self._history = state.history()
        self._live = {product: dict(live) for product, live in state.live.items()}
        self._index = {p.product_id: i for i, p in enumerate(state.products.values())}
        self._parties: dict[str, msgspec.Raw] = {}  # supplier -> its party, encoded
        # Each product's history, encoded (`pieces`): items, and commas between them.
        self._encoded: list[list[bytes]] = []
        doc: dict[str, Any] = {}
        for key, value in lens.head(now).items():  # as `views.view` puts them together
            doc[key] = value
            if key == "port_agent":
                doc["products"] = [lens.product(p, []) for p in state.products.values()]
                doc["solutions"] = lens.solutions()
                doc["barges"] = lens.barges()
                doc["comments"] = lens.comments()
        # The view in the protocol's notation, each product's ``history`` still empty.
        self.doc: dict[str, Any] = to_public(doc)

    @classmethod
    def of(
        cls,
        state: AuctionState,
        viewer: Viewer,
        now: int,
        solutions: Solutions | None = None,
        size: int | None = None,
    ) -> WholeView | None:
        """None when the viewer may not see the auction at all (as `views.view`)."""
        lens = Lens.of(state, viewer, solutions, frozen=True)
        return None if lens is None else cls(lens, now, size)

    def pieces(self) -> Iterator[None]:
        """Render and encode the history, `size` bids of it per step, then call `frame`: a step
        between two pieces, and one before the frame of a history of more than one piece
        (putting 17 MB together is a piece too). A short history is rendered in one go."""
        lens, live, index, size = self._lens, self._live, self._index, self.size
        kind, me = lens.kind, lens.me
        empty: dict[str, str] = {}
        history = self._history
        encoded: list[list[bytes]] = [[] for _ in self.doc["products"]]
        self._encoded = encoded
        for start in range(0, len(history), size):
            if start:
                yield
            piece: dict[int, list[dict[str, Any]]] = {}
            for bid in history[start : start + size]:
                at = index.get(bid.product_id)
                if at is None or (me is not None and bid.supplier_id != me):
                    continue
                entry = history_entry(bid, live.get(bid.product_id, empty), kind, me, self._party)
                piece.setdefault(at, []).append(entry)
            for at, entries in piece.items():
                if encoded[at]:
                    encoded[at].append(b",")
                encoded[at].append(_encode(to_public(entries))[1:-1])  # without its brackets
        if len(history) > size:
            yield

    def _party(self, supplier_id: str) -> msgspec.Raw:
        party = self._parties.get(supplier_id)
        if party is None:
            party = msgspec.Raw(_encode(to_public(self._lens.namer.party(supplier_id))))
            self._parties[supplier_id] = party
        return party

    def frame(self, encode: Callable[[dict[str, Any]], bytes]) -> bytes:
        """``encode``'s frame of the whole view, once every piece is rendered: as if it had
        encoded `views.view`'s document (``encode`` encodes a JSON document that has the view;
        the history is put into its output)."""
        products = self.doc["products"]
        assert len(self._encoded) == len(products)  # `pieces` went through
        for product in products:
            product["history"] = msgspec.Raw(_MARK)
        around = encode(self.doc).split(_MARK)
        assert len(around) == len(products) + 1
        out = [around[0]]
        for history, after in zip(self._encoded, around[1:], strict=True):
            out += (b"[", *history, b"]", after)
        return b"".join(out)
