"""One write of an actor: the commands a hot auction decided one after another, with everything
that waits for their events to be durable (DESIGN.md, "A hot auction batches").

Each command of a batch is decided against the state its predecessors left, so its answer (a
reply, or a refusal) holds only if their events are stored: every answer waits for the one
append of the batch. Each command's update is prepared (rendered) when its events are applied,
and delivered after the append. If the append fails, nothing of the batch was written, and
every command is answered as the failure says (`unavailable` when nothing was written).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from auctionactors.domain.events import Event
from auctionactors.errors import AuctionActorsError
from auctionactors.runtime.keys import KeyCache
from auctionactors.runtime.mailbox import Ask, Reply, resolve
from auctionactors.runtime.publishing import Delivery
from auctionactors.runtime.stats import RuntimeStats
from auctionactors.store.base import KeyRecord

log = logging.getLogger(__name__)

BATCH_LIMIT = 256  # commands per write at most: one write's latency stays bounded


def deliver(deliveries: list[Delivery]) -> None:
    """Call each delivery in order (a failing one is logged and skipped)."""
    for delivery in deliveries:
        try:
            delivery()
        except Exception:
            log.exception("a subscriber's delivery failed")


class Answer:
    """A decided command's answer, given once the batch is durable."""

    __slots__ = ("ask", "error", "keys", "name", "record", "reply")

    def __init__(
        self,
        ask: Ask,
        name: str,
        keys: KeyCache,
        reply: Reply | None = None,
        error: BaseException | None = None,
        record: KeyRecord | None = None,
    ) -> None:
        self.ask = ask
        self.name = name
        self.keys = keys
        self.reply = reply
        self.error = error
        self.record = record  # the key stored with this command, if any


class Batch:
    def __init__(self, expected_seq: int) -> None:
        self.expected_seq = expected_seq  # the stream's seq before the batch
        self.events: list[Event] = []
        self.answers: list[Answer] = []
        self.deliveries: list[Delivery] = []
        self.keys: set[tuple[str, str]] = set()  # (user, key) of the commands in the batch
        # Subscribers (by id) that did not follow the auction when a command was applied.
        self.unfollowed: set[int] = set()

    def __len__(self) -> int:
        return len(self.answers)

    @property
    def records(self) -> list[KeyRecord]:
        return [a.record for a in self.answers if a.record is not None]

    def holds_key(self, ask: Ask) -> bool:
        return ask.key is not None and (ask.key.user_id, ask.key.key) in self.keys

    def add(self, answer: Answer) -> None:
        self.answers.append(answer)
        if answer.ask.key is not None:
            self.keys.add((answer.ask.key.user_id, answer.ask.key.key))

    def deliver(self) -> None:
        """Send the prepared updates, in seq order."""
        deliver(self.deliveries)

    def answer(self, stats: RuntimeStats) -> None:
        """Give every answer (the batch is durable): remember the keys stored, count outcomes."""
        for a in self.answers:
            if a.record is not None:
                a.keys.remember(a.record)
            if a.error is not None:
                code = a.error.code if isinstance(a.error, AuctionActorsError) else "internal"
                stats.count_command(a.name, code)
                resolve(a.ask.future, error=a.error)
            else:
                stats.count_command(a.name, "ok")
                resolve(a.ask.future, a.reply)

    def fail(self, stats: RuntimeStats, outcome: str, error: Callable[[], BaseException]) -> None:
        """Nothing of the batch is known to be stored: answer every command ``error()``."""
        for a in self.answers:
            stats.count_command(a.name, outcome)
            resolve(a.ask.future, error=error())
