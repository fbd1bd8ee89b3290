"""PROTOCOL.md 1.1, "Anonymity is unguessable" (issue 9, item 2): aliases numbered under a salt
the runtime draws and no one keeps; ``by`` null on a supplier's event for the buyer and
observers; the buyer names suppliers by alias, and a request naming a supplier answers the same
for every supplier that does not match; ``anonymous_bidding`` fixed once pending."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

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


def test_an_added_supplier_is_not_numbered_after_the_others() -> None:
    """Before the fix s4, added to a pending anonymous auction of s1..s3, was always
    "Supplier 4": the buyer who added it knew its alias. Now every edit of the suppliers
    draws all the aliases again under its own salt."""
    added = (*SUPPLIER_COS, Party("s4", "S 4"))
    seen = set()
    for i in range(16):
        command = UpdateAuction(
            by=BUYER, changes=AuctionChanges(suppliers=added), alias_salt=bytes([i]) * 16
        )
        outcome = anonymous().when(command, at=CREATED_AT + 1)
        aliases = outcome.state.aliases
        seen.add(aliases["s4"])
        assert sorted(aliases.values()) == [f"Supplier {n}" for n in range(1, 5)]
        (event,) = outcome.events or []
        assert event.aliases == aliases  # type: ignore[attr-defined]
    assert len(seen) > 1


def test_turning_anonymity_on_in_draft_draws_the_aliases_again() -> None:
    """A buyer that saw (or guessed) a named draft's map learns nothing of the new one."""
    draft = given(created(make_terms(scheduled_start=None)))
    maps = set()
    for i in range(8):
        command = UpdateAuction(
            by=BUYER, changes=AuctionChanges(anonymous_bidding=True), alias_salt=bytes([i]) * 16
        )
        outcome = draft.when(command, at=CREATED_AT + 1)
        (event,) = outcome.events or []
        assert event.aliases_replace  # type: ignore[attr-defined]
        maps.add(tuple(sorted(outcome.state.aliases.items())))
    assert len(maps) > 1


def test_the_buyer_and_observers_never_get_the_alias_map() -> None:
    """Before the fix the buyer of a named auction got {supplier: alias} in auction_created
    and auction_updated, and the map held when it turned anonymity on in draft."""
    added = (*SUPPLIER_COS, Party("s4", "S 4"))
    for anon in (False, True):
        scenario = (
            given(created(make_terms(anonymous_bidding=anon)))
            .after(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=CREATED_AT + 1)
            .after(update(BUYER, suppliers=added), at=CREATED_AT + 2)
        )
        state = scenario.state
        assert state is not None
        for viewer in (Viewer(BUYER.company_id, "buyer"), Viewer(OBSERVER.company_id, "observer")):
            for i, event in enumerate(scenario.events, start=1):
                entry = filter_event(state, viewer, i, event)
                assert entry is not None
                assert "aliases" not in entry.get("data", {}), (anon, viewer, entry)
        admin = filter_event(state, Viewer(ADMIN.company_id, "admin"), 1, scenario.events[0])
        assert admin is not None and admin["data"]["aliases"]


