"""Hostile input against the pure layers, without an event loop: the sans-I/O session, the
translation to domain commands and `decide` on live auction states.

Valid requests of every type are mutated (fields dropped, retyped, oversized, nested deeply,
filled with unicode, huge or NaN-like numbers, negative and fractional amounts) and sent as text
(sometimes cut short or with a byte flipped) or as binary frames. Whatever arrives, the answer is
a well-formed ``error`` frame with a protocol code, or a request whose dispatch ends in events or
a `DomainError` with a protocol code: never another exception. Runs are derandomized, so the
suite is deterministic.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, get_args

import msgspec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from auctionactors.domain import commands as dc
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.state import AuctionState, fold
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND, format_instant, parse_instant
from auctionactors.errors import DomainError, ErrorCode
from auctionactors.gateway import messages as m
from auctionactors.gateway.protocol import (
    HelloReceived,
    Phase,
    Refused,
    RequestReceived,
    Session,
)
from auctionactors.gateway.translate import command_of, terms_of
from auctionactors.store.base import Principal

CODES = set(get_args(ErrorCode))
DEEP = "@@deep@@"
T0 = parse_instant("2026-11-27T10:00:00Z")
ETA = format_instant(T0 + 86_400 * SECOND)
ALICE = Principal("u-s1", "Sam", "c-s1", "Baltic Bunkers", "supplier")

BUYER_CO = Party("c-b", "Aegean Shipping")
S1_CO, S2_CO = Party("c-s1", "Baltic Bunkers"), Party("c-s2", "North Sea Fuels")
ADMIN = Caller("u-a", "c-a", "admin")
BUYER = Caller("u-b", "c-b", "buyer")
S1 = Caller("u-s1", "c-s1", "supplier")
OUTSIDER = Caller("u-x", "c-x", "supplier")
OBSERVER = Caller("u-o", "c-o", "observer")
CALLERS = (ADMIN, BUYER, S1, OUTSIDER, OBSERVER)

# --- valid requests of every type -----------------------------------------------------------

PRODUCT = {"vessel": {"name": "MV Aurora", "imo": "9300001"}, "fuel": "VLSFO", "eta": ETA}
AUCTION = {
    "kind": "spot",
    "port": "Rotterdam",
    "suppliers": ["c-s1", "c-s2"],
    "scheduled_start": format_instant(T0),
    "tick": "0.25",
    "products": [{**PRODUCT, "quantity_mt": 1500}],
}
VALID: dict[str, dict[str, Any]] = {
    "hello": {"token": "t"},
    "subscribe": {"auction_id": "a-1", "since": 0},
    "unsubscribe": {"auction_id": "a-1"},
    "subscribe_all": {},
    "list_auctions": {"status": ["open", "pending"]},
    "get_view": {"auction_id": "a-1", "at_seq": 3},
    "get_events": {"auction_id": "a-1", "since": 0, "limit": 10},
    "list_companies": {"role": "supplier", "limit": 10, "cursor": "YWJj"},
    "operator_status": {},
    "operator_revive": {"auction_id": "a-1"},
    "create_auction": {"auction": AUCTION, "buyer": "c-b"},
    "update_auction": {"auction_id": "a-1", "changes": {"port": "Antwerp", "tick": 0.5}},
    "start_auction": {"auction_id": "a-1"},
    "cancel_auction": {"auction_id": "a-1"},
    "place_bids": {
        "auction_id": "a-1",
        "bids": [
            {"product_id": "p1", "amount": "2.25", "min_amount": "1.50", "allow_split": False},
            {"product_id": "p1", "amount": -1.75, "comment": "hi"},
        ],
        "traded": False,
    },
    "revoke_bid": {"auction_id": "a-1", "product_id": "p1"},
    "select_solution": {"auction_id": "a-1", "bid_ids": ["a-1:3:0"], "comment": "ok"},
    "submit_barge": {"auction_id": "a-1", "barge": {"name": "B1", "imo": "9100001"}},
    "unsubmit_barge": {"auction_id": "a-1", "imo": "9100001"},
    "approve_barge": {"auction_id": "a-1", "imo": "9100001", "supplier_id": "c-s1"},
    "reject_barge": {"auction_id": "a-1", "imo": "9100001", "supplier_id": "c-s1"},
    "post_comment": {"auction_id": "a-1", "text": "hello"},
    "delete_comment": {"auction_id": "a-1", "comment_id": "a-1:c4"},
    "rsvp": {"auction_id": "a-1", "response": "maybe"},
    "invite_observer": {"auction_id": "a-1", "company_id": "c-o"},
    "uninvite_observer": {"auction_id": "a-1", "company_id": "c-o"},
}


def test_every_request_type_has_a_valid_example() -> None:
    assert set(VALID) == m.REQUEST_TYPES | {"hello"}
    session = Session()
    hello = session.receive(json.dumps({"type": "hello", "token": "t"}), 0)
    assert isinstance(hello, HelloReceived)
    session.accept(ALICE, T0)
    for type_, fields in VALID.items():
        if type_ != "hello":
            received = session.receive(json.dumps({"type": type_, "id": 1, **fields}), 0)
            assert isinstance(received, RequestReceived), (type_, received)


# --- hostile values and mutations -----------------------------------------------------------

NAN_LIKE = [
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e999999999", "-1e999999999",
    "1e-999999999", "0x10", " 2.25", "2.25 ", "2,25", "1_000", "²", "١٢٣", "", "-", ".", "1.",
    ".5", "+1", "--1", "1e", "0.001", "2.2500000000000000000000000000001", "9" * 400, "-0",
    "null", "true", "[]", "{}", "\u0000", "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z", "2026-11-27T10:00:00+99:00", "2026-11-27T10:00:00",
]  # fmt: skip
HUGE_NUMBERS = [
    10**18, -(10**18), 2**63, -(2**63) - 1, 2**64, 10**100, 10**4000, 1e308, -1e308, 5e-324,
    -0.0, 0.1, 0.125, -1.75, 2.2500000000000004, 1e16, -1,
]  # fmt: skip
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities are written as bare NaN / Infinity tokens: invalid JSON
    | st.text()
    | st.sampled_from(NAN_LIKE)
    | st.sampled_from(HUGE_NUMBERS)
)
JSON = st.recursive(
    JSON_LEAF,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


HOSTILE = st.one_of(
    JSON,
    st.text(min_size=1, max_size=3).map(lambda s: s * 5000),  # oversized strings
    st.integers(min_value=1, max_value=3).map(lambda n: ["x"] * (2000 * n)),  # long lists
    st.integers(1, 50).map(lambda d: _nested(d, "deep")),
    st.sampled_from([900, 3000, 20_000]).map(lambda d: f"{DEEP}{d}{DEEP}"),  # see `_dumps`
    st.characters(codec="utf-8").map(lambda c: c * 64),  # one (maybe odd) code point, repeated
    st.sampled_from(["\ud800", "\udfff", "a\ud83d", "\ufeff", "\u202e", "\U0010ffff"]),
)


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a mutation can hit (the root is ``()``)."""
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*path, i))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any] | list[Any] | Any:
    """A valid request of some type with one to four mutations applied."""
    type_ = draw(st.sampled_from(sorted(VALID)))
    doc: Any = json.loads(json.dumps({"type": type_, "id": draw(JSON_LEAF), **VALID[type_]}))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["drop", "retype", "add", "duplicate", "wrap"]))
        if not path:
            if op == "wrap":
                doc = _nested(draw(st.integers(1, 3)), doc)
            continue
        parent, key = _parent(doc, path), path[-1]
        if op == "drop":
            del parent[key]
        elif op == "retype":
            parent[key] = draw(HOSTILE)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(HOSTILE)
        elif op == "duplicate" and isinstance(parent, list):
            parent.extend([parent[key]] * draw(st.integers(1, 50)))
        elif op == "wrap":
            parent[key] = _nested(draw(st.integers(1, 4)), parent[key])
    return doc


