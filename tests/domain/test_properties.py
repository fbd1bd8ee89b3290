"""Property tests: random sequences of valid and invalid commands (bids on and off the tick grid,
revokes, clock ticks at random times, reschedules, manual starts, cancels, selections of random
bid ids) from a few suppliers and strangers, run through `decide` and `evolve` as an actor would,
keeping the events of accepted commands. After every command the live state must satisfy the
invariants, and folding the kept events from scratch must give the live state byte for byte."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain.access import Viewer
from auctionactors.domain.book import settle
from auctionactors.domain.catalog import summarize, summary_of
from auctionactors.domain.commands import (
    AnyCommand,
    ApproveBarge,
    BidRequest,
    CancelAuction,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PlaceBids,
    PostComment,
    RejectBarge,
    RevokeBid,
    SelectSolution,
    SolutionName,
    StartAuction,
    SubmitBarge,
    UninviteObserver,
    UnsubmitBarge,
    UpdateAuction,
)
from auctionactors.domain.decide import decide, result_of
from auctionactors.domain.events import (
    AnyEvent,
    AuctionStarted,
    AuctionUpdated,
    AutoBidTriggered,
    Barge,
    BidPlaced,
    DurationExtended,
    Event,
)
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.redaction import filter_events
from auctionactors.domain.solutions import compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import FINAL_STATUSES, AuctionChanges
from auctionactors.domain.timestamps import SECOND, Instant
from auctionactors.domain.views import view
from auctionactors.errors import DomainError
from tests.domain.scenario import (
    ADMIN,
    AID,
    BUYER,
    OBSERVER,
    OUTSIDER,
    S1,
    S2,
    S3,
    TICK,
    create,
    encode,
    fold_events,
    make_terms,
    term_terms,
)

# Short times so that random runs go through every phase: 60 s of bidding, a 20 s window.
DURATION_S, DECISION_S, WINDOW_S = 60, 60, 20
TERMS = make_terms(
    products=2, duration_s=DURATION_S, decision_duration_s=DECISION_S, soft_close_s=WINDOW_S
)
assert TERMS.scheduled_start is not None
CREATED = TERMS.scheduled_start - 5 * SECOND

ALLOWED_MOVES = {
    ("draft", "pending"),
    ("pending", "draft"),
    ("pending", "open"),
    ("open", "decision"),
    ("decision", "expired"),
    ("decision", "closed"),
    ("expired", "closed"),
    *((s, "canceled") for s in ("draft", "pending", "open", "decision")),
}


@dataclass(frozen=True)
class Step:
    kind: str
    delta: int
    caller: Caller = S1
    items: tuple[tuple[str, int | None], ...] = ()
    picks: tuple[int, ...] = ()
    live_only: bool = False  # select among the live bids only
    offset: int | None = None


# Mostly small steps of time (bidding lasts 60 s), sometimes a jump over several deadlines.
DELTAS = st.one_of(
    st.sampled_from([SECOND, 2 * SECOND, 0, 1, 3 * SECOND, 5 * SECOND]),
    st.sampled_from([SECOND, 2 * SECOND, 0, 1, 3 * SECOND, 5 * SECOND]),
    st.sampled_from([SECOND, 2 * SECOND, 0, 1, 3 * SECOND, 5 * SECOND]),
    st.sampled_from([10 * SECOND, 19 * SECOND, 21 * SECOND, 45 * SECOND, 200 * SECOND]),
)
SUPPLIERS = st.sampled_from([S1, S2, S3])
BIDDERS = st.sampled_from([S1, S1, S2, S2, S3, S3, OUTSIDER, BUYER])
PRODUCTS = st.sampled_from(["p1", "p1", "p2", "p2", "p9"])
ON_GRID = st.integers(1, 24).map(lambda k: k * 25)
AMOUNTS = st.one_of(
    ON_GRID,
    st.integers(-1, 0).map(lambda k: k * 25),  # on the grid but not > 0
    st.integers(-50, 700),  # mostly off the grid
    st.none(),
)
DESKS = st.sampled_from([BUYER, BUYER, ADMIN, S1, OUTSIDER])

ANY_BID = st.builds(
    Step,
    kind=st.just("bid"),
    delta=DELTAS,
    caller=BIDDERS,
    items=st.lists(st.tuples(PRODUCTS, AMOUNTS), max_size=3).map(tuple),
)
GOOD_BID = st.builds(
    Step,
    kind=st.just("bid"),
    delta=DELTAS,
    caller=SUPPLIERS,
    items=st.tuples(st.tuples(st.sampled_from(["p1", "p2"]), ON_GRID)),
)
REVOKE = st.builds(
    Step,
    kind=st.just("revoke"),
    delta=DELTAS,
    caller=BIDDERS,
    items=st.sampled_from(["p1", "p2", "p9"]).map(lambda p: ((p, None),)),
)
SELECT_LEADERS = st.builds(
    Step, kind=st.just("select_leaders"), delta=DELTAS, caller=st.sampled_from([BUYER, ADMIN])
)
GOOD_REVOKE = st.builds(
    Step,
    kind=st.just("revoke"),
    delta=DELTAS,
    caller=SUPPLIERS,
    items=st.sampled_from(["p1", "p2"]).map(lambda p: ((p, None),)),
)
CLOCK = st.builds(Step, kind=st.just("tick"), delta=DELTAS)
SELECT = st.builds(
    Step,
    kind=st.just("select"),
    delta=DELTAS,
    caller=DESKS,
    picks=st.lists(st.integers(0, 50), max_size=3).map(tuple),
    live_only=st.sampled_from([True, False]),
)
START = st.builds(Step, kind=st.just("start"), delta=DELTAS, caller=st.sampled_from([ADMIN, BUYER]))
RESCHEDULE = st.builds(
    Step,
    kind=st.just("update"),
    delta=DELTAS,
    caller=st.sampled_from([BUYER, ADMIN]),
    offset=st.one_of(st.none(), st.sampled_from([-SECOND, 0, 10 * SECOND, 45 * SECOND])),
)
# Cancels are rare (one in five of these steps), or most runs would end early.
CANCEL = st.builds(
    Step, kind=st.sampled_from(["cancel", *["tick"] * 4]), delta=DELTAS, caller=DESKS
)
# Weighted by repetition (`one_of` would give each distinct strategy the same weight).
STEP_KINDS = (
    [ANY_BID] * 4
    + [GOOD_BID] * 8
    + [REVOKE, GOOD_REVOKE]
    + [CLOCK] * 3
    + [SELECT] * 2
    + [SELECT_LEADERS] * 2
)
STEPS = st.sampled_from([*STEP_KINDS, START, RESCHEDULE, CANCEL]).flatmap(lambda kind: kind)


def command_for(step: Step, state: AuctionState, now: Instant) -> AnyCommand:
    if step.kind == "bid":
        bids = tuple(BidRequest(product_id=p, amount=a) for p, a in step.items)
        return PlaceBids(by=step.caller, bids=bids)
    if step.kind == "revoke":
        return RevokeBid(by=step.caller, product_id=step.items[0][0])
    if step.kind == "select":
        if step.live_only:
            known = [b for by_supplier in state.live.values() for b in by_supplier.values()]
        else:
            known = [*(b.bid_id for b in state.history()), f"{AID}:999"]
        if not known:
            known = [f"{AID}:1"]
        return SelectSolution(
            by=step.caller, bid_ids=tuple(known[i % len(known)] for i in step.picks)
        )
    if step.kind == "select_leaders":
        leaders = [ranked[0].bid_id for p in state.products if (ranked := state.ranked(p))]
        return SelectSolution(by=step.caller, bid_ids=tuple(leaders))
    if step.kind == "start":
        return StartAuction(by=step.caller)
    if step.kind == "update":
        start = None if step.offset is None else now + step.offset
        return UpdateAuction(by=step.caller, changes=AuctionChanges(scheduled_start=start))
    if step.kind == "cancel":
        return CancelAuction(by=step.caller)
    return TICK


@dataclass
class Model:
    """What the rules say the ranking is, kept from the accepted commands alone."""

    # product -> supplier -> (amount, time entered, order received)
    live: dict[str, dict[str, tuple[int, Instant, int]]] = field(
        default_factory=lambda: {"p1": {}, "p2": {}}
    )
    received: int = 0

    def ranking(self, product_id: str) -> list[tuple[str, int]]:
        entries = sorted(self.live[product_id].items(), key=lambda item: item[1])
        return [(supplier, amount) for supplier, (amount, _, _) in entries]


def bidding_deadline(state: AuctionState) -> Instant | None:
    """When bidding ends by the stored deadlines (None: no start scheduled)."""
    if state.status == "open":
        return state.closes_at
    if state.status == "pending" and state.terms.scheduled_start is not None:
        return state.terms.scheduled_start + DURATION_S * SECOND
    return None


def check_command(
    before: AuctionState,
    state_after: AuctionState,
    command: AnyCommand,
    events: list[Event],
    now: Instant,
) -> None:
    """Properties of one accepted command's events."""
    if isinstance(command, PlaceBids):
        # Accepted only while bidding is possible by the clock, never after closes_at.
        deadline = bidding_deadline(before)
        assert before.status in ("pending", "open")
        assert deadline is not None and now < deadline
        placed = [e for e in events if isinstance(e, BidPlaced)]
        assert len(placed) == len(command.bids)
        assert result_of(command, events)["bid_ids"] == [e.bid_id for e in placed]
        extensions = [e for e in events if isinstance(e, DurationExtended)]
        assert len(extensions) <= 1
        if extensions:
            # The extension comes last and sets closes_at = now + window, inside the window only.
            assert events[-1] is extensions[0]
            assert before.status == "open" and before.closes_at is not None
            assert before.closes_at - now <= WINDOW_S * SECOND
            assert extensions[0].closes_at == now + WINDOW_S * SECOND > before.closes_at
        else:
            assert len(events) == len(placed)
    if isinstance(command, SelectSolution):
        assert state_after.status == "closed"
        assert before.status == "decision" or (
            before.status == "expired" and command.by.role == "admin"
        )
        assert all(b in before.bids for b in command.bid_ids)  # live bids only
    if isinstance(command, CancelAuction):
        assert before.status not in FINAL_STATUSES
        assert [type(e).__name__ for e in events] == ["AuctionCanceled"]


