"""PROTOCOL.md 1.1, "Anonymity is unguessable", over the wire (issue 9, item 2): the aliases are
drawn at random by the server, the buyer names suppliers by alias, a request naming a supplier
answers the same for every non-matching one, and ``by`` is null on suppliers' events."""

from __future__ import annotations

import hashlib
import hmac

from auctionactors.domain.timestamps import SECOND, format_instant

from .conftest import T0, Conn, Opener, Served, bid, open_auction, spot

BARGE = {"name": "Fuel Carrier 1", "imo": "9100001"}


def numbered(order: list[str]) -> dict[str, str]:
    return {s: f"Supplier {n}" for n, s in enumerate(order, start=1)}


def guesses(auction_id: str, suppliers: tuple[str, ...]) -> list[dict[str, str]]:
    """What a buyer could compute from what it knows: the sha256 order of the old code, and the
    keyed order under an empty (or forgotten) salt."""
    old = sorted(suppliers, key=lambda s: hashlib.sha256(f"{auction_id}\x00{s}".encode()).digest())
    unsalted = sorted(suppliers, key=lambda s: hmac.new(b"", s.encode(), hashlib.sha256).digest())
    return [numbered(old), numbered(unsalted)]


async def six_suppliers(served: Served) -> tuple[str, ...]:
    p = served.people
    extra = [await served.directory.add_user(f"Extra {i}", "supplier", f"U {i}") for i in range(3)]
    return (p.s1.company_id, p.s2.company_id, p.s3.company_id, *(u.company_id for u in extra))


async def test_the_buyer_cannot_recompute_the_aliases(served: Served, open_conn: Opener) -> None:
    """Before the fix the buyer recomputed the mapping (sorted sha256 of auction id and supplier
    id) in 5 auctions of 5 with 6 suppliers; with a random salt each guess holds once in 720."""
    p = served.people
    suppliers = await six_suppliers(served)
    admin = await open_conn(p.admin)
    guessed = [0, 0]
    for _ in range(5):
        aid = await open_auction(admin, p, suppliers=suppliers, anonymous_bidding=True)
        aliases = (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]
        for i, guess in enumerate(guesses(aid, suppliers)):
            guessed[i] += aliases == guess
        created = (await admin.ok("get_events", auction_id=aid))["events"][0]
        assert created["data"]["aliases"] == aliases and "alias_salt" not in created["data"]
    assert max(guessed) < 5


async def test_suppliers_added_by_an_edit_get_random_aliases(
    served: Served, open_conn: Opener
) -> None:
    p = served.people
    suppliers = await six_suppliers(served)
    buyer, admin = await open_conn(p.buyer), await open_conn(p.admin)
    guessed = [0, 0]
    for _ in range(5):
        draft = spot(p, start=None, suppliers=(), anonymous_bidding=True)
        aid = (await buyer.ok("create_auction", auction=draft))["auction_id"]
        await buyer.ok("update_auction", auction_id=aid, changes={"suppliers": list(suppliers)})
        aliases = (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]
        for i, guess in enumerate(guesses(aid, suppliers)):
            guessed[i] += aliases == guess
    assert max(guessed) < 5


async def anonymous_auction(served: Served, open_conn: Opener) -> tuple[str, Conn, Conn, Conn]:
    p = served.people
    admin = await open_conn(p.admin)
    aid = await open_auction(admin, p, anonymous_bidding=True)
    return aid, admin, await open_conn(p.buyer), await open_conn(p.s1)


async def test_the_buyer_approves_a_barge_by_the_alias_it_sees(
    served: Served, open_conn: Opener
) -> None:
    aid, admin, buyer, s1 = await anonymous_auction(served, open_conn)
    await s1.ok("submit_barge", auction_id=aid, barge=BARGE)
    (barge,) = (await buyer.ok("get_view", auction_id=aid))["view"]["barges"]
    alias = barge["supplier"]["id"]
    assert alias.startswith("Supplier ")
    await buyer.ok("approve_barge", auction_id=aid, imo=BARGE["imo"], supplier_id=alias)
    await buyer.ok("reject_barge", auction_id=aid, imo=BARGE["imo"], supplier_id=alias)
    (barge,) = (await buyer.ok("get_view", auction_id=aid))["view"]["barges"]
    assert barge["status"] == "rejected"
    await admin.ok("approve_barge", auction_id=aid, imo=BARGE["imo"], supplier_id=alias)
    s1_id = served.people.s1.company_id
    await admin.ok("reject_barge", auction_id=aid, imo=BARGE["imo"], supplier_id=s1_id)


