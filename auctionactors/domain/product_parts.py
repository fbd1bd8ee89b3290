"""Protocol 2's products, part by part (`parts`): each product's leaves (its own fields, its
``bids`` one JSON text per bid, a supplier's ``is_leading``) and the operations from one
rendering of a product to the next.

What receivers see alike is made once per state and kept beside it (in its ``__dict__``, like
the rest of `parts`): each bid's text per form of receiver (a bid never changes: only which bids
are live does), each product's own fields, its ranked bids, and the list every supplier sees of
its competitors' bids (`Competitors`, with each bid's text in its own supplier's form). A
supplier's ``bids`` is that list with its own bid in its own form, so the operations from one
such list to the next are those of the shared lists (`patches.list_program` depends only on
which elements are equal, and putting each supplier's own bid in its place keeps that
pattern): found once per update for every supplier, and the operations themselves shared by
every supplier whose own bid is not among their values.
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

__all__ = [
    "Competitors", "own_bids", "product_ops", "render_product", "supplier_leaves",
    "supplier_product",
]  # fmt: skip

_encode = msgspec.json.Encoder().encode
_BIDS, _BOOKS, _COMPETITORS = "rendered_bids", "rendered_books", "rendered_competitors"
_TRUE, _FALSE = b"true", b"false"


class Competitors:
    """A product's bids at one state as every supplier sees its competitors' (``texts``) and as
    each sees its own (``owns``), where each supplier's own bid is among them (``places``) and
    who leads (``leader``): all a supplier's ``bids`` and ``is_leading`` are made of; with the
    operations from the `Competitors` it was last compared with (``base``), found once for
    every supplier."""

    __slots__ = ("_ops", "_path", "_program", "base", "leader", "owns", "places", "seq", "texts")

    def __init__(self, seq: int, ranked: list[Bid], texts: list[bytes], owns: list[bytes]) -> None:
        self.seq = seq
        self.texts = texts
        self.owns = owns  # each bid's text as its own supplier sees it
        self.places = {bid.supplier_id: i for i, bid in enumerate(ranked)}
        self.leader = ranked[0].supplier_id if ranked else None
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


class Source:
    """What a receiver's rendering of a product was made from: the product's own fields (the
    same `Leaves` object while the product is unchanged) and, for a supplier, the
    `Competitors` its ``bids`` were made from (its own bid put in its place)."""

    __slots__ = ("competitors", "fields")

    def __init__(self, fields: Leaves, competitors: Competitors | None) -> None:
        self.fields = fields
        self.competitors = competitors


class _Book:
    """A product at one state, as every receiver renders it: its ranked bids, its
    `Competitors` (made when a supplier first asks) and its own fields per form (kept from the
    `_Book` before while the product is the same object)."""

    __slots__ = ("competitors", "fields", "product", "ranked", "seq")

    def __init__(self, state: AuctionState, product: Product, before: _Book | None) -> None:
        self.seq = state.seq
        self.product = product
        self.ranked = state.ranked(product.product_id)
        self.competitors: Competitors | None = None
        self.fields: dict[bool, Leaves] = {}
        if before is not None and before.product is product:
            self.fields = before.fields


def render_product(state: AuctionState, lens: Lens, product: Product) -> tuple[Leaves, Source]:
    """One product's leaves for ``lens``, and what they were made from (`Source`); not for a
    supplier, whose leaves come from the shared `supplier_product` (`supplier_leaves`)."""
    assert lens.me is None
    book = _book(state, product)
    fields = _fields(book, lens)
    own = dict(fields)
    cache: dict[Any, bytes] = state.__dict__[_BIDS]
    own["bids"] = [_bid_text(lens, bid, cache) for bid in book.ranked]
    return own, Source(fields, None)


def supplier_product(state: AuctionState, lens: Lens, product: Product) -> Source:
    """What every supplier's rendering of the product is made from at this state (a `Source`
    with its `Competitors`), made once and shared: a supplier's leaves are `supplier_leaves`."""
    book = _book(state, product)
    return Source(_fields(book, lens), _shared_competitors(state, lens, book))


def supplier_leaves(source: Source, me: str) -> Leaves:
    """A supplier's leaves of a product, from its shared `Source` (`supplier_product`): made
    of what was rendered with it, whenever asked for."""
    competitors = source.competitors
    assert competitors is not None
    own = dict(source.fields)
    own["bids"] = own_bids(competitors, me)
    own["is_leading"] = _TRUE if competitors.leader == me else _FALSE
    return own


def own_bids(competitors: Competitors, me: str) -> list[bytes]:
    """A supplier's ``bids``: the competitors' list, with its own bid in its own form."""
    place = competitors.places.get(me)
    if place is None:
        return competitors.texts
    bids = list(competitors.texts)
    bids[place] = competitors.owns[place]
    return bids


