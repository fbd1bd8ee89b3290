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

from auctionactors.domain.money import Cents
from auctionactors.domain.state import Bid


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
    if len(live) < 2:
        return []
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