def check_state(state: AuctionState, kept: list[Event], model: Model) -> None:
    """Invariants of the live state after every command."""
    # (d) seqs and bid ids: the state's seq counts the events; a bid's id is its event's seq.
    assert state.seq == len(kept)
    history = state.history()
    placed_ids = []
    for seq, event in enumerate(kept, start=1):
        if isinstance(event, BidPlaced):
            assert event.bid_id == f"{AID}:{seq}"
            placed_ids.append(event.bid_id)
    assert [b.bid_id for b in history] == placed_ids  # history: every bid, in order
    assert all(b.bid_id == f"{AID}:{b.seq}" for b in history)
    # (c) one live bid per supplier per product; `bids` holds exactly the live ones, as placed.
    live_ids = []
    for product_id, by_supplier in state.live.items():
        for supplier_id, bid_id in by_supplier.items():
            bid = state.bids[bid_id]
            assert (bid.product_id, bid.supplier_id) == (product_id, supplier_id)
            assert state.is_live(bid)
            live_ids.append(bid_id)
    assert sorted(state.bids) == sorted(live_ids)
    assert [b for b in history if state.is_live(b)] == list(state.bids.values())
    assert set(state.bidders) == {b.supplier_id for b in history}
    # (b) rankings sorted by (amount, original time entered), and as the rules say.
    for product_id in state.products:
        ranked = state.ranked(product_id)
        keys = [(b.amount or 0, b.original_time_entered) for b in ranked]
        assert keys == sorted(keys)
        if state.status in ("draft", "pending"):
            assert ranked == []
        else:
            assert [(b.supplier_id, b.amount) for b in ranked] == model.ranking(product_id)


