"""The sans-I/O session, tested with plain function calls: no event loop, no socket."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, get_args

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain import money
from auctionactors.domain.commands import PlaceBids
from auctionactors.domain.parties import Caller, Party
from auctionactors.errors import DomainError, ErrorCode
from auctionactors.gateway import messages as m
from auctionactors.gateway import protocol
from auctionactors.gateway.protocol import (
    HelloReceived,
    Phase,
    Refused,
    RequestReceived,
    Session,
    TokenBucket,
)
from auctionactors.gateway.translate import command_of, terms_of
from auctionactors.store.base import Principal

CODES = set(get_args(ErrorCode))
ALICE = Principal("u-1", "Alice", "c-1", "Baltic Bunkers", "supplier")


def ready(**kwargs: Any) -> Session:
    session = Session(**kwargs)
    assert isinstance(session.receive('{"type": "hello", "token": "t"}', 0.0), HelloReceived)
    session.accept(ALICE, 0)
    return session


def refusal(received: object) -> dict[str, Any]:
    assert isinstance(received, Refused), received
    frame: dict[str, Any] = json.loads(received.frame)
    assert frame["type"] == "error"
    assert frame["code"] == received.code
    return frame


def test_hello_then_welcome() -> None:
    session = Session()
    received = session.receive('{"type": "hello", "token": "secret"}', 0.0)
    assert received == HelloReceived("secret")
    assert session.phase is Phase.AUTHENTICATING
    welcome = json.loads(session.accept(ALICE, 1_800_000_000_000_000))
    assert welcome == {
        "type": "welcome",
        "protocol": 1,
        "user": {"id": "u-1", "name": "Alice"},
        "company": {"id": "c-1", "name": "Baltic Bunkers", "role": "supplier"},
        "server_time": "2027-01-15T08:00:00.000000Z",
    }
    assert session.phase is Phase.READY


def test_a_request_before_hello_is_refused_unauthenticated_with_its_id() -> None:
    session = Session()
    frame = refusal(session.receive('{"type": "get_view", "id": 7, "auction_id": "a"}', 0.0))
    assert (frame["id"], frame["code"]) == (7, "unauthenticated")
    assert session.phase is Phase.AWAITING_HELLO  # still waiting for the hello


def test_a_second_hello_is_a_bad_request() -> None:
    session = ready()
    frame = refusal(session.receive('{"type": "hello", "token": "t", "id": "h2"}', 0.0))
    assert (frame["id"], frame["code"]) == ("h2", "bad_request")


def test_a_request_is_typed() -> None:
    received = ready().receive(
        '{"type": "place_bids", "id": "x", "auction_id": "a-1",'
        ' "bids": [{"product_id": "p1", "amount": "2.25"}, {"product_id": "p2", "amount": 3}]}',
        0.0,
    )
    assert isinstance(received, RequestReceived)
    request = received.request
    assert isinstance(request, m.PlaceBids)
    assert request.bids[0].amount == "2.25" and request.bids[1].amount == 3
    assert request.traded is False and request.as_user is None


def test_malformed_frames_are_bad_requests_with_the_id_when_readable() -> None:
    cases: list[tuple[str, Any, str]] = [
        ("{nope", None, "malformed JSON"),
        ("[1, 2]", None, "Expected `object`"),
        ('{"id": 3}', 3, "a frame needs a `type`"),
        ('{"type": "dance", "id": "d"}', "d", "unknown request type 'dance'"),
        ('{"type": "get_view", "id": 4}', 4, "missing required field `auction_id`"),
        ('{"type": "subscribe", "id": 5, "auction_id": "a", "since": "x"}', 5, "$.since"),
        ('{"type": "subscribe", "id": 6, "auction_id": "a", "since": -1}', 6, "$.since"),
        ('{"type": "get_view", "id": [1], "auction_id": "a"}', None, "$.id"),
        ('{"type": "get_view", "id": true, "auction_id": "a"}', None, "$.id"),
        ('{"type": "rsvp", "id": 8, "auction_id": "a", "response": "perhaps"}', 8, "response"),
        # A lone surrogate could not be stored or sent back: msgspec refuses it outright.
        ('{"type": "get_view", "id": 9, "auction_id": "\\ud800"}', None, "malformed JSON"),
    ]
    session = ready()
    for text, request_id, message in cases:
        frame = refusal(session.receive(text, 0.0))
        assert frame["code"] == "bad_request", text
        assert frame["id"] == request_id, text
        assert message in frame["message"], (text, frame["message"])


def test_an_escaped_surrogate_pair_is_fine() -> None:
    received = ready().receive('{"type": "get_view", "id": 1, "auction_id": "\\ud83d\\ude00"}', 0)
    assert isinstance(received, RequestReceived)
    assert received.request == m.GetView(id=1, auction_id="\U0001f600")


def test_binary_frames_are_refused() -> None:
    frame = refusal(ready().receive(b'{"type": "get_view"}', 0.0))
    assert (frame["id"], frame["code"]) == (None, "bad_request")


def test_rate_limit() -> None:
    session = ready(rate_per_s=2.0, burst=3)
    text = '{"type": "list_auctions", "id": 1}'
    assert all(isinstance(session.receive(text, 10.0), RequestReceived) for _ in range(3))
    frame = refusal(session.receive(text, 10.0))
    assert (frame["id"], frame["code"]) == (1, "rate_limited")
    assert isinstance(session.receive(text, 10.5), RequestReceived)  # one token back after 0.5 s
    assert isinstance(session.receive(text, 10.5), Refused)


def test_token_bucket_never_exceeds_its_burst() -> None:
    bucket = TokenBucket(rate=100.0, burst=2)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert bucket.take(1000.0) and bucket.take(1000.0) and not bucket.take(1000.0)


def test_outgoing_frames() -> None:
    assert json.loads(protocol.ok(1, {"seq": 4})) == {"type": "ok", "id": 1, "seq": 4}
    assert json.loads(protocol.error("x", "invalid", "no")) == {
        "type": "error",
        "id": "x",
        "code": "invalid",
        "message": "no",
    }
    update = json.loads(protocol.update("a-1", 3, [{"seq": 3, "type": "redacted"}], {"seq": 3}))
    assert update == {
        "type": "update",
        "auction_id": "a-1",
        "seq": 3,
        "events": [{"seq": 3, "type": "redacted"}],
        "view": {"seq": 3},
    }


# --- fuzz -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
FIELDS = [
    "id", "auction_id", "since", "limit", "token", "bids", "amount", "auction", "changes",
    "status", "barge", "imo", "response", "company_id", "as_user", "solution", "bid_ids",
]  # fmt: skip
TYPES = sorted(m.REQUEST_TYPES | {"hello", "nope"})
FRAME = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={f: JSON for f in FIELDS},
)
TEXT = st.one_of(
    st.text(),
    JSON.map(json.dumps),
    FRAME.map(json.dumps),
)


@settings(max_examples=150, deadline=None)
@given(frames=st.lists(st.one_of(TEXT, st.binary()), min_size=1, max_size=6))
def test_random_frames_never_raise(frames: list[str | bytes]) -> None:
    """Whatever arrives, the session answers with a decision, and a refusal is an error frame
    with a protocol error code."""
    for session in (Session(), ready(rate_per_s=1.0, burst=3)):
        for i, data in enumerate(frames):
            received = session.receive(data, float(i))
            if isinstance(received, Refused):
                assert refusal(received)["code"] in CODES
            elif isinstance(received, RequestReceived):
                assert session.phase is Phase.READY
                _translate(received.request)
            else:
                assert isinstance(received, HelloReceived)
                session.accept(ALICE, 0)


def _translate(request: m.Request) -> None:
    """Well-typed requests become domain commands or a `DomainError`, nothing else."""
    caller = Caller("u-1", "c-1", "admin")
    parties = _Parties()
    try:
        if isinstance(request, m.CreateAuction):
            terms_of(request.auction, Party("c-b", "Buyer"), parties)
        elif isinstance(request, m.AuctionCommand):
            command_of(request, caller, parties)
    except DomainError as exc:
        assert exc.code in CODES


class _Parties(dict[str, Party]):
    """Every company exists (the dispatcher looks them up before translating)."""

    def __missing__(self, company_id: str) -> Party:
        return Party(company_id, company_id.upper())


def _bids_frame(amount: object) -> str:
    bids = [{"product_id": "p1", "amount": amount}]
    doc = {"type": "place_bids", "id": 1, "auction_id": "a", "bids": bids}
    return msgspec.json.encode(doc).decode()


@settings(max_examples=300, deadline=None)
@given(amount=st.one_of(st.text(), st.integers(), st.floats(allow_nan=False)))
def test_amounts_convert_exactly_or_are_refused(amount: str | int | float) -> None:
    received = ready().receive(_bids_frame(amount), 0.0)
    if isinstance(received, Refused):  # infinities are sent as null by the encoder
        return
    assert isinstance(received, RequestReceived)
    assert isinstance(received.request, m.PlaceBids)
    try:
        command = command_of(received.request, Caller("u", "c", "supplier"), {})
    except DomainError as exc:
        assert exc.code == "invalid"
        return
    assert isinstance(command, PlaceBids)
    cents = command.bids[0].amount
    assert cents is None or Decimal(cents) / 100 == Decimal(str(amount))


def test_amounts_as_strings_and_numbers() -> None:
    for amount, cents in (("2.25", 225), (2.25, 225), (-1.75, -175), ("-1.75", -175), (3, 300)):
        received = ready().receive(_bids_frame(amount), 0.0)
        assert isinstance(received, RequestReceived)
        assert isinstance(received.request, m.PlaceBids)
        command = command_of(received.request, Caller("u", "c", "supplier"), {})
        assert isinstance(command, PlaceBids)
        assert command.bids[0].amount == cents
    for bad in ("2.255", "abc", "NaN", "1e400"):
        received = ready().receive(_bids_frame(bad), 0.0)
        assert isinstance(received, RequestReceived)
        assert isinstance(received.request, m.PlaceBids)
        try:
            command_of(received.request, Caller("u", "c", "supplier"), {})
        except DomainError as exc:
            assert exc.code == "invalid"
        else:
            raise AssertionError(f"{bad} accepted")


def test_frames_before_hello_are_rate_limited_and_refused_a_few_times_only() -> None:
    session = Session(rate_per_s=1.0, burst=2, max_refused_before_hello=4)
    text = '{"type": "list_auctions", "id": 1}'
    codes = [refusal(session.receive(text, 5.0))["code"] for _ in range(3)]
    assert codes == ["unauthenticated", "unauthenticated", "rate_limited"]
    last = session.receive(text, 5.0)
    assert isinstance(last, Refused) and last.close  # the 4th refusal: close the connection
    fresh = Session(rate_per_s=1.0, burst=2)
    assert isinstance(fresh.receive('{"type": "hello", "token": "t"}', 0.0), HelloReceived)
    fresh.accept(ALICE, 0)  # the hello's token is given back: a full bucket once signed in
    assert all(isinstance(fresh.receive(text, 0.0), RequestReceived) for _ in range(2))


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{1,2})?", fullmatch=True),
        st.integers(-(10**16), 10**16).map(lambda c: f"{c // 100}.{c % 100:02d}"),
    )
)
def test_short_amount_strings_parse_as_through_decimal(text: str) -> None:
    """`parse_amount` reads a strict string of a usual length in integers: the same cents, or
    the same refusal, as its exact `Decimal` path."""

    def parsed() -> int | str:
        try:
            return money.parse_amount(text)
        except DomainError as exc:
            return exc.message

    fast = parsed()
    short, money._SHORT = money._SHORT, 0
    try:
        assert fast == parsed()
    finally:
        money._SHORT = short