def _book(state: AuctionState, product: Product) -> _Book:
    books: dict[str, _Book] | None = state.__dict__.get(_BOOKS)
    if books is None:
        books = state.__dict__[_BOOKS] = {}
    book = books.get(product.product_id)
    if book is None or book.seq != state.seq or book.product is not product:
        book = books[product.product_id] = _Book(state, product, book)
        _prune(state)
    return book


def _fields(book: _Book, lens: Lens) -> Leaves:
    observer = lens.vessel_names is not None
    fields = book.fields.get(observer)
    if fields is None:
        made = lens.product_fields(book.product)
        fields = book.fields[observer] = {k: _encode(to_public(v, k)) for k, v in made.items()}
    return fields


def _shared_competitors(state: AuctionState, lens: Lens, book: _Book) -> Competitors:
    competitors = book.competitors
    if competitors is None:
        competitors = book.competitors = _competitors(
            state, lens, book.product.product_id, book.ranked
        )
    return competitors


_VARYING = ("bids", "is_leading")  # what differs between renderings of one unchanged product


def product_ops(
    path: str, was: Leaves, now: Leaves, was_from: Source, now_from: Source,
    ops: list[dict[str, Any]],
) -> None:  # fmt: skip
    """Operations turning the product ``was`` into ``now`` (`patches.dict_ops`, with a
    supplier's ``bids`` from the operations of the shared lists they were made from). Made from
    the same product fields, only ``bids`` and ``is_leading`` are compared."""
    same = was_from.fields is now_from.fields
    for key in _VARYING if same else now:
        value = now.get(key)
        old = was.get(key)
        if old is value or value is None:
            continue
        if key == "bids" and was_from.competitors is not None and now_from.competitors is not None:
            _bids_ops(f"{path}/bids", value, was_from.competitors, now_from.competitors, ops)
        elif isinstance(value, list) and isinstance(old, list):
            list_ops(f"{path}/{key}", old, value, ops)
        else:
            field_op(path, key, old, value, ops)
    for key in _VARYING if same else was:
        if key in was and key not in now:
            ops.append({"op": "remove", "path": f"{path}/{key}"})


def _bids_ops(
    path: str, bids: bytes | list[bytes], was: Competitors, now: Competitors,
    ops: list[dict[str, Any]],
) -> None:  # fmt: skip
    """A supplier's ``bids`` made from ``now`` after ``was``: the shared operations, unless its
    own bid is among their values."""
    assert isinstance(bids, list)
    texts = now.texts
    program = now.program_from(was)
    if all(j < 0 or bids[j] is texts[j] for _, _, j in program):
        ops.extend(now.ops_from(was, path))
    else:
        program_ops(path, program, bids, ops)


def _bid_text(lens: Lens, bid: Bid, cache: dict[Any, bytes]) -> bytes:
    key = (bid.bid_id, *lens.bid_form(bid))
    text = cache.get(key)
    if text is None:
        text = cache[key] = _encode(to_public(lens.bid(bid)))
    return text


def _competitors(
    state: AuctionState, lens: Lens, product_id: str, ranked: list[Bid]
) -> Competitors:
    """A product's `Competitors` at this state (the one before it forgets its operations)."""
    cache: dict[Any, bytes] = state.__dict__[_BIDS]
    texts: list[bytes] = []
    owns: list[bytes] = []
    for bid in ranked:
        key = (bid.bid_id, "competitor")
        text = cache.get(key)
        if text is None:
            text = cache[key] = _encode(to_public(lens.competitor_bid(bid)))
        texts.append(text)
        key = (bid.bid_id, "own")
        text = cache.get(key)
        if text is None:
            text = cache[key] = _encode(to_public(lens.own_bid(bid)))
        owns.append(text)
    before: Competitors | None = state.__dict__.get(_COMPETITORS, {}).get(product_id)
    if before is not None:
        before.forget()  # each is linked only to the one before: no chain
    state.__dict__.setdefault(_COMPETITORS, {})[product_id] = made = Competitors(
        state.seq, ranked, texts, owns
    )
    return made


def _prune(state: AuctionState) -> None:
    """The JSON texts of bids by (bid_id, form), beside the state; those of bids no longer live
    are dropped when they outnumber the live ones (so it holds about what the views show)."""
    cache: dict[Any, bytes] = state.__dict__.setdefault(_BIDS, {})
    if len(cache) > 8 * len(state.bids) + 256:
        live = state.bids
        for key in [k for k in cache if k[0] not in live]:
            del cache[key]