def run(steps: list[Step], *, replay_each_step: bool = False) -> tuple[AuctionState, list[Event]]:
    """Run the steps as an actor would; with ``replay_each_step``, the state is rebuilt from the
    kept events before every command, as after a crash."""
    now = CREATED
    kept = decide(None, create(BUYER, TERMS), now)
    state = fold_events(kept)
    assert state is not None
    model = Model()
    for step in steps:
        now += step.delta
        if replay_each_step:
            replayed = fold_events(kept)
            assert replayed is not None and encode(replayed) == encode(state)
            state = replayed
        command = command_for(step, state, now)
        frozen = encode(state)
        before = msgspec.msgpack.decode(frozen, type=AuctionState)
        try:
            events = decide(state, command, now)
        except DomainError as exc:
            assert encode(state) == frozen  # a refusal changes nothing
            note_event(f"refused {step.kind}: {exc.code}")
            continue
        note_event(f"accepted {step.kind}")
        assert encode(state) == frozen  # decide never mutates
        for event in events:
            status, closes_at = state.status, state.closes_at
            state = evolve(state, event)
            kept.append(event)
            # (e) the status only moves along the lifecycle; closes_at never decreases.
            if state.status != status:
                assert (status, state.status) in ALLOWED_MOVES, (status, state.status)
            if closes_at is not None:
                assert state.closes_at is not None and state.closes_at >= closes_at
            if isinstance(event, AuctionStarted) and event.by is None:
                # The clock's start: closes_at from the scheduled start, never now + duration.
                assert state.terms.scheduled_start is not None
                assert event.closes_at == state.terms.scheduled_start + DURATION_S * SECOND
            if isinstance(event, AuctionUpdated):
                assert status in ("draft", "pending")
        check_command(before, state, command, events, now)
        if isinstance(command, PlaceBids):
            for req in command.bids:
                model.received += 1
                model.live[req.product_id][command.by.company_id] = (
                    req.amount or 0,
                    now,
                    model.received,
                )
        if isinstance(command, RevokeBid):
            del model.live[command.product_id][command.by.company_id]
        check_state(state, kept, model)
    return state, kept


