"""Around the bidding: barges (per barge and supplier), comments, RSVPs, observers and the
anonymous aliases. Repeating an identical action records nothing."""

from __future__ import annotations

import msgspec

from auctionactors.domain.access import Viewer, can_see
from auctionactors.domain.commands import (
    ApproveBarge,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PostComment,
    RejectBarge,
    SubmitBarge,
    UninviteObserver,
    UnsubmitBarge,
)
from auctionactors.domain.decide import result_of
from auctionactors.domain.events import (
    AnyEvent,
    Barge,
    BargeApproved,
    BargeRejected,
    BargeSubmitted,
    BargeUnsubmitted,
    CommentDeleted,
    CommentPosted,
    ObserverInvited,
    ObserverUninvited,
    RsvpGiven,
)
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.state import BargeRecord
from auctionactors.domain.views import view
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    CLOSES,
    CREATED_AT,
    MINUTE,
    OBSERVER,
    S1,
    S2,
    SUPPLIER_COS,
    T0,
    TICK,
    Scenario,
    aliases_of,
    bid,
    by,
    create,
    created,
    draft,
    encode,
    ended,
    fold_events,
    given,
    make_terms,
    nothing,
    opened,
    pending,
    placed,
    selected,
    update,
    updated,
)

OPEN_AT = T0 + MINUTE
TANKER = Barge("Sea Tanker", "9400001")
OBSERVER_CO = Party("obs", "Harbour Watch")


def open_auction() -> Scenario:
    return given(opened())


# --- barges ---------------------------------------------------------------------------------


def submitted(caller: Caller, barge: Barge = TANKER, *, at: int = OPEN_AT) -> BargeSubmitted:
    return BargeSubmitted(at=at, by=by(caller), supplier_id=caller.company_id, barge=barge)


def test_a_supplier_submits_a_barge_and_a_repeat_records_nothing() -> None:
    outcome = open_auction().when(SubmitBarge(by=S1, barge=TANKER), at=OPEN_AT)
    outcome.then(submitted(S1))
    assert outcome.state.barges == {
        "s1|9400001": BargeRecord(supplier_id="s1", barge=TANKER, status="submitted", at=OPEN_AT)
    }
    outcome.and_then().when(SubmitBarge(by=S1, barge=TANKER), at=OPEN_AT + 1).then_nothing()


def test_a_resubmission_with_another_name_is_recorded_and_asks_again() -> None:
    scenario = (
        open_auction()
        .after(SubmitBarge(by=S1, barge=TANKER), at=OPEN_AT)
        .after(ApproveBarge(by=BUYER, imo=TANKER.imo, supplier_id="s1"), at=OPEN_AT + 1)
    )
    renamed = Barge("Sea Tanker II", TANKER.imo)
    outcome = scenario.when(SubmitBarge(by=S1, barge=renamed), at=OPEN_AT + 2)
    outcome.then(submitted(S1, renamed, at=OPEN_AT + 2))
    assert outcome.state.barges["s1|9400001"].status == "submitted"


def test_barges_are_approved_and_rejected_per_barge_and_supplier() -> None:
    scenario = (
        open_auction()
        .after(SubmitBarge(by=S1, barge=TANKER), at=OPEN_AT)
        .after(SubmitBarge(by=S2, barge=TANKER), at=OPEN_AT + 1)
    )
    approve = ApproveBarge(by=BUYER, imo=TANKER.imo, supplier_id="s1")
    outcome = scenario.when(approve, at=OPEN_AT + 2)
    outcome.then(BargeApproved(at=OPEN_AT + 2, by=by(BUYER), supplier_id="s1", imo=TANKER.imo))
    state = outcome.state
    assert state.barges["s1|9400001"].status == "approved"
    assert state.barges["s2|9400001"].status == "submitted"  # the same barge for S2: untouched
    approved = outcome.and_then()
    approved.when(approve, at=OPEN_AT + 3).then_nothing()
    reject = RejectBarge(by=ADMIN, imo=TANKER.imo, supplier_id="s1")
    rejected = approved.when(reject, at=OPEN_AT + 3)
    rejected.then(BargeRejected(at=OPEN_AT + 3, by=by(ADMIN), supplier_id="s1", imo=TANKER.imo))
    assert rejected.state.barges["s1|9400001"].status == "rejected"
    rejected.and_then().when(reject, at=OPEN_AT + 4).then_nothing()


