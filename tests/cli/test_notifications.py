"""Notifications from a real ``serve`` process, SIGKILLed in the middle of its deliveries, ten
times: every expected mail and webhook arrives at the real receivers (an SMTP server and an
HTTP server started here), and an effect arrives twice only with the same id and only if its
acceptance had not been recorded before the kill. Also the CLI around them: ``user add
--email``, ``deliveries list|redrive``, the reactors in ``status``, bad options. Each test runs
on a SQLite file and on a PostgreSQL database (``--db postgresql://...``, tests/pg.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from auctionactors.cli import main
from auctionactors.client import Client
from auctionactors.runtime.webhooks import hook_tag
from auctionactors.store.postgres import is_postgres_url
from tests.faults.serving import Users, serving, spot
from tests.pg import open_db
from tests.receivers import HookSink, MailSink

ROUNDS = {"sqlite": 10, "postgres": 4}
AUCTIONS_PER_ROUND = 3
MAILS_PER_AUCTION = 3 + 3 + 4  # invitations, start changed (3 supplier users), canceled (+buyer)
START = "2031-01-01T12:00:00Z"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``--db`` of a test: a new SQLite file's path, or a new PostgreSQL database's URL."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "notify.db")


def _rows(db: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """``sql`` (``?`` placeholders) run on the database ``db`` names, outside the store."""
    if not is_postgres_url(db):
        with closing(sqlite3.connect(db)) as conn:
            return conn.execute(sql, args).fetchall()

    numbered = sql
    for n in range(1, len(args) + 1):
        numbered = numbered.replace("?", f"${n}", 1)

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(db)
        try:
            return [tuple(row) for row in await conn.fetch(numbered, *args)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


async def _users(db: str) -> Users:
    async with await open_db(db) as store:
        users = Users(
            admin=await store.add_user("Platform", "admin", "Ada"),
            buyer=await store.add_user("Aegean Shipping", "buyer", "Bea", "bea@aegean.example"),
            s1=await store.add_user("Baltic Bunkers", "supplier", "Sam", "sam@baltic.example"),
            s2=await store.add_user("North Sea Fuels", "supplier", "Sue", "sue@north.example"),
        )
        await store.add_user("Baltic Bunkers", "supplier", "Sid", "sid@baltic.example")
        return users


async def _drive(url: str, users: Users, n: int) -> list[str]:
    """``n`` auctions: created pending, rescheduled, canceled (3 events, 10 mails each)."""
    made: list[str] = []
    async with Client(url, users.admin.token, reconnect=False) as admin:
        suppliers = [users.s1.company_id, users.s2.company_id]
        for _ in range(n):
            reply = await admin.request(
                "create_auction", buyer=users.buyer.company_id, auction=spot(suppliers, START)
            )
            auction_id = str(reply["auction_id"])
            changes = {"scheduled_start": "2031-01-02T12:00:00Z"}
            await admin.request("update_auction", auction_id=auction_id, changes=changes)
            await admin.request("cancel_auction", auction_id=auction_id)
            made.append(auction_id)
    return made


def _accepted(db: str) -> tuple[dict[str, int], set[str]]:
    """What the store holds as accepted: each reactor's checkpoint and the ids recorded."""
    checkpoints = dict(_rows(db, "SELECT reactor, position FROM reactor_checkpoints"))
    ids = {row[0] for row in _rows(db, "SELECT effect_id FROM reactor_effects")}
    return checkpoints, ids


def _position(db: str, auction_id: str, seq: int) -> int:
    sql = "SELECT position FROM events WHERE stream_id = ? AND seq = ?"
    return int(_rows(db, sql, auction_id, seq)[0][0])


def _options(smtp: MailSink, hook: HookSink) -> list[str]:
    return [
        "--smtp", smtp.address, "--smtp-from", "auctions@market.example",
        "--webhook", hook.url, "--webhook-secret", hook.secret, "--delivery-backoff", "0.05",
    ]  # fmt: skip


def test_sigkill_in_the_middle_of_deliveries_ten_times(
    db: str, smtp: MailSink, hook: HookSink
) -> None:
    path = db
    users = asyncio.run(_users(path))
    auctions: list[str] = []
    # per round: what arrived before the kill, and what the store held as accepted then
    before_kill: list[tuple[int, int, dict[str, int], set[str]]] = []
    for _ in range(ROUNDS["postgres" if is_postgres_url(db) else "sqlite"]):
        with serving(path, *_options(smtp, hook)) as served:
            mails_at, hooks_at = len(smtp.mails), len(hook.hooks)
            auctions += asyncio.run(_drive(served.url, users, AUCTIONS_PER_ROUND))
            # deliveries are flowing: kill it now, with no shutdown at all
            smtp.wait_until(lambda m=mails_at: len(smtp.mails) > m + 2)  # type: ignore[misc]
            hook.wait_until(lambda h=hooks_at: len(hook.hooks) > h + 1)  # type: ignore[misc]
            os.kill(served.proc.pid, signal.SIGKILL)
            served.proc.wait(timeout=10)
            before_kill.append((len(smtp.mails), len(hook.hooks), *_accepted(path)))
    with serving(path, *_options(smtp, hook)):  # the last one runs to the end
        want_mails = len(auctions) * MAILS_PER_AUCTION
        want_hooks = len(auctions) * 3
        smtp.wait_until(lambda: len(set(smtp.ids())) >= want_mails, timeout=60)
        hook.wait_until(lambda: len(set(hook.ids())) >= want_hooks, timeout=60)

    # Everything expected arrived: every event as a webhook, signed; every mail.
    events = _rows(path, "SELECT stream_id, seq FROM events")
    assert sorted(set(hook.ids())) == sorted(f"{a}.{s}.{hook_tag(hook.url)}" for a, s in events)
    assert all(hook.signed(h) for h in hook.hooks)
    mail_ids = set(smtp.ids())
    assert len(mail_ids) == want_mails
    for auction_id in auctions:
        mine = [m for m in smtp.mails if f"<{auction_id}." in m.message_id]
        kinds = Counter(
            m.message_id.split(".")[2] for m in {m.message_id: m for m in mine}.values()
        )
        assert kinds == {"invitation": 3, "rescheduled": 3, "canceled": 4}
    # Nothing arrived twice with another id: one id per (receiver, subject, body) ...
    per_content: dict[tuple[str, str, str], set[str]] = {}
    for m in smtp.mails:
        per_content.setdefault((m.to, m.subject, m.body), set()).add(m.message_id)
    assert all(len(ids) == 1 for ids in per_content.values())
    bodies: dict[str, bytes] = {}
    for h in hook.hooks:
        assert bodies.setdefault(h.delivery_id, h.raw) == h.raw  # a repeat is the same delivery
    # ... and a repeat only of what was not recorded as accepted before the kill before it.
    _no_repeat_of_accepted(path, smtp, hook, before_kill)
    repeats = sum(n - 1 for n in Counter(smtp.ids() + hook.ids()).values())
    print(f"{repeats} repeated deliveries (same id, not accepted before a kill)")