@settings(max_examples=200, deadline=None)
@given(st.lists(STEPS, min_size=10, max_size=60))
def test_random_command_sequences_keep_the_invariants_and_replay_exactly(steps: list[Step]) -> None:
    state, kept = run(steps)
    note_event(f"final status {state.status}")
    placed = len(state.history())
    note_event(f"bids placed: {min(placed, 10)}{'+' if placed >= 10 else ''}")
    if any(isinstance(e, DurationExtended) for e in kept):
        note_event("extended")
    # (a) Replaying the kept events from scratch gives the live state, byte for byte, also
    # after a round trip through the stored (JSON) form.
    assert encode(fold_events(kept)) == encode(state)
    wire = msgspec.json.encode(kept)
    decoded = msgspec.json.decode(wire, type=list[AnyEvent])
    assert decoded == kept
    assert encode(fold_events(decoded)) == encode(state)


@settings(max_examples=50, deadline=None)
@given(st.lists(STEPS, min_size=10, max_size=60))
def test_a_state_rebuilt_before_every_command_decides_exactly_as_the_live_one(
    steps: list[Step],
) -> None:
    """A crash before any command: the replayed state gives the same events (ids included)."""
    live_state, live_events = run(steps)
    replayed_state, replayed_events = run(steps, replay_each_step=True)
    assert replayed_events == live_events
    assert encode(replayed_state) == encode(live_state)


