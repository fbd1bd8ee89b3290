"""Every refusal of `decide`, with its protocol code and message. A refused command causes no
event (the scenario also checks that `decide` never mutates the state)."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from auctionactors.domain.commands import (
    AnyCommand,
    ApproveBarge,
    BidRequest,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PlaceBids,
    PostComment,
    RejectBarge,
    SubmitBarge,
    UninviteObserver,
    UnsubmitBarge,
)
from auctionactors.domain.events import Barge, BargeSubmitted, CommentPosted, Event
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.terms import ProductSpec, Vessel
from auctionactors.errors import TOO_LATE_MESSAGE
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    BUYER_CO,
    CLOSES,
    CREATED_AT,
    DECISION_CLOSES,
    HOUR,
    MINUTE,
    OBSERVER,
    OTHER_BUYER,
    OUTSIDER,
    S1,
    S2,
    S3,
    SUPPLIER_COS,
    T0,
    TICK,
    auto,
    bid,
    by,
    cancel,
    canceled,
    create,
    created,
    draft,
    ended,
    expired,
    given,
    in_canceled,
    in_closed,
    in_decision,
    in_expired,
    make_terms,
    nothing,
    opened,
    pending,
    placed,
    revoke,
    revoked,
    select,
    selected,
    spec,
    start,
    started,
    term_terms,
    update,
)

OBSERVER_CO = Party("obs", "Harbour Watch")


class Case(NamedTuple):
    history: list[Event]
    command: AnyCommand
    at: int
    code: str
    message: str | None


BUYER_OR_ADMIN = "only the auction's buyer or an admin may do this"
OPEN_AT = T0 + MINUTE
DECIDE_AT = CLOSES + MINUTE
EDIT_AT = CREATED_AT + MINUTE

# An open auction with two products: S1 bid on both (p1 without split), S2 on p1, S1 revoked
# nothing; S3 bid on p1 and revoked it.
TWO_PRODUCTS = make_terms(products=2)
WITH_BIDS = [
    created(TWO_PRODUCTS),
    *opened()[1:],
    placed(3, S1, 200, at=T0 + 1, allow_split=False),
    placed(4, S1, 300, at=T0 + 1, product_id="p2", allow_split=False),
    placed(5, S2, 175, at=T0 + 2),
    placed(6, S3, 150, at=T0 + 3),
    revoked(S3, 6, at=T0 + 4),
    placed(8, S2, 225, at=T0 + 5),  # replaces a1:5
]
WITH_BIDS_DECISION = [*WITH_BIDS, ended()]


def pending_with_terms(**overrides: Any) -> list[Event]:
    return [created(make_terms(**overrides))]


def term_created_draft() -> Event:
    return created(term_terms(scheduled_start=None))


TERM_PENDING = [created(term_terms())]
TERM_OPEN = [*TERM_PENDING, started()]
FORMULA_OPEN = [created(term_terms("formula_related")), started()]

# S1 submitted a barge and posted a comment (a1:c4) while open.
BARGE = Barge("Sea Tanker 1", "9400001")
WITH_EXTRAS = [
    *opened(),
    BargeSubmitted(at=T0 + 1, by=by(S1), supplier_id="s1", barge=BARGE),
    CommentPosted(at=T0 + 2, by=by(S1), comment_id="a1:c4", supplier_id="s1", text="hello"),
]


CASES: dict[str, Case] = {
    # --- forbidden --------------------------------------------------------------------------
    "supplier creating": Case(
        [], create(S1), CREATED_AT, "forbidden", "only a buyer or an admin may create an auction"
    ),
    "observer creating": Case([], create(OBSERVER), CREATED_AT, "forbidden", None),
    "buyer creating for another company": Case(
        [],
        create(OTHER_BUYER),
        CREATED_AT,
        "forbidden",
        "a buyer creates auctions for its own company only",
    ),
    "buyer starting by hand": Case(
        pending(), start(BUYER), EDIT_AT, "forbidden", "only an admin may start an auction by hand"
    ),
    "supplier starting": Case(
        pending(), start(S1), EDIT_AT, "forbidden", "only an admin may start an auction by hand"
    ),
    "supplier editing": Case(
        pending(),
        update(S1, port="Antwerp"),
        EDIT_AT,
        "forbidden",
        BUYER_OR_ADMIN,
    ),
    "supplier canceling": Case(
        opened(),
        cancel(S1),
        OPEN_AT,
        "forbidden",
        BUYER_OR_ADMIN,
    ),
    "supplier selecting": Case(
        WITH_BIDS_DECISION,
        select(S1, "a1:3", "a1:4"),
        DECIDE_AT,
        "forbidden",
        BUYER_OR_ADMIN,
    ),
    "buyer bidding": Case(
        opened(), bid(BUYER, 200), OPEN_AT, "forbidden", "only an invited supplier may do this"
    ),
    "admin bidding": Case(
        opened(), bid(ADMIN, 200), OPEN_AT, "forbidden", "only an invited supplier may do this"
    ),
    "buyer revoking": Case(
        WITH_BIDS, revoke(BUYER), OPEN_AT, "forbidden", "only an invited supplier may do this"
    ),
    # --- not_found --------------------------------------------------------------------------
    "bid on unknown auction": Case([], bid(S1, 200), OPEN_AT, "not_found", "auction not found"),
    "cancel of unknown auction": Case([], cancel(BUYER), OPEN_AT, "not_found", "auction not found"),
    "clock on unknown auction": Case([], TICK, OPEN_AT, "not_found", "auction not found"),
    "non-invited company bidding": Case(
        opened(), bid(OUTSIDER, 200), OPEN_AT, "not_found", "auction not found"
    ),
    "non-invited company revoking": Case(
        WITH_BIDS, revoke(OUTSIDER), OPEN_AT, "not_found", "auction not found"
    ),
    "buyer of another company canceling": Case(
        opened(), cancel(OTHER_BUYER), OPEN_AT, "not_found", "auction not found"
    ),
    "buyer of another company editing": Case(
        pending(), update(OTHER_BUYER, port="X"), EDIT_AT, "not_found", "auction not found"
    ),
    "buyer of another company selecting": Case(
        WITH_BIDS_DECISION, select(OTHER_BUYER, "a1:3"), DECIDE_AT, "not_found", None
    ),
    "observer canceling": Case(opened(), cancel(OBSERVER), OPEN_AT, "not_found", None),
    "draft seen by an invited supplier (bid)": Case(
        draft(), bid(S1, 200), EDIT_AT, "not_found", "auction not found"
    ),
    "draft seen by an invited supplier (cancel)": Case(
        draft(), cancel(S1), EDIT_AT, "not_found", "auction not found"
    ),
    "draft seen by an invited supplier (start)": Case(
        draft(), start(S1), EDIT_AT, "not_found", "auction not found"
    ),
    "bid on unknown product": Case(
        opened(), bid(S1, {"p9": 200}), OPEN_AT, "not_found", "unknown product p9"
    ),
    "revoke on unknown product": Case(
        WITH_BIDS, revoke(S1, "p9"), OPEN_AT, "not_found", "unknown product p9"
    ),
    "unknown bid in a selection": Case(
        WITH_BIDS_DECISION, select(BUYER, "a1:99"), DECIDE_AT, "not_found", "unknown bid a1:99"
    ),
    "a non-bid event's id in a selection": Case(
        WITH_BIDS_DECISION, select(BUYER, "a1:7"), DECIDE_AT, "not_found", "unknown bid a1:7"
    ),
    "revoke without a live bid": Case(
        WITH_BIDS, revoke(S2, "p2"), OPEN_AT, "not_found", "you have no live bid on product p2"
    ),
    "revoke twice": Case(
        WITH_BIDS, revoke(S3), OPEN_AT, "not_found", "you have no live bid on product p1"
    ),
    # --- invalid: bids ----------------------------------------------------------------------
    "example 9: 2.95 is not on the tick": Case(
        opened(), bid(S1, 295), OPEN_AT, "invalid", "amount must be a multiple of 0.25"
    ),
    "off a custom tick": Case(
        pending_with_terms(tick=10),
        bid(S1, 205),
        EDIT_AT,
        "invalid",
        "amount must be a multiple of 0.10",
    ),
    "amount zero": Case(opened(), bid(S1, 0), OPEN_AT, "invalid", "amount must be greater than 0"),
    "amount negative": Case(
        opened(), bid(S1, -25), OPEN_AT, "invalid", "amount must be greater than 0"
    ),
    "neither amount nor min_amount": Case(
        opened(), bid(S1, None), OPEN_AT, "invalid", "amount or min_amount is required"
    ),
    "neither amount nor min_amount while pending": Case(
        pending(), bid(S1, None), EDIT_AT, "invalid", "amount or min_amount is required"
    ),
    "amount below min_amount": Case(
        opened(), auto(S1, 200, 175), OPEN_AT, "invalid", "amount must not be below min_amount"
    ),
    "min_amount not on the tick": Case(
        opened(), auto(S1, 110), OPEN_AT, "invalid", "min_amount must be a multiple of 0.25"
    ),
    "min_amount not on a custom tick": Case(
        pending_with_terms(tick=10),
        auto(S1, 105, 200),
        EDIT_AT,
        "invalid",
        "min_amount must be a multiple of 0.10",
    ),
    "auto-bid amount not on the tick": Case(
        opened(), auto(S1, 100, 210), OPEN_AT, "invalid", "amount must be a multiple of 0.25"
    ),
    "min_amount zero in a spot auction": Case(
        opened(), auto(S1, 0, 200), OPEN_AT, "invalid", "min_amount must be greater than 0"
    ),
    "min_amount negative in a spot auction": Case(
        opened(), auto(S1, -25), OPEN_AT, "invalid", "min_amount must be greater than 0"
    ),
    "traded auto-bid not allowed": Case(
        opened(),
        auto(S1, 100, traded=True),
        OPEN_AT,
        "traded_bids_not_allowed",
        "this auction does not allow traded bids",
    ),
    "forward_fixed amount zero": Case(
        TERM_OPEN, bid(S1, 0), OPEN_AT, "invalid", "amount must be greater than 0"
    ),
    "forward_fixed amount negative": Case(
        TERM_OPEN, bid(S1, -25), OPEN_AT, "invalid", "amount must be greater than 0"
    ),
    "forward_fixed min_amount negative": Case(
        TERM_OPEN, auto(S1, -25, 100), OPEN_AT, "invalid", "min_amount must be greater than 0"
    ),
    "formula_related amount off the tick": Case(
        FORMULA_OPEN, bid(S1, -30), OPEN_AT, "invalid", "amount must be a multiple of 0.25"
    ),
    "formula_related differential below its floor": Case(
        FORMULA_OPEN, auto(S1, -50, -75), OPEN_AT, "invalid", "amount must not be below min_amount"
    ),
    "a term auction has a single product": Case(
        TERM_OPEN, bid(S1, {"p2": 200}), OPEN_AT, "not_found", "unknown product p2"
    ),
    "empty bids": Case(
        opened(), PlaceBids(by=S1, bids=()), OPEN_AT, "invalid", "bids must not be empty"
    ),
    "duplicate product in one request": Case(
        opened(),
        PlaceBids(
            by=S1,
            bids=(BidRequest(product_id="p1", amount=200), BidRequest(product_id="p1", amount=225)),
        ),
        OPEN_AT,
        "invalid",
        "at most one bid per product in a request",
    ),
    # --- invalid: terms ---------------------------------------------------------------------
    "scheduled without supplier": Case(
        [],
        create(BUYER, make_terms(suppliers=())),
        CREATED_AT,
        "invalid",
        "a scheduled auction needs at least one supplier",
    ),
    "scheduled without product": Case(
        [],
        create(BUYER, make_terms(products=0)),
        CREATED_AT,
        "invalid",
        "a scheduled auction needs at least one product",
    ),
    "scheduling a draft without supplier": Case(
        [created(make_terms(scheduled_start=None, suppliers=()))],
        update(BUYER, scheduled_start=T0),
        EDIT_AT,
        "invalid",
        "a scheduled auction needs at least one supplier",
    ),
    "removing the last product of a pending auction": Case(
        pending(),
        update(BUYER, products=()),
        EDIT_AT,
        "invalid",
        "a scheduled auction needs at least one product",
    ),
    "quantity zero": Case(
        [],
        create(BUYER, make_terms(products=(spec(1, quantity_mt=0),))),
        CREATED_AT,
        "invalid",
        "product 1: quantity_mt must be greater than 0",
    ),
    "quantity negative in a draft edit": Case(
        draft(),
        update(BUYER, products=(spec(1), spec(2, quantity_mt=-5))),
        EDIT_AT,
        "invalid",
        "product 2: quantity_mt must be greater than 0",
    ),
    "vessel without IMO": Case(
        [],
        create(
            BUYER,
            make_terms(
                products=(ProductSpec(vessel=Vessel("V", " "), fuel="MGO", quantity_mt=1, eta=T0),)
            ),
        ),
        CREATED_AT,
        "invalid",
        "product 1: vessel IMO must not be empty",
    ),
    "product without fuel": Case(
        [],
        create(BUYER, make_terms(products=(spec(1, fuel=""),))),
        CREATED_AT,
        "invalid",
        "product 1: fuel must not be empty",
    ),
    "etd before eta": Case(
        [],
        create(
            BUYER,
            make_terms(
                products=(
                    ProductSpec(
                        vessel=Vessel("V", "1"), fuel="MGO", quantity_mt=1, eta=T0, etd=T0 - 1
                    ),
                )
            ),
        ),
        CREATED_AT,
        "invalid",
        "product 1: etd must not be before eta",
    ),
    "empty port": Case(
        [], create(BUYER, make_terms(port=" ")), CREATED_AT, "invalid", "port must not be empty"
    ),
    "zero duration": Case(
        [],
        create(BUYER, make_terms(duration_s=0)),
        CREATED_AT,
        "invalid",
        "duration_s (the bidding time) must be between 1 s and 30 days",
    ),
    "zero decision duration": Case(
        [],
        create(BUYER, make_terms(decision_duration_s=0)),
        CREATED_AT,
        "invalid",
        "decision_duration_s (the decision time) must be between 1 s and 30 days",
    ),
    "negative soft close": Case(
        [],
        create(BUYER, make_terms(soft_close_s=-1)),
        CREATED_AT,
        "invalid",
        "soft_close_s (the soft-close window) must be between 0 s and 1 day",
    ),
    "zero tick": Case(
        [], create(BUYER, make_terms(tick=0)), CREATED_AT, "invalid", "tick must be positive"
    ),
    "supplier listed twice": Case(
        [],
        create(BUYER, make_terms(suppliers=(SUPPLIER_COS[0], SUPPLIER_COS[0]))),
        CREATED_AT,
        "invalid",
        "a supplier is listed twice",
    ),
    "buyer as its own supplier": Case(
        [],
        create(BUYER, make_terms(suppliers=(Party("buyer", "Blue Shipping"),))),
        CREATED_AT,
        "invalid",
        "the buyer cannot be a supplier",
    ),
    "term auction with spot products": Case(
        [],
        create(BUYER, make_terms(kind="forward_fixed")),
        CREATED_AT,
        "invalid",
        "a term auction has a fuel and months, not products",
    ),
    "formula-related auction with spot products": Case(
        [],
        create(BUYER, term_terms("formula_related", products=(spec(1),))),
        CREATED_AT,
        "invalid",
        "a term auction has a fuel and months, not products",
    ),
    "scheduled term auction without months": Case(
        [],
        create(BUYER, term_terms(start_month=None, end_month=None)),
        CREATED_AT,
        "invalid",
        "a scheduled term auction needs start_month, end_month",
    ),
    "scheduled term auction without fuel and quantity": Case(
        [],
        create(BUYER, term_terms(fuel=None, quantity_mt_per_month=None)),
        CREATED_AT,
        "invalid",
        "a scheduled term auction needs fuel, quantity_mt_per_month",
    ),
    "scheduled formula-related auction without fuel index": Case(
        [],
        create(BUYER, term_terms("formula_related", fuel_index=None)),
        CREATED_AT,
        "invalid",
        "a scheduled term auction needs fuel_index",
    ),
    "term end month before start month": Case(
        [],
        create(BUYER, term_terms(start_month="2027-03", end_month="2027-01")),
        CREATED_AT,
        "invalid",
        "end_month must not be before start_month",
    ),
    "term month 13": Case(
        [],
        create(BUYER, term_terms(end_month="2027-13")),
        CREATED_AT,
        "invalid",
        "end_month must be a month written YYYY-MM",
    ),
    "term month without a leading zero": Case(
        [],
        create(BUYER, term_terms(start_month="2027-1")),
        CREATED_AT,
        "invalid",
        "start_month must be a month written YYYY-MM",
    ),
    "term month that is a date": Case(
        [term_created_draft()],
        update(BUYER, start_month="2027-01-15"),
        EDIT_AT,
        "invalid",
        "start_month must be a month written YYYY-MM",
    ),
    "term quantity per month zero": Case(
        [],
        create(BUYER, term_terms(quantity_mt_per_month=0)),
        CREATED_AT,
        "invalid",
        "quantity_mt_per_month must be greater than 0",
    ),
    "term quantity per month negative in a draft": Case(
        [],
        create(BUYER, term_terms(scheduled_start=None, quantity_mt_per_month=-1)),
        CREATED_AT,
        "invalid",
        "quantity_mt_per_month must be greater than 0",
    ),
    "term fuel blank": Case(
        [],
        create(BUYER, term_terms(fuel=" ")),
        CREATED_AT,
        "invalid",
        "fuel must not be empty",
    ),
    "term months changed after bids": Case(
        [*TERM_PENDING, placed(2, S1, 200, at=EDIT_AT)],
        update(BUYER, end_month="2027-06"),
        EDIT_AT + 1,
        "invalid",
        "products cannot change once bids were placed",
    ),
    "creating an auction that exists": Case(
        pending(), create(BUYER), EDIT_AT, "invalid", "auction a1 already exists"
    ),
    "buyer creating with a start in the past": Case(
        [],
        create(BUYER, make_terms(scheduled_start=T0 - 1)),
        T0,
        "invalid",
        "scheduled_start must not be in the past",
    ),
    "buyer rescheduling into the past": Case(
        pending(),
        update(BUYER, scheduled_start=EDIT_AT - 1),
        EDIT_AT,
        "invalid",
        "scheduled_start must not be in the past",
    ),
    "products changed after bids": Case(
        [*pending(), placed(2, S1, 200, at=EDIT_AT)],
        update(BUYER, products=(spec(1, quantity_mt=10),)),
        EDIT_AT + 1,
        "invalid",
        "products cannot change once bids were placed",
    ),
    "products changed after revoked bids": Case(
        [*pending(), placed(2, S1, 200, at=EDIT_AT), revoked(S1, 2, at=EDIT_AT)],
        update(BUYER, products=(spec(1),)),
        EDIT_AT + 1,
        "invalid",
        "products cannot change once bids were placed",
    ),
    "tick changed after bids": Case(
        [*pending(), placed(2, S1, 200, at=EDIT_AT)],
        update(BUYER, tick=50),
        EDIT_AT + 1,
        "invalid",
        "the tick cannot change once bids were placed",
    ),
    "removing a supplier that bid": Case(
        [*pending(), placed(2, S1, 200, at=EDIT_AT)],
        update(BUYER, suppliers=SUPPLIER_COS[1:]),
        EDIT_AT + 1,
        "invalid",
        "supplier s1 has bid and cannot be removed",
    ),
    # --- invalid: selections ----------------------------------------------------------------
    "empty selection": Case(
        WITH_BIDS_DECISION, select(BUYER), DECIDE_AT, "invalid", "bid_ids must not be empty"
    ),
    "two bids for one product in a selection": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:8", "a1:3", "a1:4"),
        DECIDE_AT,
        "invalid",
        "at most one bid per product may be selected",
    ),
    "the same bid twice in a selection": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:8", "a1:8"),
        DECIDE_AT,
        "invalid",
        "at most one bid per product may be selected",
    ),
    "a revoked bid in a selection": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:6"),
        DECIDE_AT,
        "invalid",
        "bid a1:6 is no longer live",
    ),
    "a replaced bid in a selection": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:5"),
        DECIDE_AT,
        "invalid",
        "bid a1:5 is no longer live",
    ),
    "splitting a non-split group": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:3"),
        DECIDE_AT,
        "invalid",
        "the bids of s1 cannot be split",
    ),
    "splitting a non-split group with another supplier": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:8", "a1:4"),
        DECIDE_AT,
        "invalid",
        "the bids of s1 cannot be split",
    ),
    # --- invalid: selections by name --------------------------------------------------------
    "both bid_ids and a solution name": Case(
        WITH_BIDS_DECISION,
        select(BUYER, "a1:8", solution="best_overall"),
        DECIDE_AT,
        "invalid",
        "give either bid_ids or solution, not both",
    ),
    "best overall without any bid": Case(
        in_decision(),
        select(BUYER, solution="best_overall"),
        DECIDE_AT,
        "invalid",
        "there is no best_overall solution to select",
    ),
    "best single supplier when nobody covers every product": Case(
        [created(TWO_PRODUCTS), started(), placed(3, S1, 200, at=T0 + 1), ended()],
        select(BUYER, solution="best_single_supplier"),
        DECIDE_AT,
        "invalid",
        "there is no best_single_supplier solution to select",
    ),
    # --- barges, comments, RSVP, observers --------------------------------------------------
    "buyer submitting a barge": Case(
        opened(),
        SubmitBarge(by=BUYER, barge=BARGE),
        OPEN_AT,
        "forbidden",
        "only an invited supplier may do this",
    ),
    "non-invited company submitting a barge": Case(
        opened(), SubmitBarge(by=OUTSIDER, barge=BARGE), OPEN_AT, "not_found", "auction not found"
    ),
    "barge without a name": Case(
        opened(),
        SubmitBarge(by=S1, barge=Barge(" ", "9400001")),
        OPEN_AT,
        "invalid",
        "barge name must not be empty",
    ),
    "barge without an IMO": Case(
        opened(),
        SubmitBarge(by=S1, barge=Barge("Sea Tanker", "")),
        OPEN_AT,
        "invalid",
        "barge imo must not be empty",
    ),
    "barge submitted to a closed auction": Case(
        in_closed(),
        SubmitBarge(by=S1, barge=BARGE),
        DECIDE_AT,
        "wrong_status",
        "barges cannot be submitted when the auction is closed",
    ),
    "barge unsubmitted from a canceled auction": Case(
        in_canceled(),
        UnsubmitBarge(by=S1, imo=BARGE.imo),
        OPEN_AT,
        "wrong_status",
        "barges cannot be unsubmitted when the auction is canceled",
    ),
    "supplier approving a barge": Case(
        WITH_EXTRAS,
        ApproveBarge(by=S2, imo=BARGE.imo, supplier_id="s1"),
        OPEN_AT,
        "forbidden",
        BUYER_OR_ADMIN,
    ),
    "approving a barge nobody submitted": Case(
        WITH_EXTRAS,
        ApproveBarge(by=BUYER, imo=BARGE.imo, supplier_id="s2"),
        OPEN_AT,
        "not_found",
        "no barge 9400001 submitted by s2",
    ),
    "rejecting a barge after a cancel": Case(
        [*WITH_EXTRAS, canceled(at=T0 + 3)],
        RejectBarge(by=BUYER, imo=BARGE.imo, supplier_id="s1"),
        OPEN_AT,
        "wrong_status",
        "barges cannot be approved or rejected when the auction is canceled",
    ),
    "empty comment": Case(
        opened(), PostComment(by=S1, text="  "), OPEN_AT, "invalid", "text must not be empty"
    ),
    "comment too long": Case(
        opened(),
        PostComment(by=S1, text="x" * 2001),
        OPEN_AT,
        "invalid",
        "text must be at most 2000 characters",
    ),
    "buyer posting a comment": Case(
        opened(),
        PostComment(by=BUYER, text="hi"),
        OPEN_AT,
        "forbidden",
        "only an invited supplier may do this",
    ),
    "comment on a draft": Case(
        draft(), PostComment(by=S1, text="hi"), EDIT_AT, "not_found", "auction not found"
    ),
    "comment after expiry": Case(
        in_expired(),
        PostComment(by=S1, text="hi"),
        DECISION_CLOSES + 1,
        "wrong_status",
        "comments cannot be posted when the auction is expired",
    ),
    "deleting another supplier's comment": Case(
        WITH_EXTRAS,
        DeleteComment(by=S2, comment_id="a1:c4"),
        OPEN_AT,
        "not_found",
        "no comment a1:c4 of yours",
    ),
    "deleting an unknown comment": Case(
        WITH_EXTRAS,
        DeleteComment(by=S1, comment_id="a1:c9"),
        OPEN_AT,
        "not_found",
        "no comment a1:c9 of yours",
    ),
    "buyer deleting a supplier's comment": Case(
        WITH_EXTRAS,
        DeleteComment(by=BUYER, comment_id="a1:c4"),
        OPEN_AT,
        "forbidden",
        "only an invited supplier may do this",
    ),
    "buyer answering an invitation": Case(
        opened(),
        GiveRsvp(by=BUYER, response="yes"),
        OPEN_AT,
        "forbidden",
        "only an invited supplier may do this",
    ),
    "rsvp after the close": Case(
        in_closed(),
        GiveRsvp(by=S2, response="no"),
        DECIDE_AT,
        "wrong_status",
        "invitations cannot be answered when the auction is closed",
    ),
    "buyer inviting an observer": Case(
        opened(),
        InviteObserver(by=BUYER, observer=OBSERVER_CO),
        OPEN_AT,
        "forbidden",
        "only an admin may invite observers",
    ),
    "supplier inviting an observer": Case(
        opened(),
        InviteObserver(by=S1, observer=OBSERVER_CO),
        OPEN_AT,
        "forbidden",
        "only an admin may invite observers",
    ),
    "buyer uninviting an observer": Case(
        opened(),
        UninviteObserver(by=BUYER, company_id=OBSERVER_CO.id),
        OPEN_AT,
        "forbidden",
        "only an admin may uninvite observers",
    ),
    "observer inviting itself": Case(
        opened(),
        InviteObserver(by=OBSERVER, observer=OBSERVER_CO),
        OPEN_AT,
        "not_found",
        "auction not found",
    ),
    "a supplier as an observer": Case(
        opened(),
        InviteObserver(by=ADMIN, observer=SUPPLIER_COS[1]),
        OPEN_AT,
        "invalid",
        "the buyer and the suppliers cannot be observers",
    ),
    "the buyer as an observer": Case(
        opened(),
        InviteObserver(by=ADMIN, observer=BUYER_CO),
        OPEN_AT,
        "invalid",
        "the buyer and the suppliers cannot be observers",
    ),
    # --- wrong_status -----------------------------------------------------------------------
    "edit when open": Case(
        opened(),
        update(BUYER, port="Antwerp"),
        OPEN_AT,
        "wrong_status",
        "an auction can be edited in draft or pending, not open",
    ),
    "edit in decision": Case(
        in_decision(),
        update(ADMIN, port="Antwerp"),
        DECIDE_AT,
        "wrong_status",
        "an auction can be edited in draft or pending, not decision",
    ),
    "edit when canceled": Case(
        in_canceled(),
        update(BUYER, port="Antwerp"),
        OPEN_AT,
        "wrong_status",
        "an auction can be edited in draft or pending, not canceled",
    ),
    "bid when closed": Case(
        in_closed(),
        bid(S2, 175),
        DECIDE_AT,
        "wrong_status",
        "bids are not accepted when the auction is closed",
    ),
    "bid when expired": Case(
        in_expired(),
        bid(S1, 175),
        DECISION_CLOSES + 1,
        "wrong_status",
        "bids are not accepted when the auction is expired",
    ),
    "bid when canceled": Case(
        in_canceled(),
        bid(S1, 175),
        OPEN_AT,
        "wrong_status",
        "bids are not accepted when the auction is canceled",
    ),
    "revoke when closed": Case(
        in_closed(),
        revoke(S1),
        DECIDE_AT,
        "wrong_status",
        "bids are not accepted when the auction is closed",
    ),
    "select when open": Case(
        WITH_BIDS,
        select(BUYER, "a1:8"),
        OPEN_AT,
        "wrong_status",
        "a solution cannot be selected when the auction is open",
    ),
    "admin selecting when pending": Case(
        [*pending(), placed(2, S1, 200, at=EDIT_AT)],
        select(ADMIN, "a1:2"),
        EDIT_AT,
        "wrong_status",
        "a solution cannot be selected when the auction is pending",
    ),
    "buyer selecting after expiry": Case(
        [*WITH_BIDS_DECISION, expired()],
        select(BUYER, "a1:8"),
        DECISION_CLOSES + 1,
        "wrong_status",
        "a solution cannot be selected when the auction is expired",
    ),
    "selecting twice": Case(
        in_closed(),
        select(ADMIN, "a1:3"),
        DECIDE_AT + 1,
        "wrong_status",
        "a solution cannot be selected when the auction is closed",
    ),
    "start of a draft": Case(
        draft(),
        start(ADMIN),
        EDIT_AT,
        "wrong_status",
        "only a pending auction can be started, not draft",
    ),
    "start of an open auction": Case(
        opened(),
        start(ADMIN),
        OPEN_AT,
        "wrong_status",
        "only a pending auction can be started, not open",
    ),
    "start of a canceled auction": Case(
        [*pending(), *in_canceled()[2:]],
        start(ADMIN),
        OPEN_AT,
        "wrong_status",
        "only a pending auction can be started, not canceled",
    ),
    "cancel when closed": Case(
        in_closed(), cancel(BUYER), DECIDE_AT, "wrong_status", "the auction is already closed"
    ),
    "cancel when expired": Case(
        in_expired(), cancel(ADMIN), HOUR + DECISION_CLOSES, "wrong_status", None
    ),
    "cancel when canceled": Case(
        in_canceled(), cancel(BUYER), OPEN_AT, "wrong_status", "the auction is already canceled"
    ),
    "term selection while pending": Case(
        [*TERM_PENDING, placed(2, S1, 200, at=EDIT_AT)],
        select(BUYER, "a1:2"),
        EDIT_AT,
        "wrong_status",
        "a solution cannot be selected when the auction is pending",
    ),
    "term revoke after the close": Case(
        [*TERM_OPEN, placed(3, S1, 200, at=OPEN_AT), *selected(BUYER, 3, at=OPEN_AT, total=1)],
        revoke(S1),
        OPEN_AT + 1,
        "wrong_status",
        "bids are not accepted when the auction is closed",
    ),
    # --- too_late ---------------------------------------------------------------------------
    "bid in decision": Case(in_decision(), bid(S1, 175), DECIDE_AT, "too_late", TOO_LATE_MESSAGE),
    "bid at closes_at before the timer fired": Case(
        opened(), bid(S1, 175), CLOSES, "too_late", TOO_LATE_MESSAGE
    ),
    "bid after closes_at before the timer fired": Case(
        opened(), bid(S1, 175), CLOSES + 30 * 1_000_000, "too_late", TOO_LATE_MESSAGE
    ),
    "revoke in decision": Case(WITH_BIDS_DECISION, revoke(S1), DECIDE_AT, "too_late", None),
    "auto-bid in decision": Case(
        in_decision(), auto(S1, 100), DECIDE_AT, "too_late", TOO_LATE_MESSAGE
    ),
    "term bid in decision": Case(
        [*TERM_OPEN, ended()], bid(S1, 200), DECIDE_AT, "too_late", TOO_LATE_MESSAGE
    ),
    # --- traded bids ------------------------------------------------------------------------
    "traded bid not allowed": Case(
        opened(),
        bid(S1, 200, traded=True),
        OPEN_AT,
        "traded_bids_not_allowed",
        "this auction does not allow traded bids",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_refused(case: Case) -> None:
    given(case.history).when(case.command, at=case.at).then_refused(case.code, case.message)


def test_the_history_behind_the_cases_is_what_the_cases_say() -> None:
    scenario = given(WITH_BIDS)
    state = scenario.state
    assert state is not None and state.status == "open"
    assert {b.bid_id: state.is_live(b) for b in state.history()} == {
        "a1:3": True,
        "a1:4": True,
        "a1:5": False,
        "a1:6": False,
        "a1:8": True,
    }
    assert state.seq == 8


def test_the_buyer_selecting_the_whole_non_split_group_is_accepted() -> None:
    outcome = given(WITH_BIDS_DECISION).when(select(BUYER, "a1:3", "a1:4"), at=DECIDE_AT)
    assert outcome.state.status == "closed"
    assert outcome.state.winning_total == (200 + 300) * 1500


def test_traded_bid_allowed_when_the_auction_allows_it() -> None:
    history = [created(make_terms(traded_bids_allowed=True)), *opened()[1:]]
    outcome = given(history).when(bid(S1, 200, traded=True), at=OPEN_AT)
    outcome.then(placed(3, S1, 200, at=OPEN_AT, traded=True))
    assert outcome.state.bids["a1:3"].traded


def test_an_admin_acting_on_behalf_of_a_supplier_is_checked_as_that_supplier() -> None:
    on_behalf = Caller(S1.user_id, S1.company_id, "supplier", admin_id="u-admin")
    outcome = given(opened()).when(bid(on_behalf, 200), at=OPEN_AT)
    assert outcome.state.bids["a1:3"].supplier_id == "s1"
    assert outcome.events is not None and outcome.events[0].by is not None
    assert outcome.events[0].by.admin_id == "u-admin"


def test_not_found_is_answered_before_anything_else_for_an_unknown_auction() -> None:
    nothing().when(select(BUYER, "a1:1"), at=OPEN_AT).then_refused("not_found")
    nothing().when(start(ADMIN), at=OPEN_AT).then_refused("not_found")
    nothing().when(revoke(S2), at=OPEN_AT).then_refused("not_found")
