"""Role views and filtered events: what each company may see of an auction (DOMAIN.md, "People
and visibility"; PROTOCOL.md, "The view" and "Events").

The leak tests run one auction with every kind of fact in it (auto-bids with floors, traded bids,
bid comments, posted comments, barges, RSVPs, an extension caused by a competitor, a bid placed by
an admin on a supplier's behalf, a selection) where every secret is a distinctive sentinel string.
Each receiver's whole view (mid-auction and at the end), the events as pushed command by command
and the whole filtered log are serialized and searched for what that receiver must not learn;
they are also walked key by key (floors, traded flags, actors).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from auctionactors.domain.access import Viewer
from auctionactors.domain.commands import (
    AnyCommand,
    ApproveBarge,
    BidRequest,
    CheckDeadlines,
    CreateAuction,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PlaceBids,
    PostComment,
    RejectBarge,
    RevokeBid,
    SelectSolution,
    SubmitBarge,
)
from auctionactors.domain.decide import decide
from auctionactors.domain.events import Barge, Event
from auctionactors.domain.lifecycle import aliases_for
from auctionactors.domain.money import format_amount
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.redaction import filter_event, filter_events
from auctionactors.domain.solutions import compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import format_instant
from auctionactors.domain.views import status_line, view
from tests.domain.scenario import (
    BUYER,
    CLOSES,
    CREATED_AT,
    HOUR,
    MINUTE,
    S1,
    S2,
    S3,
    SUPPLIER_COS,
    T0,
    WINDOW,
    Scenario,
    auto,
    bid,
    created,
    given,
    make_terms,
    opened,
    select,
)

# --- the sentinel auction -------------------------------------------------------------------

BUYER_P = Party("co-buyer-QB7", "BuyerCorpSentinel")
BUYER_C = Caller("usr-buyer-QB7", BUYER_P.id, "buyer")
ADMIN_C = Caller("usr-admin-QZ9", "co-platform-QZ9", "admin")
PROXY_ADMIN = "usr-proxyadmin-QP4"  # acts only on a supplier's behalf
OBSERVER_P = Party("co-observer-QO5", "ObserverNameSentinel")


@dataclass(frozen=True)
class Sup:
    """A supplier and its secrets."""

    key: str
    party: Party
    caller: Caller
    bid_comment: str
    post: str
    barge: Barge
    floor: int | None = None  # the auto-bid floor it keeps secret, if any

    @property
    def secrets(self) -> list[str]:
        found = [self.party.id, self.party.name, self.caller.user_id, self.bid_comment, self.post]
        found += [self.barge.name, self.barge.imo]
        if self.floor is not None:
            found.append(format_amount(self.floor))
        return found


def _sup(key: str, floor: int | None = None) -> Sup:
    upper = key.upper()
    party = Party(f"co-{key}-Q{upper[0]}1", f"{key.capitalize()}NameSentinel")
    return Sup(
        key=key,
        party=party,
        caller=Caller(f"usr-{key}-Q{upper[0]}1", party.id, "supplier"),
        bid_comment=f"BIDCOMMENT-{upper}-Q",
        post=f"POSTCOMMENT-{upper}-Q",
        barge=Barge(f"Barge{key.capitalize()}Sentinel", f"IMO-BARGE-{upper}"),
        floor=floor,
    )


ALPHA = _sup("alpha", floor=11_175)  # "111.75", never reached: competitors stay near 600
BRAVO = _sup("bravo", floor=22_225)  # "222.25"
CHARLIE = _sup("charlie")
DELTA = _sup("delta")  # invited, answers "maybe", never bids
SUPS = (ALPHA, BRAVO, CHARLIE, DELTA)
CHARLIE_DELETED = "POSTCOMMENT-CHARLIE-DELETED-Q"
VESSELS = (
    Vessel("VesselNameSentinelOne", "IMO-SENT-111"),
    Vessel("VesselNameSentinelTwo", "IMO-SENT-222"),
)
FREE_TEXT = {"po": "PO-SENTINEL-Q", "buyer_reference": "BUYERREF-SENTINEL-Q"}
SELECT_COMMENT = "SELECTCOMMENT-SENTINEL-Q"
OUTSIDER_V = Viewer("co-outsider-QX", "supplier")
OTHER_BUYER_V = Viewer("co-otherbuyer-QY", "buyer")


def sentinel_terms(anonymous: bool, scheduled: bool = True) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=BUYER_P,
        suppliers=tuple(s.party for s in SUPS),
        scheduled_start=T0 if scheduled else None,
        anonymous_bidding=anonymous,
        traded_bids_allowed=True,
        additional_information="ADDINFO-SENTINEL-Q",
        products=tuple(
            ProductSpec(vessel=v, fuel="VLSFO", quantity_mt=1500, eta=T0 + 24 * HOUR)
            for v in VESSELS
        ),
        **FREE_TEXT,
    )


def on_behalf(sup: Sup) -> Caller:
    return Caller(sup.caller.user_id, sup.party.id, "supplier", admin_id=PROXY_ADMIN)


def sentinel_commands(anonymous: bool) -> list[tuple[AnyCommand, int]]:
    """The auction's commands with their times; the mid-auction views are taken after the
    command marked by `MID`."""
    a, b, c, d = (s.caller for s in SUPS)
    late = CLOSES - MINUTE
    # The buyer names a supplier as it knows it: by alias when bidding is anonymous.
    aliases = aliases_for(b"", sentinel_terms(anonymous))
    named = aliases.get if anonymous else str
    return [
        (CreateAuction(by=BUYER_C, auction_id="a1", terms=sentinel_terms(anonymous)), CREATED_AT),
        (InviteObserver(by=ADMIN_C, observer=OBSERVER_P), CREATED_AT + MINUTE),
        (
            PlaceBids(
                by=a,
                bids=(
                    BidRequest(
                        product_id="p1",
                        amount=70_000,
                        min_amount=ALPHA.floor,
                        comment=ALPHA.bid_comment,
                    ),
                ),
            ),
            CREATED_AT + 2 * MINUTE,
        ),
        (GiveRsvp(by=d, response="maybe"), CREATED_AT + 3 * MINUTE),
        (CheckDeadlines(), T0),
        (
            PlaceBids(
                by=b,
                bids=(
                    BidRequest(product_id="p1", amount=65_000, comment=BRAVO.bid_comment),
                    BidRequest(product_id="p2", amount=80_000, min_amount=BRAVO.floor),
                ),
                traded=True,
            ),
            T0 + MINUTE,
        ),
        (
            PlaceBids(
                by=c,
                bids=(
                    BidRequest(
                        product_id="p1",
                        amount=66_000,
                        comment=CHARLIE.bid_comment,
                        allow_split=False,
                    ),
                    BidRequest(product_id="p2", amount=70_000, allow_split=False),
                ),
                traded=True,
            ),
            T0 + 2 * MINUTE,
        ),
        (
            PlaceBids(by=on_behalf(ALPHA), bids=(BidRequest(product_id="p2", amount=71_000),)),
            T0 + 3 * MINUTE,
        ),
        (SubmitBarge(by=a, barge=ALPHA.barge), T0 + 4 * MINUTE),
        (SubmitBarge(by=b, barge=BRAVO.barge), T0 + 4 * MINUTE),
        (
            ApproveBarge(by=BUYER_C, imo=ALPHA.barge.imo, supplier_id=str(named(ALPHA.party.id))),
            T0 + 5 * MINUTE,
        ),
        (
            RejectBarge(by=BUYER_C, imo=BRAVO.barge.imo, supplier_id=str(named(BRAVO.party.id))),
            T0 + 5 * MINUTE,
        ),
        (PostComment(by=a, text=ALPHA.post), T0 + 6 * MINUTE),
        (PostComment(by=b, text=BRAVO.post), T0 + 6 * MINUTE),
        (PostComment(by=c, text=CHARLIE.post), T0 + 6 * MINUTE),
        (PostComment(by=c, text=CHARLIE_DELETED), T0 + 6 * MINUTE),
        (DeleteComment(by=c, comment_id="a1:c20"), T0 + 6 * MINUTE),
        (RevokeBid(by=a, product_id="p2"), T0 + 7 * MINUTE),
        (PlaceBids(by=a, bids=(BidRequest(product_id="p2", amount=72_000),)), T0 + 7 * MINUTE),
        # Inside the window: Charlie's bid drives Alpha's auto-bid into the lead, which extends.
        (PlaceBids(by=c, bids=(BidRequest(product_id="p1", amount=60_000),)), late),
        (CheckDeadlines(), late + WINDOW),
        (
            SelectSolution(
                by=BUYER_C, solution="best_overall", comment=SELECT_COMMENT, port_agent="Agent Q"
            ),
            late + WINDOW + MINUTE,
        ),
    ]


MID = 20  # after Charlie's late bid: open, extended


@dataclass
class Run:
    state: AuctionState
    events: list[Event] = field(default_factory=list)
    pushed: dict[Viewer, list[dict[str, Any]]] = field(default_factory=dict)
    views: dict[Viewer, list[dict[str, Any] | None]] = field(default_factory=dict)


def viewers() -> list[Viewer]:
    return [
        Viewer(BUYER_P.id, "buyer"),
        Viewer(ADMIN_C.company_id, "admin"),
        Viewer(OBSERVER_P.id, "observer"),
        *(Viewer(s.party.id, "supplier") for s in SUPS),
        OUTSIDER_V,
        OTHER_BUYER_V,
    ]


def run_sentinel_auction(anonymous: bool) -> Run:
    """Run the commands as an actor would: decide, fold, then push each command's events to
    every receiver filtered with the state after them. Views are taken at `MID` and at the end."""
    state: AuctionState | None = None
    events: list[Event] = []
    pushed: dict[Viewer, list[dict[str, Any]]] = {v: [] for v in viewers()}
    views: dict[Viewer, list[dict[str, Any] | None]] = {v: [] for v in viewers()}
    for n, (command, at) in enumerate(sentinel_commands(anonymous), start=1):
        new = decide(state, command, at)
        assert new, f"command {n} recorded nothing"
        first = len(events) + 1
        for event in new:
            state = evolve(state, event)
        events += new
        assert state is not None
        for v in pushed:
            out = filter_events(state, v, first, new)
            if out is not None:
                pushed[v] += out
        if n in (MID, len(sentinel_commands(anonymous))):
            for v in views:
                views[v].append(view(state, v, at))
    assert state is not None
    return Run(state, events, pushed, views)


@pytest.fixture(scope="module", params=[False, True], ids=["named", "anonymous"])
def sentinel_run(request: pytest.FixtureRequest) -> Run:
    return run_sentinel_auction(request.param)


def test_the_sentinel_auction_went_as_planned(sentinel_run: Run) -> None:
    state = sentinel_run.state
    assert state.status == "closed"
    # Alpha's auto-bid never came near its floor; Bravo's neither.
    alpha_p1 = state.bids[state.live["p1"][ALPHA.party.id]]
    assert alpha_p1.amount == 59_975 and alpha_p1.min_amount == ALPHA.floor
    bravo_p2 = state.bids[state.live["p2"][BRAVO.party.id]]
    assert bravo_p2.amount == 69_975 and bravo_p2.min_amount == BRAVO.floor
    types = [type(e).__name__ for e in sentinel_run.events]
    assert "DurationExtended" in types and "AutoBidTriggered" in types
    extension = next(e for e in sentinel_run.events if type(e).__name__ == "DurationExtended")
    assert extension.by is not None and extension.by.company_id == CHARLIE.party.id
    assert state.comments["a1:c20"].text == CHARLIE_DELETED and state.comments["a1:c20"].deleted
    assert state.rsvp[DELTA.party.id] == "maybe"
    placed_by_proxy = [e for e in sentinel_run.events if e.by is not None and e.by.admin_id]
    assert placed_by_proxy


# --- walking documents ----------------------------------------------------------------------


def dicts(doc: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside ``doc``, recursively."""
    if isinstance(doc, dict):
        yield doc
        for value in doc.values():
            yield from dicts(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from dicts(value)


def documents(run: Run, v: Viewer) -> dict[str, Any]:
    """Everything ``v`` receives: its views, its pushed events and its whole filtered log."""
    return {
        "views": run.views[v],
        "pushed": run.pushed[v],
        "log": filter_events(run.state, v, 1, run.events),
    }


def leaks(doc: Any, secrets: list[str]) -> list[str]:
    blob = json.dumps(doc)
    return [s for s in secrets if s in blob]


def owner(run: Run, d: dict[str, Any]) -> str | None:
    """The supplier a bid-like dict is about: by its bid id, else its supplier fields."""
    bid = run.state.find_bid(d.get("bid_id") or "")
    if bid is not None:
        return bid.supplier_id
    supplier = d.get("supplier")
    if isinstance(supplier, dict):
        return supplier.get("id")
    return d.get("supplier_id")


def floors_of(sups: tuple[Sup, ...] | list[Sup]) -> list[str]:
    return [format_amount(s.floor) for s in sups if s.floor is not None]


ALL_SUPPLIER_IDENTITIES = [x for s in SUPS for x in (s.party.id, s.party.name, s.caller.user_id)]
# Delta never bids nor posts: only the others' comments are in the auction.
ALL_COMMENTS = [*(s.bid_comment for s in SUPS[:3]), *(s.post for s in SUPS[:3]), CHARLIE_DELETED]


# --- suppliers ------------------------------------------------------------------------------


@pytest.mark.parametrize("me", SUPS, ids=[s.key for s in SUPS])
def test_a_supplier_learns_nothing_of_its_competitors(sentinel_run: Run, me: Sup) -> None:
    run = sentinel_run
    v = Viewer(me.party.id, "supplier")
    docs = documents(run, v)
    competitors = [s for s in SUPS if s is not me]
    secrets = [x for s in competitors for x in s.secrets]
    if me is not CHARLIE:
        secrets.append(CHARLIE_DELETED)
    # The buyer's remark on its selection is the buyer's side's, winner or not.
    secrets += [PROXY_ADMIN, FREE_TEXT["buyer_reference"], SELECT_COMMENT]
    assert leaks(docs, secrets) == []
    for d in dicts(docs):
        if d.get("traded") is True:
            assert owner(run, d) == me.party.id, d
        if d.get("min_amount") is not None:
            assert owner(run, d) == me.party.id, d
        if d.get("comment") is not None:
            assert owner(run, d) == me.party.id, d
        by = d.get("by")
        if isinstance(by, dict):
            assert by["company_id"] in (me.party.id, BUYER_P.id, ADMIN_C.company_id), d
            assert by["admin_id"] is None
    # It sees its own secrets, every seq, and the anonymous amounts of the others.
    own = [me.bid_comment, me.post] if me is not DELTA else []
    if me.floor is not None:
        own.append(format_amount(me.floor))
    assert leaks(docs, own) == own
    for stream in (docs["pushed"], docs["log"]):
        assert [e["seq"] for e in stream] == list(range(1, len(run.events) + 1))
    mid = run.views[v][0]
    assert mid is not None
    p1 = mid["products"][0]
    assert [b["amount"] for b in p1["bids"]] == ["599.75", "600.00", "650.00"]
    assert p1["is_leading"] is (me is ALPHA)


def test_a_competitors_bid_event_as_the_protocol_shows_it(sentinel_run: Run) -> None:
    # Alpha's auto-bid triggered by Charlie's late bid, as Charlie receives it.
    run = sentinel_run
    seq, event = next(
        (n, e)
        for n, e in enumerate(run.events, start=1)
        if type(e).__name__ == "AutoBidTriggered" and e.at == CLOSES - MINUTE
    )
    entry = filter_event(run.state, Viewer(CHARLIE.party.id, "supplier"), seq, event)
    assert entry == {
        "seq": seq,
        "type": "auto_bid_triggered",
        "at": format_instant(CLOSES - MINUTE),
        "by": None,
        "data": {
            "bid_id": f"a1:{seq}",
            "product_id": "p1",
            "amount": "599.75",
            "is_auto": True,
            "supplier": None,
        },
    }


def test_the_extension_a_competitor_caused_does_not_name_it(sentinel_run: Run) -> None:
    run = sentinel_run
    seq = next(
        n for n, e in enumerate(run.events, start=1) if type(e).__name__ == "DurationExtended"
    )
    for me in (ALPHA, BRAVO, DELTA):
        entry = run.pushed[Viewer(me.party.id, "supplier")][seq - 1]
        assert entry["type"] == "duration_extended" and entry["by"] is None
    own = run.pushed[Viewer(CHARLIE.party.id, "supplier")][seq - 1]
    assert own["by"] == {
        "user_id": CHARLIE.caller.user_id,
        "company_id": CHARLIE.party.id,
        "admin_id": None,
    }


def test_competitors_private_events_arrive_redacted(sentinel_run: Run) -> None:
    run = sentinel_run
    log = filter_events(run.state, Viewer(ALPHA.party.id, "supplier"), 1, run.events)
    assert log is not None
    by_type = {}
    for entry, event in zip(log, run.events, strict=True):
        by_type.setdefault(type(event).__name__, []).append(entry["type"])
    # Its own barge and comment are there; the others' are placeholders; observers are admin-only.
    assert by_type["BargeSubmitted"] == ["barge_submitted", "redacted"]
    assert by_type["BargeApproved"] == ["barge_approved"]
    assert by_type["BargeRejected"] == ["redacted"]
    assert by_type["CommentPosted"] == ["comment_posted", "redacted", "redacted", "redacted"]
    assert by_type["CommentDeleted"] == ["redacted"]
    assert by_type["RsvpGiven"] == ["redacted"]
    assert by_type["ObserverInvited"] == ["redacted"]
    assert all(set(e) == {"seq", "type"} for e in log if e["type"] == "redacted")


# --- buyer, admin, observer -----------------------------------------------------------------


def buyer_secrets(anonymous: bool) -> list[str]:
    secrets = [*floors_of(SUPS), PROXY_ADMIN]
    if anonymous:
        secrets += ALL_SUPPLIER_IDENTITIES
    return secrets


def test_the_buyer_never_sees_floors_and_sees_aliases_when_anonymous(sentinel_run: Run) -> None:
    run = sentinel_run
    anonymous = run.state.terms.anonymous_bidding
    v = Viewer(BUYER_P.id, "buyer")
    docs = documents(run, v)
    assert leaks(docs, buyer_secrets(anonymous)) == []
    for d in dicts(docs):
        assert d.get("min_amount") is None, d
        by = d.get("by")
        if isinstance(by, dict):
            assert by["admin_id"] is None
    # Comments, traded flags and barges are the buyer's to see.
    visible = [*(s.bid_comment for s in SUPS[:3]), *(s.post for s in SUPS[:3])]
    visible += [ALPHA.barge.name, BRAVO.barge.name]
    assert leaks(docs, visible) == visible
    assert any(d.get("traded") is True for d in dicts(run.views[v]))
    mid = run.views[v][0]
    assert mid is not None
    names = {b["supplier"]["name"] for p in mid["products"] for b in p["bids"]}
    if anonymous:
        assert names == {run.state.aliases[s.party.id] for s in SUPS[:3]}
        assert "rsvp" not in mid
        assert [s["name"] for s in mid["suppliers"]] == [f"Supplier {n}" for n in range(1, 5)]
    else:
        assert names == {ALPHA.party.name, BRAVO.party.name, CHARLIE.party.name}
        assert {r["response"] for r in mid["rsvp"]} == {"yes", "maybe"}
    # Deleted comments leave the view.
    assert CHARLIE_DELETED not in json.dumps(run.views[v])


def test_the_admin_sees_everything(sentinel_run: Run) -> None:
    run = sentinel_run
    docs = documents(run, Viewer(ADMIN_C.company_id, "admin"))
    everything = [*floors_of(SUPS), PROXY_ADMIN, *ALL_SUPPLIER_IDENTITIES, *ALL_COMMENTS]
    everything += [OBSERVER_P.name, VESSELS[0].name, BUYER_P.name]
    assert leaks(docs, everything) == everything
    mid = run.views[Viewer(ADMIN_C.company_id, "admin")][0]
    assert mid is not None
    assert {b["min_amount"] for p in mid["products"] for b in p["bids"]} >= {"111.75", "222.25"}


def test_an_observer_sees_no_buyer_no_vessels_no_comments_no_floors(sentinel_run: Run) -> None:
    run = sentinel_run
    v = Viewer(OBSERVER_P.id, "observer")
    docs = documents(run, v)
    secrets = [BUYER_P.id, BUYER_P.name, BUYER_C.user_id, PROXY_ADMIN, SELECT_COMMENT]
    secrets += [x for vessel in VESSELS for x in (vessel.name, vessel.imo)]
    secrets += ALL_COMMENTS + floors_of(SUPS) + list(FREE_TEXT.values())
    if run.state.terms.anonymous_bidding:
        secrets += ALL_SUPPLIER_IDENTITIES
    assert leaks(docs, secrets) == []
    for d in dicts(docs):
        assert d.get("min_amount") is None, d
    mid = run.views[v][0]
    assert mid is not None
    assert mid["buyer"] == {"id": None, "name": "Buyer"}
    assert [p["vessel"] for p in mid["products"]] == [
        {"name": "Vessel 1", "imo": None},
        {"name": "Vessel 2", "imo": None},
    ]
    assert mid["comments"] == []
    if not run.state.terms.anonymous_bidding:
        # The buyer's view otherwise: the suppliers by name.
        assert ALPHA.party.name in json.dumps(mid)


def test_companies_not_invited_see_nothing(sentinel_run: Run) -> None:
    run = sentinel_run
    for v in (OUTSIDER_V, OTHER_BUYER_V):
        assert run.views[v] == [None, None]
    for v in (OUTSIDER_V, OTHER_BUYER_V, Viewer("co-uninvited-observer", "observer")):
        assert view(run.state, v, T0) is None
        assert filter_events(run.state, v, 1, run.events) is None
        assert filter_event(run.state, v, 1, run.events[0]) is None
        assert run.pushed.get(v, []) == []


def test_a_draft_is_seen_by_its_buyer_and_admins_only() -> None:
    terms = sentinel_terms(anonymous=False, scheduled=False)
    state = given(created(terms)).state
    assert state is not None and state.status == "draft"
    events = given(created(terms)).events
    assert view(state, Viewer(BUYER_P.id, "buyer"), T0) is not None
    assert view(state, Viewer(ADMIN_C.company_id, "admin"), T0) is not None
    for v in (Viewer(ALPHA.party.id, "supplier"), Viewer(OBSERVER_P.id, "observer"), OTHER_BUYER_V):
        assert view(state, v, T0) is None
        assert filter_events(state, v, 1, events) is None


# --- the shape of views ---------------------------------------------------------------------


def open_auction(products: int = 1, **terms: object) -> Scenario:
    return given(created(make_terms(products=products, **terms)), opened()[1:])


def supplier_view(scenario: Scenario, supplier: str, at: int = T0 + HOUR) -> dict[str, Any]:
    state = scenario.state
    assert state is not None
    doc = view(state, Viewer(supplier, "supplier"), at)
    assert doc is not None
    return doc


def test_a_suppliers_view_has_its_own_bids_complete_and_the_others_anonymised() -> None:
    scenario = (
        open_auction(traded_bids_allowed=True)
        .after(auto(S1, 100, 300, comment="mine", allow_split=False), at=T0 + 1)
        .after(bid(S2, 250, comment="theirs", traded=True), at=T0 + 2)
    )
    doc = supplier_view(scenario, "s1")
    assert doc["status_line"] == "You have the best overall offer for this auction"
    product = doc["products"][0]
    assert product["is_leading"] is True
    assert product["bids"] == [
        {
            "bid_id": "a1:5",
            "amount": "2.25",
            "supplier": {"id": "s1", "name": "Supplier 1"},
            "is_auto": True,
            "traded": False,
            "original_time_entered": format_instant(T0 + 1),
            "allow_split": False,
            "min_amount": "1.00",
            "comment": "mine",
        },
        {
            "bid_id": "a1:4",
            "amount": "2.50",
            "supplier": None,
            "is_auto": False,
            "traded": False,  # S2's bid is traded; S1 is not told
            "original_time_entered": format_instant(T0 + 2),
        },
    ]
    assert [h["bid_id"] for h in product["history"]] == ["a1:3", "a1:5"]
    assert "by_supplier" not in doc["solutions"]
    assert doc["rsvp"] == "yes"


def test_the_buyers_view_has_names_comments_traded_flags_and_no_floors() -> None:
    scenario = (
        open_auction(traded_bids_allowed=True)
        .after(auto(S1, 100, 300, comment="mine"), at=T0 + 1)
        .after(bid(S2, 250, comment="theirs", traded=True), at=T0 + 2)
    )
    state = scenario.state
    assert state is not None
    doc = view(state, Viewer("buyer", "buyer"), T0 + HOUR)
    assert doc is not None
    bids = doc["products"][0]["bids"]
    assert [(b["supplier"]["name"], b["comment"], b["traded"]) for b in bids] == [
        ("Supplier 1", "mine", False),
        ("Supplier 2", "theirs", True),
    ]
    assert all("min_amount" not in b for b in bids)
    assert all("min_amount" not in h for h in doc["products"][0]["history"])
    assert [s["supplier"]["id"] for s in doc["solutions"]["by_supplier"]] == ["s1", "s2"]
    assert "status_line" not in doc


# --- status lines ---------------------------------------------------------------------------


def lines(scenario: Scenario) -> dict[str, str]:
    state = scenario.state
    assert state is not None
    sols = compute(state)
    return {s: status_line(state, s, sols) for s in ("s1", "s2", "s3")}


def test_status_lines_while_open() -> None:
    scenario = (
        open_auction(products=2)
        .after(bid(S1, {"p1": 200, "p2": 200}), at=T0 + 1)
        .after(bid(S2, {"p1": 200, "p2": 200}), at=T0 + 2)
    )
    assert lines(scenario) == {
        "s1": "You have the best overall offer for this auction",
        "s2": "Your bid matches the best single-supplier offer, but was not the first",
        "s3": "You have not bid on this auction",
    }
    scenario = scenario.after(bid(S3, {"p1": 150}), at=T0 + 3)
    assert lines(scenario) == {
        "s1": "Your bid is not the best offer",  # the best overall is S3's p1 + S1's p2
        "s2": "Your bid matches the best single-supplier offer, but was not the first",
        "s3": "You only have a partial offer for this auction",
    }


def test_the_best_single_supplier_is_not_told_it_was_not_the_first() -> None:
    # S1 is the best (and only) single supplier; the best overall mixes S1 and S2.
    scenario = (
        open_auction(products=2)
        .after(bid(S1, {"p1": 200, "p2": 300}), at=T0 + 1)
        .after(bid(S2, {"p2": 200}), at=T0 + 2)
    )
    assert lines(scenario)["s1"] == "Your bid is not the best offer"


def test_status_lines_after_the_decision() -> None:
    scenario = (
        open_auction(products=2)
        .after(bid(S1, {"p1": 200, "p2": 300}), at=T0 + 1)
        .after(bid(S2, {"p2": 200}), at=T0 + 2)
        .after(CheckDeadlines(), at=CLOSES)
    )
    state = scenario.state
    assert state is not None
    closed = scenario.after(select(BUYER, "a1:3", "a1:5"), at=CLOSES + 1)
    assert lines(closed) == {
        "s1": "You won bids for Vessel 1 VLSFO in this auction",
        "s2": "You won bids for Vessel 2 VLSFO in this auction",
        "s3": "Regretfully, you were unsuccessful in this auction. Thank you for quoting",
    }
    whole = scenario.after(select(BUYER, "a1:3", "a1:4"), at=CLOSES + 1)
    assert lines(whole)["s1"] == "You won the entire auction"
    assert lines(whole)["s2"].startswith("Regretfully")
    expired = scenario.after(CheckDeadlines(), at=CLOSES + HOUR)
    assert set(lines(expired).values()) == {"No offer was selected"}


def test_aliases_do_not_follow_the_invitation_order() -> None:
    """The numbering follows the runtime's random salt, never the listed order nor anything the
    buyer knows (the auction id): the same ids under other salts give other orders."""
    orders = set()
    for i in range(20):
        salt = bytes([i]) * 16
        command = CreateAuction(by=BUYER, auction_id="a-1", terms=make_terms(), alias_salt=salt)
        aliases = decide(None, command, T0)[0].aliases  # type: ignore[attr-defined]
        orders.add(tuple(aliases[s.id] for s in SUPPLIER_COS))
        other_id = msgspec.structs.replace(command, auction_id=f"a-{i + 2}")
        assert decide(None, other_id, T0)[0].aliases == aliases  # type: ignore[attr-defined]
    assert len(orders) > 1