async def test_real_ids_from_the_buyer_answer_as_any_non_matching_supplier(
    served: Served, open_conn: Opener
) -> None:
    """Before the fix the real id of the supplier with the barge was accepted, telling the
    buyer whose barge (and so whose alias) it was."""
    aid, _, buyer, s1 = await anonymous_auction(served, open_conn)
    await s1.ok("submit_barge", auction_id=aid, barge=BARGE)
    p = served.people
    for kind in ("approve_barge", "reject_barge"):
        for name in (p.s1.company_id, p.s2.company_id, "c-nobody", "Supplier 99"):
            answer = await buyer.error(kind, auction_id=aid, imo=BARGE["imo"], supplier_id=name)
            assert answer == ("not_found", f"no barge {BARGE['imo']} submitted by {name}")


async def test_by_is_null_on_suppliers_events_for_the_buyer_and_observers(
    served: Served, open_conn: Opener
) -> None:
    aid, admin, buyer, s1 = await anonymous_auction(served, open_conn)
    p = served.people
    await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
    observer = await open_conn(p.observer)
    await s1.ok("place_bids", auction_id=aid, bids=[bid()])
    await s1.ok("post_comment", auction_id=aid, text="By barge")
    await s1.ok("rsvp", auction_id=aid, response="yes")
    await s1.ok("submit_barge", auction_id=aid, barge=BARGE)
    for conn in (buyer, observer):
        await conn.ok("subscribe", auction_id=aid, since=0)
        events = (await conn.next_update())["events"]
        acted = [e for e in events if e["seq"] > 3 and e["type"] != "redacted"]
        assert acted and all(e["by"] is None for e in acted), acted


async def test_anonymous_bidding_is_fixed_once_pending(served: Served, open_conn: Opener) -> None:
    p = served.people
    buyer = await open_conn(p.buyer)
    later = spot(p, start=T0 + 3_600_000_000)
    pending = (await buyer.ok("create_auction", auction=later))["auction_id"]
    code, message = await buyer.error(
        "update_auction", auction_id=pending, changes={"anonymous_bidding": True}
    )
    assert (code, message) == (
        "invalid",
        "anonymous_bidding cannot change once the auction is pending",
    )
    draft = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    await buyer.ok("update_auction", auction_id=draft, changes={"anonymous_bidding": True})


def _keys(doc: object) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for item in doc.values() for k in _keys(item)}
    if isinstance(doc, list):
        return {k for item in doc for k in _keys(item)}
    return set()


async def test_the_buyer_never_gets_the_alias_map(served: Served, open_conn: Opener) -> None:
    """Before the fix the buyer of a named auction got {supplier: alias} in auction_created
    and auction_updated, and the map held when it turned anonymous bidding on in draft."""
    p = served.people
    suppliers = await six_suppliers(served)
    buyer, admin = await open_conn(p.buyer), await open_conn(p.admin)
    start = format_instant(T0 + 3_600 * SECOND)
    for first in ({"anonymous_bidding": False}, {"anonymous_bidding": True}):
        draft = spot(p, start=None, suppliers=suppliers, **first)
        aid = (await buyer.ok("create_auction", auction=draft))["auction_id"]
        await buyer.ok("subscribe", auction_id=aid)
        before = (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]
        changes = {"suppliers": list(suppliers[:5]), "scheduled_start": start}
        await buyer.ok("update_auction", auction_id=aid, changes=changes)
        await admin.ok("start_auction", auction_id=aid)  # the buyer's audit log opens
        events = (await buyer.ok("get_events", auction_id=aid))["events"]
        assert [e["type"] for e in events][:2] == ["auction_created", "auction_updated"]
        view = await buyer.ok("get_view", auction_id=aid)
        assert "aliases" not in _keys(events) | _keys(view) | _keys(buyer.updates)
        admin_events = (await admin.ok("get_events", auction_id=aid))["events"]
        assert admin_events[1]["data"]["aliases_replace"] is True
        after = (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]
        assert set(after) == set(suppliers[:5]) and set(before) == set(suppliers)
    # Turning anonymity on in draft draws the map again.
    draft = spot(p, start=None, suppliers=suppliers, anonymous_bidding=False)
    maps = []
    for _ in range(3):
        aid = (await buyer.ok("create_auction", auction=draft))["auction_id"]
        before = (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]
        changes = {"anonymous_bidding": True}
        await buyer.ok("update_auction", auction_id=aid, changes=changes)
        maps.append((before, (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]))
    assert any(before != after for before, after in maps)  # all kept: 1 in 720**3


