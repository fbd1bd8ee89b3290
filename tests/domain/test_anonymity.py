"""PROTOCOL.md 1.1, "Anonymity is unguessable" (issue 9, item 2): aliases numbered under a salt
the runtime draws and no one keeps; ``by`` null on a supplier's event for the buyer and
observers; the buyer names suppliers by alias, and a request naming a supplier answers the same
for every supplier that does not match; ``anonymous_bidding`` fixed once pending."""

from __future__ import annotations

import hashlib

from auctionactors.domain.access import Viewer
from auctionactors.domain.commands import (
    ApproveBarge,
    CreateAuction,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PostComment,
    RejectBarge,
    SubmitBarge,
    UnsubmitBarge,
    UpdateAuction,
)
from auctionactors.domain.events import EVENT_TYPES, Barge, Event, event_type
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.redaction import filter_event
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import AuctionChanges
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    CLOSES,
    CREATED_AT,
    MINUTE,
    OBSERVER,
    S1,
    S2,
    S3,
    SUPPLIER_COS,
    T0,
    TICK,
    Scenario,
    auto,
    bid,
    cancel,
    created,
    given,
    make_terms,
    nothing,
    revoke,
    select,
    update,
)

OPEN_AT = T0 + MINUTE
BARGE = Barge("Sea Tanker", "9400001")
OBSERVER_CO = Party(OBSERVER.company_id, "Harbour Watch")
S1_AS_ADMIN = Caller(S1.user_id, S1.company_id, "supplier", admin_id=ADMIN.user_id)


def anonymous(**overrides: object) -> Scenario:
    return given(created(make_terms(anonymous_bidding=True, **overrides)))


# --- the aliases ----------------------------------------------------------------------------


def test_the_alias_order_is_not_the_hash_of_ids_the_buyer_knows() -> None:
    """Before the fix the order was sorted(sha256(auction id, supplier id)): a buyer recomputed
    it. Now it follows the runtime's salt: the same auction id under different salts gives
    different orders, and at least one of them differs from the sha256 order."""
    terms = make_terms(suppliers=tuple(Party(f"s{i}", f"S {i}") for i in range(1, 7)))
    recomputed = sorted(
        (s.id for s in terms.suppliers),
        key=lambda sid: hashlib.sha256(f"a1\x00{sid}".encode()).digest(),
    )
    guessed = {sid: f"Supplier {n}" for n, sid in enumerate(recomputed, start=1)}
    seen = []
    for i in range(8):
        command = CreateAuction(by=BUYER, auction_id="a1", terms=terms, alias_salt=bytes([i]) * 16)
        seen.append(nothing().when(command, at=CREATED_AT).state.aliases)
    assert len({tuple(sorted(a.items())) for a in seen}) > 1
    assert any(aliases != guessed for aliases in seen)


def test_suppliers_added_by_an_edit_are_numbered_under_its_own_salt() -> None:
    added = (*SUPPLIER_COS, Party("s4", "S 4"), Party("s5", "S 5"), Party("s6", "S 6"))
    orders = set()
    for i in range(8):
        command = UpdateAuction(
            by=BUYER, changes=AuctionChanges(suppliers=added), alias_salt=bytes([i]) * 16
        )
        state = anonymous().when(command, at=CREATED_AT + 1).state
        assert {state.aliases[s] for s in ("s4", "s5", "s6")} == {
            "Supplier 4",
            "Supplier 5",
            "Supplier 6",
        }
        orders.add(tuple(state.aliases[s] for s in ("s4", "s5", "s6")))
    assert len(orders) > 1


# --- by is null on a supplier's event --------------------------------------------------------


