"""The lifecycle: create, edit, start, end, expire, cancel.

``draft → pending → open → decision → closed | expired``, and ``canceled`` from any non-final
status. Every deadline is an absolute instant stored in an event; `due_events` turns the ones that
have passed into events, so a deadline missed while the system was down is acted on at once and
never moves (no extra time).
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from auctionactors.domain.access import require_admin, require_buyer_or_admin
from auctionactors.domain.book import triggered_events
from auctionactors.domain.bounds import (
    MAX_DURATION_S,
    MAX_PRODUCTS,
    MAX_SOFT_CLOSE_S,
    MAX_SUPPLIERS,
    check_count,
    check_duration,
    check_instant,
    check_month,
    check_optional_text,
    check_quantity,
    check_text,
)
from auctionactors.domain.commands import CancelAuction, CreateAuction, StartAuction, UpdateAuction
from auctionactors.domain.events import (
    AuctionCanceled,
    AuctionCreated,
    AuctionEnded,
    AuctionExpired,
    AuctionStarted,
    AuctionUpdated,
    Event,
)
from auctionactors.domain.parties import By, Caller
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import (
    FINAL_STATUSES,
    AuctionChanges,
    AuctionTerms,
    Status,
    month_count,
    products_of,
)
from auctionactors.domain.timestamps import Instant, seconds
from auctionactors.errors import DomainError


def start_events(
    state: AuctionState, closes_at: Instant, now: Instant, by: By | None, seq: int
) -> list[Event]:
    """The auction opens (its `auction_started` at ``seq``): bids placed while pending are
    ranked now, and every auto-bid settles."""
    events: list[Event] = [AuctionStarted(at=now, by=by, closes_at=closes_at)]
    books = {p: state.live_book(p) for p in state.products if state.live.get(p)}
    events += triggered_events(state, books, seq + 1, now)
    return events


def due_events(state: AuctionState, now: Instant) -> list[Event]:
    """Every clock transition due at ``now``, from the stored deadlines."""
    events: list[Event] = []
    status: Status = state.status
    closes_at = state.closes_at
    decision_closes_at = state.decision_closes_at
    start = state.terms.scheduled_start
    if status == "pending" and start is not None and now >= start:
        closes_at = start + seconds(state.terms.duration_s)
        events += start_events(state, closes_at, now, None, state.seq + 1)
        status = "open"
    if status == "open" and closes_at is not None and now >= closes_at:
        decision_closes_at = closes_at + seconds(state.terms.decision_duration_s)
        events.append(AuctionEnded(at=now, by=None, decision_closes_at=decision_closes_at))
        status = "decision"
    if status == "decision" and decision_closes_at is not None and now >= decision_closes_at:
        events.append(AuctionExpired(at=now, by=None))
    return events


def clock_status(state: AuctionState, now: Instant) -> Status:
    """The status at ``now`` by the stored deadlines, even if the timer has not fired yet: every
    command checks it, so no command races a timer (a buyer cannot select or cancel an auction
    that has expired, nor edit one that has started)."""
    status = state.status
    for event in due_events(state, now):
        if isinstance(event, AuctionStarted):
            status = "open"
        elif isinstance(event, AuctionEnded):
            status = "decision"
        elif isinstance(event, AuctionExpired):
            status = "expired"
    return status


def validate_terms(terms: AuctionTerms, scheduled: bool) -> None:
    """Every rule and bound on the terms (PROTOCOL.md 1.1, Bounds): checked on creation and on
    every edit, so nothing stored can later fail a view, a list or a replay."""
    check_text(terms.port, "port")
    for name, what in (("po", "PO"), ("buyer_reference", "buyer reference")):
        check_optional_text(getattr(terms, name), f"{name} ({what})")
    check_optional_text(terms.additional_information, "additional_information")
    check_optional_text(terms.port_agent, "port_agent")
    if terms.scheduled_start is not None:
        check_instant(terms.scheduled_start, "scheduled_start")
    check_duration(terms.duration_s, "duration_s", "the bidding time", 1, MAX_DURATION_S)
    check_duration(
        terms.decision_duration_s, "decision_duration_s", "the decision time", 1, MAX_DURATION_S
    )
    check_duration(terms.soft_close_s, "soft_close_s", "the soft-close window", 0, MAX_SOFT_CLOSE_S)
    if terms.tick <= 0:
        raise DomainError("invalid", "tick must be positive")
    check_count(len(terms.suppliers), MAX_SUPPLIERS, "suppliers per auction")
    ids = [s.id for s in terms.suppliers]
    if len(set(ids)) != len(ids):
        raise DomainError("invalid", "a supplier is listed twice")
    if terms.buyer.id in ids:
        raise DomainError("invalid", "the buyer cannot be a supplier")
    if terms.is_term:
        _validate_term_fields(terms, scheduled)
    else:
        _validate_spot_products(terms)
    if scheduled:
        if not terms.suppliers:
            raise DomainError("invalid", "a scheduled auction needs at least one supplier")
        if not products_of(terms):
            raise DomainError("invalid", "a scheduled auction needs at least one product")


def _validate_spot_products(terms: AuctionTerms) -> None:
    check_count(len(terms.products), MAX_PRODUCTS, "products per auction")
    for i, p in enumerate(terms.products, start=1):
        check_text(p.vessel.name, f"product {i}: vessel name")
        check_text(p.vessel.imo, f"product {i}: vessel IMO")
        check_text(p.fuel, f"product {i}: fuel")
        check_quantity(p.quantity_mt, f"product {i}: quantity_mt")
        check_instant(p.eta, f"product {i}: eta")
        if p.etd is not None:
            check_instant(p.etd, f"product {i}: etd")
            if p.etd < p.eta:
                raise DomainError("invalid", f"product {i}: etd must not be before eta")


def _validate_term_fields(terms: AuctionTerms, scheduled: bool) -> None:
    if terms.products:
        raise DomainError("invalid", "a term auction has a fuel and months, not products")
    check_optional_text(terms.fuel, "fuel")
    check_optional_text(terms.fuel_index, "fuel_index")
    if terms.quantity_mt_per_month is not None:
        check_quantity(terms.quantity_mt_per_month, "quantity_mt_per_month")
    for name in ("start_month", "end_month"):
        month = getattr(terms, name)
        if month is not None:
            check_month(month, name)
    if (
        terms.start_month is not None
        and terms.end_month is not None
        and month_count(terms.start_month, terms.end_month) < 1
    ):
        raise DomainError("invalid", "end_month must not be before start_month")
    if scheduled:
        missing = [
            name
            for name in ("fuel", "quantity_mt_per_month", "start_month", "end_month")
            if getattr(terms, name) is None
        ]
        if terms.kind == "formula_related" and not terms.fuel_index:
            missing.append("fuel_index")
        if missing:
            raise DomainError("invalid", f"a scheduled term auction needs {', '.join(missing)}")


def _check_start(terms: AuctionTerms, caller: Caller, now: Instant) -> bool:
    """Validate a (new) scheduled start; True when an admin's start in the past means 'now'."""
    start = terms.scheduled_start
    if start is None or start > now:
        return False
    if caller.role != "admin" and start < now:
        raise DomainError("invalid", "scheduled_start must not be in the past")
    return caller.role == "admin"


