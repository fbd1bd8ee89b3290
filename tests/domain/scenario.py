"""Given events / when a command at a time / then events or a refusal.

A scenario folds its given events with `evolve`, runs `decide` on the command and checks the answer
exactly. Builders for callers, terms, commands and events keep the tests short; every instant is
explicit (the domain never reads a clock).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from auctionactors.domain.commands import (
    AnyCommand,
    BidRequest,
    CancelAuction,
    CheckDeadlines,
    CreateAuction,
    PlaceBids,
    RevokeBid,
    SelectSolution,
    StartAuction,
    UpdateAuction,
)
from auctionactors.domain.decide import decide
from auctionactors.domain.events import (
    AuctionCanceled,
    AuctionClosed,
    AuctionCreated,
    AuctionEnded,
    AuctionExpired,
    AuctionStarted,
    AuctionUpdated,
    AutoBidPlaced,
    AutoBidTriggered,
    BidPlaced,
    BidsRevoked,
    DurationExtended,
    Event,
    WinningSolutionSelected,
)
from auctionactors.domain.money import Cents
from auctionactors.domain.parties import By, Caller, Party
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import (
    AuctionChanges,
    AuctionTerms,
    ProductSpec,
    Status,
    Vessel,
    number_products,
    products_of,
)
from auctionactors.domain.timestamps import SECOND, Instant
from auctionactors.errors import DomainError
from auctionactors.store.codec import canonical

AID = "a1"
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
T0: Instant = 1_900_000_000 * SECOND  # the default scheduled start
CREATED_AT: Instant = T0 - HOUR
DURATION = 10 * MINUTE  # the terms' defaults
DECISION = 15 * MINUTE
WINDOW = 3 * MINUTE
CLOSES = T0 + DURATION  # closes_at of an auction started by the clock at T0
DECISION_CLOSES = CLOSES + DECISION

BUYER_CO = Party("buyer", "Blue Shipping")
SUPPLIER_COS = tuple(Party(f"s{i}", f"Supplier {i}") for i in (1, 2, 3))
BUYER = Caller("u-buyer", "buyer", "buyer")
ADMIN = Caller("u-admin", "platform", "admin")
S1, S2, S3 = (Caller(f"u-s{i}", f"s{i}", "supplier") for i in (1, 2, 3))
OUTSIDER = Caller("u-x", "s9", "supplier")  # a supplier that is not invited
OTHER_BUYER = Caller("u-ob", "other", "buyer")
OBSERVER = Caller("u-obs", "obs", "observer")


# --- terms ----------------------------------------------------------------------------------


def spec(n: int = 1, *, quantity_mt: int = 1500, fuel: str = "VLSFO") -> ProductSpec:
    return ProductSpec(
        vessel=Vessel(f"Vessel {n}", f"900000{n}"),
        fuel=fuel,
        quantity_mt=quantity_mt,
        eta=T0 + 24 * HOUR,
    )


def make_terms(products: int | tuple[ProductSpec, ...] = 1, **overrides: Any) -> AuctionTerms:
    """Spot terms: the buyer, S1..S3 invited, ``products`` products (a count of 1500 MT products,
    or the specs), start at T0, the business's default durations, window and tick."""
    if isinstance(products, int):
        products = tuple(spec(n) for n in range(1, products + 1))
    fields: dict[str, Any] = {
        "port": "Rotterdam",
        "buyer": BUYER_CO,
        "suppliers": SUPPLIER_COS,
        "scheduled_start": T0,
        "products": products,
    }
    fields.update(overrides)
    return AuctionTerms(**fields)


TERM_MONTHS = ("2027-01", "2027-03")  # three months
PER_MONTH = 1000