def _dumps(doc: Any) -> str:
    """Lone surrogates are written as \\udXXX escapes (ensure_ascii), NaN as a bare token, and
    a deep-nesting marker as that many brackets (too deep for Python's own json to write)."""
    text = json.dumps(doc, allow_nan=True)
    return re.sub(f'"{DEEP}(\\d+){DEEP}"', lambda g: "[" * int(g[1]) + "]" * int(g[1]), text)


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    """A frame as it may arrive: a mutated request as text, damaged text, or bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "damaged", "binary", "text"]))
    if kind == "binary":
        return draw(st.binary(max_size=256) | mutated().map(lambda d: _dumps(d).encode()))
    if kind == "text":
        return draw(st.text(max_size=256))
    text = _dumps(draw(mutated()))
    if kind == "damaged" and text:
        at = draw(st.integers(0, len(text) - 1))
        if draw(st.booleans()):
            return text[:at]  # cut short
        return text[:at] + draw(st.characters()) + text[at + 1 :]
    return text


# --- the dispatch, without I/O --------------------------------------------------------------


def _open_state() -> AuctionState:
    """An open spot auction (s1, s2 invited) with a bid, a barge and a comment of s1's."""
    terms = AuctionTerms(
        port="Rotterdam",
        buyer=BUYER_CO,
        suppliers=(S1_CO, S2_CO),
        scheduled_start=T0,
        products=(
            ProductSpec(
                vessel=Vessel("MV Aurora", "9300001"), fuel="VLSFO", quantity_mt=1500, eta=T0
            ),
        ),
    )
    state = fold(decide(None, dc.CreateAuction(by=ADMIN, auction_id="a-1", terms=terms), T0))
    assert state is not None and state.status == "open"
    for command in (
        dc.PlaceBids(by=S1, bids=(dc.BidRequest(product_id="p1", amount=225),)),
        dc.SubmitBarge(by=S1, barge=dc.Barge("B1", "9100001")),
        dc.PostComment(by=S1, text="hello"),
    ):
        state = fold(decide(state, command, T0 + SECOND), state)
        assert state is not None
    return state


