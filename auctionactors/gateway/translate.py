"""Requests in wire notation to domain commands, without I/O.

Amounts become integer cents through `parse_amount` (exact; a decimal string or a JSON number),
times become instants through `parse_instant`; either refuses with ``invalid`` naming the field.
Companies named by id (suppliers, the buyer an admin names, an observer) are looked up by the
dispatcher first and handed in as `Party` values, so that an auction's events carry the names.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from auctionactors.domain import commands as dc
from auctionactors.domain.events import Barge
from auctionactors.domain.money import parse_amount
from auctionactors.domain.parties import Caller, Party, Role
from auctionactors.domain.terms import AuctionChanges, AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import Instant, parse_instant
from auctionactors.errors import DomainError
from auctionactors.gateway import messages as m

Parties = Mapping[str, Party]


def companies_needed(request: m.Command) -> list[tuple[str, Role]]:
    """The companies a command names, with the role each must have."""
    if isinstance(request, m.CreateAuction):
        needed: list[tuple[str, Role]] = [(s, "supplier") for s in request.auction.suppliers]
        if request.buyer is not None:
            needed.append((request.buyer, "buyer"))
        return needed
    if isinstance(request, m.UpdateAuction) and isinstance(request.changes.suppliers, list):
        return [(s, "supplier") for s in request.changes.suppliers]
    if isinstance(request, m.InviteObserver):
        return [(request.company_id, "observer")]
    return []


def command_of(request: m.Command, caller: Caller, parties: Parties) -> dc.AnyCommand:
    """The domain command for ``request`` sent by ``caller``; raises `DomainError` (invalid)."""
    by = caller
    if isinstance(request, m.CreateAuction):
        raise TypeError("create_auction goes through `terms_of` and the supervisor")
    if isinstance(request, m.UpdateAuction):
        # Randomness is an input to the domain: the salt orders the aliases of added suppliers.
        changes = changes_of(request.changes, parties)
        return dc.UpdateAuction(by=by, changes=changes, alias_salt=secrets.token_bytes(16))
    if isinstance(request, m.StartAuction):
        return dc.StartAuction(by=by)
    if isinstance(request, m.CancelAuction):
        return dc.CancelAuction(by=by)
    if isinstance(request, m.PlaceBids):
        bids = tuple(_bid(b, i) for i, b in enumerate(request.bids))
        return dc.PlaceBids(by=by, bids=bids, traded=request.traded)
    if isinstance(request, m.RevokeBid):
        return dc.RevokeBid(by=by, product_id=request.product_id)
    if isinstance(request, m.SelectSolution):
        return dc.SelectSolution(
            by=by,
            bid_ids=tuple(request.bid_ids or ()),
            solution=request.solution,
            comment=request.comment,
            port_agent=request.port_agent,
        )
    if isinstance(request, m.SubmitBarge):
        return dc.SubmitBarge(by=by, barge=Barge(request.barge.name, request.barge.imo))
    if isinstance(request, m.UnsubmitBarge):
        return dc.UnsubmitBarge(by=by, imo=request.imo)
    if isinstance(request, m.ApproveBarge):
        return dc.ApproveBarge(by=by, imo=request.imo, supplier_id=request.supplier_id)
    if isinstance(request, m.RejectBarge):
        return dc.RejectBarge(by=by, imo=request.imo, supplier_id=request.supplier_id)
    if isinstance(request, m.PostComment):
        return dc.PostComment(by=by, text=request.text)
    if isinstance(request, m.DeleteComment):
        return dc.DeleteComment(by=by, comment_id=request.comment_id)
    if isinstance(request, m.Rsvp):
        return dc.GiveRsvp(by=by, response=request.response)
    if isinstance(request, m.InviteObserver):
        return dc.InviteObserver(by=by, observer=parties[request.company_id])
    if isinstance(request, m.UninviteObserver):
        return dc.UninviteObserver(by=by, company_id=request.company_id)
    raise TypeError(f"not a command: {type(request).__name__}")


def _bid(bid: m.BidIn, index: int) -> dc.BidRequest:
    where = f"bids[{index}]"
    return dc.BidRequest(
        product_id=bid.product_id,
        amount=None if bid.amount is None else parse_amount(bid.amount, f"{where}.amount"),
        min_amount=None
        if bid.min_amount is None
        else parse_amount(bid.min_amount, f"{where}.min_amount"),
        allow_split=bid.allow_split,
        comment=bid.comment,
    )


def _instant(text: str, field: str) -> Instant:
    return parse_instant(text, field)


def _maybe_instant(text: str | None, field: str) -> Instant | None:
    return None if text is None else parse_instant(text, field)


def _products(products: list[m.ProductIn], field: str) -> tuple[ProductSpec, ...]:
    return tuple(
        ProductSpec(
            vessel=Vessel(p.vessel.name, p.vessel.imo),
            fuel=p.fuel,
            quantity_mt=p.quantity_mt,
            eta=_instant(p.eta, f"{field}[{i}].eta"),
            etd=_maybe_instant(p.etd, f"{field}[{i}].etd"),
        )
        for i, p in enumerate(products)
    )


def _suppliers(ids: list[str], parties: Parties) -> tuple[Party, ...]:
    return tuple(parties[s] for s in ids)


def terms_of(auction: m.AuctionIn, buyer: Party, parties: Parties) -> AuctionTerms:
    """The terms of a new auction; ``parties`` must hold every supplier named."""
    return AuctionTerms(
        kind=auction.kind,
        port=auction.port,
        buyer=buyer,
        suppliers=_suppliers(auction.suppliers, parties),
        scheduled_start=_maybe_instant(auction.scheduled_start, "auction.scheduled_start"),
        duration_s=auction.duration_s,
        decision_duration_s=auction.decision_duration_s,
        soft_close_s=auction.soft_close_s,
        tick=parse_amount(auction.tick, "auction.tick"),
        anonymous_bidding=auction.anonymous_bidding,
        traded_bids_allowed=auction.traded_bids_allowed,
        po=auction.po,
        buyer_reference=auction.buyer_reference,
        additional_information=auction.additional_information,
        port_agent=auction.port_agent,
        products=_products(auction.products, "auction.products"),
        fuel=auction.fuel,
        quantity_mt_per_month=auction.quantity_mt_per_month,
        start_month=auction.start_month,
        end_month=auction.end_month,
        fuel_index=auction.fuel_index,
    )


def changes_of(changes: m.ChangesIn, parties: Parties) -> AuctionChanges:
    """The edit as the domain takes it: only the fields that were sent."""
    updates: dict[str, object] = {}
    for name in changes.__struct_fields__:
        value = getattr(changes, name)
        if value is m.UNSET:
            continue
        if name == "suppliers":
            value = _suppliers(value, parties)
        elif name == "tick":
            value = parse_amount(value, "changes.tick")
        elif name == "scheduled_start":
            value = _maybe_instant(value, "changes.scheduled_start")
        elif name == "products":
            value = _products(value, "changes.products")
        updates[name] = value
    try:
        return AuctionChanges(**updates)  # type: ignore[arg-type]
    except TypeError as exc:  # pragma: no cover - ChangesIn mirrors AuctionChanges
        raise DomainError("bad_request", str(exc)) from None