# --- everything in the mix: auto-bids, barges, comments, RSVPs, observers, selections -------
#
# Random sequences of every command, valid or not, from every kind of caller, on a spot auction
# (traded bids allowed, anonymous or not) or a formula-related term auction (differentials may
# be negative). Besides exact replay, a reference model written from DOMAIN.md's rules (not from
# `book.py`) says what every live amount must be after each command, and at the end every
# supplier's view and events are searched for what it must not learn.

MIXED_TIMES = {"duration_s": 90, "decision_duration_s": DECISION_S, "soft_close_s": 40}
MIXED_TERMS = {
    "spot": make_terms(products=2, traded_bids_allowed=True, **MIXED_TIMES),
    "anonymous spot": make_terms(products=2, anonymous_bidding=True, **MIXED_TIMES),
    "formula_related": term_terms("formula_related", **MIXED_TIMES),
}
# About one step in ten jumps over a deadline or more; the others take a second or so.
MIXED_DELTAS = st.sampled_from(
    [0, 1, SECOND, SECOND, 2 * SECOND] * 8 + [10 * SECOND, 21 * SECOND, 45 * SECOND, 200 * SECOND]
)
OBSERVER_PARTY = Party(OBSERVER.company_id, "Harbour Watch")


@dataclass(frozen=True)
class Act:
    kind: str
    delta: int
    caller: Caller = S1
    product: str = "p1"
    amount: int | None = None
    floor: int | None = None
    split: bool = True
    traded: bool = False
    pick: int = 0


MIXED_AMOUNTS = st.one_of(
    st.integers(1, 24).map(lambda k: k * 25),
    st.integers(1, 24).map(lambda k: k * 25),
    st.integers(-8, 0).map(lambda k: k * 25),  # on the grid; <= 0 only for formula_related
    st.integers(-200, 700),  # mostly off the grid
)
MIXED_BIDDERS = st.sampled_from([S1, S1, S2, S2, S3, S3, OUTSIDER, BUYER])
MIXED_PRODUCTS = st.sampled_from(["p1", "p1", "p1", "p2", "p2", "p2", "p9"])
DESKS_AND_ALL = st.sampled_from([BUYER, BUYER, ADMIN, S1, OUTSIDER, OBSERVER])
PICKS = st.integers(0, 20)


def _act(kind: str, callers: st.SearchStrategy[Caller], **fields: Any) -> st.SearchStrategy[Act]:
    return st.builds(Act, kind=st.just(kind), delta=MIXED_DELTAS, caller=callers, **fields)


MIXED_STEP_KINDS = (
    [
        _act(
            "bid",
            MIXED_BIDDERS,
            product=MIXED_PRODUCTS,
            amount=MIXED_AMOUNTS,
            split=st.booleans(),
            traded=st.sampled_from([False, False, True]),
        )
    ]
    * 8
    + [
        _act(
            "auto",
            MIXED_BIDDERS,
            product=MIXED_PRODUCTS,
            # The opening amount above the floor (none: the live bid or the floor).
            amount=st.one_of(st.none(), st.integers(0, 16).map(lambda k: k * 25), MIXED_AMOUNTS),
            floor=st.one_of(st.integers(-4, 10).map(lambda k: k * 25), MIXED_AMOUNTS),
            split=st.booleans(),
        )
    ]
    * 8
    + [_act("revoke", MIXED_BIDDERS, product=MIXED_PRODUCTS)] * 2
    + [st.builds(Act, kind=st.just("tick"), delta=MIXED_DELTAS)] * 3
    + [_act(k, MIXED_BIDDERS, pick=PICKS) for k in ("submit", "unsubmit", "post", "delete")]
    + [_act(k, DESKS_AND_ALL, pick=PICKS) for k in ("approve", "reject")]
    + [_act("rsvp", MIXED_BIDDERS, pick=PICKS)]
    + [_act(k, DESKS_AND_ALL, pick=PICKS) for k in ("select_name", "select_live")]
    + [_act(k, DESKS_AND_ALL) for k in ("invite", "uninvite")]
    + [_act("start", st.sampled_from([ADMIN, BUYER, S1]))]
    # A reschedule (pick 0: back to draft) or the port: edits in draft and pending only.
    + [_act("update", st.sampled_from([BUYER, ADMIN, S1]), pick=st.integers(0, 3))]
)
MIXED_STEPS = st.sampled_from(
    [
        *MIXED_STEP_KINDS,
        st.sampled_from(["cancel", *["tick"] * 4]).flatmap(lambda k: _act(k, DESKS_AND_ALL)),
    ]
).flatmap(lambda kind: kind)