STATE = _open_state()
STATE_BYTES = msgspec.json.encode(STATE)
TIMES = (T0 + 2 * SECOND, T0 + 700 * SECOND, T0 + 10**9 * SECOND)  # open, decision, long after


class _Parties(dict[str, Party]):
    """Every company named exists (the dispatcher looks them up before translating)."""

    def __missing__(self, company_id: str) -> Party:
        return Party(company_id, company_id.upper())


def _dispatch(request: m.Request) -> None:
    """What the dispatcher does with a command, minus I/O: translate it, then `decide` it on a
    live auction as every kind of caller at several times. Only events or a `DomainError`."""
    if not isinstance(request, m.Command):
        return
    for caller in CALLERS:
        for now in TIMES:
            try:
                if isinstance(request, m.CreateAuction):
                    terms = terms_of(request.auction, BUYER_CO, _Parties())
                    command: dc.AnyCommand = dc.CreateAuction(
                        by=caller, auction_id="a-new", terms=terms
                    )
                    events = decide(None, command, now)
                else:
                    command = command_of(request, caller, _Parties())
                    events = decide(STATE, command, now)
            except DomainError as exc:
                assert exc.code in CODES, exc
                assert isinstance(exc.message, str) and exc.message
                event(f"refused {exc.code}")
            else:
                assert isinstance(events, list)
                event("decided")
    assert msgspec.json.encode(STATE) == STATE_BYTES, "decide changed the state it was given"


def _check_refusal(received: Refused) -> None:
    frame = json.loads(received.frame)  # valid JSON, UTF-8
    assert set(frame) == {"type", "id", "code", "message"}, frame
    assert frame["type"] == "error"
    assert frame["code"] == received.code and received.code in CODES
    assert frame["id"] is None or isinstance(frame["id"], str | int), frame
    assert isinstance(frame["message"], str) and frame["message"]


