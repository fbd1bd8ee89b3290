"""The reactors on the real runtime, with a real SMTP server and a real HTTP receiver: which
mails go to whom and what they say (views and anonymity apply), the "starting soon" reminder
(once, after a reschedule, across a restart), webhooks with their ids and signatures, retries,
parking and redrive. The reactor is driven turn by turn (`Reactor.step`), on the manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from auctionactors.domain.commands import (
    BidRequest,
    CancelAuction,
    PlaceBids,
    SelectSolution,
    UpdateAuction,
)
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.terms import AuctionChanges, AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.effects import Effect
from auctionactors.runtime.mailer import MailPlanner, SmtpSender
from auctionactors.runtime.reactor import NotLeading, Reactor, ReactorConfig, reactors_report
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.runtime.webhooks import WebhookPlanner, WebhookSender
from auctionactors.store.memory import MemoryEventStore
from tests.receivers import HookSink, MailSink

from .conftest import T0

MINUTE = 60 * SECOND
QUICK = ReactorConfig(attempts=3, backoff_s=0, in_flight=4)


class World(msgspec.Struct):
    buyer: Caller
    s1: Caller
    s2: Caller
    buyer_party: Party
    s1_party: Party
    s2_party: Party


@pytest.fixture
async def world(store: MemoryEventStore) -> World:
    b = await store.add_user("Buyer Co", "buyer", "Bea", email="bea@buyer.example")
    s1 = await store.add_user("Baltic Bunkers", "supplier", "Sam", email="sam@baltic.example")
    await store.add_user("Baltic Bunkers", "supplier", "Sid", email="sid@baltic.example")
    await store.add_user("Baltic Bunkers", "supplier", "Nomail")
    s2 = await store.add_user("North Sea Fuels", "supplier", "Nora", email="nora@north.example")
    return World(
        Caller(b.user_id, b.company_id, "buyer"),
        Caller(s1.user_id, s1.company_id, "supplier"),
        Caller(s2.user_id, s2.company_id, "supplier"),
        Party(b.company_id, "Buyer Co"),
        Party(s1.company_id, "Baltic Bunkers"),
        Party(s2.company_id, "North Sea Fuels"),
    )


def terms(w: World, start: int, *, anonymous: bool = False) -> AuctionTerms:
    return AuctionTerms(
        port="Rotterdam",
        buyer=w.buyer_party,
        suppliers=(w.s1_party, w.s2_party),
        scheduled_start=start,
        duration_s=600,
        anonymous_bidding=anonymous,
        products=(
            ProductSpec(
                vessel=Vessel("MV Aurora", "9300001"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=T0 + 86_400 * SECOND,
            ),
        ),
    )


@pytest.fixture
async def mail(
    store: MemoryEventStore, clock: ManualClock, smtp: MailSink
) -> AsyncIterator[Reactor]:
    host, port = smtp.address.split(":")
    sender = SmtpSender(host, int(port), "auctions@market.example")
    planner = MailPlanner(store, "http://127.0.0.1:8765/", "auctions@market.example")
    reactor = Reactor("mail", store, planner, sender, clock, QUICK)
    await reactor.step()  # starts at the end of the (empty) log
    yield reactor
    await reactor.stop()


async def drain(reactor: Reactor, supervisor: Supervisor | None = None) -> None:
    if supervisor is not None:
        await supervisor.quiesce()
    await reactor.step(look_around=True)
    while await reactor.step():
        pass


def mails_to(smtp: MailSink, address: str) -> list[str]:
    return [m.subject for m in smtp.mails if m.to == address]


async def test_the_mails_of_an_auction_s_life(
    supervisor: Supervisor, clock: ManualClock, mail: Reactor, smtp: MailSink, world: World
) -> None:
    w = world
    reply = await supervisor.create_auction(w.buyer, terms(w, T0 + 60 * MINUTE, anonymous=True))
    auction_id = str(reply.fields["auction_id"])
    await drain(mail, supervisor)
    invitations = [m for m in smtp.mails if m.subject.startswith("Invitation")]
    assert sorted(m.to for m in invitations) == [
        "nora@north.example",
        "sam@baltic.example",
        "sid@baltic.example",
    ]
    assert f"http://127.0.0.1:8765/#/auction/{auction_id}" in invitations[0].body
    assert "MV Aurora" in invitations[0].body and "Buyer Co" in invitations[0].body
    ids = {m.message_id for m in invitations}
    assert len(ids) == 3 and all(i.startswith(f"<{auction_id}.1.invitation.") for i in ids)

    # A reschedule: "start time changed" to the suppliers; the reminder moves with it.
    new_start = T0 + 30 * MINUTE
    await supervisor.ask(
        auction_id,
        UpdateAuction(by=w.buyer, changes=AuctionChanges(scheduled_start=new_start)),
    )
    await drain(mail, supervisor)
    assert mails_to(smtp, "nora@north.example")[1].startswith("Start time changed")
    assert mails_to(smtp, "bea@buyer.example") == []

    clock.advance(14 * 60)  # 16 min before the new start: nothing yet
    await drain(mail)
    assert not any(m.subject.startswith("Starting soon") for m in smtp.mails)
    clock.advance(2 * 60)  # 14 min before it: the reminder, once, to everyone with an address
    await drain(mail)
    await drain(mail)
    soon = [m for m in smtp.mails if m.subject.startswith("Starting soon")]
    assert sorted(m.to for m in soon) == [
        "bea@buyer.example",
        "nora@north.example",
        "sam@baltic.example",
        "sid@baltic.example",
    ]

    clock.advance(14 * 60)  # the start
    await supervisor.quiesce()
    for who, cents in ((w.s1, 50_000), (w.s2, 49_000)):
        bids = (BidRequest(product_id="p1", amount=cents),)
        await supervisor.ask(auction_id, PlaceBids(by=who, bids=bids))
    clock.advance(11 * 60)  # bidding over: decision
    await supervisor.quiesce()
    await supervisor.ask(auction_id, SelectSolution(by=w.buyer, solution="best_overall"))
    await drain(mail, supervisor)
    won = [m for m in smtp.mails if m.subject.startswith("You have won")]
    assert [m.to for m in won] == ["nora@north.example"]
    assert "490.00" in won[0].body
    closed = [m for m in smtp.mails if m.subject.startswith("Closed")]
    assert [m.to for m in closed] == ["bea@buyer.example"]
    # Anonymous bidding: the buyer's mail names the winner by its alias, as its view does.
    assert "from Supplier " in closed[0].body
    assert "North Sea" not in closed[0].body
    assert len(smtp.ids()) == len(set(smtp.ids()))  # nothing twice


async def test_cancel_tells_the_buyer_and_the_invited_suppliers(
    supervisor: Supervisor, mail: Reactor, smtp: MailSink, world: World
) -> None:
    draft = terms(world, T0 + 60 * MINUTE)
    draft_id = str((await supervisor.create_auction(world.buyer, draft)).fields["auction_id"])
    await supervisor.ask(
        draft_id,
        UpdateAuction(by=world.buyer, changes=AuctionChanges(scheduled_start=None)),
    )
    await drain(mail, supervisor)
    before = len(smtp.mails)
    await supervisor.ask(draft_id, CancelAuction(by=world.buyer))
    await drain(mail, supervisor)
    canceled = smtp.mails[before:]
    # back in draft, the suppliers no longer see it: only the buyer hears of the cancel
    assert [(m.to, m.subject.split(":")[0]) for m in canceled] == [
        ("bea@buyer.example", "Canceled")
    ]
    pending = str((await supervisor.create_auction(world.buyer, draft)).fields["auction_id"])
    await supervisor.ask(pending, CancelAuction(by=world.buyer))
    await drain(mail, supervisor)
    assert sorted(m.to for m in smtp.mails if pending in m.body and "Canceled" in m.subject) == [
        "bea@buyer.example",
        "nora@north.example",
        "sam@baltic.example",
        "sid@baltic.example",
    ]
    # the reminder of a canceled auction is gone, and sends nothing
    assert await mail.store.reminders("mail") == []


async def test_a_restarted_reactor_sends_no_reminder_twice_and_keeps_due_ones(
    store: MemoryEventStore,
    supervisor: Supervisor,
    clock: ManualClock,
    mail: Reactor,
    smtp: MailSink,
    world: World,
) -> None:
    await supervisor.create_auction(world.buyer, terms(world, T0 + 20 * MINUTE))
    await drain(mail, supervisor)
    assert len(await store.reminders("mail")) == 1  # stored: a new reactor re-arms it
    await mail.stop()
    host, port = smtp.address.split(":")
    again = Reactor(
        "mail",
        store,
        MailPlanner(store, "http://127.0.0.1:8765/", "auctions@market.example"),
        SmtpSender(host, int(port), "auctions@market.example"),
        clock,
        QUICK,
    )
    clock.advance(6 * 60)
    await drain(again)
    await drain(again)
    assert len([m for m in smtp.mails if m.subject.startswith("Starting soon")]) == 4
    assert await store.reminders("mail") == []
    await again.stop()


async def test_accepted_effects_are_never_sent_again(
    store: MemoryEventStore, supervisor: Supervisor, mail: Reactor, smtp: MailSink, world: World
) -> None:
    """A crash after the server accepted some mails, before the checkpoint moved: the
    recorded ones are skipped, the others sent with the ids they had."""
    reply = await supervisor.create_auction(world.buyer, terms(world, T0 + 60 * MINUTE))
    auction_id = str(reply.fields["auction_id"])
    await supervisor.quiesce()
    plan = await mail.planner.plan(await store.read_all())
    first = plan.effects[0]
    await store.record_deliveries("mail", accepted=[(first.effect_id, first.position)])
    await drain(mail)
    assert sorted(smtp.ids()) == sorted(f"<{e.effect_id}>" for e in plan.effects[1:])
    assert mail.stats.skipped == 1
    assert all(auction_id in e.effect_id for e in plan.effects)


async def webhook(store: MemoryEventStore, clock: ManualClock, sink: HookSink) -> Reactor:
    reactor = Reactor(
        f"webhook {sink.url}",
        store,
        WebhookPlanner(sink.url),
        WebhookSender(sink.url, sink.secret),
        clock,
        QUICK,
    )
    await reactor.step()
    return reactor


async def test_webhooks_post_every_event_as_an_admin_sees_it_signed(
    store: MemoryEventStore,
    supervisor: Supervisor,
    clock: ManualClock,
    hook: HookSink,
    world: World,
) -> None:
    reactor = await webhook(store, clock, hook)
    reply = await supervisor.create_auction(world.buyer, terms(world, T0 + MINUTE, anonymous=True))
    auction_id = str(reply.fields["auction_id"])
    clock.advance(60)
    await supervisor.quiesce()
    await supervisor.ask(
        auction_id,
        PlaceBids(by=world.s1, bids=(BidRequest(product_id="p1", amount=50_000),)),
    )
    await drain(reactor, supervisor)
    stored = await store.read_stream(auction_id)
    assert [h.body["event"]["seq"] for h in hook.hooks] == [e.seq for e in stored]
    assert [h.body["event"]["type"] for h in hook.hooks] == [e.type for e in stored]
    assert all(hook.signed(h) for h in hook.hooks)
    created = hook.hooks[0].body
    assert created["event"]["data"]["aliases"]  # the admin's view: the alias map too
    bid = hook.hooks[-1].body["event"]
    assert bid["data"]["supplier_id"] == world.s1.company_id and bid["by"] is not None
    assert [h.delivery_id for h in hook.hooks] == [h.body["delivery_id"] for h in hook.hooks]
    assert len(set(hook.ids())) == len(stored)
    await reactor.stop()


async def test_a_receiver_down_for_a_while_then_parking_and_redrive(
    store: MemoryEventStore,
    supervisor: Supervisor,
    clock: ManualClock,
    hook: HookSink,
    world: World,
) -> None:
    reactor = await webhook(store, clock, hook)
    hook.failing = True  # answers 503
    await supervisor.create_auction(world.buyer, terms(world, T0 + MINUTE))
    await supervisor.quiesce()
    # Retried with backoff while down; back before the attempts run out: delivered, not parked.
    reactor.config = msgspec.structs.replace(QUICK, attempts=1000, backoff_s=0.001)
    turn = asyncio.create_task(drain(reactor))
    await asyncio.to_thread(hook.wait_until, lambda: hook.refused >= 3)
    hook.failing = False
    await turn
    assert len(hook.hooks) == 1 and reactor.stats.failures >= 3
    assert await store.parked() == []

    # Down for longer than the attempts: parked, the reactor goes on, status shows it.
    hook.down()
    reactor.config = QUICK
    await supervisor.create_auction(world.buyer, terms(world, T0 + 2 * MINUTE))
    await drain(reactor, supervisor)
    parked = await store.parked()
    assert [p.attempts for p in parked] == [3]
    report = await reactors_report([reactor], store)
    assert report["reactors"][0]["behind"] == 0 and report["reactors"][0]["parked"] == 1
    assert report["parked"][0]["delivery_id"] == parked[0].effect_id
    # Re-driven once it is back: sent with the same id and body, then no longer parked.
    hook.up()
    assert await store.redrive() == 1
    await drain(reactor)
    assert hook.ids()[-1] == parked[0].effect_id
    assert hook.hooks[-1].raw == parked[0].payload
    assert await store.parked() == []
    await reactor.stop()


async def test_a_supplier_added_to_a_pending_auction_is_invited_alone(
    supervisor: Supervisor, mail: Reactor, smtp: MailSink, world: World
) -> None:
    only_s1 = msgspec.structs.replace(terms(world, T0 + 60 * MINUTE), suppliers=(world.s1_party,))
    reply = await supervisor.create_auction(world.buyer, only_s1)
    auction_id = str(reply.fields["auction_id"])
    await drain(mail, supervisor)
    assert sorted(m.to for m in smtp.mails) == ["sam@baltic.example", "sid@baltic.example"]
    both = AuctionChanges(suppliers=(world.s1_party, world.s2_party))
    await supervisor.ask(auction_id, UpdateAuction(by=world.buyer, changes=both))
    await drain(mail, supervisor)
    assert [(m.to, m.subject.split(":")[0]) for m in smtp.mails[2:]] == [
        ("nora@north.example", "Invitation")
    ]
    # the supplier sees only what its view holds: no buyer reference, no other supplier
    assert "Baltic" not in smtp.mails[2].body


class Flag:
    """A `Lead` the test sets: what the node knows, and what the database says."""

    def __init__(self) -> None:
        self.known = True
        self.confirmed = True

    def leading(self) -> bool:
        return self.known

    async def confirm(self) -> None:
        if not self.confirmed:
            raise NotLeading("the database says another node leads")


async def test_a_reactor_that_no_longer_leads_sends_nothing_more(
    store: MemoryEventStore,
    supervisor: Supervisor,
    clock: ManualClock,
    hook: HookSink,
    world: World,
) -> None:
    lead = Flag()
    reactor = Reactor(
        f"webhook {hook.url}",
        store,
        WebhookPlanner(hook.url),
        WebhookSender(hook.url, hook.secret),
        clock,
        QUICK,
        lead,
    )
    await reactor.step()
    reply = await supervisor.create_auction(world.buyer, terms(world, T0 + MINUTE))
    auction_id = str(reply.fields["auction_id"])
    await drain(reactor, supervisor)
    sent = len(hook.hooks)
    assert sent == len(await store.read_stream(auction_id))
    position = reactor.position
    await supervisor.ask(auction_id, CancelAuction(by=world.buyer))
    await supervisor.quiesce()
    lead.confirmed = False  # the database: another node took the reactor over
    with pytest.raises(NotLeading):
        await reactor.step()
    lead.confirmed, lead.known = True, False  # the node learnt it lost the lead meanwhile
    with pytest.raises(NotLeading):
        await reactor.step()
    assert len(hook.hooks) == sent  # nothing more sent ...
    assert reactor.position == position  # ... and the checkpoint stays for the new leader
    assert await store.start_reactor(reactor.name) == position
    lead.known = True
    await drain(reactor)
    assert len(hook.hooks) == sent + 1
    await reactor.stop()


class _Breaks(WebhookSender):
    """A sender with a bug: raises what it was never meant to for the first effect it sees."""

    def __init__(self, url: str, secret: str) -> None:
        super().__init__(url, secret)
        self.broken: str | None = None

    async def send(self, effect: Effect) -> None:
        if self.broken in (None, effect.effect_id):
            self.broken = effect.effect_id
            raise RuntimeError("a bug in the sender")
        await super().send(effect)


async def test_a_sender_s_unexpected_error_parks_that_delivery_and_the_log_goes_on(
    store: MemoryEventStore,
    supervisor: Supervisor,
    clock: ManualClock,
    hook: HookSink,
    world: World,
) -> None:
    sender = _Breaks(hook.url, hook.secret)
    reactor = Reactor("webhook", store, WebhookPlanner(hook.url), sender, clock, QUICK)
    await reactor.step()
    reply = await supervisor.create_auction(world.buyer, terms(world, T0 + MINUTE))
    auction_id = str(reply.fields["auction_id"])
    await supervisor.create_auction(world.buyer, terms(world, T0 + 2 * MINUTE))
    await drain(reactor, supervisor)
    parked = await store.parked()
    assert [(p.effect_id, p.attempts) for p in parked] == [(sender.broken, QUICK.attempts)]
    assert "RuntimeError: a bug in the sender" in parked[0].last_error
    assert sender.broken is not None and sender.broken.startswith(auction_id)
    assert len(hook.hooks) == 1 and hook.ids()[0] != sender.broken  # the other one went out
    report = await reactors_report([reactor], store)
    assert report["reactors"][0]["behind"] == 0
    await reactor.stop()
