"""The property of protocol 2, over real sockets: for random command sequences and every role
(buyer, each supplier, observer, admin), folding the patches from the first view gives exactly
what `get_view` returns at every seq. The observer follows with ``subscribe_all`` (it is invited
and uninvited at random: each time the auction becomes visible its first update is a view), the
others with ``subscribe``. A protocol-1 buyer on the same server keeps getting whole views equal
to its own `get_view`, history included."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from auctionactors.domain.terms import Status

from .conftest import Conn, People, Served, bid, open_auction, serving


@dataclass(frozen=True)
class Step:
    kind: str
    who: str = "s1"
    product: str = "p1"
    cents: int = 0
    pick: int = 0


def steps_of(kind: str, **fields: Any) -> st.SearchStrategy[Step]:
    return st.builds(Step, kind=st.just(kind), **fields)


SUPPLIER = st.sampled_from(["s1", "s2"])
PRODUCT = st.sampled_from(["p1", "p2"])
CENTS = st.integers(1, 40).map(lambda k: k * 25)
STEPS = st.one_of(
    steps_of("bid", who=SUPPLIER, product=PRODUCT, cents=CENTS),
    steps_of("bid", who=SUPPLIER, product=PRODUCT, cents=CENTS),
    steps_of("auto", who=SUPPLIER, product=PRODUCT, cents=CENTS),
    steps_of("revoke", who=SUPPLIER, product=PRODUCT),
    steps_of("comment", who=SUPPLIER, pick=st.integers(0, 3)),
    steps_of("uncomment", who=SUPPLIER, pick=st.integers(0, 3)),
    steps_of("barge", who=SUPPLIER, pick=st.integers(0, 1)),
    steps_of("approve", who=SUPPLIER, pick=st.integers(0, 1)),
    steps_of("rsvp", who=SUPPLIER, pick=st.integers(0, 2)),
    steps_of("invite"),
    steps_of("uninvite"),
    steps_of("invite"),
    steps_of("tick", cents=st.sampled_from([30, 170, 400, 700])),
    steps_of("select", pick=st.integers(0, 1)),
)


class Follower:
    """A connection's copy of the auction's view, folded from its frames."""

    def __init__(self, conn: Conn, auction_id: str, protocol: int) -> None:
        self.conn = conn
        self.auction_id = auction_id
        self.protocol = protocol
        self.doc: dict[str, Any] | None = None
        self.seq = 0
        self.views = self.patches = 0

    def take(self, frame: dict[str, Any]) -> None:
        if frame.get("auction_id") != self.auction_id:
            return
        if frame["type"] == "unsubscribed":
            self.doc = None
            return
        assert frame["seq"] > self.seq, (frame["seq"], self.seq)
        self.seq = frame["seq"]
        if self.protocol == 1:
            self.doc = frame["view"]
        elif "view" in frame:
            self.doc = frame["view"]
            self.views += 1
        else:
            assert self.doc is not None, frame
            self.doc = jsonpatch.apply_patch(self.doc, frame["patch"])
            self.patches += 1

    async def check(self) -> None:
        reply = await self.conn.request("get_view", auction_id=self.auction_id)
        frames = self.conn.updates + self.conn.others  # (arrived before the reply, in order)
        self.conn.updates, self.conn.others = [], []
        for frame in sorted(frames, key=lambda f: f.get("seq", 0)):
            self.take(frame)
        if reply["type"] == "error":
            assert reply["code"] == "not_found", reply
            assert self.doc is None
            return
        assert self.doc is not None and self.seq == reply["seq"]
        if self.protocol == 1:
            assert {**self.doc, "server_time": None} == {**reply["view"], "server_time": None}
        else:
            assert "server_time" not in self.doc
            assert self.doc == reply["view"]


async def hello(served: Served, token: str, protocol: int) -> Conn:
    conn = await Conn.open(served.url)
    await conn.send({"type": "hello", "token": token, "protocol": protocol})
    assert (await conn.recv())["protocol"] == protocol
    return conn


async def play(path: Path, steps: list[Step]) -> None:
    async with serving(path) as served:
        p: People = served.people
        admin = await hello(served, p.admin.token, 2)
        auction = await open_auction(admin, p, products=2)
        conns = {
            "admin": admin,
            "buyer": await hello(served, p.buyer.token, 2),
            "s1": await hello(served, p.s1.token, 2),
            "s2": await hello(served, p.s2.token, 2),
            "observer": await hello(served, p.observer.token, 2),
            "buyer1": await hello(served, p.buyer.token, 1),
        }
        followers = []
        for name, conn in conns.items():
            follower = Follower(conn, auction, 1 if name == "buyer1" else 2)
            if name == "observer":
                await conn.ok("subscribe_all", statuses=list(get_args(Status)))  # final too
            else:
                await conn.ok("subscribe", auction_id=auction)
            followers.append(follower)
        comments: list[str] = []
        for step in steps:
            await act(served, conns, auction, step, comments)
            await served.supervisor.quiesce()
            for follower in followers:
                await follower.check()
        for conn in conns.values():
            await conn.close()
        note(f"patches folded: {min(sum(f.patches for f in followers), 100) // 20 * 20}+")
        if followers[4].views > 1:
            note("the observer saw the auction again")


async def act(
    served: Served, conns: dict[str, Conn], auction: str, step: Step, comments: list[str]
) -> None:
    p = served.people
    supplier = conns[step.who]
    amount = f"{step.cents // 100}.{step.cents % 100:02d}"
    if step.kind == "bid":
        await supplier.request("place_bids", auction_id=auction, bids=[bid(step.product, amount)])
    elif step.kind == "auto":
        floor = {"min_amount": amount}
        auto = bid(step.product, f"{step.cents // 100 + 2}.00", **floor)
        await supplier.request("place_bids", auction_id=auction, bids=[auto])
    elif step.kind == "revoke":
        await supplier.request("revoke_bid", auction_id=auction, product_id=step.product)
    elif step.kind == "comment":
        reply = await supplier.request("post_comment", auction_id=auction, text=f"n{step.pick}")
        if reply["type"] == "ok":
            comments.append(reply["comment_id"])
    elif step.kind == "uncomment" and comments:
        comment = comments[step.pick % len(comments)]
        await supplier.request("delete_comment", auction_id=auction, comment_id=comment)
    elif step.kind == "barge":
        barge = {"name": f"Barge {step.pick}", "imo": f"900000{step.pick}"}
        await supplier.request("submit_barge", auction_id=auction, barge=barge)
    elif step.kind == "approve":
        owner = p.s1 if step.who == "s1" else p.s2
        await conns["buyer"].request(
            "approve_barge", auction_id=auction, imo=f"900000{step.pick}",
            supplier_id=owner.company_id,
        )  # fmt: skip
    elif step.kind == "rsvp":
        response = ("yes", "no", "maybe")[step.pick]
        await supplier.request("rsvp", auction_id=auction, response=response)
    elif step.kind in ("invite", "uninvite"):
        await conns["admin"].request(
            f"{step.kind}_observer", auction_id=auction, company_id=p.observer.company_id
        )
    elif step.kind == "tick":
        served.clock.advance(step.cents)
    elif step.kind == "select":
        name = ("best_overall", "best_single_supplier")[step.pick]
        await conns["buyer"].request("select_solution", auction_id=auction, solution=name)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(STEPS, min_size=5, max_size=40))
def test_folding_the_patches_gives_get_view_for_every_role(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(asyncio.wait_for(play(Path(tmp) / "p2.db", steps), 50))
