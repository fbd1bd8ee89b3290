"""One product's bid book: ranking and the settling of auto-bids (proxy bidding).

After every change to a product's live bids (and at the auction's start) each auto-bid settles:

* *competitor best* = the lowest, over the **other** suppliers, of their floor if they have an
  auto-bid, else their live bid amount;
* *target* = max(own floor, competitor best - tick); no competitor: no target;
* new visible amount = min(current visible amount, target): a visible amount never rises.

Targets depend only on floors and on normal bids' amounts, never on other auto-bids' visible
amounts, so one pass settles the book: no fixed-point iteration, and the result does not depend
on the order auto-bids are looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from auctionactors.domain.events import AutoBidTriggered, Event
from auctionactors.domain.money import Cents
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.timestamps import Instant


def ranked(bids: Iterable[Bid]) -> list[Bid]:
    """Best first: lower amount, then earlier original time entered, then earlier event."""
    return sorted(bids, key=Bid.rank_key)


def _offer(bid: Bid) -> Cents:
    """What a competitor's bid means to an auto-bid: its floor if it has one, else its amount."""
    if bid.min_amount is not None:
        return bid.min_amount
    assert bid.amount is not None
    return bid.amount


def settle(live: Mapping[str, Bid], tick: Cents) -> list[tuple[Bid, Cents]]:
    """The auto-bids of a product's live book (supplier -> bid) whose visible amount must drop,
    with their new amounts, in ascending order of the new amount (ties: original time)."""
    if len(live) < 2 or all(b.min_amount is None for b in live.values()):
        return []  # no auto-bid: nothing to settle (the common case in a hot auction)
    offers = sorted((_offer(b), supplier) for supplier, b in live.items())
    changes: list[tuple[Bid, Cents]] = []
    for supplier, bid in live.items():
        if bid.min_amount is None:
            continue
        # The lowest offer among the others: the overall lowest unless it is this supplier's.
        best = offers[0][0] if offers[0][1] != supplier else offers[1][0]
        target = max(bid.min_amount, best - tick)
        assert bid.amount is not None
        if target < bid.amount:
            changes.append((bid, target))
    changes.sort(key=lambda change: (change[1], change[0].original_time_entered, change[0].seq))
    return changes


def bid_id_for(auction_id: str, seq: int) -> str:
    """A bid's id: its auction and the seq of the event that placed it. Stable across replays."""
    return f"{auction_id}:{seq}"


def triggered_events(
    state: AuctionState, books: dict[str, dict[str, Bid]], first_seq: int, now: Instant
) -> list[Event]:
    """Settle the given books (product -> supplier -> live bid, as they stand after the
    command) and return one `auto_bid_triggered` event per auto-bid whose visible amount drops,
    numbered from ``first_seq``. The books are updated with the re-entered bids, so the caller
    can read the ranking after the command."""
    events: list[Event] = []
    for product_id, book in books.items():
        for bid, amount in settle(book, state.terms.tick):
            seq = first_seq + len(events)
            new_id = bid_id_for(state.auction_id, seq)
            events.append(
                AutoBidTriggered(
                    at=now,
                    by=None,
                    bid_id=new_id,
                    product_id=product_id,
                    supplier_id=bid.supplier_id,
                    amount=amount,
                    replaces=bid.bid_id,
                )
            )
            book[bid.supplier_id] = msgspec.structs.replace(
                bid, bid_id=new_id, seq=seq, amount=amount, placed_at=now
            )
    return events