def aliases_for(salt: bytes, terms: AuctionTerms) -> dict[str, str]:
    """Aliases "Supplier 1".."N" for all the suppliers, in an order no one but the server can
    compute: by a keyed hash (HMAC-SHA256) of the supplier id under ``salt``, random bytes drawn
    by the runtime and kept nowhere, not in the order the buyer listed them (nor by a hash of
    ids the buyer knows, which it could recompute). Stored in the event, so replay agrees
    without the salt."""
    ordered = sorted(
        (s.id for s in terms.suppliers),
        key=lambda sid: hmac.new(salt, sid.encode(), hashlib.sha256).digest(),
    )
    return {sid: f"Supplier {n}" for n, sid in enumerate(ordered, start=1)}


def realiased(
    state: AuctionState, cmd: UpdateAuction, terms: AuctionTerms
) -> dict[str, str] | None:
    """The whole new alias map when the edit changes the suppliers or ``anonymous_bidding``,
    else None (the aliases stay).

    The rule that leaks nothing: the aliases are drawn again, all of them under the edit's own
    salt, so an added supplier is no likelier "Supplier N+1" than any other number (numbering
    it after the others would name it to the buyer who added it). That is safe while no alias
    has been tied to anything a supplier did: a buyer sees the aliases before that only as the
    sorted list ``Supplier 1..N``. Once a supplier has bid, submitted a barge or commented
    (``aliases_shown``), the buyer has seen an alias tied to it, and in an anonymous auction a
    redraw would let it follow each supplier from old alias to new and single out the newcomer
    (the only one who has done nothing), while a removal answered by supplier would tell who
    acted: so from then on the supplier list of an anonymous auction cannot change at all (the
    same answer whichever supplier is named). ``anonymous_bidding`` itself is fixed once
    pending, and suppliers act only once pending."""
    same_suppliers = {s.id for s in state.terms.suppliers} == {s.id for s in terms.suppliers}
    if same_suppliers and terms.anonymous_bidding == state.terms.anonymous_bidding:
        return None  # listed in another order or not at all: the aliases stay
    if state.aliases_shown and terms.anonymous_bidding:
        raise DomainError(
            "invalid",
            "the suppliers of an anonymous auction cannot change once a supplier has taken part",
        )
    return aliases_for(cmd.alias_salt, terms)


