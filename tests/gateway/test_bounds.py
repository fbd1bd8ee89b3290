"""PROTOCOL.md 1.1, "Bounds", over the wire: times, durations, amounts, months, free text and
list sizes out of bounds are refused ``invalid`` with a message naming the field, and nothing one
user stores can make another's view or list fail (issue 9, items 1 and 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.store.base import CatalogEntry
from auctionactors.store.codec import catalog_entry, encode_event
from auctionactors.store.sqlite import SqliteEventStore
from tests.cli.test_stored_out_of_bounds import old_streams

from .conftest import T0, Conn, Opener, Served, bid, open_auction, serving, spot

LATER = format_instant(T0 + 3600 * SECOND)


@pytest.fixture
async def buyer(served: Served, open_conn: Opener) -> Conn:
    return await open_conn(served.people.buyer)


@pytest.fixture
async def admin(served: Served, open_conn: Opener) -> Conn:
    return await open_conn(served.people.admin)


def with_products(auction: dict[str, Any], products: list[dict[str, Any]]) -> dict[str, Any]:
    return {**auction, "products": products}


def product(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "vessel": {"name": "MV Ship", "imo": "9300001"},
        "fuel": "VLSFO 0.5%",
        "quantity_mt": 1500,
        "eta": format_instant(T0 + 86_400 * SECOND),
    }
    doc.update(fields)
    return doc


async def refused(conn: Conn, type_: str, field: str, **fields: Any) -> str:
    """The request is refused ``invalid`` with a message that names ``field``."""
    code, message = await conn.error(type_, **fields)
    assert code == "invalid" and field in message, (fields, code, message)
    return message


async def test_the_values_of_the_issue_are_refused_and_every_view_still_renders(
    served: Served, buyer: Conn, admin: Conn
) -> None:
    """Acknowledged before the fix, after which get_view and list_auctions answered
    ``internal`` to every admin."""
    p = served.people
    fine = await open_auction(admin, p)
    far = "9999-12-31T23:59:59-23:59"
    await refused(buyer, "create_auction", "scheduled_start", auction=spot(p, scheduled_start=far))
    early = [product(eta="0001-01-01T00:00:00+23:59")]
    await refused(buyer, "create_auction", "eta", auction=with_products(spot(p), early))
    await refused(buyer, "create_auction", "duration_s", auction=spot(p, duration_s=10**12))
    listed = await admin.ok("list_auctions")
    assert [a["auction_id"] for a in listed["auctions"]] == [fine]
    await admin.ok("get_view", auction_id=fine)


async def test_times_must_lie_from_2000_to_before_2100(served: Served, buyer: Conn) -> None:
    p = served.people
    for start in ("2100-01-01T00:00:00Z", "2099-12-31T23:30:00-01:00", "2200-06-01T00:00:00Z"):
        await refused(
            buyer, "create_auction", "scheduled_start", auction=spot(p, scheduled_start=start)
        )
    for eta in ("1999-12-31T23:59:59.999999Z", "2000-01-01T00:30:00+01:00"):
        await refused(
            buyer, "create_auction", "eta", auction=with_products(spot(p), [product(eta=eta)])
        )
    etd = product(etd="2100-01-01T00:00:00Z")
    await refused(buyer, "create_auction", "etd", auction=with_products(spot(p), [etd]))
    edges = [product(eta="2000-01-01T00:00:00Z", etd="2099-12-31T23:59:59.999999Z")]
    created = await buyer.ok("create_auction", auction=with_products(spot(p, start=None), edges))
    view = (await buyer.ok("get_view", auction_id=created["auction_id"]))["view"]
    assert view["products"][0]["eta"] == "2000-01-01T00:00:00.000000Z"
    assert view["products"][0]["etd"] == "2099-12-31T23:59:59.999999Z"
    draft = created["auction_id"]
    changes = {"scheduled_start": "2100-01-01T00:00:00Z"}
    await refused(buyer, "update_auction", "scheduled_start", auction_id=draft, changes=changes)
    changes = {"products": [product(eta="1970-01-01T00:00:00Z")]}
    await refused(buyer, "update_auction", "eta", auction_id=draft, changes=changes)


async def test_times_are_strict_rfc_3339(served: Served, buyer: Conn) -> None:
    p = served.people
    for text in (
        "2026-W48-6T10:00:00Z",  # an ISO week date
        "2026-11-28 10:00:00Z",  # a space for T
        "2026-11-28T10:00:00",  # no offset
        "2026-11-28T10:00:00.1234567Z",  # more than 6 fraction digits
        "2026-11-28T10:00Z",  # no seconds
        "2026-11-28T10:00:00+0100",  # an offset without its colon
        "20261128T100000Z",  # the basic format
        "2026-11-28T10:00:00Z ",
        "\u0662\u0660\u0662\u0666-11-28T10:00:00Z",  # Arabic-Indic digits
    ):
        await refused(
            buyer,
            "create_auction",
            "auction.scheduled_start",
            auction=spot(p, scheduled_start=text),
        )
    lower = spot(p, scheduled_start="2026-11-28t10:00:00.5z")
    created = await buyer.ok("create_auction", auction=lower)
    view = (await buyer.ok("get_view", auction_id=created["auction_id"]))["view"]
    assert view["scheduled_start"] == "2026-11-28T10:00:00.500000Z"


async def test_durations_take_decimals_to_the_millisecond_and_keep_what_was_sent(
    served: Served, buyer: Conn, admin: Conn
) -> None:
    p = served.people
    auction = spot(p, start=None, duration_s=90.125, decision_duration_s=1.5, soft_close_s=0)
    created = await buyer.ok("create_auction", auction=auction)
    view = (await buyer.ok("get_view", auction_id=created["auction_id"]))["view"]
    assert (view["duration_s"], view["decision_duration_s"], view["soft_close_s"]) == (
        90.125,
        1.5,
        0,
    )
    events = (await admin.ok("get_events", auction_id=created["auction_id"]))["events"]
    assert events[0]["data"]["terms"]["duration_s"] == 90.125
    # A protocol 1 client's integers come back as integers.
    plain = await buyer.ok("create_auction", auction=spot(p, start=None))
    view = (await buyer.ok("get_view", auction_id=plain["auction_id"]))["view"]
    assert (view["duration_s"], view["decision_duration_s"], view["soft_close_s"]) == (
        600,
        900,
        180,
    )
    assert all(type(view[k]) is int for k in ("duration_s", "decision_duration_s", "soft_close_s"))
    # A decimal duration is exact: opened at T0 for 1.1 s, it closes at T0 + 1100 ms.
    opened = await open_auction(admin, p, duration_s=1.1)
    view = (await admin.ok("get_view", auction_id=opened))["view"]
    assert view["closes_at"] == "2026-11-27T10:00:01.100000Z"


async def test_durations_out_of_bounds_are_refused(served: Served, buyer: Conn) -> None:
    p = served.people
    for field, value in (
        ("duration_s", 0),
        ("duration_s", 0.5 - 0.4995),  # 0.0005: finer than a millisecond
        ("duration_s", 0.0005),
        ("duration_s", 30 * 86_400 + 1),
        ("duration_s", 10**12),
        ("duration_s", -600),
        ("decision_duration_s", 0.999),
        ("decision_duration_s", 30 * 86_400 + 0.001),
        ("soft_close_s", -1),
        ("soft_close_s", 86_400.001),
        ("soft_close_s", 1e300),
    ):
        message = await refused(
            buyer, "create_auction", field, auction=spot(p, start=None, **{field: value})
        )
        assert "between" in message or "decimals" in message
    draft = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    for field, value in (("duration_s", 0.0001), ("soft_close_s", 86_401)):
        await refused(buyer, "update_auction", field, auction_id=draft, changes={field: value})
    for value in (True, "600", None):
        code, message = await buyer.error(
            "create_auction", auction=spot(p, start=None, duration_s=value)
        )
        assert code == "bad_request" and "$.auction.duration_s" in message


async def test_amounts_are_ascii_decimals(served: Served, buyer: Conn, admin: Conn) -> None:
    p = served.people
    aid = await open_auction(admin, p)
    s1 = await Conn.open(served.url, p.s1.token)
    try:
        for amount in (
            "\u0665\u0660\u0660",
            "\uff15\uff10\uff10",
            "1_000",
            "+500",
            " 500 ",
            "5.",
            ".5",
            "1e3",
            "5.000",
            "",
        ):
            await refused(
                s1, "place_bids", "bids[0].amount", auction_id=aid, bids=[bid(amount=amount)]
            )
            await refused(
                buyer, "create_auction", "auction.tick", auction=spot(p, start=None, tick=amount)
            )
        floor = bid(amount="3.00", min_amount="1e2")
        await refused(s1, "place_bids", "bids[0].min_amount", auction_id=aid, bids=[floor])
        await s1.ok("place_bids", auction_id=aid, bids=[bid(amount="500")])
        await s1.ok("place_bids", auction_id=aid, bids=[bid(amount=499.75)])
        await s1.ok("place_bids", auction_id=aid, bids=[bid(amount=499)])
        await s1.ok("place_bids", auction_id=aid, bids=[bid(amount=1e2)])
        view = (await s1.ok("get_view", auction_id=aid))["view"]
        assert view["products"][0]["bids"][0]["amount"] == "100.00"
    finally:
        await s1.close()


def term(p: Any, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "forward_fixed",
        "port": "Singapore",
        "suppliers": [p.s1.company_id],
        "scheduled_start": LATER,
        "fuel": "VLSFO 0.5%",
        "quantity_mt_per_month": 1000,
        "start_month": "2027-01",
        "end_month": "2027-03",
    }
    doc.update(fields)
    return doc


async def test_months_are_ascii_within_the_bounds(served: Served, buyer: Conn) -> None:
    p = served.people
    for field, month in (
        ("start_month", "0000-01"),
        ("start_month", "1999-12"),
        ("end_month", "2100-01"),
        ("end_month", "2027-13"),
        ("start_month", "2027-1"),
        ("start_month", "\u0662\u0660\u0662\u0667-01"),
        ("end_month", "2027-03-01"),
        ("end_month", " 2027-03"),
    ):
        await refused(buyer, "create_auction", field, auction=term(p, **{field: month}))
    edges = term(p, start_month="2000-01", end_month="2099-12", quantity_mt_per_month=1)
    created = await buyer.ok("create_auction", auction=edges)
    view = (await buyer.ok("get_view", auction_id=created["auction_id"]))["view"]
    assert view["products"][0]["quantity_mt"] == 1200


BLANKS = ("", "   ", "\u200b", "\u00a0\u2028", "\ufeff\u200d\t", "\u2060\u3000")


async def test_free_text_is_not_blank_and_at_most_2000_characters(
    served: Served, buyer: Conn, admin: Conn
) -> None:
    p = served.people
    long = "x" * 2001
    for text in (*BLANKS, long):
        await refused(buyer, "create_auction", "port", auction=spot(p, port=text))
        for field in ("po", "buyer_reference", "additional_information", "port_agent"):
            await refused(buyer, "create_auction", field, auction=spot(p, **{field: text}))
        vessel = product(vessel={"name": text, "imo": "9300001"})
        await refused(
            buyer, "create_auction", "vessel name", auction=with_products(spot(p), [vessel])
        )
        vessel = product(vessel={"name": "MV A", "imo": text})
        await refused(buyer, "create_auction", "IMO", auction=with_products(spot(p), [vessel]))
        await refused(
            buyer, "create_auction", "fuel", auction=with_products(spot(p), [product(fuel=text)])
        )
        await refused(
            buyer,
            "create_auction",
            "fuel_index",
            auction=term(p, kind="formula_related", fuel_index=text),
        )
    # Exactly 2,000 characters, and optional fields left out (null), are fine.
    fine = spot(p, port="P" * 2000, po=None, port_agent=None)
    await buyer.ok("create_auction", auction=fine)
    aid = await open_auction(admin, p)
    s1 = await Conn.open(served.url, p.s1.token)
    try:
        for text in (*BLANKS, "y" * 60_000):
            comment = bid(comment=text)
            await refused(s1, "place_bids", "comment", auction_id=aid, bids=[comment])
            await refused(s1, "post_comment", "text", auction_id=aid, text=text)
            barge = {"name": text, "imo": "9100001"}
            await refused(s1, "submit_barge", "barge name", auction_id=aid, barge=barge)
            barge = {"name": "Barge", "imo": text}
            await refused(s1, "submit_barge", "barge imo", auction_id=aid, barge=barge)
        stored = (await admin.ok("get_events", auction_id=aid))["events"]
        assert [e["type"] for e in stored] == ["auction_created", "auction_started"]
    finally:
        await s1.close()


async def test_lists_are_bounded(served: Served, buyer: Conn) -> None:
    p = served.people
    many = [product(vessel={"name": f"MV {i}", "imo": f"93{i:05d}"}) for i in range(21)]
    message = await refused(
        buyer, "create_auction", "products", auction=with_products(spot(p), many)
    )
    assert "at most 20" in message
    await buyer.ok("create_auction", auction=with_products(spot(p), many[:20]))


async def catalog_as_migration_5(path: Path, streams: dict[str, list[Any]]) -> set[str]:
    """Store ``streams`` with their catalog rows made by folding, as migration 5 does for a
    database an older version wrote, leaving out a stream whose row cannot be encoded; the ids
    cataloged."""
    cataloged = set()
    async with await SqliteEventStore.open(str(path)) as store:
        for stream_id, events in streams.items():
            state: AuctionState | None = None
            for event in events:
                state = evolve(state, event)
            assert state is not None
            try:
                row: CatalogEntry | None = catalog_entry(state)
                cataloged.add(stream_id)
            except OverflowError:
                row = None
            await store.append(stream_id, 0, [encode_event(e) for e in events], catalog=row)
    return cataloged


async def test_auctions_stored_out_of_bounds_by_an_older_version_still_list_and_render(
    tmp_path: Path,
) -> None:
    """Before the fix `get_view` and `list_auctions` answered ``internal`` to every admin, and
    `subscribe_all` sent an error after its ``ok``."""
    path = tmp_path / "old.db"
    streams = old_streams()
    cataloged = await catalog_as_migration_5(path, streams)
    assert cataloged == set(streams)
    async with serving(path) as served:
        admin = await Conn.open(served.url, served.people.admin.token)
        try:
            listed = (await admin.ok("list_auctions"))["auctions"]
            assert sorted(a["auction_id"] for a in listed) == sorted(cataloged)
            for stream_id in streams:
                view = (await admin.ok("get_view", auction_id=stream_id))["view"]
                assert view["seq"] == 3
            reply = await admin.ok("subscribe_all")
            assert sorted(reply["auctions"]) == sorted(cataloged)
            updates = [await admin.next_update() for _ in cataloged]
            assert sorted(u["auction_id"] for u in updates) == sorted(cataloged)
            assert admin.others == []  # no error frame after the ok
        finally:
            await admin.close()


def test_an_auction_stored_with_instants_beyond_64_bits_has_a_catalog_row() -> None:
    state: AuctionState | None = None
    for event in old_streams()["a-huge"]:
        state = evolve(state, event)
    assert state is not None
    row = catalog_entry(state)  # clamped to 64 bits (it raised OverflowError before)
    assert row.stream_id == "a-huge" and row.created_at == state.created_at


async def test_quantities_are_bounded(served: Served, buyer: Conn) -> None:
    """A quantity of 4,290 digits was stored; a bid on it made a total price Python will not
    print, and no view of the auction could be rendered."""
    p = served.people
    for quantity in (10**4290, 10_000_001, 0):
        auction = with_products(spot(p), [product(quantity_mt=quantity)])
        await refused(buyer, "create_auction", "quantity_mt", auction=auction)
        await refused(
            buyer,
            "create_auction",
            "quantity_mt_per_month",
            auction=term(p, quantity_mt_per_month=quantity),
        )
    most = with_products(spot(p, start=None), [product(quantity_mt=10_000_000)])
    await buyer.ok("create_auction", auction=most)
