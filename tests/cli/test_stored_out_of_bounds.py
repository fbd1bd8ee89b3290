"""Events an older version let users store, with times and durations far out of today's bounds
(issue 9, item 1): `view()` and the commands `auctions`, `events` and `replay` still show every
auction, never a traceback. The events are written straight into a real SQLite store, as that
older version would have written them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from auctionactors.cli import main
from auctionactors.domain.access import Viewer
from auctionactors.domain.events import (
    AuctionClosed,
    AuctionCreated,
    AuctionStarted,
    BidPlaced,
    Event,
    WinningSolutionSelected,
)
from auctionactors.domain.parties import By, Party
from auctionactors.domain.state import fold
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel, products_of
from auctionactors.domain.timestamps import SECOND, format_instant, parse_instant
from auctionactors.domain.views import view
from auctionactors.store.codec import encode_event
from auctionactors.store.sqlite import SqliteEventStore
from tests.cli.seed import catalog

NOW = parse_instant("2026-11-27T10:00:00Z")
BUYER = Party("c-buyer", "Blue Shipping")
SUPPLIER = Party("c-s1", "Baltic Bunkers")
# What the attacker sent: the far ends of what RFC 3339 can write, and 10**12 seconds.
FAR_FUTURE = parse_instant("9999-12-31T23:59:59-23:59")
FAR_PAST = parse_instant("0001-01-01T00:00:00+23:59")


def poisoned(auction_id: str, **terms: object) -> list[Event]:
    spec = ProductSpec(vessel=Vessel("MV A", "9300001"), fuel="VLSFO", quantity_mt=100, eta=NOW)
    fields: dict[str, object] = {
        "port": "Rotterdam",
        "buyer": BUYER,
        "suppliers": (SUPPLIER,),
        "scheduled_start": NOW,
        "products": (spec,),
    }
    fields.update(terms)
    auction = AuctionTerms(**fields)  # type: ignore[arg-type]
    by = By("u-buyer", BUYER.id)
    created = AuctionCreated(
        at=NOW,
        by=by,
        auction_id=auction_id,
        terms=auction,
        products=products_of(auction),
        status="pending",
        aliases={SUPPLIER.id: "Supplier 1"},
    )
    # Opened at once: closes_at is the start plus the duration, however far that is.
    closes_at = NOW + auction.duration_s * SECOND
    started = AuctionStarted(at=NOW, by=None, closes_at=closes_at)
    bid = BidPlaced(
        at=NOW,
        by=By("u-s1", SUPPLIER.id),
        bid_id=f"{auction_id}:3",
        product_id="p1",
        supplier_id=SUPPLIER.id,
        amount=100,
        original_time_entered=NOW,
    )
    return [created, started, bid]


def old_streams() -> dict[str, list[Event]]:
    eta = ProductSpec(vessel=Vessel("MV A", "9300001"), fuel="VLSFO", quantity_mt=100, eta=FAR_PAST)
    return {
        "a-future": poisoned("a-future", scheduled_start=FAR_FUTURE),
        "a-past": poisoned("a-past", products=(eta,)),
        "a-long": poisoned("a-long", duration_s=10**12),
        "a-huge": poisoned("a-huge", soft_close_s=10**30, scheduled_start=-(10**40)),
    }


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"

    async def write() -> None:
        async with await SqliteEventStore.open(str(path)) as store:
            for stream_id, events in old_streams().items():
                await store.append(stream_id, 0, [encode_event(e) for e in events])

    asyncio.run(write())
    catalog(path)  # as migration 5 catalogs the streams of a database that version left
    return path


def test_views_of_out_of_bounds_auctions_render_for_every_role() -> None:
    for events in old_streams().values():
        state = fold(events)
        assert state is not None
        for viewer in (Viewer(BUYER.id, "buyer"), Viewer(SUPPLIER.id, "supplier")):
            doc = view(state, viewer, NOW)
            assert doc is not None
            json.dumps(doc)
        admin = view(state, Viewer("c-admin", "admin"), NOW)
        assert admin is not None and admin["closes_at"].endswith("Z")


def test_format_instant_is_total() -> None:
    assert format_instant(FAR_FUTURE) == "9999-12-31T23:59:59.999999Z"
    assert format_instant(FAR_PAST) == "0001-01-01T00:00:00.000000Z"
    assert format_instant(10**40) == "9999-12-31T23:59:59.999999Z"
    assert format_instant(-(10**40)) == "0001-01-01T00:00:00.000000Z"
    assert format_instant(NOW + 250_000) == "2026-11-27T10:00:00.250000Z"


def test_auctions_lists_every_out_of_bounds_auction(
    old_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["auctions", "--db", str(old_db), "--json"]) == 0
    out, err = capsys.readouterr()
    rows = {row["auction_id"]: row for row in json.loads(out)}
    assert set(rows) == set(old_streams()) and err == ""
    assert rows["a-future"]["scheduled_start"] == "9999-12-31T23:59:59.999999Z"
    assert rows["a-long"]["closes_at"] == "9999-12-31T23:59:59.999999Z"
    assert main(["auctions", "--db", str(old_db)]) == 0
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == 1 + len(old_streams())


def test_events_and_replay_show_out_of_bounds_auctions(
    old_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for stream_id in old_streams():
        for extra in ([], ["--json"]):
            assert main(["events", stream_id, "--db", str(old_db), *extra]) == 0, stream_id
            out, err = capsys.readouterr()
            assert len(out.splitlines()) == 3 and err == ""
            assert main(["replay", stream_id, "--db", str(old_db), *extra]) == 0, stream_id
            out, err = capsys.readouterr()
            assert "Traceback" not in out + err and err == ""
            for company in (BUYER.id, SUPPLIER.id):
                argv = ["replay", stream_id, "--db", str(old_db), "--as", company, *extra]
                assert main(argv) == 0
                out, err = capsys.readouterr()
                assert err == "" and "Traceback" not in out


def test_a_view_that_cannot_be_rendered_is_reported_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A selection naming a bid the stream never had (a bug of some older version) folds, but
    no view of it can be made: `replay --as` says so in one line and exits 1; the list, the log
    and the operator's state still show."""
    path = tmp_path / "broken.db"
    created, started, _ = poisoned("a-broken")
    selected = WinningSolutionSelected(
        at=NOW + 1, by=By("u-buyer", BUYER.id), bid_ids=("a-broken:99",), total_price=1
    )
    closed = AuctionClosed(at=NOW + 1, by=By("u-buyer", BUYER.id))

    async def write() -> None:
        async with await SqliteEventStore.open(str(path)) as store:
            events = [created, started, selected, closed]
            await store.append("a-broken", 0, [encode_event(e) for e in events])

    asyncio.run(write())
    db = str(path)
    assert main(["replay", "a-broken", "--db", db, "--as", BUYER.id]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "cannot be shown: KeyError" in err
    for argv in (["auctions"], ["events", "a-broken"], ["replay", "a-broken"]):
        assert main([*argv, "--db", db]) == 0, argv
        out, err = capsys.readouterr()
        assert err == "" and "Traceback" not in out
