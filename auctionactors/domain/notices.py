"""Notices: which companies an event tells something by mail, and what, in plain text.

Pure, like the rest of the domain: given the auction's state before and after an event, the
notices it causes (`notices`), and whether it sets or clears the "starting soon" reminder
(`reminder_due`). Every text is written from the receiver's own view (`views.view`), so
anonymity and the role views apply to mails exactly as to the page: a buyer of an anonymous
auction reads aliases, a supplier reads only its own bids. The runtime (`runtime.reactor`)
sends each notice to every user of the company that has a mail address.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import msgspec

from auctionactors.domain.access import Viewer
from auctionactors.domain.events import AuctionCanceled, AuctionClosed, Event
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import AuctionTerms
from auctionactors.domain.timestamps import Instant
from auctionactors.domain.views import view

NoticeKind = Literal["invitation", "rescheduled", "starting_soon", "canceled", "won", "closed"]
SOON_BEFORE = 15 * 60 * 1_000_000  # "starting soon" this long (µs) before the start


class Prior(NamedTuple):
    """What notices need of the state before an event (`evolve` changes a state in place)."""

    status: str
    terms: AuctionTerms

    @classmethod
    def of(cls, state: AuctionState | None) -> Prior | None:
        return None if state is None else cls(state.status, state.terms)


class Notice(msgspec.Struct, frozen=True):
    """One company's notice: its users with a mail address each get it."""

    kind: NoticeKind
    company_id: str
    subject: str
    body: str


def notices(before: Prior | None, after: AuctionState, event: Event, link: str) -> list[Notice]:
    """The notices ``event`` causes (``before``: the state before it, None for the first;
    ``after``: the state after it; ``link``: the auction on the page)."""
    was = before.status if before is not None else None
    if after.status == "pending" and was in (None, "draft", "pending"):
        return _pending_changes(before, after, event.at, link)
    if isinstance(event, AuctionCanceled):
        receivers = [] if was == "draft" else _supplier_ids(after.terms)
        return [
            _notice(after, "canceled", c, event.at, link)
            for c in [after.terms.buyer.id, *receivers]
        ]
    if isinstance(event, AuctionClosed):
        winners = {
            after.bids[b].supplier_id for b in after.winning_bid_ids or () if b in after.bids
        }
        won = [
            _notice(after, "won", c, event.at, link)
            for c in _supplier_ids(after.terms)
            if c in winners
        ]
        return [_notice(after, "closed", after.terms.buyer.id, event.at, link), *won]
    return []


def reminder_due(before: Prior | None, after: AuctionState) -> Instant | bool:
    """What the event between ``before`` and ``after`` does to the "starting soon" reminder:
    the instant it is now due (set or moved by this event), False (cleared: the auction is no
    longer pending with a start), or True (unchanged)."""
    start = after.terms.scheduled_start if after.status == "pending" else None
    old = before.terms.scheduled_start if before and before.status == "pending" else None
    if start == old:
        return True
    return False if start is None else start - SOON_BEFORE


def starting_soon(state: AuctionState, now: Instant, link: str) -> list[Notice]:
    """The reminder's notices, to the buyer and the invited suppliers, while still due (the
    auction pending); none otherwise."""
    if state.status != "pending" or state.terms.scheduled_start is None:
        return []
    receivers = [state.terms.buyer.id, *_supplier_ids(state.terms)]
    return [_notice(state, "starting_soon", c, now, link) for c in receivers]


def _pending_changes(
    before: Prior | None, after: AuctionState, now: Instant, link: str
) -> list[Notice]:
    """Invitations to the suppliers who can see the auction for the first time; "start time
    changed" to those who could already (a reschedule while pending)."""
    old = set(_supplier_ids(before.terms)) if before and before.status == "pending" else set()
    out = [
        _notice(after, "invitation", c, now, link)
        for c in _supplier_ids(after.terms)
        if c not in old
    ]
    moved = before is not None and before.terms.scheduled_start != after.terms.scheduled_start
    if moved and old:
        out += [
            _notice(after, "rescheduled", c, now, link)
            for c in _supplier_ids(after.terms)
            if c in old
        ]
    return out


def _supplier_ids(terms: AuctionTerms) -> list[str]:
    return list(dict.fromkeys(s.id for s in terms.suppliers))


_HEADLINES: dict[str, str] = {
    "invitation": "You are invited to bid in {title}.",
    "rescheduled": "The start time of {title} has changed: it now starts at {start}.",
    "starting_soon": "{title} starts soon, at {start}.",
    "canceled": "{title} has been canceled.",
    "won": "You have won in {title}.",
    "closed": "{title} has closed.",
}
_SUBJECTS: dict[str, str] = {
    "invitation": "Invitation: {title}",
    "rescheduled": "Start time changed: {title}",
    "starting_soon": "Starting soon: {title}",
    "canceled": "Canceled: {title}",
    "won": "You have won: {title}",
    "closed": "Closed: {title}",
}


def _notice(
    state: AuctionState, kind: NoticeKind, company_id: str, now: Instant, link: str
) -> Notice:
    buyer = company_id == state.terms.buyer.id
    doc = view(state, Viewer(company_id, "buyer" if buyer else "supplier"), now)
    assert doc is not None  # the buyer and invited suppliers see every non-draft auction
    title = f"the {doc['kind'].replace('_', ' ')} auction in {doc['port']}"
    start = doc["scheduled_start"] or "not set"
    lines = [_HEADLINES[kind].format(title=title, start=start), ""]
    lines += [f"Auction: {doc['auction_id']}", f"Buyer: {doc['buyer']['name']}"]
    lines += [f"Start: {start}", "Products:"]
    lines += [f"  - {_product(p)}" for p in doc["products"]]
    winning = set((doc["solutions"].get("winning") or {}).get("bid_ids") or ())
    if kind in ("won", "closed") and winning:
        lines += ["", "Your winning bids:" if kind == "won" else "Winning bids:"]
        lines += [f"  - {line}" for line in _winning(doc, winning)]
        if kind == "closed":
            lines.append(f"Total: {doc['solutions']['winning']['total_price']}")
    lines += ["", f"Open it: {link}", ""]
    subject = _SUBJECTS[kind].format(title=title)
    return Notice(kind, company_id, subject[0].upper() + subject[1:], "\n".join(lines))


def _product(p: dict[str, Any]) -> str:
    vessel = f" for {p['vessel']['name']}" if p.get("vessel") else ""
    eta = f", ETA {p['eta']}" if p.get("eta") else ""
    return f"{p['product_id']}: {p['quantity_mt']} mt {p['fuel']}{vessel}{eta}"


def _winning(doc: dict[str, Any], winning: set[str]) -> list[str]:
    """The winning bids the receiver's view shows in its history (a supplier's view holds only
    its own bids; the buyer's names suppliers as its view does: by alias when anonymous)."""
    out: list[str] = []
    for p in doc["products"]:
        for bid in p.get("history") or ():
            if bid["bid_id"] in winning:
                supplier = bid.get("supplier")
                who = f" from {supplier['name']}" if supplier else ""
                out.append(f"{p['product_id']} ({p['fuel']}): {bid['amount']}{who}")
    return out
