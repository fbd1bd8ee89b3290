"""Effects: what a reactor sends (a mail, a webhook post), and the pieces a reactor is made of.

An `Effect` has a stable id derived from (auction, seq, recipient): the mail's ``Message-ID``,
the webhook's delivery id. A `Planner` turns events into effects (pure apart from reads: the
same events give the same effects, so a restarted reactor plans exactly what it planned before);
a `Sender` hands one effect to its receiver and returns only once the receiver accepted it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from auctionactors.errors import AuctionActorsError
from auctionactors.store.base import Reminder, StoredEvent


class Effect(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery to one recipient. ``position`` is the global position of the event that
    caused it (0 for a reminder's); ``recipient`` the mail address or the hook's URL;
    ``payload`` exactly the bytes sent (a whole mail, or a JSON body), so that a parked one can
    be sent again as it was."""

    effect_id: str
    position: int
    recipient: str
    payload: bytes


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What a batch of events gives: its effects, the reminders it sets (one per stream,
    replacing the stream's) and the streams whose reminder it clears."""

    effects: list[Effect]
    reminders: list[Reminder] = []
    cleared: list[str] = []


class DeliveryFailed(AuctionActorsError):
    """The receiver did not accept an effect. ``permanent``: it refused it for good (an SMTP 5xx,
    an HTTP 4xx other than 408/429): retrying cannot help, the delivery is parked at once."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Planner(Protocol):
    async def plan(self, events: Sequence[StoredEvent]) -> Plan:
        """The effects of ``events`` (consecutive in the global order) in order."""
        ...

    async def due(self, reminder: Reminder, now: int) -> list[Effect]:
        """The effects of a reminder that is due (none if it no longer applies)."""
        ...


class Sender(Protocol):
    async def send(self, effect: Effect) -> None:
        """Deliver ``effect``; return once the receiver accepted it, else raise
        `DeliveryFailed`."""
        ...

    async def close(self) -> None: ...