def test_the_suppliers_of_an_anonymous_auction_are_fixed_once_one_has_taken_part() -> None:
    """Once an alias is tied to a bid, barge or comment, a redraw would let the buyer follow
    every supplier to its new alias and single out the newcomer, and refusing the removal of
    the bidder alone told who bid: every change of the supplier list answers the same."""
    s4 = Party("s4", "S 4")
    acts = (bid(S2, 200), SubmitBarge(by=S2, barge=BARGE), PostComment(by=S2, text="hi"))
    for act in acts:
        scenario = anonymous().after(act, at=CREATED_AT + 1)
        for suppliers in (
            (*SUPPLIER_COS, s4),
            SUPPLIER_COS[:2],
            (SUPPLIER_COS[0], SUPPLIER_COS[2]),
            (SUPPLIER_COS[1], SUPPLIER_COS[2], s4),
        ):
            outcome = scenario.when(update(BUYER, suppliers=suppliers), at=CREATED_AT + 2)
            outcome.then_refused(
                "invalid",
                "the suppliers of an anonymous auction cannot change once a supplier has taken"
                " part",
            )
        # Other edits, and a reordered list, keep the aliases.
        reordered = tuple(reversed(SUPPLIER_COS))
        for command in (update(BUYER, port="Antwerp"), update(BUYER, suppliers=reordered)):
            outcome = scenario.when(command, at=CREATED_AT + 2)
            assert outcome.error is None
            assert outcome.state.aliases == (scenario.state or outcome.state).aliases
    # In a named auction, suppliers who have not bid may still come and go.
    named = given(created()).after(bid(S2, 200), at=CREATED_AT + 1)
    outcome = named.when(update(BUYER, suppliers=(*SUPPLIER_COS, s4)), at=CREATED_AT + 2)
    assert outcome.error is None


# --- by is null on a supplier's event --------------------------------------------------------