def every_event_type() -> tuple[Scenario, Scenario]:
    """Two anonymous auctions that between them hold every event type: one closed after bids,
    auto-bids, a trigger, a revocation, an extension (caused by a bid), barges, comments,
    RSVPs and observers, with an admin acting as S1; one canceled and one expired."""
    late = CLOSES - MINUTE
    s = (
        anonymous()
        .after(update(BUYER, port="Antwerp"), at=CREATED_AT + 1)
        .after(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=CREATED_AT + 2)
        .after(GiveRsvp(by=S3, response="maybe"), at=CREATED_AT + 3)
        .after(TICK, at=T0)
        .after(auto(S1_AS_ADMIN, 100, 300), at=OPEN_AT)
        .after(bid(S2, 250), at=OPEN_AT + 1)
        .after(bid(S3, 400), at=OPEN_AT + 2)
        .after(revoke(S3), at=OPEN_AT + 3)
        .after(SubmitBarge(by=S1, barge=BARGE), at=OPEN_AT + 4)
        .after(SubmitBarge(by=S2, barge=BARGE), at=OPEN_AT + 5)
        .after(UnsubmitBarge(by=S2, imo=BARGE.imo), at=OPEN_AT + 6)
        .after(SubmitBarge(by=S3, barge=BARGE), at=OPEN_AT + 7)
        .after(PostComment(by=S2, text="by barge"), at=OPEN_AT + 8)
        .after(PostComment(by=S1_AS_ADMIN, text="on behalf"), at=OPEN_AT + 9)
        .after(bid(S2, 200), at=late)  # triggers S1's auto-bid, S1 leads: S2 did not extend
        .after(bid(S3, 100), at=late + 1)  # S3 now leads: extends
    )
    state = s.state
    assert state is not None
    aliases = state.aliases
    comment_id = next(iter(state.comments))
    s = s.after(DeleteComment(by=S2, comment_id=comment_id), at=late + 2)
    s = s.after(ApproveBarge(by=BUYER, imo=BARGE.imo, supplier_id=aliases["s1"]), at=late + 3)
    s = s.after(RejectBarge(by=BUYER, imo=BARGE.imo, supplier_id=aliases["s3"]), at=late + 4)
    s = s.after(TICK, at=CLOSES + 10 * MINUTE)
    s = s.after(select(BUYER, solution="best_overall"), at=CLOSES + 11 * MINUTE)
    other = anonymous().after(cancel(BUYER), at=CREATED_AT + 1)
    expired = anonymous().after(TICK, at=T0).after(TICK, at=T0 + 2 * 60 * MINUTE)
    return s, Scenario([*other.events, *expired.events[1:]])


def test_every_event_type_acted_by_a_supplier_has_no_by_for_the_buyer_and_observers() -> None:
    closed, rest = every_event_type()
    seen: set[str] = set()
    for scenario in (closed, rest):
        for i, event in enumerate(scenario.events, start=1):
            seen.add(event_type(event))
            state = scenario.state
            assert state is not None
            for viewer in (
                Viewer(BUYER.company_id, "buyer"),
                Viewer(OBSERVER.company_id, "observer"),
            ):
                entry = filter_event(state, viewer, i, event)
                if entry is None:  # the observer is invited to the closed auction only
                    assert viewer.role == "observer" and scenario is rest
                    continue
                if _by_a_supplier(state, event):
                    assert entry.get("by") is None, (viewer, entry)
    assert seen >= {event_type_of(cls) for cls in EVENT_TYPES} - {"observer_uninvited"}


def event_type_of(cls: type[Event]) -> str:
    return str(cls.__struct_config__.tag)


def _by_a_supplier(state: AuctionState, event: Event) -> bool:
    return event.by is not None and state.is_supplier(event.by.company_id)


# --- the buyer names suppliers by alias ------------------------------------------------------


def with_barges() -> Scenario:
    return (
        anonymous()
        .after(TICK, at=T0)
        .after(SubmitBarge(by=S1, barge=BARGE), at=OPEN_AT)
        .after(SubmitBarge(by=S2, barge=BARGE), at=OPEN_AT)
    )


def test_the_buyer_approves_and_rejects_a_barge_by_alias() -> None:
    scenario = with_barges()
    state = scenario.state
    assert state is not None
    alias = state.aliases["s1"]
    approved = scenario.when(ApproveBarge(by=BUYER, imo=BARGE.imo, supplier_id=alias), at=OPEN_AT)
    (event,) = approved.events or []
    assert (event_type(event), event.supplier_id) == ("barge_approved", "s1")  # type: ignore[attr-defined]
    rejected = scenario.when(RejectBarge(by=BUYER, imo=BARGE.imo, supplier_id=alias), at=OPEN_AT)
    assert [event_type(e) for e in rejected.events or []] == ["barge_rejected"]