async def test_a_supplier_added_to_a_pending_auction_is_not_the_last_alias(
    served: Served, open_conn: Opener
) -> None:
    """Before the fix s4, added to a pending anonymous auction of s1..s3, was "Supplier 4"
    every time: adding suppliers one at a time gave the buyer the whole map."""
    p = served.people
    suppliers = await six_suppliers(served)
    buyer, admin = await open_conn(p.buyer), await open_conn(p.admin)
    seen = set()
    for _ in range(10):  # each time "Supplier 4" at random with chance 1/4
        pending = spot(p, start=T0 + 3_600 * SECOND, suppliers=suppliers[:3])
        pending["anonymous_bidding"] = True
        aid = (await buyer.ok("create_auction", auction=pending))["auction_id"]
        changes = {"suppliers": list(suppliers[:4])}
        await buyer.ok("update_auction", auction_id=aid, changes=changes)
        aliases = (await admin.ok("get_view", auction_id=aid))["view"]["aliases"]
        assert sorted(aliases.values()) == [f"Supplier {n}" for n in range(1, 5)]
        seen.add(aliases[suppliers[3]])
    assert len(seen) > 1


async def test_past_supplier_lists_do_not_name_the_supplier_an_edit_added(
    served: Served, open_conn: Opener
) -> None:
    """Before the fix the buyer's and observer's auction_created listed s1 and s2 by today's
    aliases, so the alias missing from it and present in the edit adding s3 was s3's. Now each
    event lists "Supplier 1".."N" of its own; the admin still gets the real lists and map."""
    p = served.people
    buyer, admin = await open_conn(p.buyer), await open_conn(p.admin)
    observer = await open_conn(p.observer)
    s1, s2, s3 = p.s1.company_id, p.s2.company_id, p.s3.company_id
    for _ in range(5):
        later = spot(p, start=T0 + 3_600_000_000, suppliers=(s1, s2), anonymous_bidding=True)
        aid = (await buyer.ok("create_auction", auction=later))["auction_id"]
        await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
        await buyer.ok("update_auction", auction_id=aid, changes={"suppliers": [s1, s2, s3]})
        for conn in (buyer, observer):
            await conn.ok("subscribe", auction_id=aid, since=0)
            events = (await conn.next_update())["events"]
            await conn.ok("unsubscribe", auction_id=aid)
            lists = [
                [s["id"] for s in (e["data"].get("terms") or e["data"]["changes"])["suppliers"]]
                for e in events
                if e["type"] in ("auction_created", "auction_updated")
            ]
            assert lists == [["Supplier 1", "Supplier 2"], [f"Supplier {n}" for n in (1, 2, 3)]]
        await admin.ok("subscribe", auction_id=aid, since=0)
        events = (await admin.next_update())["events"]
        await admin.ok("unsubscribe", auction_id=aid)
        assert [s["id"] for s in events[-1]["data"]["changes"]["suppliers"]] == [s1, s2, s3]
        assert set(events[-1]["data"]["aliases"]) == {s1, s2, s3}