def create(cmd: CreateAuction, now: Instant) -> list[Event]:
    caller, terms = cmd.by, cmd.terms
    if caller.role not in ("buyer", "admin"):
        raise DomainError("forbidden", "only a buyer or an admin may create an auction")
    if caller.role == "buyer" and terms.buyer.id != caller.company_id:
        raise DomainError("forbidden", "a buyer creates auctions for its own company only")
    scheduled = terms.scheduled_start is not None
    validate_terms(terms, scheduled)
    start_now = _check_start(terms, caller, now)
    by = By.of(caller)
    events: list[Event] = [
        AuctionCreated(
            at=now,
            by=by,
            auction_id=cmd.auction_id,
            terms=terms,
            products=products_of(terms),
            status="pending" if scheduled else "draft",
            aliases=aliases_for(cmd.alias_salt, terms),
        )
    ]
    if start_now:
        events.append(AuctionStarted(at=now, by=by, closes_at=now + seconds(terms.duration_s)))
    return events


def update(state: AuctionState, cmd: UpdateAuction, now: Instant) -> list[Event]:
    require_buyer_or_admin(state, cmd.by)
    status = clock_status(state, now)
    if status not in ("draft", "pending"):
        raise DomainError(
            "wrong_status", f"an auction can be edited in draft or pending, not {status}"
        )
    changes = cmd.changes
    terms = changes.apply(state.terms)
    scheduled = terms.scheduled_start is not None
    validate_terms(terms, scheduled)
    if state.bidders:  # bids were placed (revoked ones count)
        if changes.changes_products():
            raise DomainError("invalid", "products cannot change once bids were placed")
        if changes.tick is not msgspec.UNSET:
            raise DomainError("invalid", "the tick cannot change once bids were placed")
        if not scheduled:
            raise DomainError("invalid", "an auction with bids cannot go back to draft")
    _check_anonymity_kept(state, changes, status)
    aliases = realiased(state, cmd, terms)
    kept = {s.id for s in terms.suppliers}
    for supplier_id in state.bidders:
        if supplier_id not in kept:
            raise DomainError("invalid", f"supplier {supplier_id} has bid and cannot be removed")
    start_now = changes.scheduled_start is not msgspec.UNSET and _check_start(terms, cmd.by, now)
    by = By.of(cmd.by)
    events: list[Event] = [
        AuctionUpdated(
            at=now,
            by=by,
            changes=changes,
            products=products_of(terms) if changes.changes_products() else None,
            status="pending" if scheduled else "draft",
            aliases=aliases or {},
            aliases_replace=aliases is not None,
        )
    ]
    if start_now:
        closes_at = now + seconds(terms.duration_s)
        events += start_events(state, closes_at, now, by, state.seq + 2)
    return events


def _check_anonymity_kept(state: AuctionState, changes: AuctionChanges, status: str) -> None:
    """Anonymous bidding is settled once the suppliers are invited (pending): switching it
    afterwards would reveal, or retract, what they bid under."""
    wanted = changes.anonymous_bidding
    if (
        status != "draft"
        and wanted is not msgspec.UNSET
        and wanted != state.terms.anonymous_bidding
    ):
        raise DomainError("invalid", "anonymous_bidding cannot change once the auction is pending")


def start(state: AuctionState, cmd: StartAuction, now: Instant) -> list[Event]:
    require_admin(state, cmd.by, "start an auction by hand")
    status = clock_status(state, now)  # past its start, the clock has opened it: no extra time
    if status != "pending":
        raise DomainError("wrong_status", f"only a pending auction can be started, not {status}")
    closes_at = now + seconds(state.terms.duration_s)
    return start_events(state, closes_at, now, By.of(cmd.by), state.seq + 1)


def cancel(state: AuctionState, cmd: CancelAuction, now: Instant) -> list[Event]:
    require_buyer_or_admin(state, cmd.by)
    status = clock_status(state, now)
    if status in FINAL_STATUSES:
        raise DomainError("wrong_status", f"the auction is already {status}")
    return [AuctionCanceled(at=now, by=By.of(cmd.by))]
