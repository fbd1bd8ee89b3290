"""Role views: what each company may see of an auction, computed from the state, never edited.

* buyer, admin: every live bid with its supplier (an alias ``Supplier N`` for the buyer when
  bidding is anonymous), comments, traded flags, all history, solutions, barges and comments,
  RSVPs (hidden from the buyer when anonymous); the admin also sees floors and real names.
* supplier X: every live amount, anonymised (no supplier, floor, comment; traded always false),
  except X's own bids which are complete; X's own history, barges, comments and RSVP;
  ``is_leading`` per product and X's status line.
* observer: the buyer's view with the buyer and the vessels anonymised, and no comments.
* anyone else, and anyone but the buyer and admins for a draft: nothing (``None``).

The output is in the protocol's notation (`present.to_public`): amounts as decimal strings,
instants as RFC 3339. `events.py`' filtering for the same receivers lives in `redaction.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auctionactors.domain.access import Viewer, audience, can_see
from auctionactors.domain.present import to_public
from auctionactors.domain.solutions import Solution, Solutions, compute, solution_of
from auctionactors.domain.standing import product_label, status_line
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.terms import Product

__all__ = [
    "Lens",
    "Viewer",
    "alias_number",
    "can_see",
    "history_entry",
    "personal",
    "product_label",
    "status_line",
    "view",
]


class _Namer:
    """How a supplier is named to a receiver (``frozen``: as the state names them now, whatever
    it becomes: its aliases and names are copied)."""

    def __init__(self, state: AuctionState, kind: str, *, frozen: bool = False) -> None:
        self.state = state
        self.anonymous = state.terms.anonymous_bidding and kind in ("buyer", "observer")
        self.aliases = dict(state.aliases) if frozen else None
        self.names = dict(state._suppliers()) if frozen else None

    def party(self, supplier_id: str) -> dict[str, Any]:
        if self.anonymous:
            aliases = self.state.aliases if self.aliases is None else self.aliases
            alias = aliases.get(supplier_id, "Supplier")
            return {"id": alias, "name": alias}
        if self.names is None:
            return {"id": supplier_id, "name": self.state.supplier_name(supplier_id)}
        return {"id": supplier_id, "name": self.names.get(supplier_id, supplier_id)}


def view(
    state: AuctionState, viewer: Viewer, now: int, solutions: Solutions | None = None
) -> dict[str, Any] | None:
    """The receiver's whole view (protocol 1), or None when it may not see the auction at all.

    ``solutions`` may be passed in when computing many views of one state (fan-out): they are
    the same for every receiver, only their presentation differs."""
    lens = Lens.of(state, viewer, solutions)
    if lens is None:
        return None
    history = state.history()
    doc: dict[str, Any] = {}
    for key, value in lens.head(now).items():
        doc[key] = value
        if key == "port_agent":  # the lists come here (the order is the view's, as always)
            doc["products"] = [lens.product(p, history) for p in state.products.values()]
            doc["solutions"] = lens.solutions()
            doc["barges"] = lens.barges()
            doc["comments"] = lens.comments()
    public: dict[str, Any] = to_public(doc)
    return public


class Lens:
    """One receiver's view of one state, part by part (`view` puts them together; protocol 2's
    `parts` renders and compares them one by one). Each part is in the domain's notation (the
    caller applies `to_public`)."""

    __slots__ = ("kind", "me", "namer", "sols", "state", "vessel_names")

    def __init__(
        self,
        state: AuctionState,
        viewer: Viewer,
        solutions: Solutions | None,
        *,
        frozen: bool = False,
    ) -> None:
        self.state = state
        self.kind = audience(state, viewer)
        self.sols = solutions if solutions is not None else compute(state)
        self.namer = _Namer(state, self.kind, frozen=frozen)
        self.me = viewer.company_id if self.kind == "supplier" else None
        self.vessel_names = _vessel_aliases(state) if self.kind == "observer" else None

    @classmethod
    def of(
        cls,
        state: AuctionState,
        viewer: Viewer,
        solutions: Solutions | None = None,
        *,
        frozen: bool = False,
    ) -> Lens | None:
        """None when the viewer may not see the auction at all. ``frozen``: suppliers are
        named as the state names them now, whatever it becomes (`whole`)."""
        return cls(state, viewer, solutions, frozen=frozen) if can_see(state, viewer) else None

    def head(self, now: int | None, *, personal: bool = True) -> dict[str, Any]:
        """Every field of the view but the lists (products, barges, comments) and the solutions,
        in the view's order; ``server_time`` only with ``now``; without ``personal``, only what
        every receiver of the same kind (`audience`) sees alike (then add `personal`)."""
        state, kind, namer = self.state, self.kind, self.namer
        terms = state.terms
        doc: dict[str, Any] = {
            "auction_id": state.auction_id,
            "kind": terms.kind,
            "status": state.status,
            "port": terms.port,
            "buyer": {"id": None, "name": "Buyer"}
            if kind == "observer"
            else {"id": terms.buyer.id, "name": terms.buyer.name},
            "scheduled_start": terms.scheduled_start,
            "closes_at": state.closes_at,
            "decision_closes_at": state.decision_closes_at,
        }
        if now is not None:
            doc["server_time"] = now
        doc["seq"] = state.seq
        doc["duration_s"] = terms.duration_s
        doc["decision_duration_s"] = terms.decision_duration_s
        doc["soft_close_s"] = terms.soft_close_s
        doc["tick"] = terms.tick
        doc["anonymous_bidding"] = terms.anonymous_bidding
        doc["traded_bids_allowed"] = terms.traded_bids_allowed
        doc["port_agent"] = state.port_agent
        if kind != "observer":
            doc["po"] = terms.po
            doc["buyer_reference"] = terms.buyer_reference if kind != "supplier" else None
            doc["additional_information"] = terms.additional_information
        if kind in ("buyer", "admin"):
            suppliers = [namer.party(s.id) for s in terms.suppliers]
            if namer.anonymous:  # listed by alias, or the invitation order would name them
                suppliers.sort(key=lambda party: alias_number(party["name"]))
            doc["suppliers"] = suppliers
            if kind == "admin" or not terms.anonymous_bidding:
                doc["rsvp"] = [
                    {"supplier": namer.party(s), "response": r} for s, r in state.rsvp.items()
                ]
        if kind == "admin":
            doc["observers"] = [{"id": o.id, "name": o.name} for o in state.observers.values()]
            doc["aliases"] = dict(state.aliases)
        if personal:
            doc.update(self.personal())
        return doc

    def personal(self) -> dict[str, Any]:
        """The fields that only this receiver has (a supplier's: `personal`), last."""
        return {} if self.me is None else personal(self.state, self.me, self.sols)

    def product(self, product: Product, history: list[Bid] | None) -> dict[str, Any]:
        """One product with its ranked bids, and with ``history`` (every bid ever placed, in
        order) the receiver's part of it (protocol 1)."""
        return _product(
            self.state, product, self.kind, self.me, self.namer, self.vessel_names, history
        )

    def product_fields(self, product: Product) -> dict[str, Any]:
        """The product's own fields (all but ``bids``, ``history`` and ``is_leading``)."""
        return _product_fields(product, self.vessel_names) | _term_fields(product)

    def bid(self, bid: Bid) -> dict[str, Any]:
        """A live bid as the receiver sees it."""
        return _bid(bid, self.kind, self.me, self.namer)

    def own_bid(self, bid: Bid) -> dict[str, Any]:
        """A live bid as its own supplier sees it (whoever the receiver)."""
        return _bid(bid, "supplier", bid.supplier_id, self.namer)

    def competitor_bid(self, bid: Bid) -> dict[str, Any]:
        """A competitor's live bid as any supplier sees it."""
        return _bid(bid, "supplier", "", self.namer)

    def bid_form(self, bid: Bid) -> tuple[str, ...]:
        """What `bid`'s rendering depends on besides the bid itself (a bid never changes):
        every receiver with the same form sees the same. Not for a supplier (its bids are
        `own_bid` and `competitor_bid`, made once for all suppliers)."""
        assert self.me is None
        party = self.namer.party(bid.supplier_id)
        return (self.kind, party["id"], party["name"])

    def solutions_form(self) -> str:
        """Who sees the same solutions: suppliers, admins, or the buyer and observers (named
        alike: by alias when bidding is anonymous)."""
        return "supplier" if self.me is not None else "admin" if self.kind == "admin" else "b"

    def solutions(self) -> dict[str, Any]:
        return _solutions(self.state, self.sols, self.kind, self.namer)

    def barges(self) -> list[dict[str, Any]]:
        return _barges(self.state, self.me, self.namer)

    def comments(self) -> list[dict[str, Any]]:
        return [] if self.kind == "observer" else _comments(self.state, self.me, self.namer)


def personal(state: AuctionState, me: str, sols: Solutions) -> dict[str, Any]:
    """The fields that only the supplier ``me`` has, in the view's order: its status line and
    its RSVP (`Lens.personal`, and protocol 2's suppliers rendered without a `Lens`)."""
    return {"status_line": status_line(state, me, sols), "rsvp": state.rsvp.get(me)}


def alias_number(alias: str) -> int:
    """7 for "Supplier 7": aliases sort by number, never by invitation order."""
    number = alias.rpartition(" ")[2]
    return int(number) if number.isdigit() else 0


def _vessel_aliases(state: AuctionState) -> dict[str, str]:
    names: dict[str, str] = {}
    for p in state.products.values():
        if p.vessel is not None and p.vessel.imo not in names:
            names[p.vessel.imo] = f"Vessel {len(names) + 1}"
    return names


def _product(
    state: AuctionState,
    product: Product,
    kind: str,
    me: str | None,
    namer: _Namer,
    vessel_names: dict[str, str] | None,
    history: list[Bid] | None,
) -> dict[str, Any]:
    ranked = state.ranked(product.product_id)
    doc = _product_fields(product, vessel_names)
    doc["bids"] = [_bid(b, kind, me, namer) for b in ranked]
    if history is not None:
        doc["history"] = _history(state, history, product.product_id, kind, me, namer)
    doc.update(_term_fields(product))
    if me is not None:
        doc["is_leading"] = bool(ranked) and ranked[0].supplier_id == me
    return doc


def _product_fields(product: Product, vessel_names: dict[str, str] | None) -> dict[str, Any]:
    vessel: dict[str, Any] | None = None
    if product.vessel is not None:
        vessel = {"name": product.vessel.name, "imo": product.vessel.imo}
        if vessel_names is not None:
            vessel = {"name": vessel_names[product.vessel.imo], "imo": None}
    return {
        "product_id": product.product_id,
        "vessel": vessel,
        "fuel": product.fuel,
        "quantity_mt": product.quantity_mt,
        "eta": product.eta,
        "etd": product.etd,
    }


def _term_fields(product: Product) -> dict[str, Any]:
    if product.quantity_mt_per_month is None:
        return {}
    return {
        "quantity_mt_per_month": product.quantity_mt_per_month,
        "start_month": product.start_month,
        "end_month": product.end_month,
        "fuel_index": product.fuel_index,
    }


def _bid(bid: Bid, kind: str, me: str | None, namer: _Namer) -> dict[str, Any]:
    own = me is not None and bid.supplier_id == me
    if me is not None and not own:
        return {
            "bid_id": bid.bid_id,
            "amount": bid.amount,
            "supplier": None,
            "is_auto": bid.is_auto,
            "traded": False,
            "original_time_entered": bid.original_time_entered,
        }
    doc: dict[str, Any] = {
        "bid_id": bid.bid_id,
        "amount": bid.amount,
        "supplier": namer.party(bid.supplier_id),
        "is_auto": bid.is_auto,
        "traded": bid.traded,
        "original_time_entered": bid.original_time_entered,
        "allow_split": bid.allow_split,
    }
    if kind in ("admin", "supplier"):
        doc["min_amount"] = bid.min_amount
    if kind != "observer":
        doc["comment"] = bid.comment
    return doc


def _history(
    state: AuctionState,
    history: list[Bid],
    product_id: str,
    kind: str,
    me: str | None,
    namer: _Namer,
) -> list[dict[str, Any]]:
    live = state.live.get(product_id, {})
    return [
        history_entry(bid, live, kind, me, namer.party)
        for bid in history
        if bid.product_id == product_id and (me is None or bid.supplier_id == me)
    ]


def history_entry(
    bid: Bid, live: dict[str, str], kind: str, me: str | None, party: Callable[[str], Any]
) -> dict[str, Any]:
    """One entry of a product's ``history`` (``live``: the product's supplier -> live bid id;
    ``party``: how a supplier is named, `_Namer.party`)."""
    entry: dict[str, Any] = {
        "bid_id": bid.bid_id,
        "amount": bid.amount,
        "active": live.get(bid.supplier_id) == bid.bid_id,
        "is_auto": bid.is_auto,
        "placed_at": bid.placed_at,
    }
    if me is None:
        entry["supplier"] = party(bid.supplier_id)
        entry["traded"] = bid.traded
    if kind in ("admin", "supplier"):
        entry["min_amount"] = bid.min_amount
    return entry


def _solution_doc(sol: Solution | None) -> dict[str, Any] | None:
    if sol is None:
        return None
    return {"bid_ids": list(sol.bid_ids), "valid": sol.valid, "total_price": sol.total_price}


def _solutions(state: AuctionState, sols: Solutions, kind: str, namer: _Namer) -> dict[str, Any]:
    winning = None
    if state.winning_bid_ids is not None:
        winning = _solution_doc(solution_of(state, (state.bids[b] for b in state.winning_bid_ids)))
    doc: dict[str, Any] = {
        "best_overall": _solution_doc(sols.best_overall),
        "best_single_supplier": _solution_doc(sols.best_single_supplier),
        "winning": winning,
    }
    if kind in ("buyer", "admin", "observer"):
        doc["by_supplier"] = [
            {"supplier": namer.party(s), **(_solution_doc(sol) or {})}
            for s, sol in sols.by_supplier.items()
        ]
    return doc


def _barges(state: AuctionState, me: str | None, namer: _Namer) -> list[dict[str, Any]]:
    return [
        {
            "supplier": namer.party(r.supplier_id),
            "barge": {"name": r.barge.name, "imo": r.barge.imo},
            "status": r.status,
        }
        for r in state.barges.values()
        if me is None or r.supplier_id == me
    ]


def _comments(state: AuctionState, me: str | None, namer: _Namer) -> list[dict[str, Any]]:
    return [
        {
            "comment_id": c.comment_id,
            "supplier": namer.party(c.supplier_id),
            "text": c.text,
            "at": c.at,
        }
        for c in state.comments.values()
        if not c.deleted and (me is None or c.supplier_id == me)
    ]
