"""Protocol 2's supplier renderings (`parts`) as one shared rendering plus a small overlay.

Every supplier sees an auction alike but for a few parts of its own: its status line and RSVP,
its barges and comments, and in each product its own bid (in its own form, in its place among
its competitors' bids) and ``is_leading``. So what they see alike is rendered once per state
(`Shelf`: the supplier `Head`, the solutions, each product's `Source`), and a supplier's `Parts`
is that shelf with its own fields beside it: its products' leaves are only made when asked for
(a whole view, a `diff`; maybe at delivery, the state moved on: they are made of what was
rendered with the shelf, never of the state), never for a patch.

For the commonest update (bids, RSVPs, an extension) the operations from one shelf to the next
(`Steps`: the head's, the solutions', each product's) are found and encoded once for every
supplier; a supplier's patch is those bytes with its own operations spliced in (`patch`): its
personal fields when they changed, ``is_leading`` when it changed, and a product's ``bids``
operations re-encoded only when its own bid is among their values (the bidder's, mostly). The
operations are the ones `parts.diff` would make. The shared lists' operations serve every
supplier because a supplier's ``bids`` differ from the competitors' list only by its own bid's
form, which keeps which elements are equal (`product_parts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from auctionactors.domain.patches import Leaves, Program, dict_ops, key_op, program_ops
from auctionactors.domain.product_parts import Source, own_bids, supplier_leaves

if TYPE_CHECKING:
    from auctionactors.domain.parts import Head
    from auctionactors.domain.solutions import Solutions

__all__ = ["Shelf", "Steps"]

_encode = msgspec.json.Encoder().encode
_LEADING = (b"false", b"true")


class Shelf:
    """What every supplier sees alike of the state at ``seq``, for one `Solutions` object
    (``sols``): the `Head` of suppliers, the solutions' JSON text, and each product's `Source`
    (the same object as the shelf before's for a product the update did not touch). Nothing in
    it refers to the state: it is kept beside it. The `Steps` from the shelf before are kept."""

    __slots__ = ("_steps", "head", "product_ids", "seq", "sols", "solutions", "sources")

    def __init__(
        self,
        seq: int,
        sols: Solutions,
        head: Head,
        solutions: bytes,
        sources: list[Source],
        product_ids: tuple[str, ...],
    ) -> None:
        self.seq = seq
        self.sols = sols
        self.head = head
        self.solutions = solutions
        self.sources = sources
        self.product_ids = product_ids
        self._steps: Steps | None = None

    def leaves(self, me: str) -> list[Leaves]:
        """Supplier ``me``'s leaves of every product (`product_parts.supplier_leaves`)."""
        return [supplier_leaves(source, me) for source in self.sources]

    def steps_from(self, old: Shelf) -> Steps:
        """The `Steps` from ``old`` (the products' lists must be the same), made once."""
        steps = self._steps
        if steps is None or steps.old is not old:
            steps = self._steps = Steps(old, self)
        return steps

    def forget(self) -> None:
        """Drop the steps (and with them the shelf before): no chain through the auction."""
        self._steps = None


class _ProductStep:
    """One product's operations from one shelf to the next: its own fields' and its
    competitors' list's (``fields``, ``bids``: encoded, without brackets, maybe empty), the
    list's `Program` and the values it takes, and who led before and after."""

    __slots__ = ("bids", "fields", "now", "now_leader", "path", "program", "taken", "was_leader")

    def __init__(self, path: str, was: Source, now: Source) -> None:
        self.path = path
        was_c, now_c = was.competitors, now.competitors
        assert was_c is not None and now_c is not None
        self.now = now_c
        ops: list[dict[str, Any]] = []
        if was.fields is not now.fields:
            dict_ops(path, was.fields, now.fields, ops)
        self.fields = _encode(ops)[1:-1]
        self.program: Program = now_c.program_from(was_c)  # found once, kept by `now_c`
        self.taken = {j for _, _, j in self.program if j >= 0}
        bids: list[dict[str, Any]] = []
        program_ops(f"{path}/bids", self.program, now_c.texts, bids)
        self.bids = _encode(bids)[1:-1]
        self.was_leader = was_c.leader
        self.now_leader = now_c.leader

    def for_supplier(self, me: str, pieces: list[bytes]) -> bool:
        """Supplier ``me``'s operations on this product, appended to ``pieces``; whether any of
        them is its own (not every supplier's)."""
        if self.fields:
            pieces.append(self.fields)
        place = self.now.places.get(me)
        if place is not None and place in self.taken:  # its own bid is among the values
            ops: list[dict[str, Any]] = []
            program_ops(f"{self.path}/bids", self.program, own_bids(self.now, me), ops)
            pieces.append(_encode(ops)[1:-1])
            own = True
        else:
            own = False
            if self.bids:
                pieces.append(self.bids)
        leading = self.now_leader == me
        if leading != (self.was_leader == me):
            op = {"op": "replace", "path": f"{self.path}/is_leading"}
            pieces.append(_encode(op)[:-1] + b',"value":' + _LEADING[leading] + b"}")
            own = True
        return own


class Steps:
    """The operations from the shelf ``old`` to the next, for every supplier: the head's and the
    solutions' (``prefix``, encoded once) and each product's that differs (`_ProductStep`).
    `patch` puts a supplier's own operations in; a supplier without any gets the same
    `msgspec.Raw` object as every other such supplier."""

    __slots__ = ("_plain", "old", "prefix", "products")

    def __init__(self, old: Shelf, new: Shelf) -> None:
        self.old = old
        ops = list(new.head.ops_from(old.head))
        if new.solutions is not old.solutions:
            key_op("", "solutions", old.solutions, new.solutions, ops)
        self.prefix = _encode(ops)[1:-1]
        self.products = [
            _ProductStep(f"/products/{i}", was, now)
            for i, (was, now) in enumerate(zip(old.sources, new.sources, strict=True))
            if was is not now
        ]
        self._plain: msgspec.Raw | None = None

    def patch(self, me: str, personal: list[dict[str, Any]]) -> msgspec.Raw:
        """Supplier ``me``'s patch (a JSON array): the shared operations, ``personal`` (its own
        top-level fields') after the head's and the solutions', then each product's."""
        pieces = [self.prefix] if self.prefix else []
        own = bool(personal)
        if own:
            pieces.append(_encode(personal)[1:-1])
        for step in self.products:
            own = step.for_supplier(me, pieces) or own
        if own:
            return msgspec.Raw(b"[" + b",".join(pieces) + b"]")
        if self._plain is None:
            self._plain = msgspec.Raw(b"[" + b",".join(pieces) + b"]")
        return self._plain