def _feed(session: Session, data: str | bytes, now: float) -> None:
    received = session.receive(data, now)  # must not raise
    if isinstance(received, Refused):
        _check_refusal(received)
        event(f"session {received.code}")
    elif isinstance(received, HelloReceived):
        assert isinstance(received.token, str)
        session.accept(ALICE, T0)
    else:
        assert isinstance(received, RequestReceived)
        assert session.phase is Phase.READY
        _dispatch(received.request)


FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(batch=st.lists(frames(), min_size=1, max_size=5))
def test_mutated_frames_get_an_error_frame_or_a_valid_dispatch(batch: list[str | bytes]) -> None:
    fresh = Session()
    ready = Session(rate_per_s=5.0, burst=3)
    assert isinstance(ready.receive('{"type": "hello", "token": "t"}', 0.0), HelloReceived)
    ready.accept(ALICE, T0)
    for i, data in enumerate(batch):
        _feed(fresh, data, float(i))
        _feed(ready, data, i / 10)  # fast enough to be rate limited now and then


@FUZZ
@given(amount=st.one_of(JSON_LEAF, st.decimals(allow_nan=True, places=None).map(str)))
def test_hostile_amounts_are_refused_or_exact(amount: Any) -> None:
    """Any amount value in place_bids: refused (bad_request / invalid / ...), or whole cents."""
    doc = {
        "type": "place_bids",
        "id": 1,
        "auction_id": "a-1",
        "bids": [{"product_id": "p1", "amount": amount, "min_amount": amount}],
    }
    session = Session()
    session.receive('{"type": "hello", "token": "t"}', 0.0)
    session.accept(ALICE, T0)
    received = session.receive(_dumps(doc), 0.0)
    if isinstance(received, Refused):
        _check_refusal(received)
        return
    assert isinstance(received, RequestReceived)
    _dispatch(received.request)
    try:
        command = command_of(received.request, S1, {})
    except DomainError as exc:
        assert exc.code == "invalid"
        return
    assert isinstance(command, dc.PlaceBids)
    cents = command.bids[0].amount
    if amount is None:  # no amount, no floor: the domain refuses it (see _dispatch)
        assert cents is None
        return
    assert isinstance(cents, int) and abs(cents) <= 10**15
    assert Decimal(repr(amount) if isinstance(amount, float) else amount) * 100 == cents


def test_deep_nesting_is_a_bad_request_not_a_recursion_error() -> None:
    """msgspec raises RecursionError (not a DecodeError) past its depth limit: found by the
    fuzzer above, it used to escape the session and fail the connection's handler."""
    for depth in (1000, 30_000):
        for where in ("token", "junk"):
            text = '{"type": "hello", "id": 3, "' + where + '": ' + "[" * depth + "]" * depth
            text += ', "token": "t"}' if where == "junk" else "}"
            for session in (Session(), Session()):
                received = session.receive(text, 0.0)
                assert isinstance(received, Refused), received
                _check_refusal(received)
                assert received.code == "bad_request"


def test_amounts_finer_than_a_cent_are_refused_whatever_their_length() -> None:
    """Found by the fuzzer: with more than 28 digits, Decimal rounded ``2.25000…01`` to 2.25
    and ``1e999999999`` raised decimal.Overflow (answered ``internal``)."""
    for amount, message in (
        ("2.2500000000000000000000000000001", "at most two decimals"),
        ("1.000000000000000000000000000001", "at most two decimals"),
        ("1e-999999999", "at most two decimals"),
        ("1e999999999", "ASCII digits"),  # 1.1: no exponent in a string
        ("-1e999999999", "ASCII digits"),
        ("9" * 400, "out of range"),
    ):
        doc = {"type": "place_bids", "id": 1, "auction_id": "a-1", "bids": [{"product_id": "p1"}]}
        doc["bids"][0]["amount"] = amount
        received = Session()
        received.receive('{"type": "hello", "token": "t"}', 0.0)
        received.accept(ALICE, T0)
        result = received.receive(json.dumps(doc), 0.0)
        assert isinstance(result, RequestReceived)
        try:
            command_of(result.request, S1, {})
        except DomainError as exc:
            assert exc.code == "invalid" and message in exc.message, (amount, exc)
        else:
            raise AssertionError(f"{amount} accepted")