def every_event_type(anon: bool = True) -> tuple[Scenario, Scenario]:
    """Two anonymous auctions that between them hold every event type: one closed after bids,
    auto-bids, a trigger, a revocation, an extension (caused by a bid), barges, comments,
    RSVPs and observers, with an admin acting as S1; one canceled and one expired."""
    late = CLOSES - MINUTE
    start = given(created(make_terms(anonymous_bidding=anon)))
    s = (
        start.after(update(BUYER, port="Antwerp"), at=CREATED_AT + 1)
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
    s1, s3 = (aliases[s] if anon else s for s in ("s1", "s3"))
    s = s.after(ApproveBarge(by=BUYER, imo=BARGE.imo, supplier_id=s1), at=late + 3)
    s = s.after(RejectBarge(by=BUYER, imo=BARGE.imo, supplier_id=s3), at=late + 4)
    s = s.after(TICK, at=CLOSES + 10 * MINUTE)
    s = s.after(select(BUYER, solution="best_overall"), at=CLOSES + 11 * MINUTE)
    other = start.after(cancel(BUYER), at=CREATED_AT + 1)
    expired = start.after(TICK, at=T0).after(TICK, at=T0 + 2 * 60 * MINUTE)
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


# --- the leak walk ---------------------------------------------------------------------------


def draft_edits(anon: bool) -> Scenario:
    """A draft whose suppliers change and whose anonymity is switched on and off."""
    added = (*SUPPLIER_COS, Party("s4", "S 4"))
    return (
        given(created(make_terms(scheduled_start=None, anonymous_bidding=not anon)))
        .after(update(BUYER, suppliers=added), at=CREATED_AT + 1)
        .after(update(BUYER, anonymous_bidding=anon), at=CREATED_AT + 2)
        .after(update(BUYER, suppliers=SUPPLIER_COS), at=CREATED_AT + 3)
        .after(update(BUYER, scheduled_start=T0), at=CREATED_AT + 4)
        .after(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=CREATED_AT + 5)
    )


def _walk(value: object) -> Iterator[tuple[str | None, object]]:
    """Every (key, value) pair of a JSON document, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield None, item
            yield from _walk(item)


def _leaks(doc: object, forbidden: set[str]) -> list[object]:
    return [
        (key, item)
        for key, item in _walk(doc)
        if key == "aliases" or (isinstance(item, str) and item in forbidden)
    ]


def test_no_alias_map_and_no_hidden_supplier_reaches_a_buyer_observer_or_supplier() -> None:
    """Every event type and every view, after every event, of named and anonymous auctions:
    no one but an admin gets the alias map; in anonymous auctions the buyer and observers get
    no supplier's id (company or user), and a supplier never gets a competitor's."""
    ids = {c.company_id for c in (S1, S2, S3)} | {c.user_id for c in (S1, S2, S3)} | {"s4"}
    seen: set[str] = set()
    for anon in (False, True):
        scenarios = (*every_event_type(anon), draft_edits(anon))
        for scenario in scenarios:
            for n in range(1, len(scenario.events) + 1):
                state = Scenario(scenario.events[:n]).state
                assert state is not None
                for viewer in (
                    Viewer(BUYER.company_id, "buyer"),
                    Viewer(OBSERVER.company_id, "observer"),
                    *(Viewer(c.company_id, "supplier") for c in (S1, S2, S3)),
                ):
                    if viewer.role == "supplier":
                        mine = {viewer.company_id, f"u-{viewer.company_id}"}
                        forbidden = ids - mine
                    else:
                        forbidden = ids if state.terms.anonymous_bidding else set()
                    docs: list[object] = [view(state, viewer, state.last_at)]
                    for i, event in enumerate(scenario.events[:n], start=1):
                        seen.add(event_type(event))
                        docs.append(filter_event(state, viewer, i, event))
                    for doc in docs:
                        assert not _leaks(doc, forbidden), (anon, viewer, doc)
    assert seen >= {event_type_of(cls) for cls in EVENT_TYPES} - {"observer_uninvited"}


def test_the_supplier_lists_of_past_events_do_not_name_the_supplier_an_edit_added() -> None:
    """Before the fix every past auction_created and auction_updated listed its suppliers by
    today's aliases: the buyer (or an observer) compared the list before the edit that added
    s4 with the one after it, and the alias new in the later list was s4's, under every salt.
    Now each event lists "Supplier 1".."N" for its own N suppliers: what the buyer and
    observers get of those events (and the view, while no supplier has acted) is the same
    whatever the salts, so nothing in it can tell which alias is whose."""
    s4 = Party("s4", "S 4")
    edits = ((*SUPPLIER_COS, s4), SUPPLIER_COS[1:], (SUPPLIER_COS[0], s4))
    seen: dict[str, list[object]] = {"buyer": [], "observer": []}
    maps = set()
    for i in range(16):
        command = CreateAuction(
            by=BUYER,
            auction_id="a1",
            terms=make_terms(anonymous_bidding=True),
            alias_salt=bytes([i]) * 16,
        )
        scenario = nothing().after(command, at=CREATED_AT)
        scenario = scenario.after(InviteObserver(by=ADMIN, observer=OBSERVER_CO), at=CREATED_AT)
        for n, suppliers in enumerate(edits, start=1):
            edit = UpdateAuction(
                by=BUYER,
                changes=AuctionChanges(suppliers=suppliers),
                alias_salt=bytes([i, n]) * 8,
            )
            scenario = scenario.after(edit, at=CREATED_AT + n)
            state = scenario.state
            assert state is not None
            maps.add(tuple(sorted(state.aliases.items())))
            for viewer in (
                Viewer(BUYER.company_id, "buyer"),
                Viewer(OBSERVER.company_id, "observer"),
            ):
                events = [
                    filter_event(state, viewer, k, e) for k, e in enumerate(scenario.events, 1)
                ]
                lists = [
                    [s["id"] for s in (e["data"].get("terms") or e["data"]["changes"])["suppliers"]]
                    for e in events
                    if e is not None and e["type"] in ("auction_created", "auction_updated")
                ]
                assert lists[-1] == [f"Supplier {k}" for k in range(1, len(suppliers) + 1)]
                if n == 1:  # the alias new in the list after the edit that added s4
                    (new,) = set(lists[1]) - set(lists[0])
                    assert new == "Supplier 4"
                seen[viewer.role].append((n, events, view(state, viewer, state.last_at)))
    assert len(maps) > 1  # the salts did draw different maps
    for role, outputs in seen.items():
        for n in range(1, len(edits) + 1):
            assert len({repr(o) for k, *o in outputs if k == n}) == 1, role