def mixed_command(act: Act, state: AuctionState, now: Instant) -> AnyCommand:
    caller, company = act.caller, act.caller.company_id
    # A term auction has p1 only: p2 stands for p1 there (p9 stays unknown everywhere).
    product = "p1" if act.product == "p2" and state.terms.is_term else act.product
    if act.kind in ("bid", "auto"):
        amount = act.amount
        if act.kind == "auto" and amount is not None and act.floor is not None:
            amount += act.floor
        request = BidRequest(
            product_id=product,
            amount=amount,
            min_amount=act.floor if act.kind == "auto" else None,
            allow_split=act.split,
            comment=f"bidnote-{company}-{act.pick}",
        )
        return PlaceBids(by=caller, bids=(request,), traded=act.traded)
    if act.kind == "revoke":
        return RevokeBid(by=caller, product_id=product)
    barge = Barge(f"barge-{company}-{act.pick % 2}", f"imo-{act.pick % 2}")
    if act.kind == "submit":
        return SubmitBarge(by=caller, barge=barge)
    if act.kind == "unsubmit":
        return UnsubmitBarge(by=caller, imo=barge.imo)
    if act.kind in ("approve", "reject"):
        kind = ApproveBarge if act.kind == "approve" else RejectBarge
        owner = ("s1", "s2", "s3")[act.pick % 3]
        return kind(by=caller, imo=f"imo-{act.pick % 2}", supplier_id=owner)
    if act.kind == "post":
        return PostComment(by=caller, text=f"note-{company}-{act.pick}")
    if act.kind == "delete":
        ids = [*state.comments, "a1:c999"]
        return DeleteComment(by=caller, comment_id=ids[act.pick % len(ids)])
    if act.kind == "rsvp":
        return GiveRsvp(by=caller, response=("yes", "no", "maybe")[act.pick % 3])
    if act.kind == "select_name":
        name: SolutionName = ("best_overall", "best_single_supplier")[act.pick % 2]
        return SelectSolution(by=caller, solution=name)
    if act.kind == "select_live":
        live = sorted(b for by_supplier in state.live.values() for b in by_supplier.values())
        chosen = live[act.pick % len(live) :: 2] if live else ["a1:1"]
        return SelectSolution(by=caller, bid_ids=tuple(chosen))
    if act.kind == "invite":
        return InviteObserver(by=caller, observer=OBSERVER_PARTY)
    if act.kind == "uninvite":
        return UninviteObserver(by=caller, company_id=OBSERVER_PARTY.id)
    if act.kind == "start":
        return StartAuction(by=caller)
    if act.kind == "update":
        start = (None, now - SECOND, now + 10 * SECOND, None)[act.pick]
        changes = (
            AuctionChanges(port="Antwerp")
            if act.pick == 3
            else AuctionChanges(scheduled_start=start)
        )
        return UpdateAuction(by=caller, changes=changes)
    if act.kind == "cancel":
        return CancelAuction(by=caller)
    return TICK


# The reference model: product -> supplier -> (visible amount, floor or None).
Book = dict[str, tuple[int, int | None]]


def model_settle(book: Book, tick: int) -> Book:
    """DOMAIN.md, Auto-bids: competitor best = the lowest of the others' floor (auto-bid) or
    amount; target = max(own floor, competitor best - tick); visible = min(visible, target)."""
    offers = {s: (floor if floor is not None else amount) for s, (amount, floor) in book.items()}
    settled: Book = {}
    for supplier, (amount, floor) in book.items():
        others = [offer for s, offer in offers.items() if s != supplier]
        if floor is None or not others:
            settled[supplier] = (amount, floor)
        else:
            settled[supplier] = (min(amount, max(floor, min(others) - tick)), floor)
    return settled


