"""The reactor: follows the global event order from a durable checkpoint and delivers each
event's effects (mails, webhook posts), exactly once in effect.

A reactor is never part of replay: actors rebuilding their state send nothing; only a reactor,
reading the store's log after the fact (`EventStore.read_all`), acts. Its loop, one task:

1. read the events after its checkpoint (a batch);
2. plan their effects (`Planner.plan`: the same events always give the same effects and ids);
3. skip those already recorded as accepted (a crash after some were), send the others, a few at
   a time, each retried with exponential backoff; a receiver's acceptance is recorded in the
   store (`Deliveries.record_deliveries`) before anything else; an effect that failed
   ``attempts`` times (or was refused for good) is parked in the store instead;
4. only then advance the checkpoint past the batch (with the reminders it set).

So a crash repeats only effects whose acceptance was not yet recorded, with the same id, and
never one recorded. Between batches it sends the reminders that are due ("starting soon") and
the parked deliveries an operator re-drove (``auctionactors deliveries redrive``).

In cluster mode a reactor runs on one node at a time, while its node leads it (a `Lead`,
`runtime.leaders`): it asks the database whether it still leads before each group of sends
(`Lead.confirm`), checks what the node knows before each send (`Lead.leading`), and its
records are fenced by the store. On losing the lead it stops (`NotLeading`, or `Fenced` from a
write); the node that takes over goes on from the stored checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from auctionactors.errors import Fenced
from auctionactors.runtime.clock import Clock
from auctionactors.runtime.effects import DeliveryFailed, Effect, Planner, Sender
from auctionactors.store.base import Deliveries, EventStore, ParkedDelivery, Reminder

log = logging.getLogger(__name__)


class ReactorConfig(msgspec.Struct, frozen=True, kw_only=True):
    """``attempts``: tries before a delivery is parked; ``backoff_s``: the pause after the
    first failure, doubled after each (at most ``max_backoff_s``); ``in_flight``: effects sent
    at once; ``batch``: events read at a time; ``poll_s``: the pause when there is nothing to
    do (and how often reminders and re-driven deliveries are looked for)."""

    attempts: int = 8
    backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    in_flight: int = 64
    batch: int = 500
    poll_s: float = 0.05


class NotLeading(Exception):
    """This node no longer runs the reactor (cluster mode): stop sending."""


class Lead(Protocol):
    """Whether this node still runs the reactor (cluster mode; see `runtime.leaders`)."""

    def leading(self) -> bool:
        """As far as the node knows (no I/O): checked right before each send."""
        ...

    async def confirm(self) -> None:
        """`NotLeading` unless the database still says so: before each group of sends."""
        ...


class ReactorStats(msgspec.Struct):
    delivered: int = 0
    failures: int = 0
    parked: int = 0
    skipped: int = 0  # planned again after a restart, but accepted before it


class Reactor:
    """One reactor (``name`` keys its checkpoint): a planner, a sender, a store."""

    def __init__(
        self,
        name: str,
        store: Any,
        planner: Planner,
        sender: Sender,
        clock: Clock,
        config: ReactorConfig | None = None,
        lead: Lead | None = None,
    ) -> None:
        self.name = name
        self.lead = lead
        self.store: Deliveries = store
        self.events: EventStore = store
        self.planner = planner
        self.sender = sender
        self.clock = clock
        self.config = config or ReactorConfig()
        self.stats = ReactorStats()
        self.position: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._looked_at = float("-inf")  # when reminders and parked ones were last read

    async def start(self) -> None:
        """Load the checkpoint (a new reactor starts at the end of the log) and run."""
        self.position = await self.store.start_reactor(self.name)
        self._task = asyncio.create_task(self._run(), name=f"reactor {self.name}")

    async def stop(self) -> None:
        """Stop at once: what was sent but not recorded is sent again, same id, next time."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.sender.close()

    def halt(self) -> None:
        """Stop sending at once (cluster mode: the lead is lost); `stop` closes the rest."""
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.step()
            except (NotLeading, Fenced) as exc:
                log.warning("reactor %s: stopped, this node no longer runs it: %s", self.name, exc)
                return
            except Exception:  # a store or planning failure: log it, try again later
                log.exception("reactor %s: step failed; retrying", self.name)
                busy = False
                await asyncio.sleep(max(self.config.backoff_s, 0.5))
            if not busy:
                await asyncio.sleep(self.config.poll_s)

    async def step(self, *, look_around: bool | None = None) -> bool:
        """One turn: due reminders and re-driven deliveries (every ``poll_s``, or when
        ``look_around``), then one batch of events. True if there was a batch."""
        if self.position is None:
            self.position = await self.store.start_reactor(self.name)
        now = time.monotonic()
        if look_around or (look_around is None and now - self._looked_at >= self.config.poll_s):
            self._looked_at = now
            await self._redrive()
            await self._reminders()
        events = await self.events.read_all(
            from_position=self.position + 1, limit=self.config.batch
        )
        if not events:
            return False
        plan = await self.planner.plan(events)
        await self._deliver(plan.effects)
        last = events[-1].position
        await self.store.advance_reactor(
            self.name, last, reminders=plan.reminders, cleared=plan.cleared
        )
        self.position = last
        return True

    async def report(self) -> dict[str, Any]:
        """What ``status`` shows of this reactor: where it is, how far behind the log."""
        head = await self.store.head_position()
        position = self.position or 0
        parked = await self.store.parked(self.name)
        return {
            "name": self.name,
            "position": position,
            "behind": max(0, head - position),
            "delivered": self.stats.delivered,
            "failures": self.stats.failures,
            "parked": len(parked),
        }

    async def _reminders(self) -> None:
        now = self.clock.now()
        for reminder in await self.store.reminders(self.name):
            if reminder.due_at > now:
                break
            await self._deliver(await self.planner.due(reminder, now), done=reminder)

    async def _redrive(self) -> None:
        again = [p for p in await self.store.parked(self.name) if p.redrive]
        if again:
            log.info("reactor %s: re-driving %d parked deliveries", self.name, len(again))
            effects = [
                Effect(
                    effect_id=p.effect_id,
                    position=p.position,
                    recipient=p.recipient,
                    payload=p.payload,
                )
                for p in again
            ]
            await self._deliver(effects, redriven=True)

    async def _deliver(
        self, effects: Sequence[Effect], *, done: Reminder | None = None, redriven: bool = False
    ) -> None:
        """Send ``effects`` (those not accepted before), recording each group's outcome."""
        ids = [e.effect_id for e in effects]
        accepted_before = set() if redriven else await self.store.accepted_effects(self.name, ids)
        todo = [e for e in effects if e.effect_id not in accepted_before]
        self.stats.skipped += len(effects) - len(todo)
        step = max(1, self.config.in_flight)
        for i in range(0, len(todo), step):
            group = todo[i : i + step]
            if self.lead is not None:
                await self.lead.confirm()
            outcomes = await asyncio.gather(*(self._attempt(e) for e in group))
            accepted = [
                (e.effect_id, e.position) for e, o in zip(group, outcomes, strict=True) if o is None
            ]
            parked = [o for o in outcomes if isinstance(o, ParkedDelivery)]
            stepped_down = any(o is STEPPED_DOWN for o in outcomes)
            last = done is not None and i + step >= len(todo) and not stepped_down
            await self.store.record_deliveries(
                self.name,
                accepted=accepted,
                parked=parked,
                reminders_done=[done] if last and done is not None else (),
            )
            self.stats.delivered += len(accepted)
            self.stats.parked += len(parked)
            if stepped_down:  # what was accepted is recorded; the reminder stays for the next
                raise NotLeading(f"reactor {self.name}: the lead was lost while sending")
            for p in parked:  # logged once stored: ``status`` shows it from now on
                log.warning(
                    "reactor %s: delivery %s parked after %d attempts: %s",
                    self.name,
                    p.effect_id,
                    p.attempts,
                    p.last_error,
                )
        if done is not None and not todo:
            await self.store.record_deliveries(self.name, reminders_done=[done])

    async def _attempt(self, effect: Effect) -> ParkedDelivery | _SteppedDown | None:
        """Send with retries; None once accepted, else the parked delivery (`STEPPED_DOWN`
        when the lead was lost before an attempt: not sent)."""
        cfg = self.config
        attempt = 0
        while True:
            attempt += 1
            if self.lead is not None and not self.lead.leading():
                return STEPPED_DOWN
            try:
                await self.sender.send(effect)
                return None
            except Exception as error:  # anything a sender did not expect fails this one alone
                exc = error if isinstance(error, DeliveryFailed) else _unexpected(effect, error)
                self.stats.failures += 1
                if exc.permanent or attempt >= cfg.attempts:
                    return ParkedDelivery(
                        reactor=self.name,
                        effect_id=effect.effect_id,
                        position=effect.position,
                        recipient=effect.recipient,
                        payload=effect.payload,
                        attempts=attempt,
                        last_error=str(exc),
                        parked_at=self.clock.now(),
                    )
                delay = min(cfg.max_backoff_s, cfg.backoff_s * 2 ** (attempt - 1))
                await asyncio.sleep(delay)


def _unexpected(effect: Effect, error: Exception) -> DeliveryFailed:
    """An error a sender did not turn into `DeliveryFailed` (a bug, an unforeseen library
    error): logged, then retried and parked like any failure, so that it never holds the log."""
    log.exception("reactor: sending %s failed unexpectedly", effect.effect_id, exc_info=error)
    return DeliveryFailed(f"{type(error).__name__}: {error}")


class _SteppedDown:
    pass


STEPPED_DOWN = _SteppedDown()


async def reactors_report(reactors: Sequence[Reactor], store: Any) -> dict[str, Any]:
    """``status``'s part about reactors: each one's lag, and every parked delivery."""
    deliveries: Deliveries = store
    parked = await deliveries.parked()
    return {
        "reactors": [await r.report() for r in reactors],
        "parked": [
            {
                "reactor": p.reactor,
                "delivery_id": p.effect_id,
                "recipient": p.recipient,
                "attempts": p.attempts,
                "last_error": p.last_error,
                "redrive": p.redrive,
            }
            for p in parked
        ],
    }