def term_terms(kind: str = "forward_fixed", **overrides: Any) -> AuctionTerms:
    """Term terms: one fuel, 1000 MT a month from January to March 2027 (3000 MT in all); a
    formula-related auction also names its fuel index."""
    fields: dict[str, Any] = {
        "kind": kind,
        "port": "Singapore",
        "buyer": BUYER_CO,
        "suppliers": SUPPLIER_COS,
        "scheduled_start": T0,
        "fuel": "VLSFO",
        "quantity_mt_per_month": PER_MONTH,
        "start_month": TERM_MONTHS[0],
        "end_month": TERM_MONTHS[1],
        "fuel_index": "Platts VLSFO Singapore" if kind == "formula_related" else None,
    }
    fields.update(overrides)
    return AuctionTerms(**fields)


# --- commands -------------------------------------------------------------------------------


def create(caller: Caller = BUYER, terms: AuctionTerms | None = None) -> CreateAuction:
    return CreateAuction(by=caller, auction_id=AID, terms=terms or make_terms())


def update(caller: Caller = BUYER, **changes: Any) -> UpdateAuction:
    return UpdateAuction(by=caller, changes=AuctionChanges(**changes))


def start(caller: Caller = ADMIN) -> StartAuction:
    return StartAuction(by=caller)


def cancel(caller: Caller = BUYER) -> CancelAuction:
    return CancelAuction(by=caller)


def bid(
    caller: Caller,
    amounts: Cents | Mapping[str, Cents | None] | None,
    *,
    traded: bool = False,
    **fields: Any,
) -> PlaceBids:
    """``bid(S1, 200)`` bids 2.00 on p1; ``bid(S1, {"p1": 200, "p2": 300})`` bids on both."""
    per_product = amounts if isinstance(amounts, Mapping) else {"p1": amounts}
    return PlaceBids(
        by=caller,
        bids=tuple(BidRequest(product_id=p, amount=a, **fields) for p, a in per_product.items()),
        traded=traded,
    )


def auto(
    caller: Caller,
    floor: Cents,
    amount: Cents | None = None,
    *,
    product_id: str = "p1",
    traded: bool = False,
    **fields: Any,
) -> PlaceBids:
    """``auto(S1, 100, 200)``: an auto-bid on p1 with floor 1.00, opening at 2.00 (or, without an
    amount, at the supplier's live bid or its floor)."""
    request = BidRequest(product_id=product_id, amount=amount, min_amount=floor, **fields)
    return PlaceBids(by=caller, bids=(request,), traded=traded)


def revoke(caller: Caller, product_id: str = "p1") -> RevokeBid:
    return RevokeBid(by=caller, product_id=product_id)


def select(caller: Caller, *bid_ids: str, **fields: Any) -> SelectSolution:
    return SelectSolution(by=caller, bid_ids=bid_ids, **fields)


TICK = CheckDeadlines()


# --- events ---------------------------------------------------------------------------------


def by(caller: Caller) -> By:
    return By.of(caller)


def bid_id(seq: int) -> str:
    return f"{AID}:{seq}"


def created(
    terms: AuctionTerms | None = None, *, at: Instant = CREATED_AT, caller: Caller = BUYER
) -> AuctionCreated:
    terms = terms or make_terms()
    return AuctionCreated(
        at=at,
        by=by(caller),
        auction_id=AID,
        terms=terms,
        products=products_of(terms),
        status="draft" if terms.scheduled_start is None else "pending",
        aliases=aliases_of(terms),
    )


def aliases_of(terms: AuctionTerms, first: int = 1, salt: bytes = b"") -> dict[str, str]:
    """The aliases an auction gives its suppliers: "Supplier 1".. in the order of
    HMAC-SHA256(salt, supplier id); the salt is the runtime's randomness (empty in tests)."""
    ordered = sorted(
        (s.id for s in terms.suppliers),
        key=lambda sid: hmac.new(salt, sid.encode(), hashlib.sha256).digest(),
    )
    return {sid: f"Supplier {n}" for n, sid in enumerate(ordered, start=first)}