def test_a_supplier_unsubmits_its_barge_and_a_repeat_records_nothing() -> None:
    scenario = (
        open_auction()
        .after(SubmitBarge(by=S1, barge=TANKER), at=OPEN_AT)
        .after(SubmitBarge(by=S2, barge=TANKER), at=OPEN_AT)
    )
    outcome = scenario.when(UnsubmitBarge(by=S1, imo=TANKER.imo), at=OPEN_AT + 1)
    outcome.then(BargeUnsubmitted(at=OPEN_AT + 1, by=by(S1), supplier_id="s1", imo=TANKER.imo))
    assert list(outcome.state.barges) == ["s2|9400001"]
    outcome.and_then().when(UnsubmitBarge(by=S1, imo=TANKER.imo), at=OPEN_AT + 2).then_nothing()
    # Approving the unsubmitted pair is now unknown.
    outcome.and_then().when(
        ApproveBarge(by=BUYER, imo=TANKER.imo, supplier_id="s1"), at=OPEN_AT + 2
    ).then_refused("not_found")


def test_barges_are_taken_while_pending_and_judged_after_the_close() -> None:
    at = CREATED_AT + MINUTE
    given(pending()).when(SubmitBarge(by=S1, barge=TANKER), at=at).then(submitted(S1, at=at))
    history = [
        *opened(),
        placed(3, S1, 200, at=T0 + 1),
        submitted(S1, at=T0 + 2),
        ended(),
        *selected(BUYER, 3, at=CLOSES + MINUTE, total=200 * 1500),
    ]
    now = CLOSES + 2 * MINUTE
    closed = given(history)
    assert closed.state is not None and closed.state.status == "closed"
    closed.when(ApproveBarge(by=BUYER, imo=TANKER.imo, supplier_id="s1"), at=now).then(
        BargeApproved(at=now, by=by(BUYER), supplier_id="s1", imo=TANKER.imo)
    )


# --- comments -------------------------------------------------------------------------------


def test_a_supplier_posts_and_deletes_its_own_comment() -> None:
    command = PostComment(by=S1, text="  Barge available from 06:00  ")
    outcome = open_auction().when(command, at=OPEN_AT)
    posted = CommentPosted(
        at=OPEN_AT,
        by=by(S1),
        comment_id="a1:c3",
        supplier_id="s1",
        text="Barge available from 06:00",  # trimmed
    )
    outcome.then(posted)
    assert outcome.events is not None
    assert result_of(command, outcome.events) == {"comment_id": "a1:c3"}
    scenario = outcome.and_then()
    # Another supplier may not delete it: to S2 it does not exist.
    scenario.when(DeleteComment(by=S2, comment_id="a1:c3"), at=OPEN_AT + 1).then_refused(
        "not_found", "no comment a1:c3 of yours"
    )
    deleted = scenario.when(DeleteComment(by=S1, comment_id="a1:c3"), at=OPEN_AT + 1)
    deleted.then(CommentDeleted(at=OPEN_AT + 1, by=by(S1), comment_id="a1:c3", supplier_id="s1"))
    assert deleted.state.comments["a1:c3"].deleted is True
    deleted.and_then().when(DeleteComment(by=S1, comment_id="a1:c3"), at=OPEN_AT + 2).then_nothing()


def test_comment_ids_are_stable_and_distinct() -> None:
    scenario = (
        open_auction()
        .after(PostComment(by=S1, text="one"), at=OPEN_AT)
        .after(PostComment(by=S2, text="two"), at=OPEN_AT)
        .after(PostComment(by=S1, text="one"), at=OPEN_AT)
    )
    state = scenario.state
    assert state is not None
    assert list(state.comments) == ["a1:c3", "a1:c4", "a1:c5"]
    assert encode(fold_events(scenario.events)) == encode(state)


# --- RSVP -----------------------------------------------------------------------------------


def test_a_supplier_answers_the_invitation_and_a_repeat_records_nothing() -> None:
    at = CREATED_AT + MINUTE
    outcome = given(pending()).when(GiveRsvp(by=S1, response="maybe"), at=at)
    outcome.then(RsvpGiven(at=at, by=by(S1), supplier_id="s1", response="maybe"))
    scenario = outcome.and_then()
    scenario.when(GiveRsvp(by=S1, response="maybe"), at=at + 1).then_nothing()
    changed = scenario.when(GiveRsvp(by=S1, response="no"), at=at + 1)
    changed.then(RsvpGiven(at=at + 1, by=by(S1), supplier_id="s1", response="no"))
    assert changed.state.rsvp == {"s1": "no"}


def test_a_bid_answers_yes_and_a_yes_after_it_records_nothing() -> None:
    scenario = (
        open_auction()
        .after(GiveRsvp(by=S1, response="no"), at=OPEN_AT)
        .after(bid(S1, 200), at=OPEN_AT + 1)
    )
    assert scenario.state is not None and scenario.state.rsvp == {"s1": "yes"}
    scenario.when(GiveRsvp(by=S1, response="yes"), at=OPEN_AT + 2).then_nothing()
    # While pending too: a bid is an answer before the start.
    state = given(pending()).after(bid(S2, 200), at=CREATED_AT + 1).state
    assert state is not None and state.rsvp == {"s2": "yes"}


