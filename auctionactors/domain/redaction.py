"""Events filtered for a receiver, exactly as its view is (see `views.py`).

A receiver gets every ``seq`` of an auction it may see: an event it may not see at all arrives as
``{seq, type: "redacted"}`` so that gaps stay detectable. A supplier never learns a competitor's
identity, floor, comment or traded flag from an event; ``by`` is null on a competitor's event.
"""

from __future__ import annotations

from typing import Any

from auctionactors.domain.access import Viewer, audience, can_see
from auctionactors.domain.events import (
    AuctionCreated,
    AuctionUpdated,
    AutoBidTriggered,
    BargeApproved,
    BargeRejected,
    BargeSubmitted,
    BargeUnsubmitted,
    BidPlaced,
    BidsRevoked,
    CommentDeleted,
    CommentPosted,
    Event,
    ObserverInvited,
    ObserverUninvited,
    RsvpGiven,
    WinningSolutionSelected,
)
from auctionactors.domain.present import event_entry
from auctionactors.domain.state import AuctionState

_SUPPLIER_PRIVATE = (
    BargeSubmitted,
    BargeUnsubmitted,
    BargeApproved,
    BargeRejected,
    CommentPosted,
    CommentDeleted,
    RsvpGiven,
)
_TERMS_HIDDEN_FROM_SUPPLIERS = ("suppliers", "buyer_reference")


def redacted(seq: int) -> dict[str, Any]:
    return {"seq": seq, "type": "redacted"}


def filter_event(
    state: AuctionState, viewer: Viewer, seq: int, event: Event
) -> dict[str, Any] | None:
    """The event as ``viewer`` may see it (in protocol notation), a redacted placeholder, or
    None when the viewer may not see the auction at all. ``state`` is the auction's current
    state (for names, aliases and who may see what), not the state at ``seq``. No one but an
    admin ever gets the alias map."""
    if not can_see(state, viewer):
        return None
    kind = audience(state, viewer)
    if kind == "admin":  # whole, the alias map included (as webhooks send every event)
        return event_entry(seq, event)
    entry = event_entry(seq, event)
    # The alias map is the server's secret in every auction, whether anonymous now or when the
    # event was stored: bidding may turn anonymous later (in draft) under the same map.
    entry["data"].pop("aliases", None)
    entry["data"].pop("aliases_replace", None)
    supplier_id: str | None = getattr(event, "supplier_id", None)
    if isinstance(event, ObserverInvited | ObserverUninvited):
        return redacted(seq)
    if entry["by"] is not None:
        entry["by"]["admin_id"] = None  # only admins see who acted on behalf of whom
        if _hides_actor(state, kind, viewer.company_id, entry["by"]["company_id"]):
            entry["by"] = None
    if kind == "supplier":
        return _for_supplier(viewer.company_id, supplier_id, event, entry)
    return _for_buyer(state, kind, supplier_id, event, entry)


def _hides_actor(state: AuctionState, kind: str, me: str, actor: str) -> bool:
    """Whether ``by`` must be null: an event acted by a competitor (e.g. the extension its bid
    caused) for a supplier, by a supplier when bidding is anonymous, by the buyer for an
    observer."""
    is_supplier = actor in state.aliases or state.is_supplier(actor)
    if kind == "supplier":
        return is_supplier and actor != me
    if is_supplier:
        return state.terms.anonymous_bidding
    return kind == "observer" and actor == state.terms.buyer.id


def _for_supplier(
    me: str, supplier_id: str | None, event: Event, entry: dict[str, Any]
) -> dict[str, Any]:
    data = entry["data"]
    if isinstance(event, AuctionCreated | AuctionUpdated):
        terms = data.get("terms") if isinstance(event, AuctionCreated) else data.get("changes")
        for key in _TERMS_HIDDEN_FROM_SUPPLIERS:
            if terms is not None and key in terms:
                terms.pop(key)
        return entry
    if isinstance(event, WinningSolutionSelected):
        # The buyer's remark on its choice is for the buyer's side (no supplier view shows it).
        data.pop("comment", None)
        return entry
    if supplier_id is None or supplier_id == me:
        return entry
    if isinstance(event, _SUPPLIER_PRIVATE):
        return redacted(entry["seq"])
    entry["by"] = None
    if isinstance(event, BidPlaced | AutoBidTriggered):
        entry["data"] = {
            "bid_id": data["bid_id"],
            "product_id": data["product_id"],
            "amount": data["amount"],
            "is_auto": not isinstance(event, BidPlaced) or event.is_auto,
            "supplier": None,
        }
    elif isinstance(event, BidsRevoked):
        entry["data"] = {"product_id": data["product_id"], "bid_ids": data["bid_ids"]}
    else:  # pragma: no cover - every supplier event type is handled above
        return redacted(entry["seq"])
    return entry