def updated(
    caller: Caller = BUYER,
    *,
    at: Instant,
    status: Status = "pending",
    aliases: dict[str, str] | None = None,
    aliases_replace: bool = False,
    **changes: Any,
) -> AuctionUpdated:
    """An edit; ``aliases`` the whole new map when ``aliases_replace`` (as every edit of the
    suppliers stores it now), else those of added suppliers (as older edits stored them)."""
    products = changes.get("products")
    return AuctionUpdated(
        at=at,
        by=by(caller),
        changes=AuctionChanges(**changes),
        products=None if products is None else number_products(products),
        status=status,
        aliases=aliases or {},
        aliases_replace=aliases_replace,
    )


def started(
    *, at: Instant = T0, closes_at: Instant | None = None, caller: Caller | None = None
) -> AuctionStarted:
    return AuctionStarted(
        at=at,
        by=None if caller is None else by(caller),
        closes_at=at + DURATION if closes_at is None else closes_at,
    )


def placed(
    seq: int,
    caller: Caller,
    amount: Cents,
    *,
    at: Instant,
    product_id: str = "p1",
    allow_split: bool = True,
    comment: str | None = None,
    traded: bool = False,
) -> BidPlaced:
    return BidPlaced(
        at=at,
        by=by(caller),
        bid_id=bid_id(seq),
        product_id=product_id,
        supplier_id=caller.company_id,
        amount=amount,
        allow_split=allow_split,
        comment=comment,
        traded=traded,
        original_time_entered=at,
    )


def auto_placed(
    seq: int,
    caller: Caller,
    amount: Cents,
    floor: Cents,
    *,
    at: Instant,
    product_id: str = "p1",
    allow_split: bool = True,
    comment: str | None = None,
    traded: bool = False,
) -> AutoBidPlaced:
    return AutoBidPlaced(
        at=at,
        by=by(caller),
        bid_id=bid_id(seq),
        product_id=product_id,
        supplier_id=caller.company_id,
        amount=amount,
        min_amount=floor,
        allow_split=allow_split,
        comment=comment,
        traded=traded,
        is_auto=True,
        original_time_entered=at,
    )


def triggered(
    seq: int, caller: Caller, amount: Cents, *, replaces: int, at: Instant, product_id: str = "p1"
) -> AutoBidTriggered:
    """An auto-bid re-entered (by the system: ``by`` is null) at a lower amount."""
    return AutoBidTriggered(
        at=at,
        by=None,
        bid_id=bid_id(seq),
        product_id=product_id,
        supplier_id=caller.company_id,
        amount=amount,
        replaces=bid_id(replaces),
    )


def revoked(caller: Caller, *seqs: int, at: Instant, product_id: str = "p1") -> BidsRevoked:
    return BidsRevoked(
        at=at,
        by=by(caller),
        product_id=product_id,
        supplier_id=caller.company_id,
        bid_ids=tuple(bid_id(s) for s in seqs),
    )


def extended(caller: Caller, *, at: Instant, closes_at: Instant) -> DurationExtended:
    return DurationExtended(at=at, by=by(caller), closes_at=closes_at)


def ended(*, at: Instant = CLOSES, decision_closes_at: Instant | None = None) -> AuctionEnded:
    closes = DECISION_CLOSES if decision_closes_at is None else decision_closes_at
    return AuctionEnded(at=at, by=None, decision_closes_at=closes)


def expired(*, at: Instant = DECISION_CLOSES) -> AuctionExpired:
    return AuctionExpired(at=at, by=None)


def canceled(caller: Caller = BUYER, *, at: Instant) -> AuctionCanceled:
    return AuctionCanceled(at=at, by=by(caller))


def selected(
    caller: Caller,
    *seqs: int,
    at: Instant,
    total: Cents,
    comment: str | None = None,
    port_agent: str | None = None,
) -> list[Event]:
    """The two events of a selection: the winning solution, then the close."""
    return [
        WinningSolutionSelected(
            at=at,
            by=by(caller),
            bid_ids=tuple(bid_id(s) for s in seqs),
            total_price=total,
            comment=comment,
            port_agent=port_agent,
        ),
        AuctionClosed(at=at, by=by(caller)),
    ]


