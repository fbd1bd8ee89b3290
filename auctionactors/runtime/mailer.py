"""Notification mail: the planner that turns events into one mail per user (`MailPlanner`) and
the SMTP sender (`SmtpSender`, aiosmtplib: the only module that imports it).

Which companies hear of what, and what each mail says, is the domain's (`domain.notices`):
written from each receiver's own view. A mail's ``Message-ID`` is its effect id, derived from
(auction, seq of the event, kind, user): the same event always gives the same ids, so a mail
sent again after a crash is recognisably the same mail.
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from auctionactors.domain.events import AuctionClosed
from auctionactors.domain.notices import Notice, Prior, notices, reminder_due, starting_soon
from auctionactors.domain.state import evolve
from auctionactors.runtime.effects import DeliveryFailed, Effect, Plan
from auctionactors.runtime.replay import ReplayFailed, rebuild, rebuild_in_pieces
from auctionactors.store.base import Accounts, EventStore, Reminder, StoredEvent
from auctionactors.store.codec import decode_event

log = logging.getLogger(__name__)

# The only event types that may cause a mail or move the "starting soon" reminder: the others
# are skipped without decoding them or loading the auction.
NOTICE_TYPES = frozenset(
    {"auction_created", "auction_updated", "auction_started", "auction_canceled", "auction_closed"}
)


class MailPlanner:
    """Events -> mails (`runtime.effects.Planner`). ``page_url`` is the page's address (links
    go to ``PAGE#/auction/ID``); ``sender`` the From address."""

    def __init__(self, store: Any, page_url: str, sender: str) -> None:
        self.events: EventStore = store
        self.accounts: Accounts = store
        self.page_url = page_url.rstrip("/") + "/"
        self.sender = sender
        self.domain = sender.rpartition("@")[2] or "auctionactors.invalid"

    async def plan(self, events: Sequence[StoredEvent]) -> Plan:
        plan = Plan(effects=[])
        reminders: dict[str, Reminder | None] = {}  # per stream, the last event's word
        for stored in events:
            if stored.type not in NOTICE_TYPES:
                continue
            try:
                await self._plan_one(stored, plan, reminders)
            except ReplayFailed as exc:  # a poisoned auction (quarantined): no view to mail
                log.error("mail: no notices for %s seq %d: %s", stored.stream_id, stored.seq, exc)
        plan.reminders.extend(r for r in reminders.values() if r is not None)
        plan.cleared.extend(stream for stream, r in reminders.items() if r is None)
        return plan

    async def _plan_one(
        self, stored: StoredEvent, plan: Plan, reminders: dict[str, Reminder | None]
    ) -> None:
        auction_id, seq = stored.stream_id, stored.seq
        event = decode_event(stored)
        if isinstance(event, AuctionClosed):  # needs no prior state (its snapshot is at seq)
            before, after = None, await rebuild(self.events, auction_id, until_seq=seq)
        else:
            state = await rebuild_in_pieces(self.events, auction_id, seq - 1) if seq > 1 else None
            before = Prior.of(state)
            after = evolve(state, event)
        if after is None:
            return
        due = reminder_due(before, after)
        if due is False:
            reminders[auction_id] = None
        elif due is not True:
            reminders[auction_id] = Reminder("", auction_id, f"{auction_id}.{seq}", due)
        for notice in notices(before, after, event, self._link(auction_id)):
            plan.effects.extend(await self._mails(notice, f"{auction_id}.{seq}", stored.position))

    async def due(self, reminder: Reminder, now: int) -> list[Effect]:
        """The "starting soon" mails, if the auction is still pending with the start that set
        the reminder (events this reactor has not read yet may have moved or cleared it: they
        will set a new one, or none)."""
        try:
            state = await rebuild(self.events, reminder.stream_id)
        except ReplayFailed as exc:
            log.error("mail: no reminder for %s: %s", reminder.stream_id, exc)
            return []
        if state is None or reminder_due(None, state) != reminder.due_at:
            return []
        effects: list[Effect] = []
        for notice in starting_soon(state, now, self._link(state.auction_id)):
            effects += await self._mails(notice, reminder.key, 0)
        return effects

    def _link(self, auction_id: str) -> str:
        return f"{self.page_url}#/auction/{auction_id}"

    async def _mails(self, notice: Notice, key: str, position: int) -> list[Effect]:
        """One mail per user of the notice's company that has an address."""
        out: list[Effect] = []
        for user in await self.accounts.recipients([notice.company_id]):
            effect_id = f"{key}.{notice.kind}.{user.user_id}@{self.domain}"
            msg = EmailMessage(policy=email.policy.SMTP)
            msg["From"] = self.sender
            msg["To"] = email.utils.formataddr((user.user_name, user.email))
            msg["Subject"] = notice.subject
            msg["Message-ID"] = f"<{effect_id}>"
            msg["Auto-Submitted"] = "auto-generated"
            msg.set_content(notice.body)
            out.append(
                Effect(
                    effect_id=effect_id,
                    position=position,
                    recipient=user.email,
                    payload=msg.as_bytes(),
                )
            )
        return out


class SmtpSender:
    """Sends mails over up to ``connections`` kept-open SMTP connections at once (a mail
    transaction is a few round trips: one connection at a time would leave the server idle),
    with STARTTLS when the server offers it and AUTH when a user is given; a connection that
    failed is dropped and a new one opened. A mail is accepted when the server answers the end
    of its data with 250."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        connections: int = 4,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.timeout = timeout
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    async def send(self, effect: Effect) -> None:
        async with self._slots:
            client: aiosmtplib.SMTP | None = None
            try:
                client = await self._connection()
                await client.sendmail(self.sender, [effect.recipient], effect.payload)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                raise DeliveryFailed(
                    f"recipient refused: {exc}", permanent=all(c >= 500 for c in codes)
                ) from exc
            except aiosmtplib.SMTPResponseException as exc:
                _drop(client)
                client = None
                failure = DeliveryFailed(
                    f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500
                )
                raise failure from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                _drop(client)
                client = None
                raise DeliveryFailed(f"SMTP {self.host}:{self.port}: {exc}") from exc
            finally:
                if client is not None:
                    self._idle.append(client)

    async def _connection(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=None,  # STARTTLS when the server offers it
            timeout=self.timeout,
        )
        await client.connect()
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None:
        client.close()
