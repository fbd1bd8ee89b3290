"""Protocol 2's products, part by part (`parts`): each product's leaves (its own fields, its
``bids`` one JSON text per bid, a supplier's ``is_leading``) and the operations from one
rendering of a product to the next.

What receivers see alike is made once per state and kept beside it (in its ``__dict__``, like
the rest of `parts`): each bid's text per form of receiver (a bid never changes: only which bids
are live does), each product's own fields, its ranked bids, and the list every supplier sees of
its competitors' bids (`Competitors`). A supplier's ``bids`` is that list with its own bid in
its own form, so the operations from one such list to the next are those of the shared lists
(`patches.list_program` depends only on which elements are equal, and putting each supplier's
own bid in its place keeps that pattern): found once per update for every supplier, and the
operations themselves shared by every supplier whose own bid is not among their values.
"""

from __future__ import annotations

from typing import Any

import msgspec

from auctionactors.domain.patches import (
    Leaves,
    Program,
    field_op,
    list_ops,
    list_program,
    program_ops,
)
from auctionactors.domain.present import to_public
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.terms import Product
from auctionactors.domain.views import Lens

__all__ = ["Competitors", "product_ops", "render_product"]

_encode = msgspec.json.Encoder().encode
_BIDS, _PRODUCTS, _RANKED, _COMPETITORS = (
    "rendered_bids", "rendered_products", "ranked_bids", "rendered_competitors",
)  # fmt: skip
_TRUE, _FALSE = b"true", b"false"


class Competitors:
    """A product's bids at one state as every supplier sees its competitors' (``texts``), and
    where each supplier's own bid is among them (``places``); with the operations from the
    `Competitors` it was last compared with (``base``), found once for every supplier."""

    __slots__ = ("_ops", "_path", "_program", "base", "places", "seq", "texts")

    def __init__(self, seq: int, texts: list[bytes], places: dict[str, int]) -> None:
        self.seq = seq
        self.texts = texts
        self.places = places
        self.base: Competitors | None = None
        self._program: Program = []
        self._ops: list[dict[str, Any]] | None = None
        self._path = ""

    def forget(self) -> None:
        self.base, self._ops = None, None

    def program_from(self, old: Competitors) -> Program:
        if self.base is not old:
            self.base, self._program, self._ops = old, list_program(old.texts, self.texts), None
        return self._program

    def ops_from(self, old: Competitors, path: str) -> list[dict[str, Any]]:
        """The operations from ``old``'s texts to these (at ``path``), made once."""
        program = self.program_from(old)
        if self._ops is None or self._path != path:
            self._ops, self._path = [], path
            program_ops(path, program, self.texts, self._ops)
        return self._ops


def render_product(
    state: AuctionState, lens: Lens, product: Product
) -> tuple[Leaves, Competitors | None]:
    """One product's leaves for ``lens``, and for a supplier the `Competitors` its ``bids`` were
    made from (its own bid put in its place). A supplier's list is every supplier's, with its
    own bid in its form."""
    cache = _bids_cache(state)
    own = dict(_product_fields(state, lens, product))
    ranked = _ranked(state, product.product_id)
    source: Competitors | None = None
    bids: list[bytes]
    me = lens.me
    if me is not None:
        source = _competitors(state, lens, product.product_id, ranked, cache)
        place = source.places.get(me)
        if place is None:
            bids = source.texts
        else:
            bids = list(source.texts)
            bids[place] = _bid_text(lens, ranked[place], cache)
        own["bids"] = bids
        own["is_leading"] = _TRUE if ranked and ranked[0].supplier_id == me else _FALSE
    else:
        own["bids"] = [_bid_text(lens, bid, cache) for bid in ranked]
    return own, source


def product_ops(
    path: str,
    was: Leaves,
    now: Leaves,
    was_from: Competitors | None,
    now_from: Competitors | None,
    ops: list[dict[str, Any]],
) -> None:
    """Operations turning the product ``was`` into ``now`` (`patches.dict_ops`, with a
    supplier's ``bids`` from the operations of the shared lists they were made from)."""
    for key, value in now.items():
        old = was.get(key)
        if old is value:
            continue
        if key == "bids" and was_from is not None and now_from is not None:
            assert isinstance(value, list)
            texts = now_from.texts
            program = now_from.program_from(was_from)
            if all(j < 0 or value[j] is texts[j] for _, _, j in program):
                ops.extend(now_from.ops_from(was_from, f"{path}/bids"))
            else:  # its own bid is among the values
                program_ops(f"{path}/bids", program, value, ops)
        elif isinstance(value, list) and isinstance(old, list):
            list_ops(f"{path}/{key}", old, value, ops)
        else:
            field_op(path, key, old, value, ops)
    for key in was:
        if key not in now:
            ops.append({"op": "remove", "path": f"{path}/{key}"})


def _bid_text(lens: Lens, bid: Bid, cache: dict[Any, bytes]) -> bytes:
    key = (bid.bid_id, *lens.bid_form(bid))
    text = cache.get(key)
    if text is None:
        text = cache[key] = _encode(to_public(lens.bid(bid)))
    return text


def _competitors(
    state: AuctionState, lens: Lens, product_id: str, ranked: list[Bid], cache: dict[Any, bytes]
) -> Competitors:
    """A product's `Competitors` at this state: made once per state."""
    made: dict[str, Competitors] = state.__dict__.setdefault(_COMPETITORS, {})
    entry = made.get(product_id)
    if entry is None or entry.seq != state.seq:
        texts: list[bytes] = []
        places: dict[str, int] = {}
        for i, bid in enumerate(ranked):
            key = (bid.bid_id, "competitor")
            text = cache.get(key)
            if text is None:
                text = cache[key] = _encode(to_public(lens.competitor_bid(bid)))
            texts.append(text)
            places[bid.supplier_id] = i
        if entry is not None:
            entry.forget()  # each is linked only to the one before: no chain
        entry = made[product_id] = Competitors(state.seq, texts, places)
    return entry


def _product_fields(state: AuctionState, lens: Lens, product: Product) -> Leaves:
    made: dict[tuple[str, bool], tuple[Product, Leaves]] = state.__dict__.setdefault(_PRODUCTS, {})
    key = (product.product_id, lens.vessel_names is not None)
    entry = made.get(key)
    if entry is None or entry[0] is not product:
        fields = lens.product_fields(product)
        entry = made[key] = (product, {k: _encode(to_public(v, k)) for k, v in fields.items()})
    return entry[1]


def _ranked(state: AuctionState, product_id: str) -> list[Bid]:
    """`AuctionState.ranked`, sorted once per state for every receiver."""
    made: dict[str, tuple[int, list[Bid]]] = state.__dict__.setdefault(_RANKED, {})
    entry = made.get(product_id)
    if entry is None or entry[0] != state.seq:
        entry = made[product_id] = (state.seq, state.ranked(product_id))
    return entry[1]


def _bids_cache(state: AuctionState) -> dict[Any, bytes]:
    """The JSON texts of bids by (bid_id, form), beside the state; those of bids no longer live
    are dropped when they outnumber the live ones (so it holds about what the views show)."""
    cache: dict[Any, bytes] = state.__dict__.setdefault(_BIDS, {})
    if len(cache) > 8 * len(state.bids) + 256:
        live = state.bids
        for key in [k for k in cache if k[0] not in live]:
            del cache[key]
    return cache