# Common histories (fresh lists: scenarios may extend them).


def draft() -> list[Event]:
    return [created(make_terms(scheduled_start=None))]


def pending(terms: AuctionTerms | None = None) -> list[Event]:
    return [created(terms)]


def opened(terms: AuctionTerms | None = None) -> list[Event]:
    return [created(terms), started()]


def in_decision(terms: AuctionTerms | None = None) -> list[Event]:
    return [*opened(terms), ended()]


def in_expired() -> list[Event]:
    return [*in_decision(), expired()]


def in_closed() -> list[Event]:
    return [*opened(), placed(3, S1, 200, at=T0 + MINUTE), ended(), *selected_s1()]


def selected_s1() -> list[Event]:
    return selected(BUYER, 3, at=CLOSES + MINUTE, total=200 * 1500)


def in_canceled() -> list[Event]:
    return [*opened(), canceled(at=T0 + MINUTE)]


# --- given / when / then --------------------------------------------------------------------


def fold_events(events: Iterable[Event]) -> AuctionState | None:
    state: AuctionState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def encode(state: AuctionState | None) -> bytes:
    """The state's canonical encoding: what replay-equals-live compares (invariant 4)."""
    return msgspec.msgpack.encode(None) if state is None else canonical(state)


class Outcome:
    """What `decide` answered: events or a refusal."""

    def __init__(
        self, given: list[Event], events: list[Event] | None, error: DomainError | None
    ) -> None:
        self.given = given
        self.events = events
        self.error = error

    def then(self, *expected: Event | list[Event]) -> Outcome:
        """Assert exactly these events (lists are flattened), in this order."""
        assert self.error is None, f"refused: {self.error!r}"
        flat: list[Event] = []
        for item in expected:
            flat.extend(item if isinstance(item, list) else [item])
        assert self.events == flat
        return self

    def then_nothing(self) -> Outcome:
        return self.then()

    def then_refused(self, code: str, message: str | None = None) -> Outcome:
        assert self.error is not None, f"accepted: {self.events!r}"
        assert self.error.code == code, repr(self.error)
        if message is not None:
            assert self.error.message == message
        return self

    @property
    def state(self) -> AuctionState:
        """The state after the given events and the accepted command's events."""
        assert self.events is not None, f"refused: {self.error!r}"
        state = fold_events([*self.given, *self.events])
        assert state is not None
        return state

    def and_then(self) -> Scenario:
        """Continue: a scenario given everything so far."""
        assert self.events is not None, f"refused: {self.error!r}"
        return Scenario([*self.given, *self.events])


class Scenario:
    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events = list(events)

    @property
    def state(self) -> AuctionState | None:
        return fold_events(self.events)

    def when(self, command: AnyCommand, *, at: Instant) -> Outcome:
        state = self.state
        before = encode(state)
        try:
            events = decide(state, command, at)
        except DomainError as exc:
            return Outcome(self.events, None, exc)
        finally:
            assert encode(state) == before, "decide mutated the state"
        return Outcome(self.events, events, None)

    def after(self, command: AnyCommand, *, at: Instant) -> Scenario:
        """The scenario once ``command`` was accepted at ``at`` (a shortcut to build history)."""
        return self.when(command, at=at).and_then()


def given(*events: Event | list[Event]) -> Scenario:
    flat: list[Event] = []
    for item in events:
        flat.extend(item if isinstance(item, list) else [item])
    return Scenario(flat)


def nothing() -> Scenario:
    """No auction yet."""
    return Scenario()


def ranking(state: AuctionState, product_id: str = "p1") -> list[tuple[str, Cents]]:
    """The product's ranking as (supplier, amount), best first."""
    return [(b.supplier_id, b.amount or 0) for b in state.ranked(product_id)]