def model_apply(
    model: dict[str, Book], before: AuctionState, command: AnyCommand, events: list[Event]
) -> None:
    tick = before.terms.tick
    settle_now: set[str] = set()
    if isinstance(command, PlaceBids):
        for req in command.bids:
            book = model.setdefault(req.product_id, {})
            supplier = command.by.company_id
            amount = req.amount
            if amount is None:  # an auto-bid without amount: the live bid, else the floor
                assert req.min_amount is not None
                current = book.get(supplier)
                amount = req.min_amount if current is None else max(current[0], req.min_amount)
            book[supplier] = (amount, req.min_amount)
            if before.status == "open":
                settle_now.add(req.product_id)
    if isinstance(command, RevokeBid):
        model[command.product_id].pop(command.by.company_id)
        if before.status == "open":
            settle_now.add(command.product_id)
    if any(isinstance(e, AuctionStarted) for e in events):
        settle_now |= set(model)
    for product_id in settle_now:
        model[product_id] = model_settle(model[product_id], tick)


def check_mixed(
    before: AuctionState,
    state: AuctionState,
    command: AnyCommand,
    events: list[Event],
    model: dict[str, Book],
) -> None:
    for event in events:
        if isinstance(event, AutoBidTriggered):
            # A visible amount only ever drops, and never below the floor.
            replaced = state.find_bid(event.replaces)
            assert replaced is not None and not state.is_live(replaced)
            assert replaced.min_amount is not None
            assert replaced.min_amount <= event.amount < (replaced.amount or 0)
            assert event.by is None
    amounts = [e.amount for e in events if isinstance(e, AutoBidTriggered)]
    by_product: dict[str, list[int]] = {}
    for e in events:
        if isinstance(e, AutoBidTriggered):
            by_product.setdefault(e.product_id, []).append(e.amount)
    assert all(a == sorted(a) for a in by_product.values()), amounts
    if isinstance(command, SelectSolution):
        allowed = {"decision"} | ({"open"} if state.terms.is_term else set())
        if command.by.role == "admin":
            allowed.add("expired")
        assert before.status in allowed
        assert state.status == "closed"
    for product_id in state.products:
        live = state.live_book(product_id)
        for bid in live.values():
            assert bid.amount is not None
            if bid.min_amount is not None:
                assert bid.amount >= bid.min_amount
        ranked = state.ranked(product_id)
        keys = [(b.amount or 0, b.original_time_entered) for b in ranked]
        assert keys == sorted(keys)
        if state.status == "open":
            assert settle(live, state.terms.tick) == []  # settled: a fixed point
        expected = {s: amount for s, (amount, _) in model.get(product_id, {}).items()}
        assert {s: b.amount for s, b in live.items()} == expected


def run_mixed(
    terms_name: str,
    acts: list[Act],
    *,
    replay_each_step: bool = False,
    each: Callable[[int, AuctionState, list[Event]], None] | None = None,
) -> tuple[AuctionState, list[Event]]:
    now = CREATED
    kept = decide(None, create(BUYER, MIXED_TERMS[terms_name]), now)
    state = fold_events(kept)
    assert state is not None
    model: dict[str, Book] = {}
    for step, act in enumerate(acts):
        if each is not None:
            each(step, state, kept)
        now += act.delta
        if replay_each_step:
            replayed = fold_events(kept)
            assert replayed is not None and encode(replayed) == encode(state)
            state = replayed
        command = mixed_command(act, state, now)
        frozen = encode(state)
        before = msgspec.msgpack.decode(frozen, type=AuctionState)
        try:
            events = decide(state, command, now)
        except DomainError as exc:
            assert encode(state) == frozen
            note_event(f"refused {act.kind}: {exc.code}")
            continue
        assert encode(state) == frozen  # decide never mutates
        note_event(f"accepted {act.kind}" + ("" if events else " (nothing recorded)"))
        for event in events:
            state = evolve(state, event)
            kept.append(event)
        model_apply(model, before, command, events)
        check_mixed(before, state, command, events, model)
    return state, kept


