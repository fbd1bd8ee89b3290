"""Protocol 1's whole views built and encoded in pieces (`gateway.whole`, `domain.whole`): the
frames (a subscription's first update, ``get_view``'s answer) are, byte for byte, those of
`views.view` encoded at once as before, for every receiver and states with a bid history, also
when the state changes between two pieces (the actor goes on while the view is rendered)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import msgspec
import pytest
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st

from auctionactors.domain import whole as domain_whole
from auctionactors.domain.access import Viewer
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Party
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.timestamps import SECOND
from auctionactors.domain.views import view
from auctionactors.domain.whole import WholeView
from auctionactors.errors import DomainError
from auctionactors.gateway import protocol, whole
from auctionactors.runtime.replay import rebuild
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    S1,
    S2,
    S3,
    create,
    fold_events,
    make_terms,
    update,
)
from tests.domain.scenario import bid as place
from tests.domain.test_parts import VIEWERS
from tests.domain.test_properties import CREATED, MIXED_STEPS, MIXED_TERMS, Act, mixed_command

from .conftest import T0, Conn, Served, bid, open_auction


def frames(auction_id: str, seq: int, doc: dict[str, Any]) -> tuple[bytes, bytes]:
    """The frames that carry a whole view: a first update, ``get_view``'s ``ok`` (its request
    id with a NUL: escaped in the frame, it is not taken for where a history goes)."""
    ok = protocol.ok("7\x00", {"seq": seq, "view": doc})
    return protocol.update(auction_id, seq, [], doc), ok


def expected(state: AuctionState, viewer: Viewer, now: int) -> tuple[bytes, bytes] | None:
    """The frames as they have always been made: `views.view`, encoded at once."""
    doc = view(state, viewer, now)
    return None if doc is None else frames(state.auction_id, state.seq, doc)


async def pieced(
    state: AuctionState, viewer: Viewer, now: int, size: int
) -> tuple[bytes, bytes] | None:
    found = WholeView.of(state, viewer, now, size=size)
    if found is None:
        return None
    auction_id, seq = state.auction_id, found.seq
    update = await whole.encoded(found, lambda doc: frames(auction_id, seq, doc)[0])
    ok = await whole.encoded(found, lambda doc: frames(auction_id, seq, doc)[1])
    return update, ok


async def go_on(state: AuctionState, acts: list[Act], now: int) -> int:
    """Apply ``acts`` to ``state`` in place, one per turn of the event loop, as the actor does
    while views are rendered; the number of events applied."""
    applied = 0
    for act in acts:
        await asyncio.sleep(0)
        now += act.delta
        try:
            events = decide(state, mixed_command(act, state, now), now)
        except DomainError:
            continue
        for event in events:
            assert evolve(state, event) is state
        applied += len(events)
    return applied


async def compare(
    state: AuctionState, now: int, later: Callable[[], Awaitable[int]], size: int
) -> int:
    """Every receiver's frames, rendered in pieces of ``size`` bids while ``later`` changes
    the state, against those of the state as it was; the number of events applied meanwhile."""
    wanted = [expected(state, v, now) for v in VIEWERS]
    got, applied = await asyncio.gather(
        asyncio.gather(*(pieced(state, v, now, size) for v in VIEWERS)), later()
    )
    for viewer, want, have in zip(VIEWERS, wanted, got, strict=True):
        assert have == want, viewer
    return applied


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(sorted(MIXED_TERMS)),
    st.lists(MIXED_STEPS, min_size=20, max_size=80),
    st.lists(MIXED_STEPS, max_size=20),
    st.integers(1, 4),
)
def test_pieced_frames_are_those_of_the_view_for_every_receiver(
    terms_name: str, acts: list[Act], later: list[Act], size: int
) -> None:
    now = CREATED
    state = fold_events(decide(None, create(BUYER, MIXED_TERMS[terms_name]), now))
    assert state is not None
    asyncio.run(go_on(state, acts, now))
    now += sum(a.delta for a in acts)
    note_event(f"history: {min(len(state.history()), 40) // 10 * 10}+ bids")
    applied = asyncio.run(compare(state, now, partial(go_on, state, later, now), size))
    note_event("changed between pieces" if applied else "unchanged")


def test_a_long_history_changing_between_pieces_gives_the_view_it_started_from() -> None:
    """Two products, three suppliers, 120 bids (re-bids, so most entries are no longer
    active): rendered 7 bids a piece while more bids come and bids are revoked."""
    terms = make_terms(products=2, duration_s=3600)
    now = terms.scheduled_start - 5 * SECOND
    state = fold_events(decide(None, create(BUYER, terms), now))
    assert state is not None
    bidders = [S1, S2, S3]

    def bids(count: int, top: int) -> list[Act]:
        return [
            Act("bid", SECOND, bidders[n % 3], f"p{n % 2 + 1}", amount=(top - n) * 25)
            for n in range(count)
        ]

    asyncio.run(
        go_on(state, [Act("start", 0, ADMIN), Act("tick", 6 * SECOND), *bids(120, 200)], now)
    )
    assert len(state.history()) == 120
    later = [*bids(30, 60), Act("revoke", SECOND, S1, "p1"), Act("revoke", SECOND, S2, "p2")]
    seq = state.seq
    changes = partial(go_on, state, later, now + 200 * SECOND)
    assert asyncio.run(compare(state, now + 200 * SECOND, changes, 7)) == 32
    assert state.seq == seq + 32


def test_suppliers_renamed_between_pieces_are_named_as_they_were() -> None:
    """While pending, suppliers bid; then the buyer's edit renames two of them: a view rendered
    meanwhile names them as its state did."""
    now = CREATED
    state = fold_events(decide(None, create(BUYER, MIXED_TERMS["spot"]), now))
    assert state is not None and state.status == "pending"
    for n, supplier in enumerate([S1, S2, S3] * 4):
        for event in decide(state, place(supplier, 500 - n * 25), now + n):
            evolve(state, event)
    renamed = (
        Party(S1.company_id, "Renamed One"),
        Party(S2.company_id, "Supplier 2"),
        Party(S3.company_id, "Renamed Three"),
    )

    async def edit() -> int:
        await asyncio.sleep(0)
        events = decide(state, update(BUYER, suppliers=renamed), now + SECOND)
        for event in events:
            evolve(state, event)
        return len(events)

    assert asyncio.run(compare(state, now + SECOND, edit, 1)) == 1
    assert state.supplier_name(S3.company_id) == "Renamed Three"
    assert state.supplier_name(S1.company_id) == "Renamed One"


# --- over the wire ----------------------------------------------------------------------------


async def test_over_the_wire_views_in_pieces_are_the_views_and_updates_follow_in_order(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real gateway, pieces of 2 bids: each receiver's ``get_view`` is byte for byte the
    whole view of the state it read; a subscription whose first update is still being rendered
    when more bids come gets the view of its seq S (as rebuilt from the store), then every
    update after S, in order."""
    monkeypatch.setattr(domain_whole, "PIECE", 2)
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    aid = await open_auction(admin, p, products=2)
    s1, s2 = await Conn.open(served.url, p.s1.token), await Conn.open(served.url, p.s2.token)
    amount = 5000  # cents

    async def bidding(count: int) -> int:
        """``count`` bids sent at once; the seq of the last."""
        nonlocal amount
        sent = []
        for n in range(count):
            amount -= 25
            conn = (s1, s2)[n % 2]
            bids = [bid(f"p{n % 3 % 2 + 1}", f"{amount / 100:.2f}")]
            await conn.send({"type": "place_bids", "id": n, "auction_id": aid, "bids": bids})
            sent.append((conn, n))
        return max([(await conn.reply(n))["seq"] for conn, n in sent])

    await bidding(15)
    for user in (p.admin, p.buyer, p.s1, p.s2):
        conn = await Conn.open(served.url, user.token)
        await conn.send({"type": "get_view", "id": 7, "auction_id": aid})
        got = await conn.ws.recv(decode=False)
        principal = await served.directory.authenticate(user.token)
        assert principal is not None
        viewer = Viewer(principal.company_id, principal.role)

        def whole_frame(state: AuctionState | None, viewer: Viewer = viewer) -> bytes:
            assert state is not None
            doc = view(state, viewer, served.clock.now())
            return protocol.ok(7, {"seq": state.seq, "view": doc})

        assert got == await served.supervisor.query(aid, whole_frame)
        await conn.close()

    # The first update's rendering waits until the bids below are durable and delivered.
    rendering, go = asyncio.Event(), asyncio.Event()
    real = whole.encoded

    async def held(doc: Any, frame: Callable[[dict[str, Any]], bytes]) -> bytes:
        rendering.set()
        encoded = await real(doc, frame)
        await go.wait()
        return encoded

    monkeypatch.setattr(whole, "encoded", held)
    watcher = await Conn.open(served.url, p.buyer.token)
    await watcher.send({"type": "subscribe", "id": 1, "auction_id": aid})
    await rendering.wait()
    last = await bidding(10)
    go.set()
    subscribed = await watcher.reply(1)
    first = await watcher.next_update()
    assert first["seq"] == subscribed["seq"]
    seqs = [first["seq"]]
    while seqs[-1] < last:
        seqs.append((await watcher.next_update())["seq"])
    assert seqs == list(range(first["seq"], last + 1))
    state = await rebuild(served.supervisor.store, aid, until_seq=first["seq"])
    assert state is not None
    buyer = Viewer(p.buyer.company_id, "buyer")
    assert first["view"] == msgspec.json.decode(msgspec.json.encode(view(state, buyer, T0)))
    for conn in (admin, s1, s2, watcher):
        await conn.close()