def test_a_real_id_from_the_buyer_answers_as_any_other_non_matching_supplier() -> None:
    """Before the fix a real id with a barge was approved and one without answered otherwise:
    the buyer could test which alias is whose."""
    scenario = with_barges()
    state = scenario.state
    assert state is not None
    without_barge = next(a for s, a in state.aliases.items() if s == "s3")
    for kind in (ApproveBarge, RejectBarge):
        for name in ("s1", "s2", "s3", "nobody", without_barge):
            outcome = scenario.when(kind(by=BUYER, imo=BARGE.imo, supplier_id=name), at=OPEN_AT)
            outcome.then_refused("not_found", f"no barge {BARGE.imo} submitted by {name}")


def test_an_admin_names_a_supplier_by_id_or_by_alias() -> None:
    scenario = with_barges()
    state = scenario.state
    assert state is not None
    for name in ("s2", state.aliases["s2"]):
        outcome = scenario.when(ApproveBarge(by=ADMIN, imo=BARGE.imo, supplier_id=name), at=OPEN_AT)
        assert [getattr(e, "supplier_id", None) for e in outcome.events or []] == ["s2"]


def test_in_a_named_auction_the_buyer_uses_real_ids() -> None:
    scenario = (
        given(created()).after(TICK, at=T0).after(SubmitBarge(by=S1, barge=BARGE), at=OPEN_AT)
    )
    ok = scenario.when(ApproveBarge(by=BUYER, imo=BARGE.imo, supplier_id="s1"), at=OPEN_AT)
    assert len(ok.events or []) == 1
    state = scenario.state
    assert state is not None
    alias = state.aliases["s1"]
    scenario.when(
        ApproveBarge(by=BUYER, imo=BARGE.imo, supplier_id=alias), at=OPEN_AT
    ).then_refused("not_found", f"no barge {BARGE.imo} submitted by {alias}")


def test_removing_a_supplier_after_bids_answers_the_same_for_bidders_and_others() -> None:
    """Naming the bidder would tell the buyer who bid in an anonymous auction."""
    scenario = anonymous().after(bid(S1, 200), at=CREATED_AT + 1)
    for kept in ((SUPPLIER_COS[1], SUPPLIER_COS[2]), (SUPPLIER_COS[0], SUPPLIER_COS[2])):
        outcome = scenario.when(update(BUYER, suppliers=kept), at=CREATED_AT + 2)
        if "s1" in {p.id for p in kept}:
            assert outcome.error is None
        else:
            outcome.then_refused("invalid", "suppliers cannot be removed once bids were placed")


# --- anonymous_bidding is fixed once pending ---------------------------------------------------


def test_anonymous_bidding_cannot_change_once_pending() -> None:
    for start, anon in ((T0, True), (T0, False)):
        scenario = given(created(make_terms(scheduled_start=start, anonymous_bidding=anon)))
        scenario.when(update(BUYER, anonymous_bidding=not anon), at=CREATED_AT + 1).then_refused(
            "invalid", "anonymous_bidding cannot change once the auction is pending"
        )
        # Sending the same value is no change.
        assert scenario.when(update(BUYER, anonymous_bidding=anon), at=CREATED_AT + 1).error is None
        admin = scenario.when(update(ADMIN, anonymous_bidding=not anon), at=CREATED_AT + 1)
        admin.then_refused("invalid", "anonymous_bidding cannot change once the auction is pending")


def test_anonymous_bidding_may_change_in_draft_even_when_the_edit_schedules_it() -> None:
    draft = given(created(make_terms(scheduled_start=None)))
    outcome = draft.when(update(BUYER, anonymous_bidding=True, scheduled_start=T0), at=CREATED_AT)
    assert outcome.state.terms.anonymous_bidding and outcome.state.status == "pending"