def _for_buyer(
    state: AuctionState,
    kind: str,
    supplier_id: str | None,
    event: Event,
    entry: dict[str, Any],
) -> dict[str, Any]:
    data = entry["data"]
    anonymous = state.terms.anonymous_bidding
    if kind == "observer" and isinstance(event, CommentPosted | CommentDeleted):
        return redacted(entry["seq"])
    if anonymous and isinstance(event, RsvpGiven):
        return redacted(entry["seq"])
    data.pop("min_amount", None)
    if kind == "observer":
        data.pop("comment", None)
        if isinstance(event, AuctionCreated | AuctionUpdated):
            return _observer_terms(state, entry)
    if isinstance(event, AuctionCreated | AuctionUpdated) and anonymous:
        _alias_suppliers(data)
    if supplier_id is not None:
        if anonymous:
            alias = state.aliases.get(supplier_id, "Supplier")
            data["supplier_id"] = alias
            entry["by"] = None
        data["supplier"] = {
            "id": data["supplier_id"],
            "name": data["supplier_id"] if anonymous else state.supplier_name(supplier_id),
        }
    if isinstance(event, BidPlaced):
        data["is_auto"] = event.is_auto
    return entry


def _observer_terms(state: AuctionState, entry: dict[str, Any]) -> dict[str, Any]:
    """Auction facts for an observer: no buyer identity, no vessel names, no free text."""
    data = entry["data"]
    entry["by"] = None
    names: dict[str, str] = {}
    for key in ("terms", "changes"):
        terms = data.get(key)
        if terms is None:
            continue
        if "buyer" in terms:
            terms["buyer"] = {"id": None, "name": "Buyer"}
        for text in ("po", "buyer_reference", "additional_information"):
            terms.pop(text, None)
        for product in terms.get("products") or []:
            _hide_vessel(product, names)
    for product in data.get("products") or []:
        _hide_vessel(product, names)
    if state.terms.anonymous_bidding:
        _alias_suppliers(data)
    return entry


def _alias_suppliers(data: dict[str, Any]) -> None:
    """Anonymous bidding: an event's suppliers as "Supplier 1".."N" for its own N, tied to no
    one. Past events are shown with today's state, so today's aliases there would tell the
    buyer, comparing the lists before and after an edit that added a supplier, the alias new in
    the later list: the newcomer's (and the invitation order would tell every alias). The view
    lists the current suppliers by alias; how many each event listed is no secret."""
    for key in ("terms", "changes"):
        terms = data.get(key)
        if terms is not None and "suppliers" in terms:
            count = len(terms["suppliers"])
            aliases = [f"Supplier {n}" for n in range(1, count + 1)]
            terms["suppliers"] = [{"id": alias, "name": alias} for alias in aliases]


def _hide_vessel(product: dict[str, Any], names: dict[str, str]) -> None:
    vessel = product.get("vessel")
    if vessel is None:
        return
    imo = vessel.get("imo")
    name = names.setdefault(imo, f"Vessel {len(names) + 1}")
    product["vessel"] = {"name": name, "imo": None}


def filter_events(
    state: AuctionState, viewer: Viewer, first_seq: int, events: list[Event]
) -> list[dict[str, Any]] | None:
    """A batch of consecutive events (from ``first_seq``) for ``viewer``."""
    if not can_see(state, viewer):
        return None
    out: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        entry = filter_event(state, viewer, first_seq + i, event)
        assert entry is not None
        out.append(entry)
    return out
