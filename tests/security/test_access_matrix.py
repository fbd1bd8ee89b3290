"""Who may do what: every request type of PROTOCOL.md against every role, on a real server.

Rows are the request types, columns the roles around one auction (its buyer, an invited supplier,
a supplier not invited, another buyer, an invited observer, an observer not invited, an admin),
cells the expected outcome, derived from PROTOCOL.md ("Requests", error codes) and DOMAIN.md
("People and visibility"):

- a company that may not see an auction learns nothing of it: ``not_found``, exactly as for an
  auction that does not exist;
- one that sees it (or whose role may never do this anywhere) but lacks the role: ``forbidden``;
  a role check that holds on every auction (a supplier never cancels) is answered ``forbidden``
  before the auction is looked at, which reveals nothing either;
- a connection that has not said hello: ``unauthenticated``; a bad token: closed with 4401.

Each cell runs on a fresh auction staged for it (so that a successful command does not change
what the next role finds), one server per request type (the clock is moved for those that need
the decision phase). More tables: the status checks (``wrong_status``, ``too_late``) and admins
acting as other users (``as_user``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.domain.timestamps import SECOND
from auctionactors.store.base import NewUser
from tests.gateway.conftest import FAST, T0, Conn, People, Served, serving, spot

CONFIG = msgspec.structs.replace(FAST, rate_per_s=10_000.0, burst=10_000.0)
ROLES = ("buyer", "supplier", "outsider", "other_buyer", "observer", "stranger", "admin")
OK, F, NF, WS, TL, INV = "ok", "forbidden", "not_found", "wrong_status", "too_late", "invalid"

# The stages an auction is put in before a cell runs.
DRAFT, PENDING, OPEN, DECISION, CANCELED = "draft", "pending", "open", "decision", "canceled"


@dataclass
class Staged:
    auction_id: str
    bid_id: str = ""
    comment_id: str = ""


Fields = Callable[[Staged, People, NewUser], dict[str, Any]]


def _auction(s: Staged, p: People, stranger: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id}


def _f(**extra: Any) -> Fields:
    """The auction's id plus fixed fields."""
    return lambda s, p, o: {"auction_id": s.auction_id, **extra}


@dataclass
class Row:
    stage: str
    fields: Fields
    expected: tuple[str, ...]  # in the order of ROLES
    listing: bool = False  # the reply lists auctions: visible exactly to those who may see it


def _create(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"buyer": p.buyer.company_id, "auction": spot(p, start=T0 + 3600 * SECOND)}


def _update(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id, "changes": {"port": "Antwerp"}}


def _select(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id, "bid_ids": [s.bid_id]}


def _barge(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id, "imo": "9100001", "supplier_id": p.s1.company_id}


def _delete_comment(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id, "comment_id": s.comment_id}


def _invite(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id, "company_id": o.company_id}


