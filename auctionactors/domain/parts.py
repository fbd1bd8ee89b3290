"""Protocol 2's views, part by part: the bounded view (no bid history, no ``server_time``)
rendered and encoded one part at a time, and the JSON Patch (RFC 6902) from one rendering to the
next made from the parts, never by diffing whole documents.

A view's parts are its top-level fields, each encoded on its own, except the lists (``products``,
``barges``, ``comments``), encoded element by element. After a command only what its events can
have changed is rendered again (`touched`): a bid renders its product(s), the solutions and the
top-level fields (status line, seq, rsvp...); the other parts are taken as they are from the
receiver's previous rendering. Each part is then compared with its previous encoding (bytes), and
only those that differ make an operation. So a patch, and the work of making it, depend on what
changed, not on how long the auction has run.

Each receiver's latest rendering is kept beside the state (`cached`, `keep`: in the state's
``__dict__``, never encoded nor compared), tagged with its seq: it is the base of a patch only for
the update right after that seq. A state rebuilt after a failed write is a new object, so nothing
rendered from events that were rolled back can be the base of a patch.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import msgspec

from auctionactors.domain.access import Viewer, audience
from auctionactors.domain.patches import Leaves, dict_ops, key_op, raw
from auctionactors.domain.present import to_public
from auctionactors.domain.product_parts import (
    Source,
    product_ops,
    render_product,
    supplier_product,
)
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.supplier_parts import Shelf
from auctionactors.domain.updates import EVERYTHING, Touched, touched
from auctionactors.domain.views import Lens, personal

__all__ = [
    "EVERYTHING", "Parts", "Touched", "advance", "cached", "diff", "keep", "render", "touched",
]  # fmt: skip

_encode = msgspec.json.Encoder().encode
# What is kept in the state's ``__dict__``: each receiver's latest rendering, the solutions'
# JSON texts, the heads, the suppliers' `Shelf`.
_CACHE, _SOLUTIONS = "rendered_parts", "rendered_solutions"
_HEADS, _SHELF = "rendered_heads", "rendered_shelf"


class Head:
    """The top-level fields every receiver of one kind sees alike (all but the solutions, the
    lists and a supplier's status line and RSVP), encoded once per state and kind and shared by
    those receivers; with the operations from the head it was made after (``base``), found
    once for all of them."""

    __slots__ = ("_ops", "base", "fields", "seq", "values")

    def __init__(self, seq: int, values: dict[str, Any], fields: Leaves, base: Head | None) -> None:
        self.seq = seq
        self.values = values
        self.fields = fields
        self.base = base
        self._ops: list[dict[str, Any]] | None = None

    def ops_from(self, old: Head) -> list[dict[str, Any]]:
        if old is not self.base:
            ops: list[dict[str, Any]] = []
            dict_ops("", old.fields, self.fields, ops)
            return ops
        if self._ops is None:
            self._ops = []
            dict_ops("", old.fields, self.fields, self._ops)
        return self._ops


class Parts:
    """One receiver's bounded view at ``seq``, encoded part by part: the `Head` (shared),
    ``fields`` (its own: the solutions, barges, comments, and a supplier's status line and
    RSVP) and ``products``, each a dict of its own fields, its ``bids`` one JSON text per bid.
    ``values`` are the receiver's own top-level fields before encoding: one equal to the last
    rendering's is not encoded again. ``sources``: what each product's leaves were made from.

    A supplier's (``me``) is its ``shelf`` (`supplier_parts`: what every supplier sees alike)
    and its own fields: its products' leaves are made from the shelf when first asked for."""

    __slots__ = (
        "_products", "fields", "head", "me", "product_ids", "seq", "shelf", "sources", "values",
    )  # fmt: skip

    def __init__(
        self,
        seq: int,
        head: Head,
        fields: Leaves,
        products: list[Leaves] | None,
        sources: list[Source],
        product_ids: tuple[str, ...],
        values: dict[str, Any],
        shelf: Shelf | None = None,
        me: str | None = None,
    ) -> None:
        self.seq = seq
        self.head = head
        self.fields = fields
        self._products = products
        self.sources = sources
        self.product_ids = product_ids
        self.values = values
        self.shelf = shelf
        self.me = me

    @property
    def products(self) -> list[Leaves]:
        if self._products is None:
            assert self.shelf is not None and self.me is not None
            self._products = self.shelf.leaves(self.me)
        return self._products

    def document(self) -> dict[str, Any]:
        """The whole view, its parts as they are encoded (msgspec encodes it as JSON), in the
        view's order: the solutions and the lists after ``port_agent``, the receiver's own
        fields last."""
        doc: dict[str, Any] = {}
        for key, value in self.head.fields.items():
            doc[key] = raw(value)
            if key == "port_agent":
                doc["products"] = [{k: raw(v) for k, v in p.items()} for p in self.products]
                for key in _AFTER_PORT_AGENT:
                    doc[key] = raw(self.fields[key])
        for key, value in self.fields.items():
            if key not in doc:
                doc[key] = raw(value)
        return doc


_AFTER_PORT_AGENT = ("solutions", "barges", "comments")


def render(
    state: AuctionState,
    viewer: Viewer,
    solutions: Solutions | None = None,
    previous: Parts | None = None,
    scope: Touched = EVERYTHING,
) -> Parts | None:
    """The receiver's bounded view in parts (None: it may not see the auction). With
    ``previous`` (its rendering of the state before the events ``scope`` was made from), the
    parts outside ``scope`` are taken from it.

    What receivers of the same kind see alike (the `Head`, the solutions, each bid, each
    product's own fields) is rendered once per state, kept beside it, and shared: the same
    bytes objects, which the patch compares first by identity."""
    lens = Lens.of(state, viewer, solutions)
    if lens is None:
        return None
    product_ids = tuple(state.products)
    if previous is not None and previous.product_ids != product_ids:
        previous = None
    old = previous.fields if previous is not None else {}
    again = previous is None
    shelf = None if lens.me is None else _shelf(state, viewer, lens.sols, previous, scope)
    fields: Leaves = {
        "solutions": _solutions(state, lens) if shelf is None else shelf.solutions,
        "barges": _list(old, "barges", again or scope.barges, lens.barges),
        "comments": _list(old, "comments", again or scope.comments, lens.comments),
    }
    values = lens.personal()
    old_values = previous.values if previous is not None else {}
    fields.update(_encoded(values, old_values, old))
    if shelf is not None:
        return Parts(
            state.seq, shelf.head, fields, None, shelf.sources, product_ids, values, shelf, lens.me
        )
    products: list[Leaves] = []
    sources: list[Source] = []
    changed = scope.products
    reuse = previous if previous is not None and changed is not None else None
    for i, product in enumerate(state.products.values()):
        if reuse is not None and changed is not None and product.product_id not in changed:
            products.append(reuse.products[i])
            sources.append(reuse.sources[i])
        else:
            leaves, source = render_product(state, lens, product)
            products.append(leaves)
            sources.append(source)
    return Parts(state.seq, _head(state, lens), fields, products, sources, product_ids, values)


def advance(
    state: AuctionState,
    viewer: Viewer,
    solutions: Solutions | None,
    previous: Parts,
    scope: Touched,
) -> tuple[Parts, list[dict[str, Any]] | msgspec.Raw] | None:
    """`render` from ``previous`` and the `diff` from it in one pass, for the commonest update:
    bids, RSVPs or an extension, nothing else (``scope``: some products, no barges, no
    comments). None for any other update (then `render` and `diff`). A supplier's patch comes
    encoded (`_advance_supplier`).

    Such events change neither who may see the auction nor how (the receiver's `Lens` is made
    without asking again), nor the products' list: only the head, the solutions, the
    receiver's own fields and the products in ``scope`` are looked at, and each is compared
    with its previous rendering as `diff` would (the same operations, in the same order)."""
    changed = scope.products
    if changed is None or scope.barges or scope.comments:
        return None
    if previous.product_ids != tuple(state.products):
        return None
    mine = previous.shelf is not None and previous.me == viewer.company_id
    if mine and audience(state, viewer) == "supplier":
        return _advance_supplier(state, viewer, solutions, previous, scope)
    lens = Lens(state, viewer, solutions)
    if lens.me is not None:
        # A supplier whose previous rendering has no shelf (or is another's): `render` always
        # makes a supplier's from the shelf, but should one ever come here, `render_product` is
        # not for suppliers: `render` and `diff` instead.
        return None
    head = _head(state, lens)
    ops = list(head.ops_from(previous.head))
    old = previous.fields
    fields = dict(old)
    text = _solutions(state, lens)
    if text is not old.get("solutions"):
        key_op("", "solutions", old.get("solutions"), text, ops)
        fields["solutions"] = text
    values = lens.personal()
    old_values = previous.values
    for key, value in values.items():
        if key not in old_values or old_values[key] != value or key not in old:
            text = _encode(to_public(value, key))
            key_op("", key, old.get(key), text, ops)
            fields[key] = text
    products, sources = list(previous.products), list(previous.sources)
    for i, product in enumerate(state.products.values()):
        if product.product_id in changed:
            leaves, source = render_product(state, lens, product)
            product_ops(f"/products/{i}", products[i], leaves, sources[i], source, ops)
            products[i], sources[i] = leaves, source
    parts = Parts(state.seq, head, fields, products, sources, previous.product_ids, values)
    return parts, ops


def _advance_supplier(
    state: AuctionState,
    viewer: Viewer,
    solutions: Solutions | None,
    previous: Parts,
    scope: Touched,
) -> tuple[Parts, msgspec.Raw]:
    """`advance` for a supplier rendered from a `Shelf`: the shelf of this state (made once for
    every supplier) and the supplier's own fields, its patch the shelves' `Steps` (found and
    encoded once) with its own operations put in. No `Lens` is made but for a new shelf."""
    old_shelf, me = previous.shelf, previous.me
    assert old_shelf is not None and me is not None
    shelf = _shelf(state, viewer, solutions, previous, scope)
    values = personal(state, me, shelf.sols)
    old, old_values = previous.fields, previous.values
    fields: Leaves = {
        "solutions": shelf.solutions,
        "barges": old["barges"],
        "comments": old["comments"],
    }
    own_ops: list[dict[str, Any]] = []
    for key, value in values.items():
        text = old.get(key)
        if text is None or key not in old_values or old_values[key] != value:
            text = _encode(to_public(value, key))
            key_op("", key, old.get(key), text, own_ops)
        fields[key] = text
    patch = shelf.steps_from(old_shelf).patch(me, own_ops)
    parts = Parts(
        state.seq, shelf.head, fields, None, shelf.sources, shelf.product_ids, values, shelf, me
    )
    return parts, patch


def _shelf(
    state: AuctionState,
    viewer: Viewer,
    solutions: Solutions | None,
    previous: Parts | None,
    scope: Touched,
) -> Shelf:
    """The suppliers' `Shelf` of this state and ``solutions`` (``viewer``: a supplier), made
    once; the products outside ``scope`` taken from the shelf of ``previous`` (a rendering of
    the state before the events ``scope`` was made from)."""
    product_ids = tuple(state.products)
    made: Shelf | None = state.__dict__.get(_SHELF)
    if (
        made is not None
        and made.seq == state.seq
        and solutions is not None
        and made.sols is solutions
        and made.product_ids == product_ids
    ):
        return made
    lens = Lens(state, viewer, solutions)
    base = previous.shelf if previous is not None else None
    changed = scope.products
    if base is not None and base.product_ids != product_ids:
        base = None
    sources: list[Source] = []
    for i, product in enumerate(state.products.values()):
        if base is not None and changed is not None and product.product_id not in changed:
            sources.append(base.sources[i])
        else:
            sources.append(supplier_product(state, lens, product))
    if made is not None:
        made.forget()  # each shelf is linked only to the one before: no chain
    head, text = _head(state, lens), _solutions(state, lens)
    shelf = Shelf(state.seq, lens.sols, head, text, sources, product_ids)
    state.__dict__[_SHELF] = shelf
    return shelf


def _head(state: AuctionState, lens: Lens) -> Head:
    """The `Head` of ``lens``'s kind of receiver at this state (made once); a field equal to
    the one of the head before keeps its bytes."""
    heads: dict[str, Head] = state.__dict__.setdefault(_HEADS, {})
    base = heads.get(lens.kind)
    if base is not None and base.seq == state.seq:
        return base
    values = lens.head(None, personal=False)
    old_values, old = (base.values, base.fields) if base is not None else ({}, {})
    fields = _encoded(values, old_values, old)
    if base is not None:
        base.base = None  # heads link only to the one before: no chain through the auction
    head = heads[lens.kind] = Head(state.seq, values, fields, base)
    return head


def _encoded(values: dict[str, Any], old_values: dict[str, Any], old: Leaves) -> Leaves:
    """Each of ``values`` encoded, reusing the encoding in ``old`` of a value unchanged since
    ``old_values``."""
    fields: Leaves = {}
    for key, value in values.items():
        same = old.get(key)
        if same is not None and key in old_values and old_values[key] == value:
            fields[key] = same
        else:
            fields[key] = _encode(to_public(value, key))
    return fields


def _solutions(state: AuctionState, lens: Lens) -> bytes:
    """The solutions' JSON text, made once per state, solutions and form of receiver
    (`Lens.solutions_form`): every supplier sees the same."""
    made: dict[str, tuple[int, Solutions, bytes]] = state.__dict__.setdefault(_SOLUTIONS, {})
    form = lens.solutions_form()
    entry = made.get(form)
    if entry is not None and entry[0] == state.seq and entry[1] is lens.sols:
        return entry[2]
    text = _encode(to_public(lens.solutions()))
    made[form] = (state.seq, lens.sols, text)
    return text


def _list(
    old: Leaves, key: str, again: bool, make: Callable[[], list[dict[str, Any]]]
) -> list[bytes]:
    kept = old.get(key)
    if not again and isinstance(kept, list):
        return kept
    return [_encode(to_public(item)) for item in make()]


def diff(old: Parts, new: Parts) -> list[dict[str, Any]]:
    """The JSON Patch from ``old`` to ``new``: an operation per part that differs."""
    ops = list(new.head.ops_from(old.head))
    dict_ops("", old.fields, new.fields, ops)
    if old.product_ids != new.product_ids:
        ops.append({"op": "replace", "path": "/products", "value": new.document()["products"]})
        return ops
    for i, (was, now) in enumerate(zip(old.products, new.products, strict=True)):
        if was is not now:
            product_ops(f"/products/{i}", was, now, old.sources[i], new.sources[i], ops)
    return ops


def cached(state: AuctionState, key: Hashable) -> Parts | None:
    """The latest rendering kept for ``key`` (a receiver) beside this state object."""
    renderings: dict[Hashable, Parts] | None = state.__dict__.get(_CACHE)
    return None if renderings is None else renderings.get(key)


def keep(state: AuctionState, key: Hashable, parts: Parts | None) -> None:
    """Keep ``parts`` as ``key``'s latest rendering of this state (None: forget it)."""
    renderings: dict[Hashable, Parts] = state.__dict__.setdefault(_CACHE, {})
    if parts is None:
        renderings.pop(key, None)
    else:
        renderings[key] = parts
