"""The `Deliveries` contract (reactor checkpoints, accepted effects, parked deliveries,
reminders) and users' mail addresses, on every backend."""

from __future__ import annotations

import pytest

from auctionactors.errors import UsageError
from auctionactors.store.base import NewEvent, ParkedDelivery, Reminder
from tests.store.backends import Backend


async def put(store: Backend, stream_id: str, n: int) -> None:
    seq = await store.highest_seq(stream_id)
    events = [NewEvent("happened", f"{seq + i}".encode()) for i in range(n)]
    await store.append(stream_id, seq, events)


def parked(effect_id: str, position: int, attempts: int = 8) -> ParkedDelivery:
    return ParkedDelivery(
        reactor="",
        effect_id=effect_id,
        position=position,
        recipient="http://hook.example/in",
        payload=b'{"x":1}',
        attempts=attempts,
        last_error="connection refused",
        parked_at=1_000,
    )


async def test_a_new_reactor_starts_at_the_head_and_keeps_its_checkpoint(store: Backend) -> None:
    assert await store.start_reactor("mail") == 0
    await put(store, "a-1", 3)
    assert await store.head_position() == 3
    assert await store.start_reactor("webhook") == 3  # never acts on history it missed
    assert await store.start_reactor("mail") == 0  # stored: not moved by the appends
    await store.advance_reactor("mail", 2)
    assert await store.start_reactor("mail") == 2
    assert await store.reactor_positions() == {"mail": 2, "webhook": 3}
    with pytest.raises(ValueError, match="go back"):
        await store.advance_reactor("mail", 1)
    assert await store.start_reactor("mail") == 2


async def test_accepted_effects_are_kept_until_the_checkpoint_passes_them(store: Backend) -> None:
    await store.start_reactor("r")
    await store.record_deliveries("r", accepted=[("a/1/x", 1), ("a/2/x", 2), ("soon/x", 0)])
    await store.record_deliveries("other", accepted=[("a/3/x", 3)])
    ids = ["a/1/x", "a/2/x", "a/3/x", "soon/x", "nope"]
    assert await store.accepted_effects("r", ids) == {"a/1/x", "a/2/x", "soon/x"}
    await store.advance_reactor("r", 1)
    assert await store.accepted_effects("r", ids) == {"a/2/x", "soon/x"}
    await store.advance_reactor("r", 10)
    # a reminder's effects (position 0) are never forgotten; other reactors' are untouched
    assert await store.accepted_effects("r", ids) == {"soon/x"}
    assert await store.accepted_effects("other", ids) == {"a/3/x"}


async def test_parking_redrive_and_acceptance(store: Backend) -> None:
    await store.record_deliveries("hook", parked=[parked("d2", 2), parked("d1", 1)])
    await store.record_deliveries("mail", parked=[parked("m1", 5)])
    rows = await store.parked("hook")
    assert [(p.reactor, p.effect_id, p.redrive) for p in rows] == [
        ("hook", "d1", False),
        ("hook", "d2", False),
    ]
    assert rows[0].payload == b'{"x":1}' and rows[0].attempts == 8
    assert len(await store.parked()) == 3
    assert await store.redrive(["d2", "unknown", "d2"]) == 1  # an id given twice counts once
    assert [p.redrive for p in await store.parked("hook")] == [False, True]
    # failing again re-parks it (redrive cleared, attempts updated)
    await store.record_deliveries("hook", parked=[parked("d2", 2, attempts=16)])
    again = (await store.parked("hook"))[1]
    assert (again.redrive, again.attempts) == (False, 16)
    assert await store.redrive() == 3
    await store.record_deliveries("hook", accepted=[("d1", 1), ("d2", 2)])
    assert await store.parked("hook") == []
    assert [p.effect_id for p in await store.parked()] == ["m1"]


async def test_reminders_are_replaced_per_stream_and_done_only_with_their_key(
    store: Backend,
) -> None:
    await store.start_reactor("mail")
    await put(store, "a-1", 2)
    first = Reminder("mail", "a-1", "a-1/1", 500)
    await store.advance_reactor("mail", 1, reminders=[first, Reminder("mail", "a-2", "k", 100)])
    assert [(r.stream_id, r.key) for r in await store.reminders("mail")] == [
        ("a-2", "k"),
        ("a-1", "a-1/1"),
    ]
    await store.advance_reactor("mail", 2, reminders=[Reminder("mail", "a-1", "a-1/2", 50)])
    assert [(r.stream_id, r.key, r.due_at) for r in await store.reminders("mail")] == [
        ("a-1", "a-1/2", 50),
        ("a-2", "k", 100),
    ]
    await store.record_deliveries("mail", reminders_done=[first])  # replaced meanwhile: kept
    assert len(await store.reminders("mail")) == 2
    await store.record_deliveries("mail", reminders_done=[Reminder("mail", "a-1", "a-1/2", 50)])
    await store.advance_reactor("mail", 2, cleared=["a-2"])
    assert await store.reminders("mail") == []
    assert await store.reminders("other") == []


async def test_users_mail_addresses(store: Backend) -> None:
    a = await store.add_user("Shell", "supplier", "ann", email="ann@shell.example")
    await store.add_user("Shell", "supplier", "bob")  # no address: no mail
    c = await store.add_user("BP", "supplier", "cy", email="cy@bp.example")
    found = await store.recipients([a.company_id, c.company_id, "c-none"])
    assert sorted((r.user_name, r.email) for r in found) == [
        ("ann", "ann@shell.example"),
        ("cy", "cy@bp.example"),
    ]
    assert await store.recipients([]) == []
    for bad in ("nobody", "a@", "a b@c.example", "<a@b.example>", "a@b@c.example"):
        with pytest.raises(UsageError, match="not a mail address"):
            await store.add_user("Shell", "supplier", "x", email=bad)