def _uninvite(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {"auction_id": s.auction_id, "company_id": p.observer.company_id}


def _none(s: Staged, p: People, o: NewUser) -> dict[str, Any]:
    return {}


# The table: the stage the auction is in, then the outcome for each role (ok, F: forbidden,
# NF: not_found, INV: invalid). Requests whose reply lists auctions must list the staged one
# exactly to those who may see it (`VISIBLE`).
TABLE = """
request            stage     buyer supplier outsider other_buyer observer stranger admin
subscribe          open      ok    ok       NF       NF          ok       NF       ok
unsubscribe        open      ok    ok       ok       ok          ok       ok       ok
subscribe_all      open      ok    ok       ok       ok          ok       ok       ok
list_auctions      open      ok    ok       ok       ok          ok       ok       ok
get_view           open      ok    ok       NF       NF          ok       NF       ok
get_events         open      ok    ok       NF       NF          ok       NF       ok
list_companies     open      ok    F        F        ok          F        F        ok
create_auction     open      ok    F        F        F           F        F        ok
update_auction     pending   ok    F        F        NF          F        F        ok
start_auction      pending   F     F        F        F           F        F        ok
cancel_auction     open      ok    F        F        NF          F        F        ok
place_bids         open      F     ok       NF       F           F        F        F
revoke_bid         open      F     ok       NF       F           F        F        F
select_solution    decision  ok    F        F        NF          F        F        ok
submit_barge       open      F     ok       NF       F           F        F        F
unsubmit_barge     open      F     ok       NF       F           F        F        F
approve_barge      open      ok    F        F        NF          F        F        ok
reject_barge       open      ok    F        F        NF          F        F        ok
post_comment       open      F     ok       NF       F           F        F        F
delete_comment     open      F     ok       NF       F           F        F        F
rsvp               open      F     ok       NF       F           F        F        F
invite_observer    open      F     F        F        F           F        F        ok
uninvite_observer  open      F     F        F        F           F        F        ok
operator_status    open      F     F        F        F           F        F        ok
operator_revive    open      F     F        F        F           F        F        INV
"""
# (operator_status and operator_revive are the operators' additions to PROTOCOL.md v1; reviving
# an auction that is not quarantined is `invalid`.)
FIELDS: dict[str, Fields] = {
    "subscribe": _f(since=0),
    "unsubscribe": _auction,
    "subscribe_all": _none,
    "list_auctions": _none,
    "get_view": _auction,
    "get_events": _f(since=0),
    "list_companies": _none,
    "create_auction": _create,
    "update_auction": _update,
    "start_auction": _auction,
    "cancel_auction": _auction,
    "place_bids": _f(bids=[{"product_id": "p1", "amount": "1.75"}]),
    "revoke_bid": _f(product_id="p1"),
    "select_solution": _select,
    "submit_barge": _f(barge={"name": "B2", "imo": "9100002"}),
    "unsubmit_barge": _f(imo="9100001"),
    "approve_barge": _barge,
    "reject_barge": _barge,
    "post_comment": _f(text="hello"),
    "delete_comment": _delete_comment,
    "rsvp": _f(response="yes"),
    "invite_observer": _invite,
    "uninvite_observer": _uninvite,
    "operator_status": _none,
    "operator_revive": _auction,
}
LISTING = {"subscribe_all", "list_auctions"}
CODES = {"ok": OK, "F": F, "NF": NF, "INV": INV}


def _table() -> dict[str, Row]:
    lines = [line.split() for line in TABLE.strip().splitlines()]
    assert tuple(lines[0][2:]) == ROLES
    return {
        type_: Row(stage, FIELDS[type_], tuple(CODES[c] for c in codes), type_ in LISTING)
        for type_, stage, *codes in lines[1:]
    }


MATRIX = _table()
VISIBLE = {"buyer", "supplier", "observer", "admin"}  # who may see the staged (open) auction


def test_the_matrix_covers_every_request_type() -> None:
    from auctionactors.gateway.messages import REQUEST_TYPES

    assert set(MATRIX) == REQUEST_TYPES


@dataclass
class World:
    served: Served
    conns: dict[str, Conn]
    stranger: NewUser

    @property
    def people(self) -> People:
        return self.served.people


async def _world(served: Served) -> World:
    stranger = await served.directory.add_user("Harbour Eyes", "observer", "Hal Stranger")
    p = served.people
    users = {
        "buyer": p.buyer,
        "supplier": p.s1,
        "s2": p.s2,
        "outsider": p.s3,
        "other_buyer": p.other_buyer,
        "observer": p.observer,
        "stranger": stranger,
        "admin": p.admin,
    }
    conns = {role: await Conn.open(served.url, user.token) for role, user in users.items()}
    return World(served, conns, stranger)


async def stage(world: World, stage: str) -> Staged:
    """A fresh auction of the buyer's, created by the admin, with s1 and s2 invited and the
    observer invited; open (or pending, draft) with a bid, a barge and a comment of s1's."""
    admin, s1 = world.conns["admin"], world.conns["supplier"]
    p = world.people
    start = {DRAFT: None, PENDING: T0 + 86_400 * SECOND}.get(stage, world.served.clock.now())
    reply = await admin.ok("create_auction", buyer=p.buyer.company_id, auction=spot(p, start=start))
    staged = Staged(str(reply["auction_id"]))
    aid = staged.auction_id
    if stage == DRAFT:
        return staged
    await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
    bid = await s1.ok("place_bids", auction_id=aid, bids=[{"product_id": "p1", "amount": "2.00"}])
    staged.bid_id = bid["bid_ids"][0]
    await s1.ok("submit_barge", auction_id=aid, barge={"name": "B1", "imo": "9100001"})
    staged.comment_id = (await s1.ok("post_comment", auction_id=aid, text="first"))["comment_id"]
    if stage == CANCELED:
        await admin.ok("cancel_auction", auction_id=aid)
    return staged


async def to_decision(world: World) -> None:
    """Every open auction of this server reaches its closes_at (600 s after its start)."""
    world.served.clock.advance(601)
    await world.served.supervisor.quiesce()


async def outcome(conn: Conn, type_: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    frame = await conn.request(type_, **fields)
    if frame["type"] == "ok":
        return OK, frame
    assert frame["type"] == "error", frame
    return str(frame["code"]), frame


async def unauthenticated(served: Served, type_: str, fields: dict[str, Any]) -> str:
    """A request before the hello; the connection stays open for the hello."""
    conn = await Conn.open(served.url)
    try:
        return (await outcome(conn, type_, fields))[0]
    finally:
        await conn.close()


async def with_bad_token(served: Served, type_: str, fields: dict[str, Any]) -> int | None:
    """A hello with a bad token, the request right behind it: closed 4401, nothing answered."""
    conn = await Conn.open(served.url)
    try:
        await conn.send({"type": "hello", "token": "not-a-token"})
        await conn.send({"type": type_, "id": 1, **fields})
        return await conn.closed_with()
    finally:
        await conn.close()


@pytest.mark.parametrize("type_", sorted(MATRIX))
async def test_access(type_: str, tmp_path: Path) -> None:
    row = MATRIX[type_]
    async with serving(tmp_path / "matrix.db", CONFIG) as served:
        world = await _world(served)
        try:
            staged = {role: await stage(world, row.stage) for role in ROLES}
            if row.stage == DECISION:
                await to_decision(world)
            got: dict[str, str] = {}
            for role in ROLES:
                fields = row.fields(staged[role], world.people, world.stranger)
                got[role], frame = await outcome(world.conns[role], type_, fields)
                if row.listing and got[role] == OK:
                    auctions = frame["auctions"]
                    listed = {a if isinstance(a, str) else a["auction_id"] for a in auctions}
                    seen = staged[role].auction_id in listed
                    got[role] += "+listed" if seen else "+hidden"
            fields = row.fields(staged["admin"], world.people, world.stranger)
            got["anonymous"] = await unauthenticated(served, type_, fields)
            close = await with_bad_token(served, type_, fields)
            got["bad_token"] = f"close {close}"
        finally:
            for conn in world.conns.values():
                await conn.close()
    expected = dict(zip(ROLES, row.expected, strict=True))
    if row.listing:
        expected = {r: c + ("+listed" if r in VISIBLE else "+hidden") for r, c in expected.items()}
    expected |= {"anonymous": "unauthenticated", "bad_token": "close 4401"}
    assert got == expected


# --- statuses -------------------------------------------------------------------------------

# (request, stage, role, fields, expected): the status checks that come after the role checks.
STATUS_CASES: list[tuple[str, str, str, Fields, str]] = [
    # 1.1: the audit log is read by every participant that may see the auction.
    ("get_events", PENDING, "buyer", _f(since=0), OK),
    ("get_events", PENDING, "admin", _f(since=0), OK),
    ("get_events", PENDING, "supplier", _f(since=0), OK),
    ("get_events", DRAFT, "buyer", _f(since=0), OK),
    ("get_events", DRAFT, "supplier", _f(since=0), NF),
    ("get_view", DRAFT, "supplier", _f(at_seq=1), NF),
    ("update_auction", OPEN, "buyer", _update, WS),
    ("update_auction", CANCELED, "admin", _update, WS),
    ("start_auction", OPEN, "admin", _auction, WS),
    ("cancel_auction", CANCELED, "buyer", _auction, WS),
    ("place_bids", DECISION, "supplier", _f(bids=[{"product_id": "p1", "amount": "1"}]), TL),
    ("place_bids", CANCELED, "supplier", _f(bids=[{"product_id": "p1", "amount": "1"}]), WS),
    ("place_bids", PENDING, "supplier", _f(bids=[{"product_id": "p1", "amount": "1"}]), OK),
    ("revoke_bid", CANCELED, "supplier", _f(product_id="p1"), WS),
    ("select_solution", OPEN, "buyer", _select, WS),  # a spot auction is decided in decision
    ("select_solution", CANCELED, "admin", _select, WS),
    ("submit_barge", CANCELED, "supplier", _f(barge={"name": "B", "imo": "1"}), WS),
    ("post_comment", CANCELED, "supplier", _f(text="late"), WS),
    ("rsvp", CANCELED, "supplier", _f(response="no"), WS),
    # Drafts are seen by the buyer and admins only.
    ("get_view", DRAFT, "buyer", _auction, OK),
    ("get_view", DRAFT, "admin", _auction, OK),
    ("get_view", DRAFT, "supplier", _auction, NF),
    ("subscribe", DRAFT, "supplier", _auction, NF),
    ("place_bids", DRAFT, "supplier", _f(bids=[{"product_id": "p1", "amount": "1"}]), NF),
    ("rsvp", DRAFT, "supplier", _f(response="yes"), NF),
    ("update_auction", DRAFT, "other_buyer", _update, NF),
    # A canceled auction stays visible to those who could see it.
    ("get_view", CANCELED, "supplier", _auction, OK),
    ("get_view", CANCELED, "observer", _auction, OK),
    ("get_view", CANCELED, "outsider", _auction, NF),
]


@pytest.mark.parametrize("stage_", [DRAFT, PENDING, OPEN, DECISION, CANCELED])
async def test_statuses(stage_: str, tmp_path: Path) -> None:
    cases = [c for c in STATUS_CASES if c[1] == stage_]
    async with serving(tmp_path / "status.db", CONFIG) as served:
        world = await _world(served)
        try:
            staged = [await stage(world, stage_) for _ in cases]
            if stage_ == DECISION:
                await to_decision(world)
            got, expected = [], []
            for (type_, _, role, fields, code), s in zip(cases, staged, strict=True):
                result, _frame = await outcome(
                    world.conns[role], type_, fields(s, world.people, world.stranger)
                )
                got.append((type_, role, result))
                expected.append((type_, role, code))
        finally:
            for conn in world.conns.values():
                await conn.close()
    assert got == expected


# --- acting as another user -----------------------------------------------------------------


async def test_as_user(tmp_path: Path) -> None:
    async with serving(tmp_path / "as_user.db", CONFIG) as served:
        world = await _world(served)
        p, c = world.people, world.conns
        bids = [{"product_id": "p1", "amount": "1.50"}]
        try:
            cases: list[tuple[str, str, dict[str, Any], str]] = [
                # an admin acts as an invited supplier: checked and recorded as that supplier
                ("admin", "place_bids", {"bids": bids, "as_user": p.s2.user_id}, OK),
                # ... and as a supplier that is not invited: as that supplier, who sees nothing
                ("admin", "place_bids", {"bids": bids, "as_user": p.s3.user_id}, NF),
                ("admin", "cancel_auction", {"as_user": p.other_buyer.user_id}, NF),
                ("admin", "place_bids", {"bids": bids, "as_user": "u-nobody"}, NF),
                # nobody else may act as someone else
                ("buyer", "place_bids", {"bids": bids, "as_user": p.s2.user_id}, F),
                ("supplier", "place_bids", {"bids": bids, "as_user": p.s2.user_id}, F),
                ("observer", "cancel_auction", {"as_user": p.buyer.user_id}, F),
                ("outsider", "place_bids", {"bids": bids, "as_user": p.s1.user_id}, F),
                # as oneself is just oneself
                ("supplier", "place_bids", {"bids": bids, "as_user": p.s1.user_id}, OK),
                ("admin", "cancel_auction", {"as_user": p.buyer.user_id}, OK),
            ]
            got, expected = [], []
            for role, type_, fields, code in cases:
                s = await stage(world, OPEN)
                result, _ = await outcome(c[role], type_, {"auction_id": s.auction_id, **fields})
                got.append((role, type_, result))
                expected.append((role, type_, code))
            assert got == expected
            # The admin's bid as s2 is recorded as s2's, with the admin kept in by.admin_id.
            s = await stage(world, OPEN)
            await c["admin"].ok(
                "place_bids", auction_id=s.auction_id, bids=bids, as_user=p.s2.user_id
            )
            events = (await c["admin"].ok("get_events", auction_id=s.auction_id))["events"]
            by = events[-1]["by"]
            assert by == {
                "user_id": p.s2.user_id,
                "company_id": p.s2.company_id,
                "admin_id": p.admin.user_id,
            }
        finally:
            for conn in c.values():
                await conn.close()


async def test_nothing_is_revealed_of_an_auction_one_may_not_see(tmp_path: Path) -> None:
    """For an outsider, an invisible auction and one that does not exist answer the same."""
    async with serving(tmp_path / "leak.db", CONFIG) as served:
        world = await _world(served)
        try:
            s = await stage(world, OPEN)
            for role in ("outsider", "other_buyer", "stranger"):
                conn = world.conns[role]
                for type_, row in MATRIX.items():
                    if type_ in ("create_auction", "operator_status", "operator_revive"):
                        continue
                    fields = row.fields(s, world.people, world.stranger)
                    real = await conn.request(type_, **fields)
                    fake = await conn.request(type_, **{**fields, "auction_id": "a-nope"})
                    for frame in (real, fake):
                        frame.pop("id")
                        if "auctions" in frame:
                            frame["auctions"] = [
                                a
                                for a in frame["auctions"]
                                if a != s.auction_id
                                and (not isinstance(a, dict) or a["auction_id"] != s.auction_id)
                            ]
                    real_msg = str(real.get("message", "")).replace(s.auction_id, "a-nope")
                    assert (real.get("code"), real_msg) == (
                        fake.get("code"),
                        str(fake.get("message", "")),
                    ), (role, type_, real, fake)
                # and no update of it arrived meanwhile
                assert all(u["auction_id"] != s.auction_id for u in conn.updates), role
        finally:
            for conn in world.conns.values():
                await conn.close()
