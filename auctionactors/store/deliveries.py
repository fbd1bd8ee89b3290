"""What reactors keep in the store (the `Deliveries` protocol): their checkpoints in the global
event order, the ids of the effects a receiver accepted, the deliveries parked after too many
failures, and their own deadlines (reminders).

A reactor (`runtime.reactor`) turns events into effects (mails, webhook posts) outside replay.
Its checkpoint is the last global position all of whose effects were accepted or parked; an
effect accepted after it is recorded here (`record_deliveries`) before anything else happens, so
a restarted reactor never sends it again. Only an effect sent but not yet recorded may be sent a
second time, with the same id. Backends keep the protocol's semantics exactly; nothing here is
specific to a backend: memory, SQLite (`sqlite_deliveries`) and PostgreSQL
(`postgres_deliveries`) implement it, and share the helpers at the end of this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import msgspec


class ParkedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """An effect that failed ``attempts`` times in a row: kept with what it sends, shown by
    ``status``, sent again when re-driven (``redrive`` set, see `Deliveries.redrive`).

    ``position`` is the event's global position (0 for a reminder's mail); ``recipient`` the
    mail address (mail) or the hook's URL (webhooks); ``payload`` the bytes sent (the whole
    message, or the JSON body); ``parked_at`` an instant (µs)."""

    reactor: str
    effect_id: str
    position: int
    recipient: str
    payload: bytes
    attempts: int
    last_error: str
    parked_at: int
    redrive: bool = False


class Reminder(msgspec.Struct, frozen=True):
    """A reactor's own deadline for a stream ("starting soon"): at most one per reactor and
    stream, replaced by the event that sets a new one. ``key`` names the event that set it (its
    effects' ids derive from it), ``due_at`` is an instant (µs)."""

    reactor: str
    stream_id: str
    key: str
    due_at: int


class Deliveries(Protocol):
    """Reactor checkpoints, accepted effect ids, parked deliveries and reminders."""

    async def start_reactor(self, reactor: str) -> int:
        """The reactor's checkpoint (a global position). A reactor never seen before starts at
        the current last position, stored now: it acts on what happens from now on, never on
        the history it was not there for."""
        ...

    async def reactor_positions(self) -> dict[str, int]:
        """Every reactor's checkpoint, by name."""
        ...

    async def head_position(self) -> int:
        """The last global position stored (0 for an empty store)."""
        ...

    async def accepted_effects(self, reactor: str, effect_ids: Sequence[str]) -> set[str]:
        """Those of ``effect_ids`` recorded as accepted for ``reactor``."""
        ...

    async def record_deliveries(
        self,
        reactor: str,
        *,
        accepted: Sequence[tuple[str, int]] = (),
        parked: Sequence[ParkedDelivery] = (),
        reminders_done: Sequence[Reminder] = (),
    ) -> None:
        """In one transaction: record ``accepted`` (effect id, position) and drop their parked
        rows (a re-driven delivery accepted), park ``parked`` (replacing a row of the same id:
        redrive cleared, attempts updated), and delete ``reminders_done`` (only while the
        stored reminder of that stream still has the same key)."""
        ...

    async def advance_reactor(
        self,
        reactor: str,
        position: int,
        *,
        reminders: Sequence[Reminder] = (),
        cleared: Sequence[str] = (),
    ) -> None:
        """In one transaction: set the checkpoint to ``position`` (`ValueError` if it would go
        back), forget the accepted ids at positions from 1 to it (they will never be asked
        again), store ``reminders`` (replacing the stream's) and delete the reminders of the
        streams in ``cleared``. Accepted ids at position 0 (a reminder's) are kept."""
        ...

    async def reminders(self, reactor: str) -> list[Reminder]:
        """The reactor's reminders, soonest first."""
        ...

    async def parked(self, reactor: str | None = None) -> list[ParkedDelivery]:
        """Parked deliveries (of one reactor, or all), by reactor then position then id."""
        ...

    async def redrive(self, effect_ids: Sequence[str] | None = None) -> int:
        """Mark parked deliveries to be sent again by their reactor (all of them with None);
        returns how many rows were marked. Unknown ids are ignored."""
        ...


# -- shared by the backends --------------------------------------------------------------------

# The columns of a parked delivery's row, in `ParkedDelivery`'s order (see `parked_from_row`).
PARKED_COLUMNS = (
    "reactor, effect_id, position, recipient, payload, attempts, last_error, parked_at, redrive"
)


def parked_from_row(row: Iterable[Any]) -> ParkedDelivery:
    """A parked delivery from a row of `PARKED_COLUMNS`."""
    reactor, effect_id, position, recipient, payload, attempts, last_error, parked_at, redo = row
    return ParkedDelivery(
        reactor=str(reactor),
        effect_id=str(effect_id),
        position=int(position),
        recipient=str(recipient),
        payload=bytes(payload),
        attempts=int(attempts),
        last_error=str(last_error),
        parked_at=int(parked_at),
        redrive=bool(redo),
    )


def parked_values(
    reactor: str, p: ParkedDelivery
) -> tuple[str, str, int, str, bytes, int, str, int]:
    """The values of `PARKED_COLUMNS` but ``redrive`` (cleared when parked) for parking ``p`` as
    ``reactor``'s."""
    return (reactor, p.effect_id, p.position, p.recipient, p.payload, p.attempts, p.last_error,
            p.parked_at)  # fmt: skip


def check_advance(reactor: str, current: int, position: int) -> None:
    """`ValueError` when moving ``reactor``'s checkpoint from ``current`` to ``position`` would
    take it back."""
    if position < current:
        raise ValueError(f"reactor {reactor!r} is at {current}; {position} would go back")


def unique_ids(effect_ids: Sequence[str] | None) -> list[str] | None:
    """``effect_ids`` without repeats, in their order (None: all): what `Deliveries.redrive`
    marks, so that an id given twice counts once."""
    return None if effect_ids is None else list(dict.fromkeys(effect_ids))