# --- observers ------------------------------------------------------------------------------


def test_an_admin_invites_and_uninvites_an_observer() -> None:
    observer = Viewer(OBSERVER.company_id, "observer")
    scenario = open_auction()
    assert scenario.state is not None and not can_see(scenario.state, observer)
    invited = scenario.when(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=OPEN_AT)
    invited.then(ObserverInvited(at=OPEN_AT, by=by(ADMIN), observer=OBSERVER_CO))
    assert can_see(invited.state, observer)
    assert view(invited.state, observer, OPEN_AT) is not None
    scenario = invited.and_then()
    scenario.when(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=OPEN_AT + 1).then_nothing()
    uninvite = UninviteObserver(by=ADMIN, company_id="obs")
    gone = scenario.when(uninvite, at=OPEN_AT + 1)
    gone.then(ObserverUninvited(at=OPEN_AT + 1, by=by(ADMIN), company_id="obs"))
    assert not can_see(gone.state, observer)
    assert view(gone.state, observer, OPEN_AT + 1) is None
    gone.and_then().when(uninvite, at=OPEN_AT + 2).then_nothing()


def test_an_invited_observer_does_not_see_a_draft() -> None:
    scenario = given(draft()).after(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=T0)
    assert scenario.state is not None
    assert view(scenario.state, Viewer("obs", "observer"), T0) is None


def test_only_an_admin_invites_even_on_behalf_of_a_buyer() -> None:
    as_buyer = Caller(BUYER.user_id, BUYER.company_id, "buyer", admin_id="u-admin")
    open_auction().when(InviteObserver(by=as_buyer, observer=OBSERVER_CO), at=OPEN_AT).then_refused(
        "forbidden", "only an admin may invite observers"
    )


# --- anonymous aliases ----------------------------------------------------------------------


def test_suppliers_get_aliases_in_the_order_of_a_keyed_hash_under_the_salt() -> None:
    """HMAC-SHA256(salt, supplier id) with the empty salt of tests orders s1, s3, s2."""
    state = nothing().when(create(BUYER), at=CREATED_AT).state
    assert state.aliases == {"s1": "Supplier 1", "s3": "Supplier 2", "s2": "Supplier 3"}
    assert state.aliases == aliases_of(make_terms())


def test_added_suppliers_get_new_aliases_and_removed_ones_keep_theirs() -> None:
    s4, s5 = Party("s4", "Supplier 4 Ltd"), Party("s5", "Supplier 5 Ltd")
    at = CREATED_AT + 1
    # S2 removed and S4 added: S4 gets a new alias, never S2's.
    suppliers = (SUPPLIER_COS[0], SUPPLIER_COS[2], s4)
    outcome = given(pending()).when(update(BUYER, suppliers=suppliers), at=at)
    outcome.then(updated(at=at, suppliers=suppliers, aliases={"s4": "Supplier 4"}))
    scenario = outcome.and_then()
    # S2 back, and S5 new: S2 keeps "Supplier 3".
    again = (*suppliers, SUPPLIER_COS[1], s5)
    outcome = scenario.when(update(BUYER, suppliers=again), at=at + 1)
    outcome.then(updated(at=at + 1, suppliers=again, aliases={"s5": "Supplier 5"}))
    assert outcome.state.aliases == {
        "s1": "Supplier 1",
        "s3": "Supplier 2",
        "s2": "Supplier 3",
        "s4": "Supplier 4",
        "s5": "Supplier 5",
    }


def test_aliases_are_the_same_after_every_replay() -> None:
    terms = make_terms(anonymous_bidding=True)
    scenario = (
        nothing()
        .after(create(BUYER, terms), at=CREATED_AT)
        .after(update(BUYER, suppliers=(SUPPLIER_COS[2], SUPPLIER_COS[0])), at=CREATED_AT + 1)
        .after(TICK, at=T0)
        .after(bid(S1, 200), at=OPEN_AT)
    )
    live = scenario.state
    assert live is not None
    wire = msgspec.json.encode(scenario.events)
    replayed = fold_events(msgspec.json.decode(wire, type=list[AnyEvent]))
    assert replayed is not None
    assert (
        replayed.aliases
        == live.aliases
        == {
            "s1": "Supplier 1",
            "s3": "Supplier 2",
            "s2": "Supplier 3",
        }
    )
    buyer_view = view(replayed, Viewer("buyer", "buyer"), OPEN_AT)
    assert buyer_view is not None
    assert buyer_view["products"][0]["bids"][0]["supplier"] == {
        "id": "Supplier 1",
        "name": "Supplier 1",
    }


def test_the_created_event_carries_the_aliases() -> None:
    assert created().aliases == {"s1": "Supplier 1", "s3": "Supplier 2", "s2": "Supplier 3"}