def _no_repeat_of_accepted(
    path: str,
    smtp: MailSink,
    hook: HookSink,
    before_kill: list[tuple[int, int, dict[str, int], set[str]]],
) -> None:
    mail_ids, hook_ids = smtp.ids(), hook.ids()
    for mails_then, hooks_then, checkpoints, recorded in before_kill:
        seen_mail, seen_hook = set(mail_ids[:mails_then]), set(hook_ids[:hooks_then])
        mail_cp = checkpoints.get("mail", 0)
        hook_cp = checkpoints.get(f"webhook {hook.url}", 0)
        for effect_id in mail_ids[mails_then:]:
            if effect_id in seen_mail:  # sent again after this kill
                bare = effect_id.strip("<>")
                auction_id, seq = bare.split(".")[0], int(bare.split(".")[1])
                assert bare not in recorded, effect_id
                assert _position(path, auction_id, seq) > mail_cp, effect_id
        for h in hook.hooks[hooks_then:]:
            if h.delivery_id in seen_hook:
                assert h.delivery_id not in recorded, h.delivery_id
                assert h.body["position"] > hook_cp, h.delivery_id


def test_user_add_email_deliveries_and_bad_options(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["user", "add", "--company", "Shell", "--role", "supplier", "--name", "ann"]
    assert main([*args, "--email", "ann@shell.example", "--db", db]) == 0
    assert main([*args, "--email", "not an address", "--db", db]) == 2
    assert "not a mail address" in capsys.readouterr().err
    assert main(["deliveries", "list", "--db", db]) == 0
    assert capsys.readouterr().out == ""
    assert main(["deliveries", "redrive", "--db", db]) == 2
    assert "ids or --all" in capsys.readouterr().err
    assert main(["deliveries", "redrive", "nope", "--db", db]) == 1
    assert main(["deliveries", "redrive", "--all", "--db", db]) == 0
    for bad, message in (
        (["--webhook", "http://x.example/h"], "--webhook-secret"),
        (["--webhook", "ftp://x", "--webhook-secret", "s"], "not an http(s) URL"),
        (["--smtp", "nohost"], "HOST:PORT"),
        (["--smtp", "h:25", "--smtp-user", "u"], "go together"),
        (["--smtp", "h:25", "--smtp-from", "nobody"], "not a mail address"),
    ):
        assert main(["serve", "--db", db, "--port", "0", *bad]) == 2, bad
        assert message in capsys.readouterr().err, bad


def test_a_receiver_down_parks_status_shows_it_and_redrive_sends_it(
    db: str, hook: HookSink, capsys: pytest.CaptureFixture[str]
) -> None:
    path = db
    users = asyncio.run(_users(path))
    hook.down()  # connections refused
    options = ["--webhook", hook.url, "--webhook-secret", hook.secret]
    with serving(path, *options, "--delivery-attempts", "2", "--delivery-backoff", "0.01") as s:
        (auction_id,) = asyncio.run(_drive_one(s.url, users))
        line, _ = s.wait_for_log("parked after 2 attempts")
        delivery_id = f"{auction_id}.1.{hook_tag(hook.url)}"
        assert delivery_id in line
        capsys.readouterr()
        status = ["status", "--url", s.url, "--token", users.admin.token]
        assert main(status) == 0
        out = capsys.readouterr().out
        assert f"reactor webhook {hook.url}:" in out and "1 parked" in out
        assert f"parked {delivery_id}" in out
        assert main(["deliveries", "list", "--db", path]) == 0
        assert capsys.readouterr().out.startswith(delivery_id)
        hook.up()
        assert main(["deliveries", "redrive", delivery_id, "--db", path]) == 0
        hook.wait_until(lambda: delivery_id in hook.ids())
        assert hook.hooks[0].body["event"]["type"] == "auction_created"


async def _drive_one(url: str, users: Users) -> list[str]:
    async with Client(url, users.admin.token, reconnect=False) as admin:
        suppliers = [users.s1.company_id, users.s2.company_id]
        reply = await admin.request(
            "create_auction", buyer=users.buyer.company_id, auction=spot(suppliers, START)
        )
    return [str(reply["auction_id"])]