def check_no_leaks(state: AuctionState, kept: list[Event], now: Instant) -> None:
    """What each supplier receives names no competitor and shows no competitor's floor,
    comment, traded flag, barge or note; the buyer never sees a floor."""
    for me in ("s1", "s2", "s3"):
        viewer = Viewer(me, "supplier")
        doc = {"view": view(state, viewer, now), "log": filter_events(state, viewer, 1, kept)}
        blob = msgspec.json.encode(doc).decode()
        for other in {"s1", "s2", "s3"} - {me}:
            for secret in (f"note-{other}-", f"barge-{other}-", f'"{other}"', f"u-{other}"):
                assert secret not in blob, (me, secret)
        for d in _dicts(doc):
            bid = state.find_bid(d.get("bid_id") or "")
            if bid is not None and bid.supplier_id != me:
                assert d.get("min_amount") is None and d.get("comment") is None, d
                assert d.get("traded", False) is False and d.get("supplier") is None, d
    for viewer in (Viewer("buyer", "buyer"), Viewer(OBSERVER.company_id, "observer")):
        doc = {"view": view(state, viewer, now), "log": filter_events(state, viewer, 1, kept)}
        assert all(d.get("min_amount") is None for d in _dicts(doc))


def _dicts(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        yield doc
        for value in doc.values():
            yield from _dicts(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _dicts(value)


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(sorted(MIXED_TERMS)), st.lists(MIXED_STEPS, min_size=20, max_size=80))
def test_every_command_in_the_mix_keeps_the_rules_and_replays_exactly(
    terms_name: str, acts: list[Act]
) -> None:
    state, kept = run_mixed(terms_name, acts)
    note_event(f"{terms_name}: final status {state.status}")
    if any(isinstance(e, AutoBidTriggered) for e in kept):
        note_event("auto-bids triggered")
    if any(isinstance(e, DurationExtended) for e in kept):
        note_event("extended")
    assert encode(fold_events(kept)) == encode(state)
    decoded = msgspec.json.decode(msgspec.json.encode(kept), type=list[AnyEvent])
    assert decoded == kept
    assert encode(fold_events(decoded)) == encode(state)
    check_no_leaks(state, kept, CREATED + sum(a.delta for a in acts))


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(sorted(MIXED_TERMS)),
    st.lists(MIXED_STEPS, min_size=20, max_size=80),
    st.integers(1, 4),
)
def test_solutions_and_summaries_kept_on_the_live_state_are_those_of_a_replayed_one(
    terms_name: str, acts: list[Act], every: int
) -> None:
    """`compute` and `summary_of` keep what they made beside the live state and remake only
    what changed: after any commands since their last call, they give the solutions and the
    catalog summary of a state replayed from scratch (the solutions in the same order)."""

    def check(step: int, state: AuctionState, kept: list[Event]) -> None:
        if step % every:
            return
        replayed = fold_events(kept)
        assert replayed is not None
        assert msgspec.json.encode(compute(state)) == msgspec.json.encode(compute(replayed))
        assert summary_of(state) == summarize(replayed)

    run_mixed(terms_name, acts, each=check)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(MIXED_TERMS)), st.lists(MIXED_STEPS, min_size=20, max_size=80))
def test_every_command_in_the_mix_decides_the_same_on_a_replayed_state(
    terms_name: str, acts: list[Act]
) -> None:
    live_state, live_events = run_mixed(terms_name, acts)
    replayed_state, replayed_events = run_mixed(terms_name, acts, replay_each_step=True)
    assert replayed_events == live_events
    assert encode(replayed_state) == encode(live_state)
